"""Hand-curated events (data/curated/*.csv): events coded by hand from articles and reports.

The file's columns are documented in data/curated/README.md. Unlike the published datasets,
a curated file is ours to fix: a broken row stops the build (with the file, row and column)
instead of being quarantined, so a coded event never silently drops out of the report, and a
confidential row's text never lands in rejected.csv. `check_main` (`make curate-check`) lists
every problem at once.

Mapping into the event table:
- deaths are kept as coded; `deaths_bound` `at_least`/`more_than` sets `deaths_is_lower_bound`
  and the quality flag `deaths_lower_bound` (and leaves `deaths_high` empty); `unknown` leaves
  every death figure empty, never 0.
- the governorate is normalised through data/reference (any known spelling: `Raqqa`); actors
  likewise (`Syrian regime` -> `Government of Syria`).
- confidential rows keep their figures and place but lose every identifying text (citation,
  headline); the quote, coder, notes and URL are never copied into the event table at all.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

from conflict_report import paths
from conflict_report.data import geo, normalise
from conflict_report.data.schema import VIOLENCE_TYPES, conform
from conflict_report.data.sources.flags import Flags
from conflict_report.data.sources.reading import RawTable, RowChecks, read_csv_text
from conflict_report.data.sources.ucdp_ged import AdapterResult, assign_admin1
from conflict_report.errors import InputError

SOURCE = "curated"
COLUMNS = [
    "curated_id", "date_start", "date_end", "date_precision", "country", "admin1", "admin2", "place",
    "latitude", "longitude", "geo_precision", "violence_type", "event_kind", "side_a", "side_b",
    "deaths_low", "deaths_best", "deaths_high", "deaths_civilians", "deaths_bound", "civilians_bound",
    "strikes", "description", "source_citation", "source_url", "source_published", "quote", "coder",
    "coded_on", "confidential", "notes",
]
BOUNDS = ("exact", "at_least", "more_than", "about")
LOWER_BOUNDS = ("at_least", "more_than")
DEATHS_BOUNDS = (*BOUNDS, "unknown")  # unknown: the source gives no death figure at all
EVENT_KINDS = ("air_strikes", "shelling", "armed_clash", "attack", "explosion", "strategic_development", "other")
CURATED_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # it becomes part of event_id: keep it plain
README = "data/curated/README.md"

# What to do about a problem in each column (the reasons come from the checks themselves).
FIXES = {
    "curated_id": "Give every row its own id of letters, digits, '.', '_' or '-' (never reuse or change an id)",
    "date_start": "Write the date as YYYY-MM-DD", "date_end": "Write the date as YYYY-MM-DD, on or after date_start",
    "source_published": "Write the date as YYYY-MM-DD", "coded_on": "Write the date as YYYY-MM-DD",
    "date_precision": "Use UCDP's date_prec codes: 1 exact day, 2 within 2-6 days, 3 within a week, 4 a month, 5 longer",
    "geo_precision": "Use UCDP's where_prec codes: 1 exact place, 2 within 25 km, 3 district, 4 governorate, 5 region, 6 country, 7 international",
    "admin1": "Use a governorate spelling listed in data/reference/admin1_spellings.csv, or add the new spelling there with its P-code",
    "latitude": "Give decimal degrees (latitude -90..90) or leave both coordinates empty",
    "longitude": "Give decimal degrees (longitude -180..180) or leave both coordinates empty",
    "violence_type": f"Use one of: {', '.join(VIOLENCE_TYPES)}",
    "event_kind": f"Use one of: {', '.join(EVENT_KINDS)}",
    "deaths_bound": f"Use one of: {', '.join(DEATHS_BOUNDS)} (see {README}, 'Deaths, lower bounds and unknown tolls')",
    "civilians_bound": f"Use one of: {', '.join(BOUNDS)}",
    "deaths_low": f"Give whole numbers with low <= best <= high; when the source gives no figure, leave them empty and set deaths_bound to 'unknown' (see {README})",
    "deaths_best": f"Give whole numbers with low <= best <= high; when the source gives no figure, leave them empty and set deaths_bound to 'unknown' (see {README})",
    "deaths_high": f"Fill deaths_high, or set deaths_bound to 'at_least'/'more_than' if the source gives a lower bound (see {README})",
    "deaths_civilians": "Give a whole number no larger than deaths_best, or leave it empty",
    "confidential": "Write true or false",
    "quote": "Paste the exact sentence(s) from the source that support the row",
}
DEFAULT_FIX = f"See {README} for what the column holds"


class CuratedChecks(RowChecks):
    """RowChecks that also keeps every problem (one per row and column, not just the first
    per row), so that curate-check lists them all at once, each with what to do."""

    def __init__(self, raw: RawTable, fixes: dict[str, str]):
        super().__init__(raw, SOURCE)
        self.fixes = fixes
        self.problems: dict[tuple[int, str], tuple[str, str]] = {}  # (row, column) -> (problem, fix)

    def reject(self, mask: pd.Series, column: str, reason: str | pd.Series, fix: str | None = None) -> None:
        """As RowChecks.reject; `fix` overrides the column's usual advice where it does not fit."""
        mask = mask.fillna(False).astype(bool)
        for row in mask.index[mask]:
            problem = reason[row] if isinstance(reason, pd.Series) else reason
            self.problems.setdefault((int(row), column), (problem, fix or self.fixes.get(column, DEFAULT_FIX)))
        super().reject(mask, column, reason)

    def errors(self) -> list[InputError]:
        order = {c: i for i, c in enumerate(self.raw.frame.columns)}
        keys = sorted(self.problems, key=lambda k: (k[0], order.get(k[1], len(order))))
        errors = [InputError(self.raw.name, *self.problems[k], row=k[0], column=k[1]) for k in keys]
        return errors + [InputError(self.raw.name, "the row has a different number of fields than the header",
                                    "Look for a stray comma or an unclosed quote", row=row, column="(whole row)")
                         for row, _ in self.raw.ragged_rows]

    def stop_on_problems(self) -> None:
        """A curated file is ours to fix: its first problem stops the run rather than
        quarantining a hand-coded row (curate-check lists them all)."""
        errors = self.errors()
        if errors:
            first = errors[0]
            raise InputError(first.file, first.problem, f"{first.fix}. Run `make curate-check` to list every problem "
                             f"({len(errors)} in this file)", row=first.row, column=first.column)

    # --- checks for hand-written columns -------------------------------------------------
    def text(self, column: str) -> pd.Series:
        """Optional text: blank cells become missing."""
        values = self.raw.frame[column].str.strip()
        return values.astype("object").mask(values.isna() | (values.fillna("") == ""))

    def choice(self, column: str, valid: tuple[str, ...], required: bool = True) -> pd.Series:
        values = self.text(column).str.lower()
        if required:
            self.required_text(column)
        self.reject(values.notna() & ~values.isin(valid), column, "not one of " + ", ".join(valid) + ": "
                    + self.raw.frame[column].astype("object").fillna("").map(repr))
        return values

    def boolean(self, column: str) -> pd.Series:
        values = self.choice(column, ("true", "false"))
        return values == "true"

    def admin1(self, country: pd.Series, spelling: pd.Series, column: str = "admin1") -> pd.Series:
        """The canonical governorate name; an unknown spelling for a country with a crosswalk
        is a problem (a new spelling would split a governorate's totals)."""
        known = normalise.countries_with_crosswalk()
        codes = pd.Series([normalise.admin1_pcode(c, s) if c in known and isinstance(s, str) else None
                           for c, s in zip(country, spelling)], index=spelling.index, dtype="object")
        unknown = spelling.notna() & country.isin(known) & codes.isna()
        valid = country.map(lambda c: ", ".join(normalise.governorate_names(c)) if c in known else "")
        self.reject(unknown, column, "unknown governorate spelling " + spelling.astype("object").fillna("").map(repr)
                    + " for " + country.astype("object").fillna("") + " (valid names: " + valid + ")")
        names = codes.map(lambda code: normalise.admin1_name(code) if isinstance(code, str) else None)
        return names.where(codes.notna(), spelling)

    def id_text(self, column: str) -> pd.Series:
        ids = self.required_text(column).str.strip()
        self.reject(ids.notna() & ~ids.str.match(CURATED_ID.pattern).fillna(False), column,
                    "not a plain id (letters, digits, '.', '_', '-'): " + ids.astype("object").fillna("").map(repr))
        self.unique_ids(column)
        return ids


