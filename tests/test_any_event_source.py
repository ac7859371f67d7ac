"""Issue 13, the report half: any one event source builds the whole report, and GED and ACLED
are never added up. Real data: the shared UCDP GED file, and ACLED-format exports made from its
rows (test_optional_inputs.acled_export_from_ged: real ACLED rows cannot be redistributed).
Expected totals come from the export's own columns, read here with pandas."""

from __future__ import annotations

import html as html_module
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import ADMIN1_FILE, ADMIN2_FILE, QUARTO_MISSING, find_quarto, make_scratch_project, run_cli
from test_optional_inputs import UNSET, acled_export_from_ged

PERIOD = ("2016-01-01", "2019-12-31")  # report/runs.yml's defaults
POLITICAL_VIOLENCE = {"Battles", "Explosions/Remote violence", "Violence against civilians"}
ACLED_ID = re.compile(r"SYR\d+")  # the export's event_id_cnty: "SYR" + the GED row's id


def ledger(root: Path, run: str) -> dict:
    return json.loads((root / "build" / run / "results.json").read_text(encoding="utf-8"))["values"]


def expected_acled(export_file: Path, root: Path, since: str = PERIOD[0]) -> dict[str, int]:
    """From the export itself: its political-violence rows dated in the period, less any row the
    data step quarantined (rejected.csv keeps ACLED's id); ACLED's one figure is fatalities."""
    export = pd.read_csv(export_file)
    rejected = pd.read_csv(root / "data" / "processed" / "rejected.csv", dtype=str)
    rejected_ids = set(rejected.loc[rejected["source"] == "acled", "event_id_cnty"]) if "event_id_cnty" in rejected else set()
    dates = pd.to_datetime(export["event_date"])
    kept = export[dates.between(pd.Timestamp(since), pd.Timestamp(PERIOD[1])) & export["event_type"].isin(POLITICAL_VIOLENCE)
                  & ~export["event_id_cnty"].isin(rejected_ids)]
    return {"events": len(kept), "deaths": int(kept["fatalities"].sum())}


# --- ACLED alone: the whole report, rendered once ---------------------------------------------

