"""Every notebook executed by papermill on the real data, its results.json checked against
independent computations: DuckDB SQL over data/processed/events.parquet, importing nothing
from the package."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import COUNTRY_YEAR_FILE, DATA_ENV

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]

# Each run's folder is build/<run>/; its labels are prefixed with the slug of its parameters.
SLUGS = {"national": "overview-syria", "gov-dara": "region-profile-syria-dara", "gov-ar-raqqa": "region-profile-syria-ar-raqqa",
         "actor-is": "actor-profile-syria-is", "sources": "sources-syria"}


GOVERNORATE_RUNS = {  # run name in report/runs.yml -> OCHA name
    "gov-damascus": "Damascus", "gov-aleppo": "Aleppo", "gov-rural-damascus": "Rural Damascus", "gov-homs": "Homs",
    "gov-hama": "Hama", "gov-lattakia": "Lattakia", "gov-idleb": "Idleb", "gov-al-hasakeh": "Al-Hasakeh",
    "gov-deir-ez-zor": "Deir-ez-Zor", "gov-tartous": "Tartous", "gov-ar-raqqa": "Ar-Raqqa", "gov-dara": "Dar'a",
    "gov-as-sweida": "As-Sweida", "gov-quneitra": "Quneitra",
}


@pytest.fixture(scope="module")
def swept(swept_project) -> Path:
    return swept_project


def results(root: Path, run: str) -> dict:
    return json.loads((root / "build" / run / "results.json").read_text(encoding="utf-8"))


def value(root: Path, run: str, key: str):
    return results(root, run)["values"][key]["value"]


def sql(root: Path, query: str) -> list[tuple]:
    events = (root / "data" / "processed" / "events.parquet").as_posix()
    with duckdb.connect() as con:
        con.execute(f"create view events as select * from read_parquet('{events}') "
                    "where duplicate_of is null and country = 'Syria' and date_start between '2016-01-01' and '2019-12-31'")
        return con.execute(query).fetchall()


def test_national_totals_match_sql(swept):
    events, low, best, high, civilians = sql(swept, "select count(*), sum(deaths_low), sum(deaths_best), sum(deaths_high), sum(deaths_civilians) from events")[0]
    assert value(swept, "national", "events") == events
    assert (value(swept, "national", "deaths_low"), value(swept, "national", "deaths_best"), value(swept, "national", "deaths_high")) == (low, best, high)
    assert value(swept, "national", "deaths_civilians") == civilians
    # The shared file's own check value (its README): all of 2016-2019 best sums to 112,337.
    assert best == 112_337


def test_national_equals_governorates_plus_unknown(swept):
    table = (swept / "build" / "national" / "tables" / "governorates.csv").read_text(encoding="utf-8").splitlines()
    rows = [line.split(",") for line in table[1:]]
    by_name = {r[0]: int(r[2]) for r in rows}  # admin1, deaths_low, deaths_best, ...
    expected = dict(sql(swept, "select admin1, sum(deaths_best) from events group by admin1"))
    assert by_name == expected
    assert "Unknown" in by_name and by_name["Unknown"] > 0.2 * sum(by_name.values())
    assert sum(by_name.values()) == value(swept, "national", "deaths_best")
    # The 14 governorate runs plus the unknown row add up to the national run.
    governorate_sum = 0
    for run, name in GOVERNORATE_RUNS.items():
        got = json.loads((swept / "build" / run / "results.json").read_text(encoding="utf-8"))["values"]
        assert got["deaths_best"]["value"] == by_name[name], run
        assert got["share_of_national"]["value"] == pytest.approx(by_name[name] / sum(by_name.values()), abs=1e-6)
        governorate_sum += got["deaths_best"]["value"]
    assert governorate_sum + by_name["Unknown"] == value(swept, "national", "deaths_best")


def test_monthly_series_spreads_coarse_records_and_sums_to_total(swept):
    monthly_file = (swept / "build" / "national" / "tables" / "monthly.csv").as_posix()
    with duckdb.connect() as con:
        monthly = dict(con.execute(f"select month, deaths_best from read_csv('{monthly_file}')").fetchall())
    assert list(monthly) == sorted(monthly) and all(len(m) == 7 for m in monthly)
    assert sum(monthly.values()) == pytest.approx(value(swept, "national", "deaths_best"), abs=1e-6)
    # Independent spreading in SQL: each event's best estimate over the days it spans within
    # what the file covers (up to its last start date: an end date may spill past it).
    expected = dict(sql(swept, """
        select strftime(day, '%Y-%m') as month, sum(deaths_best / n_days)
        from (select deaths_best, date_diff('day', date_start, last_day) + 1 as n_days,
                     unnest(generate_series(date_start, last_day, interval 1 day)) as day
              from (select *, least(date_end, (select max(date_start) from events)) as last_day from events))
        group by month"""))
    assert set(expected) == set(monthly) and max(monthly) == "2019-11"
    for month, deaths in expected.items():
        assert monthly[month] == pytest.approx(deaths, abs=1e-6), month
    # No month carries a year-level record's deaths on its start date: for every year-level
    # record starting 1 January, January gets only its 31/365 share.
    year_records = sql(swept, "select strftime(date_start, '%Y-%m'), sum(deaths_best) from events where date_precision = 5 "
                              "and date_end - date_start > interval 300 day group by 1")
    assert year_records, "the shared file has year-level records"
    for month, whole in year_records:
        assert monthly[month] < sql(swept, f"select sum(deaths_best) from events where strftime(date_start, '%Y-%m') = '{month}'")[0][0]


def test_actor_profile_matches_sql(swept):
    events, best = sql(swept, """select count(*), sum(deaths_best) from events
        where list_contains(string_split(side_a, ', '), 'IS') or list_contains(string_split(side_b, ', '), 'IS')""")[0]
    assert value(swept, "actor-is", "events") == events
    assert value(swept, "actor-is", "deaths_best") == best
    assert value(swept, "actor-is", "main_opponent") in {"SDF", "Government of Syria"}


def test_sources_notebook_compares_with_published_totals(swept):
    with duckdb.connect() as con:
        published = con.execute(f"select sb_total_deaths_best_cy + ns_total_deaths_best_cy + os_total_deaths_best_cy from read_csv('{COUNTRY_YEAR_FILE.as_posix()}') "
                                "where country_cy = 'Syria' and year_cy = 2016").fetchone()[0]
    assert value(swept, "sources", "published_2016_best") == published == 53_891
    ged_2016 = sql(swept, "select sum(deaths_best) from events where source = 'ucdp_ged' and year(date_start) = 2016")[0][0]
    assert value(swept, "sources", "event_table_2016_best") == ged_2016
    assert value(swept, "sources", "published_gap_2016") == pytest.approx((ged_2016 - published) / published, abs=1e-6)
    flagged = sql(swept, "select count(*) from read_parquet('data/processed/events.parquet') where quality_flags <> ''".replace(
        "data/processed/events.parquet", (swept / "data/processed/events.parquet").as_posix()))[0][0]
    assert value(swept, "sources", "rows_flagged") == flagged


def test_results_have_no_machine_paths_and_labels_are_prefixed(swept):
    for run, slug in SLUGS.items():
        folder = swept / "build" / run
        for path in folder.rglob("*"):
            if path.suffix in (".json", ".csv", ".ipynb", ".svg"):
                text = path.read_text(encoding="utf-8")
                assert str(swept) not in text, f"{path} names the build folder"
        notebook = next(folder.glob("*.ipynb")).read_text(encoding="utf-8")
        assert f"fig-{slug}-" in notebook or f"tbl-{slug}-" in notebook


def papermill_cli(root: Path, notebook: str, output: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**__import__("os").environ, **DATA_ENV, "CONFLICT_REPORT_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "papermill", str(root / "notebooks" / f"{notebook}.ipynb"), str(output), *args],
                          cwd=output.parent, env=env, capture_output=True, text=True, timeout=600)


def build_state(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in (root / "build").rglob("*")}


def test_papermill_cli_with_p_and_f_gives_the_same_results(swept, tmp_path):
    """A run by hand gives the sweep's numbers, writes beside its output notebook and says
    where, and leaves the sweep's build/ untouched."""
    before = build_state(swept)
    done = papermill_cli(swept, "region_profile", tmp_path / "a.ipynb", "-p", "governorate", "Dar'a")
    assert done.returncode == 0, done.stderr[-2000:]
    hand = tmp_path / "run-outputs" / SLUGS["gov-dara"] / "results.json"
    assert json.loads(hand.read_text(encoding="utf-8")) == results(swept, "gov-dara")
    assert str(hand.parent) in (tmp_path / "a.ipynb").read_text(encoding="utf-8")  # the notebook says where
    params = tmp_path / "params.yml"
    params.write_text('governorate: "Dar\'a"\nstart: 2017\nend: "2018"\n', encoding="utf-8")
    done = papermill_cli(swept, "region_profile", tmp_path / "b.ipynb", "-f", str(params))
    assert done.returncode == 0, done.stderr[-2000:]
    assert build_state(swept) == before
    years = json.loads((tmp_path / "run-outputs" / "region-profile-syria-dara-2017-01-01-2018-12-31" / "results.json").read_text(encoding="utf-8"))
    expected = sql(swept, "select sum(deaths_best) from events where admin1 = 'Dar''a' and year(date_start) in (2017, 2018)")[0][0]
    assert years["values"]["deaths_best"]["value"] == expected