def check_event_rows(raw: RawTable) -> tuple[CuratedChecks, pd.DataFrame]:
    """Every check on a curated events file, and its values typed (valid only for rows
    without problems)."""
    checks = CuratedChecks(raw, FIXES)
    checks.long_fields()
    typed = {"curated_id": checks.id_text("curated_id")}
    typed |= _dates(checks)
    typed |= _geography(checks)
    typed |= _deaths(checks)
    for column in ("description", "source_citation", "quote", "coder"):
        typed[column] = checks.required_text(column)
    for column in ("side_a", "side_b", "source_url", "notes"):
        typed[column] = checks.text(column)
    typed["violence_type"] = checks.choice("violence_type", VIOLENCE_TYPES)
    typed["event_kind"] = checks.choice("event_kind", EVENT_KINDS)
    typed["strikes"] = checks.count("strikes", required=False)
    typed["confidential"] = checks.boolean("confidential")
    return checks, pd.DataFrame(typed, index=raw.frame.index)


def _dates(checks: CuratedChecks) -> dict[str, pd.Series]:
    start, end = checks.date("date_start"), checks.date("date_end")
    checks.date_order(start, end, "date_end")
    precision = checks.code("date_precision", (1, 2, 3, 4, 5))
    checks.reject((precision == 1) & start.notna() & end.notna() & (end != start), "date_end", "differs from date_start, but date_precision 1 means one exact day")
    return {"date_start": start, "date_end": end, "date_precision": precision,
            "source_published": checks.date("source_published"), "coded_on": checks.date("coded_on")}


