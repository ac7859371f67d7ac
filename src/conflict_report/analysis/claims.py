"""Quantitative claims made in articles (data/curated/claims/claims.csv), checked against the
event table and UCDP's country-year totals, so the report states each verdict from data and
nobody types one by hand.

Rules (data/curated/README.md says the same for coders):
- A claim is a figure with a bound: `exact` F, `at_least` F (F or more), `more_than` F (F+1 or
  more, counts being whole), `about` F (within 10% of F). It is *consistent* with a source when
  that range overlaps the source's low-high range (an "at least 95" claim is consistent with
  any source range whose high is 95 or more), *inconsistent* when it does not (the difference
  says by how much, against which estimate), and *not covered* when the source has no data
  for the claim's period, place or kind of figure. "Not covered" never means "not found": a
  source that covers the period and records nothing there gives 0, which is checked.
- The curated table holds selected events, not a complete count: it covers a claim only
  through events coded for it. Events coded from the claim's own article (listed in
  `curated_ids`, or with the same citation) are the claim itself: the verdict says
  "same source", never an independent confirmation.
- UCDP's country-year table is by calendar year. For a period covering part of a year the
  check uses an envelope, which assumes nothing about when in a year deaths happened: the low
  end is the sum of the low estimates of the years wholly inside the period, the high end the
  sum of the high estimates of every year the period touches.
- UCDP counts deaths in organised violence only (state-based, non-state, one-sided); a
  monitor's war toll counts all deaths, so it is expected to be higher. Every UCDP verdict on
  deaths says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from conflict_report.analysis.coverage import COUNTRY_YEAR_ABSENT
from conflict_report.data import normalise

# The claims file itself is read and checked beside the curated events: data.sources.curated.read_claims.
ABOUT_TOLERANCE = 0.10  # "about 50" is read as 45-55
SOURCE_LABELS = {"ucdp_ged": "event table: UCDP GED", "acled": "event table: ACLED", "curated": "event table: curated"}
SOURCE_NAMES = {"ucdp_ged": "UCDP GED", "acled": "ACLED", "curated": "The curated table"}  # in sentences
COUNTRY_YEAR_KEY = "ucdp_country_year"
EVENT_COLUMNS = {  # (low, best, high) per kind of figure
    "deaths": ("deaths_low", "deaths_best", "deaths_high"),
    "cumulative_toll": ("deaths_low", "deaths_best", "deaths_high"),
    "civilian_deaths": ("deaths_civilians",) * 3,
    "strikes": ("strikes",) * 3,
}
COUNTRY_YEAR_COLUMNS = {
    "deaths": ("total_low", "total_best", "total_high"),
    "cumulative_toll": ("total_low", "total_best", "total_high"),
    "civilian_deaths": ("civilian_deaths",) * 3,  # UCDP gives one civilian estimate per year
}
KIND_WORDS = {"deaths": "deaths", "civilian_deaths": "civilian deaths", "strikes": "strikes", "cumulative_toll": "deaths in total"}
BOUND_WORDS = {"exact": "", "at_least": "at least ", "more_than": "more than ", "about": "about "}
DEFINITIONS = ("Definitions differ: UCDP counts deaths in organised violence only (state-based conflict, non-state conflict "
               "and one-sided violence against civilians); a war toll such as SOHR's counts all deaths, including others, "
               "so it is expected to be higher.")
DEFINITIONS_NOTE = "UCDP counts organised violence only; a war toll counts all deaths."
NOTE_MAX_WORDS = 40  # a note a reader takes in at a glance; the full reasoning is `explanation`
CHECK_COLUMNS = ["claim_id", "claim", "figure_kind", "source", "source_key", "covered", "same_source",
                 "source_low", "source_best", "source_high", "verdict", "difference", "compared_with", "note", "explanation"]


# --- checking --------------------------------------------------------------------------------
@dataclass
class SourceFigures:
    """What one source says over a claim's period and place. high None: no upper bound."""

    covered: bool
    note: str  # what was compared, or why the source does not cover the claim
    low: int | None = None
    best: int | None = None
    high: int | None = None
    same_source: bool = False
    ucdp: bool = False
    brief: str = ""  # the note in a few words, for the report's numbered notes; `note` when empty