@pytest.fixture(scope="module")
def acled_report(tmp_path_factory):
    """`make data`, `make notebooks` and `make report` with only ACLED_CSV (and the boundaries)
    set: the export made from every GED row."""
    quarto = find_quarto()
    if quarto is None:
        pytest.skip(QUARTO_MISSING)
    root = make_scratch_project(tmp_path_factory.mktemp("acled-report") / "project")
    export_file = root.parent / "acled_export.csv"
    acled_export_from_ged(export_file, rows=None)
    env = {**UNSET, "ACLED_CSV": str(export_file), "BOUNDARIES_ADMIN1": str(ADMIN1_FILE), "BOUNDARIES_ADMIN2": str(ADMIN2_FILE),
           "QUARTO": quarto}
    run_cli(["data"], root=root, env=env)
    run_cli(["notebooks"], root=root, env=env, timeout=1800)
    done = run_cli(["report"], root=root, env=env, timeout=1800, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root, export_file


def page_text(path: Path) -> str:
    """A page's text as a reader sees it: no scripts, styles or tags."""
    html = path.read_text(encoding="utf-8")
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    text = html_module.unescape(re.sub(r"<[^>]+>", " ", html)).replace("\u2019", "'")  # Pandoc curls apostrophes
    return re.sub(r"\s+", " ", text)


def pdf_text(root: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(root / "report" / "_output" / "report.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout


def test_acled_alone_builds_the_report_and_its_deaths_are_the_exports_fatalities(acled_report) -> None:
    root, export_file = acled_report
    expected = expected_acled(export_file, root)
    national = ledger(root, "national")
    assert national["events"]["value"] == expected["events"]
    # ACLED's one figure is the low, best and high alike.
    for estimate in ("low", "best", "high"):
        assert national[f"deaths_{estimate}"]["value"] == expected["deaths"], estimate
    assert (root / "report" / "_output" / "index.html").exists() and (root / "report" / "_output" / "report.pdf").exists()


def test_the_summary_names_acled_and_says_once_that_its_range_is_one_figure(acled_report) -> None:
    root, _ = acled_report
    summary = page_text(root / "report" / "_output" / "index.html")
    assert "Armed Conflict Location & Event Data Project (ACLED)" in summary
    assert summary.count("ACLED gives one fatality figure per event") == 1
    assert "civilian-targeting" in summary  # civilian deaths by ACLED's own definition


def test_no_acled_row_reaches_any_output(acled_report) -> None:
    """ACLED's terms allow aggregates only: none of the export's ids, nor its notes, in the site,
    the PDF, any CSV of the site or of build/, or any ledger."""
    root, export_file = acled_report
    export = pd.read_csv(export_file)
    ids = set(export["event_id_cnty"])
    note = export["notes"].iloc[0]
    outputs = [p for p in (root / "report" / "_output").rglob("*") if p.suffix in (".html", ".csv", ".json")]
    outputs += list((root / "build").rglob("*.csv")) + list((root / "build").rglob("results.json"))
    assert len(outputs) > 50
    texts = {path: path.read_text(encoding="utf-8", errors="replace") for path in outputs}
    texts[root / "report" / "_output" / "report.pdf"] = pdf_text(root)
    for path, text in texts.items():
        leaked = set(ACLED_ID.findall(text)) & ids
        assert not leaked, f"{path}: ACLED event ids {sorted(leaked)[:5]}"
        assert note not in text, f"{path}: ACLED's notes"


def test_ucdp_is_not_named_in_an_acled_only_report(acled_report) -> None:
    """Outside the methods page (whose list of absent inputs names what was not given), no page
    of the site and no part of the PDF names UCDP."""
    root, _ = acled_report
    site = root / "report" / "_output"
    pages = [p for p in site.glob("*.html") if p.name != "methods.html"]
    assert len(pages) > 20
    for page in pages:
        text = page_text(page)
        assert "UCDP" not in text, f"{page.name}: ...{text[max(0, text.find('UCDP') - 150):text.find('UCDP') + 100]}..."
    pdf = pdf_text(root)
    methods = re.search(r"(?s)\n\s*\d+\s+Methods and data\s*\n.*?\n\s*\d+\s+Changes since the last edition", pdf)
    outside_methods = pdf.replace(methods.group(0), "") if methods else pdf
    where = outside_methods.find("UCDP")
    assert where < 0, outside_methods[max(0, where - 200):where + 100]


def test_the_methods_give_acleds_mapping(acled_report) -> None:
    from conflict_report.data.sources.acled import VIOLENCE_TYPE_RULES

    methods = page_text(acled_report[0] / "report" / "_output" / "methods.html")
    for event_type, category in VIOLENCE_TYPE_RULES.items():
        assert event_type in methods and category in methods, event_type


# --- both sources: one is counted, the other compared ---------------------------------------

RUNS = """\
defaults: {country: Syria, start: '2016-01-01', end: '2019-12-31', primary_source: ucdp_ged}
runs:
  - {name: national, notebook: overview}
  - {name: sources, notebook: sources}
  - {name: national-acled, notebook: overview, parameters: {primary_source: acled}}
"""


@pytest.fixture(scope="module")
def both_sources(built_data, tmp_path_factory):
    """The GED build plus an ACLED export made from GED's rows of 2017 on (so ACLED's coverage
    starts a year after GED's), and the same runs over the GED build alone."""
    base = tmp_path_factory.mktemp("both")
    projects = {}
    for name in ("ged", "both"):
        root = base / name
        shutil.copytree(built_data, root, ignore=shutil.ignore_patterns("build"))
        (root / "report" / "runs-test.yml").write_text(RUNS)
        projects[name] = root
    export_file = base / "acled_export.csv"
    export = acled_export_from_ged(export_file, rows=None)
    export[pd.to_datetime(export["event_date"]) >= "2017-01-01"].to_csv(export_file, index=False)
    run_cli(["data"], root=projects["both"], env={"ACLED_CSV": str(export_file)})
    for name, root in projects.items():
        runs = ["--runs", str(root / "report" / "runs-test.yml")]
        if name == "ged":
            runs = ["--runs", str(root / "report" / "runs-ged.yml")]
            (root / "report" / "runs-ged.yml").write_text(RUNS.rsplit("  - {name: national-acled", 1)[0])
        done = run_cli(["notebooks", *runs], root=root, check=False, timeout=1800)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return projects, export_file


def test_with_both_sources_the_national_deaths_are_the_ged_figures(both_sources) -> None:
    projects, _ = both_sources
    ged, both = ledger(projects["ged"], "national"), ledger(projects["both"], "national")
    for key in ("events", "deaths_low", "deaths_best", "deaths_high", "deaths_civilians"):
        assert both[key]["value"] == ged[key]["value"], key


def test_primary_source_acled_counts_acled_alone(both_sources) -> None:
    projects, export_file = both_sources
    expected = expected_acled(export_file, projects["both"], since="2017-01-01")
    national = ledger(projects["both"], "national-acled")
    assert national["events"]["value"] == expected["events"]
    assert national["deaths_best"]["value"] == expected["deaths"]
    first = pd.to_datetime(pd.read_csv(export_file)["event_date"]).min()
    assert national["period_start"]["display"] == f"{first:%-d %B %Y}"  # ACLED's coverage starts the period, not GED's


def test_the_sources_page_sets_the_sources_side_by_side_and_a_year_before_coverage_is_not_covered(both_sources) -> None:
    projects, _ = both_sources
    root = projects["both"]
    table = pd.read_csv(root / "build" / "sources" / "tables" / "by_year_and_source.csv")
    acled_2016 = table[(table["source"] == "ACLED") & (table["year"] == 2016)].iloc[0]
    assert acled_2016["covered"] == "not covered" and pd.isna(acled_2016["deaths_best"]) and pd.isna(acled_2016["events"])
    ged = ledger(projects["ged"], "national")
    for year in (2016, 2017):
        row = table[(table["source"] == "UCDP GED") & (table["year"] == year)].iloc[0]
        assert row["deaths_best"] == ged[f"deaths_{year}_best"]["value"]
    monthly = pd.read_csv(root / "build" / "sources" / "tables" / "events_per_month_by_source.csv", dtype={"month": str})
    before = monthly[monthly["month"].between("2016-01", "2016-12")]  # GED covers 2016, the ACLED export does not
    assert len(before) and before["acled"].isna().all(), "a month before ACLED's coverage must be empty (not covered), not 0"
    assert before["ucdp_ged"].notna().all()
    assert "UCDP GED, the primary source; ACLED is shown beside it" in ledger(root, "sources")["source_comparison_note"]["display"]


def test_a_wrong_primary_source_names_the_valid_values() -> None:
    from conflict_report.analysis.params import check_parameters
    from conflict_report.errors import ParameterError

    with pytest.raises(ParameterError) as error:
        check_parameters("overview", primary_source="GED")
    assert "primary_source" in str(error.value) and "ucdp_ged, acled" in str(error.value)
