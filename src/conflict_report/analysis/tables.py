"""Tables for the report as Markdown (not HTML: a notebook's HTML table output makes Quarto
pull scripts from a CDN), with source text escaped so a headline can never become markup,
a citation (`@`), a table column (`|`) or HTML (`<script>`)."""

from __future__ import annotations

import re

import pandas as pd

from conflict_report.analysis.params import slugify
from conflict_report.analysis.views import no_value_label
from conflict_report.data.schema import UNKNOWN_ADMIN1

# Pandoc Markdown treats a backslash before any ASCII punctuation as the literal character.
_MARKUP = re.compile(r"([\\`*_{}\[\]<>|@$~^#!])")


def escape(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = " ".join(str(value).split())  # no newline may end a table row early
    return _MARKUP.sub(r"\\\1", text)


def key(name: str) -> str:
    """A ledger / Quarto variable key from a display name: `Dar'a` -> `dara`, `Rural Damascus` -> `rural_damascus`."""
    return slugify(name).replace("-", "_")


def markdown(frame: pd.DataFrame, align_numbers: bool = True, min_widths: dict[str, int] | None = None) -> str:
    """A pipe table; numbers right-aligned, every text cell escaped. The dashes under each
    header are proportional to the column's longest text (capped), which pandoc turns into
    relative column widths: a long headline gets room, a date does not. `min_widths` (in
    characters) keeps a column of short phrases ("not covered") from wrapping."""
    header = [escape(c) for c in frame.columns]
    rows = [[escape(v) for v in row] for row in frame.astype(object).itertuples(index=False)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) or frame[c].astype(str).str.fullmatch(r"[\d,.–() %+†-]+").all() for c in frame.columns]
    widths = [max(min(max([len(h), *(len(r[i]) for r in rows)]), 48), (min_widths or {}).get(c, 0)) for i, (h, c) in enumerate(zip(header, frame.columns))]
    rule = "|" + "|".join(("-" * max(w, 3)) + ":" if (n and align_numbers) else ":" + "-" * max(w, 3) for w, n in zip(widths, numeric)) + "|"
    lines = ["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(r) + " |" for r in rows)]
    return "\n".join(lines) + "\n"


# UCDP's own rows sometimes give a low above the best, or a best above the high; they are kept
# as given and flagged (never repaired), and every table that shows such numbers marks them.
INCONSISTENT_MARK = "†"
INCONSISTENT_NOTE = (f"{INCONSISTENT_MARK} The source's own estimates are inconsistent here (a low estimate above the best, or a "
                     "best above the high): they are shown as UCDP gives them, and the rows are flagged")
FLAG_TABLE_LABEL = "tbl-sources-quality-flags"  # the methods page's table of flags


def inconsistent(best, low, high) -> bool:
    return bool(low > best or (not pd.isna(high) and best > high))


def deaths_text(best, low, high) -> str:
    high_text = "?" if pd.isna(high) else f"{int(high):,}"
    mark = f" {INCONSISTENT_MARK}" if inconsistent(best, low, high) else ""
    return f"{int(best):,} ({int(low):,}–{high_text}){mark}"


def has_inconsistent_rows(shown: pd.DataFrame) -> bool:
    """Whether a shown table marks any row (a plain scan: shown tables have a few hundred cells)."""
    return any(INCONSISTENT_MARK in str(value) for value in shown.to_numpy().ravel())


def inconsistent_note(shown: pd.DataFrame, link: str | None = None) -> str:
    """The note under a table that has marked rows ('' when none): it says what the mark means
    and points to the flag table (`link`: Markdown for the pointer, e.g. a cross-reference)."""
    return inconsistent_note_text(link) if has_inconsistent_rows(shown) else ""


def inconsistent_note_text(link: str | None = None) -> str:
    return INCONSISTENT_NOTE + (f" ({link})." if link else " (see the methods' table of flags).")


def deadliest_for_display(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "Date": table["date"],
        "Governorate": table["governorate"].replace({UNKNOWN_ADMIN1: no_value_label("governorate")}),
        "Place": table["place"],
        "Sides": table["sides"],
        "Deaths, best (low–high)": [deaths_text(b, lo, h) for b, lo, h in zip(table["deaths_best"], table["deaths_low"], table["deaths_high"])],
        "Source headline": table["headline"],
    })


def ranked_for_display(table: pd.DataFrame, column: str, label: str) -> pd.DataFrame:
    return pd.DataFrame({
        label: table[column].replace({UNKNOWN_ADMIN1: no_value_label(label.lower())}),
        "Events": table["events"].map("{:,}".format),
        "Deaths, best (low–high)": [deaths_text(b, lo, h) for b, lo, h in zip(table["deaths_best"], table["deaths_low"], table["deaths_high"])],
        "Civilian deaths": table["deaths_civilians"].map("{:,}".format),
    })


