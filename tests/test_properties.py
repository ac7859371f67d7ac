"""Property tests of the UCDP GED and ACLED adapters: whatever mix of valid and invalid values a
file holds, every row is kept (perhaps flagged) or quarantined with a reason naming one of its bad
columns, never lost and never wrongly quarantined, and the deaths of the kept rows add up.

Which rows are valid, and their values, is judged here from the text alone (the rules the
adapters document), importing nothing from src/ for it."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import pandas as pd
from conftest import ADMIN1_FILE, FIXTURES
from ged_samples import GedTable, plain_sample
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conflict_report.data import geo
from conflict_report.data.sources import acled, ucdp_ged

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# The quality flags the schema documents (schema.QUALITY_FLAGS, restated).
DOCUMENTED_FLAGS = {
    "deaths_low_above_best", "deaths_best_above_high", "point_outside_admin1", "admin1_inferred",
    "admin1_of_coarse_event_dropped", "civilians_above_best", "deaths_lower_bound",
}
# A count must stay below 2**53, the largest whole number a float holds exactly (reading.MAX_COUNT).
MAX_COUNT = 2**53
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)


# --- the independent judge ------------------------------------------------------------------
def number(text: str) -> Decimal | None:
    """The decimal number the text spells (ASCII digits only), or None."""
    text = text.strip()
    return Decimal(text) if _NUMBER.fullmatch(text) else None


def whole_count(text: str) -> int | None:
    value = number(text)
    if value is None or value != value.to_integral_value() or not 0 <= value < MAX_COUNT:
        return None
    return int(value)


def coordinate_ok(text: str, limit: float) -> bool:
    value = number(text)
    return text.strip() == "" or (value is not None and abs(value) <= limit)


def date_value(text: str, formats: tuple[str, ...]) -> dt.datetime | None:
    for form in formats:
        try:
            value = dt.datetime.strptime(text.strip(), form)
        except ValueError:
            continue
        return value if pd.Timestamp.min <= pd.Timestamp(value) <= pd.Timestamp.max else None
    return None


def code_ok(text: str, valid: range) -> bool:
    return whole_count(text) in valid


def id_problems(ids: list[str]) -> list[bool]:
    """Per row: empty, or the same id (spaces aside) as an earlier row."""
    seen: set[str] = set()
    bad = []
    for value in ids:
        key = value.strip()
        bad.append(key == "" or key in seen)
        seen.add(key)
    return bad


# --- generated values (as text, the way a CSV holds them) -------------------------------------
def mostly(valid: st.SearchStrategy[str], invalid: st.SearchStrategy[str], one_in: int = 12) -> st.SearchStrategy[str]:
    """Usually a valid value, one time in `one_in` an invalid one: a row has a dozen checked
    columns, and rows with every value valid must be common too. (The labels only steer the
    generator: the judge above decides what is valid.)"""
    return st.integers(1, one_in).flatmap(lambda k: invalid if k == 1 else valid)


COUNT_TEXT = mostly(
    st.one_of(st.integers(0, 100_000).map(str), st.integers(0, 500).map(lambda n: f" {n} "), st.sampled_from(["1e3", "7.0", "+4", "-0"])),
    st.one_of(
        st.integers(-1000, -1).map(str),
        st.sampled_from(["", "NA", "nan", "inf", "-inf", "twelve", "2.5", "99999999999999999999", "1,000"]),
        st.text(alphabet="0123456789+-.eE x", max_size=5),
    ),
)
COORDINATE_TEXT = mostly(
    st.one_of(st.floats(-90, 90).map(lambda f: f"{f:.4f}"), st.floats(32.4, 37.2).map(lambda f: f"{f:.4f}"), st.just("")),
    st.sampled_from(["95.5", "-190", "north", "nan", "inf", "1e3"]),
)
DAYS = st.dates(dt.date(1989, 1, 1), dt.date(2030, 12, 31))
BAD_ISO_DATE = st.sampled_from(["", "2016-02-30", "2016-13-01", "30/01/2016", "20160105", "yesterday", "0216-05-01", "9999-12-31"])
# No lone CR: Python's csv writer (lineterminator "\n") leaves it unquoted, and every CSV
# reader then takes it for a line break. Quotes, commas and LF are quoted, and are generated.
FREE_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=20)


@st.composite
def iso_date_pair(draw) -> tuple[str, str]:
    """(start, end): usually end on or after start, sometimes before it, sometimes not a date."""
    start = draw(DAYS)
    end = start + dt.timedelta(days=draw(st.integers(-3, 30)))
    unpadded = f"{end.year}-{end.month}-{end.day}"  # 2016-1-5: still a real ISO-ordered date
    return draw(mostly(st.just(str(start)), BAD_ISO_DATE)), draw(mostly(st.sampled_from([str(end), unpadded]), BAD_ISO_DATE))


def code_text(valid: range) -> st.SearchStrategy[str]:
    return mostly(st.sampled_from([str(v) for v in valid] + [" 1"]), st.sampled_from(["0", "9", "", "x", "1.5", "2.0"]))


def id_text(pool: list[str]) -> st.SearchStrategy[str | None]:
    """None: a fresh id; else one from a small pool, so that duplicates happen."""
    return mostly(st.none(), st.sampled_from(pool), one_in=4)


@lru_cache(maxsize=1)
def admin1_areas() -> geo.Areas:
    return geo.load_areas(ADMIN1_FILE)


def written(tmp_path: Path, name: str, header: list[str], template: list[str], changes: list[dict]) -> tuple[GedTable, Path]:
    """The template row once per generated change set; a None id becomes a fresh one."""
    rows = []
    for number_, change in enumerate(changes, start=1):
        values = dict(zip(header, template))
        values.update({k: (v if v is not None else f"9{number_:04d}") for k, v in change.items()})
        rows.append([values[c] for c in header])
    table = GedTable(header, rows)
    return table, table.write(tmp_path / name)


def assert_every_row_accounted_for(result, table: GedTable, problems: list[set[str]], id_column: str) -> list[int]:
    """Kept rows are exactly those with no problem; each quarantined row names one of its
    problems. Returns the numbers of the valid rows."""
    valid = [n for n, p in enumerate(problems, start=1) if not p]
    assert result.rows_read == len(table.rows) == len(result.events) + len(result.rejected)
    assert sorted(result.events["source_event_id"]) == sorted(table.get(n, id_column).strip() for n in valid)
    for row_number, column, reason in zip(result.rejected["row_number"], result.rejected["column"], result.rejected["reason"]):
        assert column in problems[row_number - 1], (row_number, column, reason, problems[row_number - 1])
        assert reason
    for flags in result.events["quality_flags"]:
        assert set(filter(None, flags.split(";"))) <= DOCUMENTED_FLAGS
    return valid


# --- UCDP GED -------------------------------------------------------------------------------
UCDP_TEMPLATE = plain_sample(1)
UCDP_SPELLINGS = ["Aleppo Governorate", "Idlib Governorate", "Rif Dimashq Governorate", "Daraa Governorate", ""]
UCDP_ROW = st.builds(lambda dates, rest: {"date_start": dates[0], "date_end": dates[1], **rest}, iso_date_pair(), st.fixed_dictionaries({
    "id": id_text(["101", " 101", "102", "", " "]),
    "type_of_violence": code_text(range(1, 4)), "where_prec": code_text(range(1, 8)), "date_prec": code_text(range(1, 6)),
    "latitude": COORDINATE_TEXT, "longitude": COORDINATE_TEXT,
    "low": COUNT_TEXT, "best": COUNT_TEXT, "high": COUNT_TEXT, "deaths_civilians": COUNT_TEXT,
    "country": mostly(st.sampled_from(["Syria", "Iraq"]), st.sampled_from(["", " "])),
    "adm_1": st.sampled_from(UCDP_SPELLINGS),
    "side_a": FREE_TEXT, "source_headline": FREE_TEXT,
}))


def ucdp_problems(table: GedTable) -> list[set[str]]:
    duplicate_or_empty = id_problems(table.column("id"))
    problems = []
    for number_, bad_id in enumerate(duplicate_or_empty, start=1):
        value = lambda column: table.get(number_, column)  # noqa: E731 - a short local reader
        found = {c for c in ("low", "best", "high", "deaths_civilians") if whole_count(value(c)) is None}
        found |= {c for c in ("date_start", "date_end") if date_value(value(c), ("%Y-%m-%d",)) is None}
        found |= {c for c, valid in (("type_of_violence", range(1, 4)), ("where_prec", range(1, 8)), ("date_prec", range(1, 6)))
                  if not code_ok(value(c), valid)}
        found |= {c for c, limit in (("latitude", 90), ("longitude", 180)) if not coordinate_ok(value(c), limit)}
        found |= {"id"} if bad_id else set()
        found |= {"country"} if value("country").strip() == "" else set()
        start, end = date_value(value("date_start"), ("%Y-%m-%d",)), date_value(value("date_end"), ("%Y-%m-%d",))
        found |= {"date_end"} if start and end and end < start else set()
        problems.append(found)
    return problems


@SETTINGS
@given(changes=st.lists(UCDP_ROW, min_size=1, max_size=10))
def test_ucdp_rows_are_kept_flagged_or_quarantined_and_deaths_add_up(tmp_path, changes) -> None:
    table, path = written(tmp_path, "ged_generated.csv", UCDP_TEMPLATE.header, UCDP_TEMPLATE.rows[0], changes)
    result = ucdp_ged.read(path, admin1_areas=admin1_areas())
    valid = assert_every_row_accounted_for(result, table, ucdp_problems(table), "id")

    counts = {c: [whole_count(table.get(n, c)) for n in valid] for c in ("low", "best", "high", "deaths_civilians")}
    assert int(result.events["deaths_best"].sum()) == sum(counts["best"])
    events = result.events.set_index("source_event_id")
    for position, n in enumerate(valid):
        event = events.loc[table.get(n, "id").strip()]
        low, best, high, civilians = (counts[c][position] for c in ("low", "best", "high", "deaths_civilians"))
        assert (event["deaths_low"], event["deaths_best"], event["deaths_high"], event["deaths_civilians"]) == (low, best, high, civilians)
        flags = set(event["quality_flags"].split(";"))
        assert ("deaths_low_above_best" in flags, "deaths_best_above_high" in flags, "civilians_above_best" in flags) == (
            low > best, best > high, civilians > best)


# --- ACLED ------------------------------------------------------------------------------------
ACLED_EXPORT = FIXTURES / "acled" / "acled_syria_invented.csv"
ACLED_DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y")


@lru_cache(maxsize=1)
def acled_template() -> tuple[list[str], list[str]]:
    table = pd.read_csv(ACLED_EXPORT, dtype=str, keep_default_na=False)
    return list(table.columns), list(table.iloc[0])


ACLED_ROW = st.fixed_dictionaries({
    "event_id_cnty": id_text(["SYR1", " SYR1", "SYR2", "", " "]),
    # Dates outside 1677-2262 are left out: see test_acled_date_outside_the_supported_range_is_quarantined.
    "event_date": mostly(
        st.one_of(DAYS.map(str), DAYS.map(lambda d: f"{d.day} {d:%B %Y}")),
        st.sampled_from(["", "2016-02-30", "31 February 2016", "2016/01/05", "yesterday"]),
    ),
    "time_precision": code_text(range(1, 4)), "geo_precision": code_text(range(1, 4)),
    "latitude": COORDINATE_TEXT, "longitude": COORDINATE_TEXT,
    "fatalities": COUNT_TEXT,
    "event_type": mostly(st.sampled_from(["Battles", "Violence against civilians", "Explosions/Remote violence"]), st.sampled_from(["", " "])),
    "country": mostly(st.sampled_from(["Syria", "Turkey"]), st.sampled_from(["", " "])),
    "admin1": st.sampled_from(["Idleb", "Aleppo", "Ar-Raqqa", "Dar'a", ""]),
    "actor1": FREE_TEXT, "notes": FREE_TEXT,
})


def acled_problems(table: GedTable) -> list[set[str]]:
    problems = []
    for number_, bad_id in enumerate(id_problems(table.column("event_id_cnty")), start=1):
        value = lambda column: table.get(number_, column)  # noqa: E731 - a short local reader
        found = {"fatalities"} if whole_count(value("fatalities")) is None else set()
        found |= {"event_date"} if date_value(value("event_date"), ACLED_DATE_FORMATS) is None else set()
        found |= {c for c in ("time_precision", "geo_precision") if not code_ok(value(c), range(1, 4))}
        found |= {c for c, limit in (("latitude", 90), ("longitude", 180)) if not coordinate_ok(value(c), limit)}
        found |= {"event_id_cnty"} if bad_id else set()
        found |= {c for c in ("event_type", "country") if value(c).strip() == ""}
        problems.append(found)
    return problems


@SETTINGS
@given(changes=st.lists(ACLED_ROW, min_size=1, max_size=10))
def test_acled_rows_are_kept_or_quarantined_and_fatalities_add_up(tmp_path, changes) -> None:
    header, template = acled_template()
    table, path = written(tmp_path, "acled_generated.csv", header, template, changes)
    result = acled.read(path, admin1_areas=admin1_areas())
    valid = assert_every_row_accounted_for(result, table, acled_problems(table), "event_id_cnty")
    fatalities = sum(whole_count(table.get(n, "fatalities")) for n in valid)
    assert int(result.events["deaths_best"].sum()) == int(result.events["deaths_low"].sum()) == fatalities


def test_acled_date_outside_the_supported_range_is_quarantined(tmp_path) -> None:
    header, template = acled_template()
    table, path = written(tmp_path, "acled_generated.csv", header, template, [{"event_id_cnty": None, "event_date": "25 November 0014"}, {"event_id_cnty": None}])
    result = acled.read(path)
    assert (len(result.events), list(result.rejected["column"])) == (1, ["event_date"])