def check_claims(claims: pd.DataFrame, events: pd.DataFrame, country_year: pd.DataFrame) -> pd.DataFrame:
    """One row per claim and source checked (the event table per source, and UCDP's
    country-year totals), with the source's low/best/high, the verdict and why."""
    # Checked against the sources present: an ACLED-only build has no UCDP event table to cite.
    sources = [*(s for s in ("ucdp_ged", "acled") if (events["source"] == s).any()), "curated"]
    version = str(country_year["ucdp_version"].iloc[0]) if len(country_year) and "ucdp_version" in country_year else ""
    rows = []
    for claim in claims.itertuples(index=False):
        for source in sources:
            rows.append(judge(claim, SOURCE_LABELS[source], source, event_table_figures(claim, events, source)))
        if "country" in country_year.columns:  # not given: not a source of this report, so no row ("not covered" is for a source present)
            rows.append(judge(claim, f"UCDP country-year {version}".strip(), COUNTRY_YEAR_KEY, country_year_figures(claim, country_year)))
    checks = pd.DataFrame(rows, columns=CHECK_COLUMNS)
    numbers = ["source_low", "source_best", "source_high", "difference"]
    checks[numbers] = checks[numbers].astype("Int64")  # whole numbers, empty where not covered
    return checks


def event_table_figures(claim, events: pd.DataFrame, source: str) -> SourceFigures:
    name, kind = SOURCE_NAMES[source], claim.figure_kind
    best_column = EVENT_COLUMNS[kind][1]
    table = events[(events["source"] == source) & (events["country"] == claim.country)]
    if source == "curated":
        if kind == "cumulative_toll":
            return SourceFigures(False, "the curated table holds selected events, not a complete count, so it cannot check a cumulative toll.")
    elif table.empty:
        return SourceFigures(False, f"{name} has no events in {claim.country}.")
    elif table[best_column].isna().all():
        return SourceFigures(False, f"{name} records no {KIND_WORDS[kind]} (it has no such count).")
    elif claim.period_start < table["date_start"].min() or claim.period_end > table["date_start"].max():
        span = period_text(table["date_start"].min(), table["date_start"].max())  # the last start date: where the file ends
        return SourceFigures(False, f"{name} covers {claim.country} from {span}; the claim's period ({period_text(claim.period_start, claim.period_end)}) "
                                    "lies outside it, so the source can neither confirm nor contradict the claim.",
                             brief=f"{name} covers {claim.country} from {span} only, not the claim's period.")
    matched = matching_events(claim, table)
    if source == "curated":
        return curated_figures(claim, matched)
    return sum_figures(matched, kind, f"{name} has {describe_match(claim, matched, best_column)}", ucdp=source == "ucdp_ged")


def matching_events(claim, table: pd.DataFrame) -> pd.DataFrame:
    """Events wholly inside the claim's period, in its governorate (when it names one) and
    with its actor on either side (when it names one)."""
    keep = (table["date_start"] >= claim.period_start) & (table["date_end"] <= claim.period_end)
    if isinstance(claim.admin1, str):
        keep &= table["admin1"] == claim.admin1
    if isinstance(claim.actor, str):
        on_a_side = [claim.actor in normalise.actor_members(a) + normalise.actor_members(b)
                     for a, b in zip(table["side_a"].astype("object"), table["side_b"].astype("object"))]
        keep &= pd.Series(on_a_side, index=table.index, dtype=bool)
    return table[keep.fillna(False).astype(bool)]


def describe_match(claim, matched: pd.DataFrame, best_column: str) -> str:
    counted = int(matched[best_column].notna().sum())
    text = f"{counted} event(s) with a figure in {place_text(claim)}, {period_text(claim.period_start, claim.period_end)}"
    if isinstance(claim.actor, str):
        text += f", with {claim.actor} on either side"
    uncounted = len(matched) - counted
    if uncounted:
        text += f" ({uncounted} more give no figure and are not counted)"
    return text + "."


def curated_figures(claim, matched: pd.DataFrame) -> SourceFigures:
    """Curated events from the claim's own article are set apart: they restate the claim."""
    best_column = EVENT_COLUMNS[claim.figure_kind][1]
    matched = matched[matched[best_column].notna()]
    own_ids = {f"curated:{i.strip()}" for i in str(claim.curated_ids).split(";") if i.strip()} if isinstance(claim.curated_ids, str) else set()
    same = matched["event_id"].isin(own_ids) | (matched["citation"] == claim.article_citation).fillna(False).astype(bool)
    independent = matched[~same]
    if len(independent):
        note = f"The curated table has {describe_match(claim, independent, best_column)}"
        if same.any():
            note += f" {int(same.sum())} event(s) coded from the claim's own article are left out."
        return sum_figures(independent, claim.figure_kind, note)
    if same.any():
        note = (f"In the curated table the only matching event(s) ({', '.join(matched['event_id'])}) were coded from the claim's "
                "own article, so they restate the claim: this is the same source, not an independent confirmation.")
        figures = sum_figures(matched, claim.figure_kind, note, same_source=True)
        figures.brief = "The only matching curated events were coded from the claim's own article: they restate it."
        return figures
    return SourceFigures(False, f"no curated event matches the claim ({place_text(claim)}, {period_text(claim.period_start, claim.period_end)}"
                                + (f", {claim.actor}" if isinstance(claim.actor, str) else "") + "); the curated table is not a complete count.")


