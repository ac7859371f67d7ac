"""`make data` on the real UCDP GED Syria file, reconciled against the raw CSV.

Every expected value is computed independently of src/: in DuckDB SQL over the raw CSV, with
shapely over the OCHA boundaries, or taken from the data's README (check values, sha256)."""

from __future__ import annotations

import datetime as dt
import functools
import json
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely
from conftest import ADMIN1_FILE, DATA_ENV, REPO, SHARED_DATA, UCDP_GED_FILE
from ged_samples import (
    EVENT_COUNT,
    PUBLISHED_SHA256,
    build,
    event_totals,
    ged20_layout,
    manifest,
    plain_sample,
    processed,
    raw_totals,
    real_table,
    sha256_of,
    ucdp_entry,
    ucdp_events,
)
from shapely.geometry import shape

from conflict_report.data.sources import ucdp_ged

# ../shared/data/ucdp_ged_syria_2016_2019/README.md: sums of `best` by year and type_of_violence.
README_BEST_BY_YEAR_AND_TYPE = {
    (2016, 1): 40_865, (2016, 2): 7_125, (2016, 3): 720,
    (2017, 1): 21_243, (2017, 2): 11_432, (2017, 3): 641,
    (2018, 1): 11_974, (2018, 2): 7_520, (2018, 3): 757,
    (2019, 1): 6_567, (2019, 2): 3_340, (2019, 3): 153,
}
VIOLENCE_TYPE_NAMES = {1: "state-based", 2: "non-state", 3: "one-sided"}
# UCDP's adm_1 spellings -> OCHA's governorate name and P-code (boundaries README), written here
# by hand so the test does not lean on the project's own crosswalk.
UCDP_GOVERNORATES = {
    "Damascus Governorate": ("Damascus", "SY01"), "Aleppo Governorate": ("Aleppo", "SY02"),
    "Rif Dimashq Governorate": ("Rural Damascus", "SY03"), "Homs Governorate": ("Homs", "SY04"),
    "Hamah Governorate": ("Hama", "SY05"), "Latakia Governorate": ("Lattakia", "SY06"),
    "Idlib Governorate": ("Idleb", "SY07"), "Al Hasakah Governorate": ("Al-Hasakeh", "SY08"),
    "Deir ez Zor Governorate": ("Deir-ez-Zor", "SY09"), "Tartus Governorate": ("Tartous", "SY10"),
    "Ar Raqqah Governorate": ("Ar-Raqqa", "SY11"), "Daraa Governorate": ("Dar'a", "SY12"),
    "As Suwayda Governorate": ("As-Sweida", "SY13"), "Quneitra Governorate": ("Quneitra", "SY14"),
}


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def has_flag(flag: str) -> str:
    """SQL: the event's ';'-separated quality_flags hold `flag`."""
    return f"list_contains(string_split(quality_flags, ';'), {sql_literal(flag)})"


@pytest.fixture(scope="module")
def sql(built_data):
    """Run a query over `raw` (the UCDP CSV as text), `processed` (the UCDP rows of
    events.parquet) and `spelling` (UCDP_GOVERNORATES)."""
    con = duckdb.connect()
    con.execute(f"create view raw as select * from read_csv({sql_literal(str(UCDP_GED_FILE))}, all_varchar=true, header=true)")
    events = processed(built_data, "events.parquet")
    con.execute(f"create view processed as select * from read_parquet({sql_literal(str(events))}) where source = 'ucdp_ged'")
    con.execute("create table spelling (adm_1 varchar, admin1 varchar, pcode varchar)")
    con.executemany("insert into spelling values (?, ?, ?)", [(k, *v) for k, v in UCDP_GOVERNORATES.items()])
    yield lambda query: con.execute(query).fetchall()
    con.close()


def scalar(sql, query: str):
    return sql(query)[0][0]


# --- every event kept, provenance recorded -----------------------------------------------------
def test_every_ucdp_event_is_kept_flagged_ones_included(sql) -> None:
    assert scalar(sql, "select count(*) from raw") == EVENT_COUNT
    assert scalar(sql, "select count(*) from processed") == EVENT_COUNT
    assert scalar(sql, "select count(*) from raw anti join processed on processed.source_event_id = raw.id") == 0
    assert scalar(sql, "select count(*) from processed where quality_flags <> ''") > 100