def test_default_parameters_from_another_folder_match_the_sweep(swept, tmp_path):
    """A researcher opening the notebook anywhere and running it with its defaults."""
    before = build_state(swept)
    done = papermill_cli(swept, "overview", tmp_path / "c.ipynb")
    assert done.returncode == 0, done.stderr[-2000:]
    hand = tmp_path / "run-outputs" / SLUGS["national"] / "results.json"
    assert hand.read_bytes() == (swept / "build" / "national" / "results.json").read_bytes()
    assert build_state(swept) == before


@pytest.mark.parametrize("args, message", [
    (["-p", "governorate", "Narnia"], "Valid values: Damascus; Aleppo; Rural Damascus; Homs; Hama; Lattakia; Idleb; Al-Hasakeh; Deir-ez-Zor; Tartous; Ar-Raqqa; Dar'a; As-Sweida; Quneitra"),
    (["-p", "start", "2019", "-p", "end", "2017"], "parameter 'end'"),
    (["-p", "start", "last spring"], "an ISO date such as 2016-01-01"),
    (["-p", "governorate", "__import__('os').system('touch PWNED')"], "not a governorate of Syria"),
    # A misspelt name would otherwise run the default: papermill only logs "Passed unknown parameter".
    (["-p", "govenorate", "Aleppo"], "parameter 'govenorate' = 'Aleppo': not a parameter of this notebook (did you mean 'governorate'?)"),
    # No subject: no default governorate is run in its place.
    ([], "parameter 'governorate' = '': region_profile needs a governorate"),
    (["-p", "governorate", "Aleppo", "-p", "start", "2021-01-01", "-p", "end", "2022-12-31"],
     "no source has events in Syria in this period. Valid values: a period within what the sources cover ("),
    (["-p", "governorate", "Aleppo", "-p", "start", "2021-01-01", "-p", "end", "2022-12-31"], "UCDP GED: 1 January 2016 to 30 November 2019"),
])
def test_bad_parameters_fail_at_once_with_valid_values(swept, tmp_path, args, message):
    done = papermill_cli(swept, "region_profile", tmp_path / "bad.ipynb", *args)
    assert done.returncode != 0
    assert message in done.stderr
    assert "ParameterError" in done.stderr
    assert not (tmp_path / "PWNED").exists() and not (swept / "PWNED").exists()
    # In the executed notebook the error is the message alone, not a traceback through the package.
    error = next(o for c in json.loads((tmp_path / "bad.ipynb").read_text(encoding="utf-8"))["cells"]
                 for o in c.get("outputs", []) if o["output_type"] == "error")
    assert len(error["traceback"]) == 1 and error["traceback"][0].startswith("ParameterError: parameter ")
    assert message in error["traceback"][0]