def sum_figures(rows: pd.DataFrame, kind: str, note: str, ucdp: bool = False, same_source: bool = False) -> SourceFigures:
    """Sums of low/best/high; a lower-bound count among the deaths leaves no upper bound."""
    low_column, best_column, high_column = EVENT_COLUMNS[kind]
    rows = rows[rows[best_column].notna()]
    unbounded = kind != "strikes" and bool(rows["deaths_is_lower_bound"].any())
    return SourceFigures(True, note, int(rows[low_column].sum()), int(rows[best_column].sum()),
                         None if unbounded else int(rows[high_column].sum()), same_source=same_source, ucdp=ucdp)


def country_year_figures(claim, country_year: pd.DataFrame) -> SourceFigures:
    """UCDP's yearly totals over the claim's period: exact for whole years, else the envelope
    (years wholly inside the period, low estimates; every year touched, high estimates)."""
    kind = claim.figure_kind
    if "country" not in country_year.columns:
        return SourceFigures(False, f"UCDP's country-year totals are {COUNTRY_YEAR_ABSENT}.")
    if kind not in COUNTRY_YEAR_COLUMNS:
        return SourceFigures(False, f"UCDP's country-year table counts deaths, not {KIND_WORDS[kind]}.")
    if isinstance(claim.admin1, str):
        return SourceFigures(False, "UCDP's country-year table gives national totals; it cannot check a claim about one governorate.")
    start, end = claim.period_start, claim.period_end
    years = list(range(start.year, end.year + 1))
    rows = country_year[(country_year["country"] == claim.country) & country_year["year"].isin(years)]
    missing = sorted(set(years) - set(rows["year"]))
    if missing:
        return SourceFigures(False, f"UCDP's country-year table has no rows for {claim.country} in {', '.join(map(str, missing))}.")
    whole = [y for y in years if start <= pd.Timestamp(y, 1, 1) and end >= pd.Timestamp(y, 12, 31)]
    low_column, best_column, high_column = COUNTRY_YEAR_COLUMNS[kind]
    low = int(rows.loc[rows["year"].isin(whole), low_column].sum())
    best, high = int(rows[best_column].sum()), int(rows[high_column].sum())
    brief = (f"UCDP's totals for {year_span(years)}" if whole == years else
             f"UCDP's yearly totals, {year_span(years)}: low from the whole years inside"
             f"{' (' + year_span(whole) + ')' if whole else ' (none)'}, high from every year touched.")
    return SourceFigures(True, envelope_note(claim, years, whole, low, best, high), low, best, high, ucdp=True,
                         brief=brief if brief.endswith(".") else brief + ".")


def envelope_note(claim, years: list[int], whole: list[int], low: int, best: int, high: int) -> str:
    period = period_text(claim.period_start, claim.period_end)
    if whole == years:
        return f"UCDP's country-year totals for {claim.country}, {year_span(years)} (whole calendar years): low {low:,}, best {best:,}, high {high:,}."
    partial = [y for y in years if y not in whole]
    fully = f"covers {year_span(whole)} fully and" if whole else "covers no calendar year fully;"
    return (f"UCDP's country-year table is by calendar year, and the claim's period ({period}) {fully} "
            f"{' and '.join(map(str, partial))} only in part. Method (an envelope, assuming nothing about when in a year deaths "
            f"happened): the low end is the sum of the low estimates of the years wholly inside the period ({low:,}); the high "
            f"end is the sum of the high estimates of every year the period touches, {year_span(years)} ({high:,}); the best "
            f"estimates of those years sum to {best:,}.")


def judge(claim, label: str, key: str, figures: SourceFigures) -> dict:
    row = {"claim_id": claim.claim_id, "claim": claim_text(claim), "figure_kind": claim.figure_kind, "source": label,
           "source_key": key, "covered": figures.covered, "same_source": figures.same_source,
           "source_low": figures.low, "source_best": figures.best, "source_high": figures.high}
    if not figures.covered:
        return row | {"verdict": "not covered", "difference": None, "compared_with": None,
                      "note": f"Not covered: {lower_first(figures.brief or figures.note)}", "explanation": f"Not covered: {figures.note}"}
    verdict, difference, compared_with, reading = compare(claim, figures)
    if figures.same_source:
        verdict = "same source"  # agreement with itself confirms nothing
    reading = f"{verdict.capitalize()}: {reading}"
    caveats = (DEFINITIONS, DEFINITIONS_NOTE) if figures.ucdp and claim.figure_kind != "strikes" else ("", "")
    explanation = " ".join(part for part in (figures.note, reading, caveats[0]) if part)
    short = " ".join(part for part in (figures.brief or figures.note, verdict_sentence(verdict, difference, compared_with), caveats[1]) if part)
    return row | {"verdict": verdict, "difference": difference, "compared_with": compared_with, "note": short, "explanation": explanation}