def test_manifest_records_the_ucdp_input(built_data) -> None:
    entry = ucdp_entry(built_data)
    assert entry["given"] == DATA_ENV["UCDP_GED"]
    assert "19.1" in entry["dataset_version"]  # the README: "same variables and codebook as UCDP GED Global 19.1"
    assert entry["sha256"] == sha256_of(UCDP_GED_FILE) == PUBLISHED_SHA256
    assert entry["rows_read"] == EVENT_COUNT == entry["rows_kept"] + entry["rows_rejected"]
    assert entry["rows_flagged"] == (ucdp_events(built_data)["quality_flags"] != "").sum()


def test_manifest_records_every_input_and_output(built_data) -> None:
    recorded = manifest(built_data)
    for entry in recorded["inputs"]:
        given = Path(entry["given"])
        assert entry["sha256"] == sha256_of(given if given.is_absolute() else built_data / given), entry["name"]
        assert entry["dataset_version"], entry["name"]
        assert dt.datetime.fromisoformat(entry["processed_at"]).tzinfo is not None
        if "rows_read" in entry:
            assert entry["rows_read"] == entry["rows_kept"] + entry["rows_rejected"], entry["name"]
    given_files = {value for name, value in DATA_ENV.items() if name != "BOUNDARIES_CREDIT"}  # the credit is a setting, not a file
    assert {e["given"] for e in recorded["inputs"]} >= given_files
    assert recorded["boundaries_credit"] == DATA_ENV["BOUNDARIES_CREDIT"]
    for name, digest in recorded["outputs"].items():
        assert sha256_of(processed(built_data, name)) == digest, name


# --- reconciliation with the raw CSV ---------------------------------------------------------
def test_death_totals_match_the_raw_csv(sql) -> None:
    raw = sql("select count(*), sum(low::bigint), sum(best::bigint), sum(high::bigint), sum(deaths_civilians::bigint) from raw")
    kept = sql("select count(*), sum(deaths_low), sum(deaths_best), sum(deaths_high), sum(deaths_civilians) from processed")
    assert kept == raw


def test_best_by_year_and_type_matches_the_readme(sql) -> None:
    raw = {(y, t): b for y, t, b in sql("select year::int, type_of_violence::int, sum(best::bigint) from raw group by all")}
    kept = {(y, t): b for y, t, b in sql("select year, violence_type, sum(deaths_best) from processed group by all")}
    assert raw == README_BEST_BY_YEAR_AND_TYPE
    assert kept == {(y, VIOLENCE_TYPE_NAMES[t]): b for (y, t), b in README_BEST_BY_YEAR_AND_TYPE.items()}


def test_source_governorate_field_is_kept_verbatim(sql) -> None:
    raw = sql("select adm_1, count(*), sum(best::bigint) from raw group by all order by all")
    kept = sql("select admin1_original, count(*), sum(deaths_best) from processed group by all order by all")
    assert kept == raw


def test_governorate_totals_and_unknown_add_up_to_the_national_total(sql) -> None:
    national = scalar(sql, "select sum(best::bigint) from raw")
    by_admin1 = dict(sql("select admin1, sum(deaths_best) from processed group by all"))
    assert sum(by_admin1.values()) == national
    raw_named = dict(sql("select admin1, sum(best::bigint) from raw join spelling using (adm_1) where where_prec::int < 6 group by all"))
    kept_named = dict(sql(f"select admin1, sum(deaths_best) from processed where admin1 <> 'Unknown' and not {has_flag('admin1_inferred')} group by all"))
    assert kept_named == raw_named and len(raw_named) == 14
    raw_unnamed = scalar(sql, "select sum(best::bigint) from raw where adm_1 is null or where_prec::int >= 6")
    kept_unnamed = scalar(sql, f"select sum(deaths_best) from processed where admin1 = 'Unknown' or {has_flag('admin1_inferred')}")
    assert kept_unnamed == raw_unnamed


def test_events_of_unknown_governorate_are_kept_and_weigh_over_a_fifth(sql) -> None:
    count, deaths = sql("select count(*), sum(deaths_best) from processed where admin1 = 'Unknown'")[0]
    inferred = scalar(sql, f"select count(*) from processed where {has_flag('admin1_inferred')}")
    assert count + inferred == scalar(sql, "select count(*) from raw where adm_1 is null")
    assert count >= 200
    assert deaths > scalar(sql, "select sum(best::bigint) from raw") / 5