def test_executed_notebooks_show_every_figure_and_no_html(swept):
    """A figure is shown in the notebook as well as saved, as the saved print PNG itself (not a
    drawing of its own), scaled to a 100-dpi width; no output is HTML (it would make Quarto load
    scripts from a CDN)."""
    for run in SLUGS:
        folder = swept / "build" / run
        notebook = json.loads(next(folder.glob("*.ipynb")).read_text(encoding="utf-8"))
        outputs = [o for c in notebook["cells"] for o in c.get("outputs", [])]
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        figures = results(swept, run)["figures"]
        assert len(images) == len(figures) > 0, run
        for image, figure in zip(images, figures):
            png = (folder / figure["png"]).read_bytes()
            assert base64.b64decode(image["data"]["image/png"]) == png, (run, figure["name"])
            width_px = int.from_bytes(png[16:20], "big")  # the PNG's IHDR: 300 dpi
            assert image["metadata"]["image/png"]["width"] == round(width_px / 3), (run, figure["name"])
        assert not [o for o in outputs if "text/html" in o.get("data", {})], run


def test_every_sentence_that_counts_what_a_figure_shows_quotes_the_figure_s_own_count(swept):
    """A sentence that cites a figure (@fig-<run>-<name>) and quotes a count of events must
    quote what the figure shows: its alt text states the count it draws."""
    quoted = 0
    for page in sorted((Path(__file__).parent.parent / "report" / "_sections").glob("*.qmd")):
        for paragraph in page.read_text(encoding="utf-8").split("\n\n"):
            paragraph = " ".join(paragraph.split())
            for run, figure in re.findall(r"@fig-(national|sources)-([\w-]+)", paragraph):
                data = results(swept, run)
                alt = next(f["alt"] for f in data["figures"] if f["name"] == figure.replace("-", "_"))
                for key in re.findall(r"\{\{< var " + run + r"\.(\w+) >\}\}", paragraph):
                    entry = data["values"][key]
                    if entry["unit"] == "events":
                        assert entry["display"] in alt, f"{page.name}: {key} = {entry['display']} is not what @fig-{run}-{figure} shows: {alt}"
                        quoted += 1
    assert quoted >= 2  # the map: events drawn and events not drawn
    # The map draws the events located to the district or better (UCDP geo precision 1-3).
    drawn = sql(swept, "select count(*) from events where geo_precision <= 3 and latitude is not null and longitude is not null")[0][0]
    assert value(swept, "national", "events_mapped") == drawn == 15_130


def test_no_chart_or_ledger_date_runs_past_the_data(swept):
    """The Syria extract ends on 30 November 2019: no month after it, no date after it."""
    last_day = sql(swept, "select max(date_start) from events")[0][0]
    assert str(last_day)[:10] == "2019-11-30"
    for run in SLUGS:
        monthly = swept / "build" / run / "tables" / "monthly.csv"
        if monthly.exists():
            months = [line.split(",")[0] for line in monthly.read_text(encoding="utf-8").splitlines()[1:]]
            assert max(months) <= "2019-11", run
        values = results(swept, run)["values"]
        for entry in values.values():
            for year, month, day in re.findall(r"\b(20\d\d)-(\d\d)-(\d\d)\b", str(entry["display"])):
                assert f"{year}-{month}-{day}" <= "2019-11-30", (run, entry)
            assert "December 2019" not in str(entry["display"]), (run, entry)
    assert value(swept, "national", "period") == "1 January 2016 to 30 November 2019"
    assert value(swept, "sources", "coverage_ucdp_ged") == value(swept, "national", "period")
    assert value(swept, "national", "year_2019") == "2019 (1 January to 30 November)"