def _geography(checks: CuratedChecks) -> dict[str, pd.Series]:
    country = checks.required_text("country").str.strip()
    place = checks.required_text("place")
    admin1 = checks.text("admin1")
    precision = checks.code("geo_precision", (1, 2, 3, 4, 5, 6, 7))
    lat, lon = checks.coordinate("latitude", 90, required=False), checks.coordinate("longitude", 180, required=False)
    checks.reject(lat.isna() & lon.notna(), "latitude", "empty, but longitude is given")
    checks.reject(lon.isna() & lat.notna(), "longitude", "empty, but latitude is given")
    point, country_wide = precision.isin([1, 2]), precision.isin([6, 7])
    checks.reject(point & lat.isna(), "latitude", "empty, but geo_precision 1-2 places the event at a point")
    checks.reject(country_wide & admin1.notna(), "admin1", "given, but an event coded to a country or wider (geo_precision 6-7) has no governorate",
                  fix="Leave admin1 empty, or give the finer geo_precision the source supports")
    checks.reject(country_wide & lat.notna(), "latitude", "given, but an event coded to a country or wider (geo_precision 6-7) is never drawn as a point",
                  fix="Leave latitude and longitude empty")
    return {"country": country, "admin1_original": admin1, "admin1": checks.admin1(country, admin1),
            "admin2": checks.text("admin2"), "place": place, "latitude": lat, "longitude": lon, "geo_precision": precision}


def _deaths(checks: CuratedChecks) -> dict[str, pd.Series]:
    """low <= best <= high; the high estimate is empty exactly when the figure is a lower bound;
    with 'unknown' no figure is given (so an unknown toll is never mistaken for 0)."""
    low, best, high = (checks.count(c, required=False) for c in ("deaths_low", "deaths_best", "deaths_high"))
    bound = checks.choice("deaths_bound", DEATHS_BOUNDS)
    unknown, lower = bound == "unknown", bound.isin(LOWER_BOUNDS)
    for column, values in (("deaths_low", low), ("deaths_best", best)):
        checks.reject(~unknown & values.isna(), column, "empty; a figure is required unless deaths_bound is 'unknown'")
    checks.reject(~unknown & ~lower & high.isna(), "deaths_high",
                  "empty, but only a lower bound (deaths_bound 'at_least' or 'more_than') may leave it empty")
    checks.reject(lower & high.notna(), "deaths_high", "given, but deaths_bound says the figure is a lower bound, with no high estimate",
                  fix="Leave deaths_high empty for a lower bound, or set deaths_bound to 'exact' or 'about'")
    checks.reject(unknown & (low.notna() | best.notna() | high.notna()), "deaths_bound", "'unknown', but death figures are given",
                  fix="Remove the figures, or set deaths_bound to how the source states them")
    checks.reject(low > best, "deaths_low", "larger than deaths_best")
    checks.reject(best > high, "deaths_high", "smaller than deaths_best", fix="Give whole numbers with low <= best <= high")
    civilians = checks.count("deaths_civilians", required=False)
    civilians_bound = checks.choice("civilians_bound", BOUNDS, required=False)
    checks.reject(civilians > best, "deaths_civilians", "larger than deaths_best")
    checks.reject(civilians.notna() & civilians_bound.isna(), "civilians_bound", "empty, but deaths_civilians is given")
    checks.reject(civilians.isna() & civilians_bound.notna(), "civilians_bound", "given, but deaths_civilians is empty")
    return {"deaths_low": low, "deaths_best": best, "deaths_high": high, "deaths_civilians": civilians,
            "deaths_bound": bound, "civilians_bound": civilians_bound}