def test_out_of_order_estimates_are_kept_and_flagged(sql) -> None:
    joined = "from raw join processed on processed.source_event_id = raw.id"
    assert scalar(sql, f"select count(*) {joined} where low::int > best::int or best::int > high::int") == 101
    assert scalar(sql, f"select count(*) {joined} where (low::int > best::int) <> {has_flag('deaths_low_above_best')}") == 0
    assert scalar(sql, f"select count(*) {joined} where (best::int > high::int) <> {has_flag('deaths_best_above_high')}") == 0


def test_country_level_events_get_no_governorate(sql) -> None:
    rows = sql("select admin1, admin1_pcode from raw join processed on processed.source_event_id = raw.id where where_prec::int >= 6")
    assert len(rows) == scalar(sql, "select count(*) from raw where where_prec in ('6', '7')") > 100
    assert set(rows) == {("Unknown", None)}


@functools.lru_cache(maxsize=1)
def governorate_polygons() -> dict[str, shapely.Geometry]:
    features = json.loads(ADMIN1_FILE.read_text(encoding="utf-8"))["features"]
    return {f["properties"]["PCODE"]: shape(f["geometry"]) for f in features}


def governorate_at(lon: float, lat: float) -> str | None:
    point = shapely.Point(lon, lat)
    return next((pcode for pcode, polygon in governorate_polygons().items() if polygon.covers(point)), None)


def test_governorate_is_inferred_for_finely_placed_events_without_one(sql) -> None:
    rows = sql("select raw.longitude::double, raw.latitude::double, admin1_pcode, quality_flags from raw "
               "join processed on processed.source_event_id = raw.id where adm_1 is null and where_prec::int <= 3")
    assert rows
    inferred = 0
    for lon, lat, pcode, flags in rows:
        expected = governorate_at(lon, lat)
        assert pcode == expected
        assert ("admin1_inferred" in flags.split(";")) == (expected is not None)
        inferred += expected is not None
    assert inferred >= 1
    assert scalar(sql, f"select count(*) from processed where {has_flag('admin1_inferred')}") == inferred


def test_points_outside_the_named_governorate_are_kept_and_flagged(sql) -> None:
    rows = sql("select raw.id, raw.longitude::double, raw.latitude::double, pcode, quality_flags from raw join spelling using (adm_1) "
               "join processed on processed.source_event_id = raw.id where where_prec::int <= 4")
    expected = {i for i, lon, lat, pcode, _ in rows if governorate_at(lon, lat) not in (None, pcode)}
    flagged = {i for i, *_, flags in rows if "point_outside_admin1" in flags.split(";")}
    assert flagged == expected and len(expected) > 10


# --- both GED codebooks, plain and compressed ---------------------------------------------------
SAMPLE_ROWS = 300


@pytest.fixture(scope="module")
def sample_table():
    table = real_table()
    table.rows = table.rows[:SAMPLE_ROWS]
    return table


@pytest.mark.parametrize("name, layout, version", [
    ("ged_syria_sample.csv", "19.1", "GED 19.1"),
    ("ged_syria_sample.csv.gz", "19.1", "GED 19.1"),
    ("ged_syria_sample.zip", "19.1", "GED 19.1"),
    ("ged251-sample.csv", "20.1+", "GED 25.1"),
    ("ged251-sample.csv.gz", "20.1+", "GED 25.1"),
    ("ged251-csv.zip", "20.1+", "GED 25.1"),
])
def test_both_codebooks_read_plain_gzipped_and_zipped(tmp_path, sample_table, name, layout, version) -> None:
    table = ged20_layout(sample_table) if layout == "20.1+" else sample_table
    result = ucdp_ged.read(table.write(tmp_path / name))
    assert result.dataset_version == version
    assert (result.rows_read, len(result.rejected)) == (SAMPLE_ROWS, 0)
    assert event_totals(result.events) == raw_totals(sample_table)
    assert sorted(result.events["source_event_id"]) == sorted(sample_table.column("id"))


def test_ged_20_layout_gives_the_same_events_as_19_1(tmp_path, sample_table) -> None:
    old = ucdp_ged.read(sample_table.write(tmp_path / "ged_syria_sample.csv")).events
    new = ucdp_ged.read(ged20_layout(sample_table).write(tmp_path / "ged251-sample.zip")).events
    assert set(new["dataset_version"]) == {"GED 25.1"}
    pd.testing.assert_frame_equal(new.drop(columns="dataset_version"), old.drop(columns="dataset_version"))