def published_for_display(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "Year": table["year"], "Type": table["violence_type"],
        "Event table, best (low–high)": [deaths_text(b, lo, h) for b, lo, h in zip(table["event_table_best"], table["event_table_low"], table["event_table_high"])],
        "Published, best (low–high)": [deaths_text(b, lo, h) for b, lo, h in zip(table["published_best"], table["published_low"], table["published_high"])],
        "Gap": [f"{g:+,} ({100 * s:+.1f}%)" for g, s in zip(table["gap"], table["gap_share"])],
        "Status": table["status"],
    })


def by_source_for_display(table: pd.DataFrame) -> pd.DataFrame:
    """The event sources per year: a year a source does not cover says so in place of numbers."""
    covered = table["covered"] != "not covered"
    return pd.DataFrame({
        "Year": table["year"].astype(str), "Source": table["source"], "Covered": table["covered"],
        "Events": [f"{int(e):,}" if c else "not covered" for e, c in zip(table["events"], covered)],
        # One number where the source gives one (ACLED's low, best and high are its one figure).
        "Deaths, best (low–high)": [figure_text(b, lo, h) if c else "not covered"
                                    for b, lo, h, c in zip(table["deaths_best"], table["deaths_low"], table["deaths_high"], covered)],
        "Civilian deaths": [f"{int(d):,}" if c else "not covered" for d, c in zip(table["deaths_civilians"], covered)],
    })


def flags_for_display(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"Flag": table["flag"], "Meaning": table["meaning"], "Rows": table["rows"].map("{:,}".format)})


def count_text(value) -> str:
    return "" if pd.isna(value) else f"{int(value):,}"


def share_text(value) -> str:
    return "" if pd.isna(value) else f"{100 * value:.1f}%"


def number_text(value) -> str:
    return "" if pd.isna(value) else f"{value:,.1f}"


UNIT_TEXT = {"count": count_text, "share": share_text, "number": number_text}


def generic_for_display(table: pd.DataFrame, units: dict[str, str] | None = None) -> pd.DataFrame:
    """Each column by its unit (see results.column_units; from its type when not given):
    counts whole with thousands separators, shares as percentages and other numbers to one
    decimal (display only)."""
    from conflict_report.analysis.results import column_units

    units = units or column_units(table)
    shown = table.copy()
    for column in shown.columns:
        if units.get(column) in UNIT_TEXT:
            shown[column] = shown[column].map(UNIT_TEXT[units[column]]).astype(object)
    return shown


CURATED_HEADERS = {"date": "Date", "place": "Place", "sides": "Sides", "deaths": "Deaths", "civilian_deaths": "Civilian deaths",
                   "strikes": "Strikes", "what": "What"}


def curated_for_display(table: pd.DataFrame) -> pd.DataFrame:
    return generic_for_display(table).rename(columns=CURATED_HEADERS).fillna("")


# Room for "not covered" and "UCDP country-year 25.1" on one or two lines in the PDF's narrow columns.
CLAIMS_MIN_WIDTHS = {"Verdict": 18, "Source": 26}


def claims_for_display(checks: pd.DataFrame) -> pd.DataFrame:
    """One row per claim and source, to scan: the claim (on its first row only), the source,
    the verdict, the source's figure, and the number of the note that gives the reasoning
    (`claims_notes`; the full reasoning is the `explanation` column of the CSV)."""
    covered = checks["covered"].astype(str).str.lower().isin(["true", "1"])
    first_of_claim = ~checks["claim_id"].duplicated()
    return pd.DataFrame({
        "Claim": checks["claim"].where(first_of_claim, ""),
        "Source": checks["source"],
        "Verdict": checks["verdict"],
        "Source's figure, best (low–high)": [figure_text(b, lo, h) if c else "–" for lo, b, h, c in
                                             zip(checks["source_low"], checks["source_best"], checks["source_high"], covered)],
        "Note": [str(n) for n in note_numbers(checks)[0]],
    })


def figure_text(best, low, high) -> str:
    """A source's figure: one number when low, best and high agree; 'at least' without a high."""
    if pd.isna(high):
        return f"at least {int(low):,}"
    if low == best == high:
        return f"{int(best):,}"
    return deaths_text(best, low, high)


def note_numbers(checks: pd.DataFrame) -> tuple[list[int], list[str]]:
    """Each row's note number, and the notes in order: rows with the same reasoning (the same
    source not covering several claims) share one note, so the list stays short."""
    notes: list[str] = []
    numbers = []
    for note in checks["note"]:
        if note not in notes:
            notes.append(note)
        numbers.append(notes.index(note) + 1)
    return numbers, notes


def claims_notes(checks: pd.DataFrame) -> str:
    """The reasoning the rows of `claims_for_display` point to, as a numbered list (Markdown)."""
    return "\n".join(f"{n}. {escape(note)}" for n, note in enumerate(note_numbers(checks)[1], start=1)) + "\n"