def unknown_actors(rows: pd.DataFrame) -> list[str]:
    """Actor spellings not in data/reference/actors.csv: kept as written, but worth adding
    there so that all spellings of one actor are counted together."""
    names = pd.concat([rows["side_a"], rows["side_b"]]).dropna()
    members = {m.strip() for side in names for m in str(side).split(",") if m.strip()}
    return sorted(m for m in members if normalise.canonical_actor(m) is None)


# --- the adapter -----------------------------------------------------------------------------
def read(path: Path, display_name: str | None = None, admin1_areas: geo.Areas | None = None) -> AdapterResult:
    """One curated events file as events in the schema. Any problem stops the run."""
    name = display_name or paths.display_path(path)
    raw = read_csv_text(path, COLUMNS, name)
    checks, rows = check_event_rows(raw)
    checks.stop_on_problems()
    version = f"curated ({name})"
    events = to_events(rows, version)
    flags = Flags(events.index)
    flags.add(events["deaths_is_lower_bound"], "deaths_lower_bound")
    assign_admin1(events, flags, name, admin1_areas, column="admin1")
    events["quality_flags"] = flags.joined()
    rejected = pd.DataFrame(columns=["source", "row_number", "column", "reason"])
    return AdapterResult(SOURCE, conform(events.reset_index(drop=True)), rejected, checks.rows_read, version, raw.sha256)


def to_events(rows: pd.DataFrame, dataset_version: str) -> pd.DataFrame:
    """Checked rows in the schema's terms. Confidential rows lose their identifying text."""
    ids = rows["curated_id"]
    identifying = rows["confidential"].to_numpy()
    return pd.DataFrame({
        "event_id": SOURCE + ":" + ids, "source": SOURCE, "source_event_id": ids, "dataset_version": dataset_version,
        "date_start": rows["date_start"], "date_end": rows["date_end"], "date_precision": rows["date_precision"],
        "year": rows["date_start"].dt.year,
        "country": rows["country"], "admin1_original": rows["admin1_original"], "admin2": rows["admin2"], "place": rows["place"],
        "latitude": rows["latitude"], "longitude": rows["longitude"], "geo_precision": rows["geo_precision"],
        "violence_type": rows["violence_type"], "event_type_original": rows["event_kind"],
        "side_a": normalise.normalise_side(rows["side_a"]), "side_b": normalise.normalise_side(rows["side_b"]),
        "side_a_original": rows["side_a"], "side_b_original": rows["side_b"],
        "deaths_low": rows["deaths_low"], "deaths_best": rows["deaths_best"], "deaths_high": rows["deaths_high"],
        "deaths_civilians": rows["deaths_civilians"], "deaths_is_lower_bound": rows["deaths_bound"].isin(LOWER_BOUNDS),
        "strikes": rows["strikes"],
        "headline": rows["description"].mask(identifying), "citation": rows["source_citation"].mask(identifying),
        "confidential": rows["confidential"],
    })


CLAIMS_FILE = paths.CURATED / "claims" / "claims.csv"
CLAIM_COLUMNS = [
    "claim_id", "claimant", "article_citation", "source_url", "source_published", "quote", "figure", "figure_kind",
    "bound", "period_start", "period_end", "country", "admin1", "place", "actor", "curated_ids", "confidential", "notes",
]
FIGURE_KINDS = ("deaths", "civilian_deaths", "strikes", "cumulative_toll")
CLAIM_FIXES = {
    **{c: FIXES[c] for c in ("admin1", "confidential", "quote")},
    "claim_id": FIXES["curated_id"],
    "figure": "Give the figure as a whole number; put 'more than'/'at least' in the bound column",
    "figure_kind": f"Use one of: {', '.join(FIGURE_KINDS)}",
    "bound": f"Use one of: {', '.join(BOUNDS)}",
    "period_start": "Write the date as YYYY-MM-DD", "period_end": "Write the date as YYYY-MM-DD, on or after period_start",
    "source_published": "Write the date as YYYY-MM-DD",
    "actor": "Use an actor spelling listed in data/reference/actors.csv (or add it there), or leave it empty",
}