def verdict_sentence(verdict: str, difference: int, compared_with: str) -> str:
    """The verdict in a few words; the range itself stands beside it in the table."""
    if verdict == "same source":
        return "Same source: agreement with itself confirms nothing."
    if verdict == "inconsistent":
        side = "above the source's high" if compared_with == "high" else "below the source's low"
        return f"Inconsistent: the claim lies {abs(difference):,} {side} estimate."
    return f"Consistent: the claim overlaps the source's range ({difference:+,} against the best)."


def lower_first(text: str) -> str:
    """'UCDP GED has …' stays; 'The curated table …' -> 'the curated table …' after a colon."""
    return text[0].lower() + text[1:] if text[:4] in ("The ", "In t") else text


def claim_range(figure: int, bound: str) -> tuple[float, float]:
    return {"exact": (figure, figure), "at_least": (figure, math.inf), "more_than": (figure + 1, math.inf),
            "about": (figure * (1 - ABOUT_TOLERANCE), figure * (1 + ABOUT_TOLERANCE))}[bound]


def compare(claim, figures: SourceFigures) -> tuple[str, int, str, str]:
    """(verdict, claim figure minus the estimate compared with, which estimate, sentence)."""
    low, high = claim_range(claim.figure, claim.bound)
    source_high = math.inf if figures.high is None else figures.high
    stated = f"{BOUND_WORDS[claim.bound]}{claim.figure:,}"
    if low > source_high:
        difference = claim.figure - figures.high
        return "inconsistent", difference, "high", (f"the claim ({stated}) lies above the source's high estimate of "
                                                    f"{figures.high:,} (claim figure minus high estimate: {difference:+,}).")
    if high < figures.low:
        difference = claim.figure - figures.low
        return "inconsistent", difference, "low", (f"the claim ({stated}) lies below the source's low estimate of "
                                                   f"{figures.low:,} (claim figure minus low estimate: {difference:+,}).")
    difference = claim.figure - figures.best
    return "consistent", difference, "best", (f"the claim ({stated}) overlaps the source's range {range_text(figures.low, figures.best, figures.high)} "
                                              f"(claim figure minus best estimate: {difference:+,}).")


# --- text for the report ----------------------------------------------------------------------
def claims_ledger(checks: pd.DataFrame) -> dict[str, str]:
    """Display strings for the results ledger, so the report quotes every verdict from data:
    `claim_<id>` (the claim), and per source `claim_<id>_<source>` (verdict and range) with
    `_verdict`, `_range`, `_note` (the reasoning in brief) and `_explanation` (in full)."""
    ledger: dict[str, str] = {}
    for row in checks.itertuples(index=False):
        key = "claim_" + row.claim_id.replace("-", "_").replace(".", "_")
        ledger[key] = row.claim
        base = f"{key}_{row.source_key}"
        source_range = range_text(row.source_low, row.source_best, row.source_high) if row.covered else "not covered"
        ledger[base] = f"{row.verdict} ({row.source}: {source_range})" if row.covered else f"not covered by {row.source}"
        ledger[f"{base}_verdict"] = row.verdict
        ledger[f"{base}_range"] = source_range
        ledger[f"{base}_note"] = row.note
        ledger[f"{base}_explanation"] = row.explanation
    return ledger


def range_text(low, best, high) -> str:
    if high is None or pd.isna(high):
        return f"at least {int(low):,} (best {int(best):,}; no upper bound, some counts are lower bounds)"
    if low == best == high:
        return f"{int(best):,}"
    return f"{int(low):,}–{int(high):,} (best {int(best):,})"


def claim_text(claim) -> str:
    return (f"{BOUND_WORDS[claim.bound]}{claim.figure:,} {KIND_WORDS[claim.figure_kind]}, {place_text(claim)}, "
            f"{period_text(claim.period_start, claim.period_end)}")


def place_text(claim) -> str:
    return f"{claim.admin1} ({claim.country})" if isinstance(claim.admin1, str) else claim.country


def period_text(start: pd.Timestamp, end: pd.Timestamp) -> str:
    def day(d: pd.Timestamp) -> str:
        return f"{d.day} {d:%B %Y}"
    return day(start) if start == end else f"{day(start)} to {day(end)}"


def year_span(years: list[int]) -> str:
    return str(years[0]) if len(years) == 1 else f"{years[0]}–{years[-1]}"