# --- rebuilds ------------------------------------------------------------------------------
def output_state(root: Path) -> dict[str, tuple[int, str]]:
    """(modification time, sha256) of every file in data/processed."""
    return {p.name: (p.stat().st_mtime_ns, sha256_of(p)) for p in sorted(processed(root, "").iterdir())}


def test_unchanged_inputs_redo_nothing_and_a_changed_input_rebuilds(scratch_project, tmp_path) -> None:
    table = plain_sample(200)
    source = table.write(tmp_path / "ged_sample.csv.gz")
    build(scratch_project, source)
    first = output_state(scratch_project)
    build(scratch_project, source)
    assert output_state(scratch_project) == first

    table.set(1, "best", str(int(table.get(1, "best")) + 1000)).set(1, "high", str(int(table.get(1, "high")) + 1000))
    table.write(source)
    build(scratch_project, source)
    rebuilt = output_state(scratch_project)
    assert rebuilt["events.parquet"] != first["events.parquet"]
    assert ucdp_entry(scratch_project)["sha256"] == sha256_of(source)
    assert event_totals(ucdp_events(scratch_project)) == raw_totals(table)


def test_outputs_hold_no_path_of_this_machine(scratch_project, tmp_path) -> None:
    table = plain_sample(20).set(3, "best", "many")  # one quarantined row, so rejected.csv has content
    source = table.write(tmp_path / "inputs" / "ged_sample.csv")
    build(scratch_project, source)
    machine_paths = [str(tmp_path), str(REPO), str(SHARED_DATA), str(Path.home())]
    events = pq.read_table(processed(scratch_project, "events.parquet"))
    texts = [str(events.schema.metadata)] + [str(v) for column in events.columns for v in column.to_pylist() if isinstance(v, str)]
    rejected = processed(scratch_project, "rejected.csv").read_text(encoding="utf-8")
    assert "many" in rejected
    for path in machine_paths:
        assert path not in rejected
        assert not [t for t in texts if path in t], path
    assert ucdp_entry(scratch_project)["given"] == str(source)  # the manifest keeps what was given


# --- downloads and checksums --------------------------------------------------------------------
NO_PROXY_FOR_LOCALHOST = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def served_ged_url():
    """The real file over HTTP from 127.0.0.1, so pooch downloads it as it would from UCDP."""
    handler = functools.partial(QuietHandler, directory=str(UCDP_GED_FILE.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{UCDP_GED_FILE.name}"
    server.shutdown()
    server.server_close()


def assert_clear_failure(result, *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr, (text, result.stderr)


def test_wrong_checksum_for_a_url_fails_clearly(scratch_project, served_ged_url) -> None:
    wrong = "0" * 64
    result = build(scratch_project, served_ged_url, check=False, env={"UCDP_GED_SHA256": wrong, **NO_PROXY_FOR_LOCALHOST})
    assert_clear_failure(result, served_ged_url, "UCDP_GED_SHA256", wrong, "does not match")
    assert not processed(scratch_project, "events.parquet").exists()


def test_right_checksum_for_a_url_passes_and_is_recorded(scratch_project, served_ged_url) -> None:
    build(scratch_project, served_ged_url, env={"UCDP_GED_SHA256": PUBLISHED_SHA256, **NO_PROXY_FOR_LOCALHOST})
    entry = ucdp_entry(scratch_project)
    assert (entry["given"], entry["file_name"], entry["sha256"]) == (served_ged_url, UCDP_GED_FILE.name, PUBLISHED_SHA256)
    assert entry["rows_read"] == EVENT_COUNT


def test_wrong_checksum_for_a_local_file_fails_clearly(scratch_project) -> None:
    result = build(scratch_project, UCDP_GED_FILE, check=False, env={"UCDP_GED_SHA256": "f" * 64})
    assert_clear_failure(result, UCDP_GED_FILE.name, PUBLISHED_SHA256, "UCDP_GED_SHA256")


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_offline_default_download_fails_fast_naming_the_variable(scratch_project) -> None:
    # Offline, made certain on any machine: every request goes to a proxy port nobody listens on.
    dead_proxy = f"http://127.0.0.1:{unused_port()}"
    offline = {name: dead_proxy for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")}
    result = build(scratch_project, "", check=False, env={**offline, "NO_PROXY": "", "no_proxy": ""}, timeout=120)
    assert_clear_failure(result, "ucdp.uu.se", "Point UCDP_GED at", "make data UCDP_GED=")
    assert not processed(scratch_project, "events.parquet").exists()