# --- the claims file (data/curated/claims/; analysis.claims checks it against the sources) ---
def check_claim_rows(raw: RawTable) -> tuple[CuratedChecks, pd.DataFrame]:
    """Every check on a claims file, and its values typed (valid only for rows without problems)."""
    checks = CuratedChecks(raw, CLAIM_FIXES)
    checks.long_fields()
    typed = {"claim_id": checks.id_text("claim_id")}
    for column in ("claimant", "article_citation", "quote"):
        typed[column] = checks.required_text(column)
    typed["figure"] = checks.count("figure")
    typed["figure_kind"] = checks.choice("figure_kind", FIGURE_KINDS)
    typed["bound"] = checks.choice("bound", BOUNDS)
    typed["period_start"], typed["period_end"] = checks.date("period_start"), checks.date("period_end")
    checks.date_order(typed["period_start"], typed["period_end"], "period_end")
    typed["source_published"] = checks.date("source_published")
    typed["country"] = checks.required_text("country").str.strip()
    typed["admin1"] = checks.admin1(typed["country"], checks.text("admin1"))
    typed["actor"] = _claim_actor(checks)
    for column in ("place", "curated_ids", "source_url", "notes"):
        typed[column] = checks.text(column)
    typed["confidential"] = checks.boolean("confidential")
    return checks, pd.DataFrame(typed, index=raw.frame.index)


def _claim_actor(checks: CuratedChecks) -> pd.Series:
    """The canonical actor: a claim filters events by it, so an unknown spelling would match
    nothing silently and is a problem."""
    spelling = checks.text("actor")
    canonical = spelling.map(lambda s: normalise.canonical_actor(s) if isinstance(s, str) else None)
    checks.reject(spelling.notna() & canonical.isna(), "actor",
                  "not in data/reference/actors.csv: " + spelling.astype("object").fillna("").map(repr))
    return canonical


def read_claims(path: Path = CLAIMS_FILE) -> pd.DataFrame:
    """The claims file, checked; any problem stops the run (curate-check lists them all)."""
    checks, claims = check_claim_rows(read_csv_text(path, CLAIM_COLUMNS, paths.display_path(path)))
    checks.stop_on_problems()
    return claims.reset_index(drop=True)


# --- make curate-check -----------------------------------------------------------------------
def check_main(paths_to_check: list[str]) -> int:
    """Validate curated files (events and claims; folders are searched for *.csv). Prints one
    line per problem, `file, row N, column 'x': problem. fix`; returns 1 on any problem."""
    files = _files_to_check(paths_to_check or [str(paths.CURATED)])
    if not files:
        print("error: no .csv files to check in " + ", ".join(paths_to_check or [paths.display_path(paths.CURATED)]), file=sys.stderr)
        return 1
    problems = 0
    for file in files:
        errors, notes = file_problems(file)
        for error in errors:
            print(error)
        for note in notes:
            print(f"note: {note}")
        problems += len(errors)
    print(f"{len(files)} file(s) checked, {problems} problem(s)")
    return 1 if problems else 0


def _files_to_check(given: list[str]) -> list[Path]:
    files: list[Path] = []
    for item in map(Path, given):
        files.extend(sorted(item.rglob("*.csv")) if item.is_dir() else [item])
    return files


def file_problems(path: Path) -> tuple[list[str], list[str]]:
    """(problems, notes) for one curated file; a file with a `claim_id` column is a claims file."""
    name = paths.display_path(path)
    try:
        is_claims = "claim_id" in path.read_text(encoding="utf-8-sig", errors="replace").split("\n", 1)[0]
        if is_claims:
            checks, rows = check_claim_rows(read_csv_text(path, CLAIM_COLUMNS, name))
        else:
            checks, rows = check_event_rows(read_csv_text(path, COLUMNS, name))
    except (InputError, OSError) as exc:
        return [str(exc) if isinstance(exc, InputError) else f"{name}: cannot read the file ({exc})"], []
    errors = [str(e) for e in checks.errors()]
    notes = [] if is_claims else [f"{name}: actor {a!r} is not in data/reference/actors.csv; it is kept as written "
                                  "(add it there to count its spellings together)" for a in unknown_actors(rows)]
    return errors, notes
