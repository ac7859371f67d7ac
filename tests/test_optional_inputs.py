"""Issue 13, the data step: any one event source suffices, and a missing optional input costs a
printed note, not a crash. Real data: the shared UCDP GED file, and an ACLED-format export made
here from its rows (real ACLED rows cannot be redistributed)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import ADMIN1_FILE, UCDP_GED_FILE, run_cli

OPTIONAL = ("UCDP_COUNTRY_YEAR", "BOUNDARIES_ADMIN1", "BOUNDARIES_ADMIN2", "ACLED_CSV")
UNSET = {variable: "" for variable in ("UCDP_GED", *OPTIONAL)}
ACLED_COLUMNS = [
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type", "sub_event_type",
    "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2", "interaction", "civilian_targeting",
    "iso", "region", "country", "admin1", "admin2", "admin3", "location", "latitude", "longitude", "geo_precision",
    "source", "source_scale", "notes", "fatalities", "tags", "timestamp",
]


def manifest(root: Path) -> dict:
    return json.loads((root / "data" / "processed" / "manifest.json").read_text())


def absent_variables(root: Path) -> set[str]:
    return {a["variable"] for a in manifest(root)["absent_inputs"]}


def test_the_event_source_alone_builds_and_each_absent_input_is_named(scratch_project) -> None:
    result = run_cli(["data"], root=scratch_project, env={**UNSET, "UCDP_GED": str(UCDP_GED_FILE)})
    absent_lines = [line for line in result.stdout.splitlines() if line.startswith("absent:")]
    assert len(absent_lines) == len(OPTIONAL)
    for variable in OPTIONAL:
        assert any(f"({variable} not set)" in line for line in absent_lines), variable
    assert absent_variables(scratch_project) == set(OPTIONAL)
    assert not (scratch_project / "data" / "raw").exists(), "an unset optional input was downloaded"
    processed = scratch_project / "data" / "processed"
    assert not (processed / "ucdp_country_year.parquet").exists()
    assert not list(processed.glob("boundaries_*.geojson"))


def test_none_drops_an_input_that_an_earlier_build_used_and_reuse_is_named(built_data, tmp_path) -> None:
    import shutil

    root = tmp_path / "project"
    shutil.copytree(built_data, root, ignore=shutil.ignore_patterns("build"))
    result = run_cli(["data"], root=root, env={**UNSET, "UCDP_COUNTRY_YEAR": "none", "BOUNDARIES_ADMIN2": "None"})
    assert f"reused UCDP_GED={UCDP_GED_FILE}" in result.stdout
    assert f"reused BOUNDARIES_ADMIN1={ADMIN1_FILE}" in result.stdout
    assert "(UCDP_COUNTRY_YEAR UCDP_COUNTRY_YEAR=none)" in result.stdout
    assert absent_variables(root) == {"UCDP_COUNTRY_YEAR", "BOUNDARIES_ADMIN2", "ACLED_CSV"}
    names = {item["name"] for item in manifest(root)["inputs"]}
    assert "ucdp_country_year" not in names and "boundaries_admin2" not in names and "boundaries_admin1" in names
    # The earlier build's copies do not live on for the notebooks to find.
    assert not (root / "data" / "processed" / "ucdp_country_year.parquet").exists()
    assert not (root / "data" / "processed" / "boundaries_admin2.geojson").exists()
    assert (root / "data" / "processed" / "boundaries_admin1.geojson").exists()


def test_no_event_source_left_is_a_clear_error(scratch_project) -> None:
    result = run_cli(["data"], root=scratch_project, env={**UNSET, "UCDP_GED": "none"}, check=False)
    assert result.returncode != 0
    assert "no event source" in result.stderr and "ACLED_CSV" in result.stderr


# --- ACLED alone ---------------------------------------------------------------------------------

def acled_export_from_ged(target: Path, rows: int | None = 3000) -> pd.DataFrame:
    """ACLED's export format, filled from real GED rows: ACLED's column names and event types,
    one fatalities figure (GED's best), its inter codes and civilian-targeting mark. rows=None: every row."""
    ged = pd.read_csv(UCDP_GED_FILE, nrows=rows)
    state_a = ged["side_a"].str.startswith("Government of")
    event_type = ged["type_of_violence"].map({1: "Battles", 2: "Battles", 3: "Violence against civilians"})
    # Every third state-based event becomes an air strike, so all three political-violence types occur.
    event_type = event_type.mask((ged["type_of_violence"] == 1) & (ged.index % 3 == 0), "Explosions/Remote violence")
    export = pd.DataFrame({
        "event_id_cnty": "SYR" + ged["id"].astype(str),
        "event_date": ged["date_start"],
        "year": ged["year"],
        "time_precision": 1,
        "disorder_type": "Political violence",
        "event_type": event_type,
        "sub_event_type": event_type.map({"Battles": "Armed clash", "Violence against civilians": "Attack",
                                          "Explosions/Remote violence": "Air/drone strike"}),
        # Syria's army under ACLED's name; other governments keep UCDP's (actors.csv knows both).
        "actor1": ged["side_a"].mask(ged["side_a"] == "Government of Syria", "Military Forces of Syria (2000-)"),
        "assoc_actor_1": "",
        "inter1": state_a.map({True: "State forces", False: "Rebel group"}),
        "actor2": ged["side_b"].where(ged["type_of_violence"] != 3, "Civilians (Syria)"),
        "assoc_actor_2": "",
        "inter2": (ged["type_of_violence"] == 3).map({True: "Civilians", False: "Rebel group"}),
        "interaction": "",
        "civilian_targeting": (ged["type_of_violence"] == 3).map({True: "Civilian targeting", False: ""}),
        "iso": 760, "region": "Middle East", "country": "Syria",
        "admin1": ged["adm_1"].fillna("").str.replace(" governorate", "", case=False, regex=False),
        "admin2": ged["adm_2"].fillna("").str.replace(" district", "", case=False, regex=False),
        "admin3": "", "location": ged["where_coordinates"].fillna(""),
        "latitude": ged["latitude"], "longitude": ged["longitude"], "geo_precision": 1,
        "source": ged["source_office"].fillna(""), "source_scale": "National",
        "notes": "MADE FROM A UCDP GED ROW for tests", "fatalities": ged["best"],
        "tags": "", "timestamp": 1700000000,
    })[ACLED_COLUMNS]
    export.to_csv(target, index=False)
    return export


@pytest.fixture(scope="module")
def acled_only(tmp_path_factory):
    from conftest import make_scratch_project

    root = make_scratch_project(tmp_path_factory.mktemp("acled") / "project")
    export_file = root.parent / "acled_export.csv"
    export = acled_export_from_ged(export_file)
    result = run_cli(["data"], root=root, env={**UNSET, "ACLED_CSV": str(export_file)})
    return root, export, result


def test_an_acled_export_alone_builds_without_touching_ucdp(acled_only) -> None:
    root, export, result = acled_only
    assert not (root / "data" / "raw").exists(), "UCDP's default release was downloaded"
    assert "UCDP_GED" in absent_variables(root)
    sources = {item["source"] for item in manifest(root)["inputs"]}
    assert "ucdp_ged" not in sources and "acled" in sources


def test_acled_deaths_and_types_come_through_whole(acled_only) -> None:
    root, export, _ = acled_only
    events = str(root / "data" / "processed" / "events.parquet")

    def sql(query: str) -> list[tuple]:
        return duckdb.connect().execute(query).fetchall()

    (rows, deaths), = sql(f"select count(*), sum(deaths_best) from '{events}' where source = 'acled'")
    assert rows == len(export)
    assert deaths == export["fatalities"].sum()
    # Low, best and high are ACLED's one figure.
    assert sql(f"select count(*) from '{events}' where source = 'acled' and "
               "(deaths_low <> deaths_best or deaths_high <> deaths_best)") == [(0,)]
    # Every political-violence event type counts: none is left in "other".
    by_type = dict(sql(f"select violence_type, sum(deaths_best) from '{events}' where source = 'acled' group by 1"))
    assert "other" not in by_type
    assert by_type["one-sided"] == export.loc[export["event_type"] == "Violence against civilians", "fatalities"].sum()
    assert sum(by_type.values()) == export["fatalities"].sum()


def test_every_run_succeeds_without_the_country_year_totals_and_says_so(scratch_project) -> None:
    """One run of each shipped notebook that reads the totals (the sources page and the case
    study) or not, over a build with the event source alone."""
    runs_file = scratch_project / "report" / "runs-without-totals.yml"
    runs_file.write_text(
        "defaults: {country: Syria, start: '2016-01-01', end: '2019-12-31'}\n"
        "runs:\n"
        "  - {name: national, notebook: overview}\n"
        "  - {name: sources, notebook: sources}\n"
        "  - name: case-study\n"
        "    notebook: case_study\n"
        "    parameters: {start: '2014-11-01', end: '2014-11-30', violence_types: [state-based, non-state, one-sided, other]}\n")
    env = {**UNSET, "UCDP_GED": str(UCDP_GED_FILE)}
    run_cli(["data"], root=scratch_project, env=env)
    result = run_cli(["notebooks", "--runs", str(runs_file)], root=scratch_project, env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    ledgers = {path.parent.name: json.loads(path.read_text())["values"] for path in (scratch_project / "build").glob("*/results.json")}
    notes = {name: [k for k, v in values.items() if str(v["display"]).startswith("not available: set UCDP_COUNTRY_YEAR")]
             for name, values in ledgers.items()}
    case_study = next(v for k, v in notes.items() if k.startswith("case-study"))
    sources = next(v for k, v in notes.items() if k.startswith("sources"))
    assert {"ucdp_2014_total", "ucdp_country_year_version"} <= set(case_study)
    assert set(sources) == {"published_check", "published_totals_not_available"}
