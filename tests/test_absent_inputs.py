"""Every optional input may be missing and every run still succeeds (issue 13), on the real
UCDP file, the real notebooks and a real Quarto render.

One sweep stands for the per-input sweeps: it goes without every optional input at once (the
country-year totals, both boundaries, ACLED, the curated files) and without the reference
tables, with the governorate runs named as the events name them. Each input's note is checked
on the runs that use it (and no note on the runs that use none), so the one sweep (about two
minutes alone on two cores) checks what four would, and one render of it checks the pages
(about five minutes). The inputs no run reads (the district boundaries, BOUNDARIES_CREDIT
without boundaries) are checked on the data step alone."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from bs4 import BeautifulSoup
from conftest import ADMIN1_FILE, ADMIN2_FILE, QUARTO_MISSING, UCDP_GED_FILE, copy_project, find_quarto, make_scratch_project, run_cli

OPTIONAL = ("UCDP_COUNTRY_YEAR", "BOUNDARIES_ADMIN1", "BOUNDARIES_ADMIN2", "ACLED_CSV", "BOUNDARIES_CREDIT")
EVENT_SOURCE_ONLY = {**{variable: "" for variable in OPTIONAL}, "UCDP_GED": str(UCDP_GED_FILE)}
NEEDS_BOUNDARIES = "not available: set BOUNDARIES_ADMIN1"
NEEDS_TOTALS = "not available: set UCDP_COUNTRY_YEAR"
NEEDS_CURATED = "not available: add curated events to data/curated/"


def governorate_runs_from_events(root: Path) -> list[str]:
    """Rewrite the project's runs file as a user without reference tables would: one
    governorate run per admin1 name the events give (UCDP's own spellings), the other runs kept."""
    events = pd.read_parquet(root / "data" / "processed" / "events.parquet", columns=["admin1"])
    names = sorted(n for n in events["admin1"].dropna().unique() if n != "Unknown")
    runs_file = root / "report" / "runs.yml"
    spec = yaml.safe_load(runs_file.read_text(encoding="utf-8"))
    others = [r for r in spec["runs"] if "governorate" not in r.get("parameters", {})]
    governorates = [{"name": "gov-" + re.sub(r"[^a-z0-9]+", "-", n.lower()).strip("-"), "notebook": "region_profile",
                     "parameters": {"governorate": n}} for n in names]
    spec["runs"] = others[:1] + governorates + others[1:]
    runs_file.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return [g["name"] for g in governorates]


@pytest.fixture(scope="module")
def without_optional_inputs(tmp_path_factory):
    """A scratch project with the event file alone: no optional input, no curated file, no
    reference table; data built and the whole sweep run (its result returned, not checked)."""
    root = make_scratch_project(tmp_path_factory.mktemp("absent") / "project")
    shutil.rmtree(root / "data" / "reference")
    for path in [*(root / "data" / "curated").glob("*.csv"), *(root / "data" / "curated").glob("*/")]:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    data = run_cli(["data"], root=root, env=EVENT_SOURCE_ONLY)
    governorates = governorate_runs_from_events(root)
    sweep = run_cli(["notebooks"], root=root, env=EVENT_SOURCE_ONLY, check=False, timeout=1800)
    return root, data, sweep, governorates


def ledgers(root: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in (root / "build").glob("*/results.json")}


def test_make_data_names_every_absent_input_with_its_cost(without_optional_inputs) -> None:
    root, data, _, _ = without_optional_inputs
    absent = [line for line in data.stdout.splitlines() if line.startswith("absent:")]
    for variable in ("UCDP_COUNTRY_YEAR", "BOUNDARIES_ADMIN1", "BOUNDARIES_ADMIN2", "ACLED_CSV", "data/curated/"):
        assert sum(f"({variable} " in line for line in absent) == 1, (variable, absent)
    manifest = json.loads((root / "data" / "processed" / "manifest.json").read_text(encoding="utf-8"))
    assert {a["variable"] for a in manifest["absent_inputs"]} == {"UCDP_COUNTRY_YEAR", "BOUNDARIES_ADMIN1", "BOUNDARIES_ADMIN2",
                                                                   "ACLED_CSV", "data/curated/"}
    assert all(a["costs"] for a in manifest["absent_inputs"])
    assert manifest["boundaries_credit"] is None  # no boundaries, nothing to credit


def test_every_run_succeeds_and_each_user_of_a_missing_input_says_so(without_optional_inputs) -> None:
    root, _, sweep, governorates = without_optional_inputs
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    spec = yaml.safe_load((root / "report" / "runs.yml").read_text(encoding="utf-8"))
    found = ledgers(root)
    assert set(found) == {r["name"] for r in spec["runs"]}, "a run left no ledger"
    for name in ["national", *governorates]:
        values, figures = found[name]["values"], found[name]["figures"]
        assert values["map_not_available"]["display"].startswith(NEEDS_BOUNDARIES), name
        assert "map" not in {f["name"] for f in figures} and not (root / "build" / name / "figures" / "map.png").exists(), name
        assert [n["name"] for n in found[name]["not_available"]] == ["map"], name
    # The governorate runs are about the source's own admin1 names, with their events.
    assert all(found[name]["parameters"]["governorate"].endswith("Governorate") for name in governorates)
    assert all(found[name]["values"]["events"]["value"] > 0 for name in governorates)
    sources = found["sources"]["values"]
    assert sources["published_check"]["display"].startswith(NEEDS_TOTALS)
    assert sources["published_totals_not_available"]["display"].startswith(NEEDS_TOTALS)
    assert not (root / "build" / "sources" / "tables" / "published_totals.csv").exists()
    case = found["case-study"]
    assert case["values"]["ucdp_2014_total"]["display"].startswith(NEEDS_TOTALS)
    assert {n["name"] for n in case["not_available"]} == {"curated_events", "claims_checked"}
    for item in case["not_available"]:
        assert case["values"][f"{item['name']}_not_available"]["display"].startswith(NEEDS_CURATED)
        assert not (root / "build" / "case-study" / "tables" / f"{item['name']}.csv").exists()
    # The runs that use no missing input record no note.
    assert not any(found[name]["not_available"] for name in found if name.startswith("actor-"))


@pytest.fixture(scope="module")
def rendered_without_optional_inputs(without_optional_inputs, tmp_path_factory):
    quarto = find_quarto()
    if quarto is None:
        pytest.skip(QUARTO_MISSING)
    root, _, sweep, governorates = without_optional_inputs
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    copy = copy_project(root, tmp_path_factory.mktemp("absent-render") / "project")
    done = run_cli(["report"], root=copy, env={**EVENT_SOURCE_ONLY, "QUARTO": quarto}, check=False, timeout=1800)
    return copy, done, governorates


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def plain(text: str) -> str:
    """Text as a reader sees it: typographic apostrophes made plain, runs of space made one."""
    return re.sub(r"\s+", " ", text.replace("\u2019", "'"))


def page_text(page: Path) -> str:
    return plain(BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser").get_text(" "))


def test_the_report_builds_without_boundaries_reference_tables_or_curated_files(rendered_without_optional_inputs) -> None:
    root, done, governorates = rendered_without_optional_inputs
    assert done.returncode == 0, done.stdout + done.stderr
    site = root / "report" / "_output"
    for page in ["overview.html", *(f"governorate-{name}.html" for name in governorates)]:
        html = (site / page).read_text(encoding="utf-8")
        # The note stands where the map would have been, under the Map heading, and no map is drawn.
        after_heading = html.split('id="map"', 1)[1]
        assert NEEDS_BOUNDARIES in after_heading, page
        assert "map.png" not in html and "map.svg" not in html, page
    case = (site / "case-study.html").read_text(encoding="utf-8")
    assert NEEDS_CURATED in case
    pdf = pdf_text(site / "report.pdf")
    assert NEEDS_BOUNDARIES in re.sub(r"\s+", " ", pdf)


def test_the_methods_page_lists_the_absent_inputs_in_site_and_pdf(rendered_without_optional_inputs) -> None:
    root, done, _ = rendered_without_optional_inputs
    assert done.returncode == 0, done.stdout + done.stderr
    site = root / "report" / "_output"
    methods, pdf = page_text(site / "methods.html"), plain(pdf_text(site / "report.pdf"))
    manifest = json.loads((root / "data" / "processed" / "manifest.json").read_text(encoding="utf-8"))
    for absent in manifest["absent_inputs"]:
        for text in (methods, pdf):
            assert f"({absent['variable']} {absent['why']})" in text, absent["variable"]
            assert absent["costs"][:40] in text, absent["variable"]


def test_the_title_names_the_runs_country(rendered_without_optional_inputs) -> None:
    """The title comes from the runs' country, wherever it is shown: the navbar, the HTML
    <title>, the PDF's title page and its metadata."""
    root, done, _ = rendered_without_optional_inputs
    assert done.returncode == 0, done.stdout + done.stderr
    country = yaml.safe_load((root / "report" / "runs.yml").read_text(encoding="utf-8"))["defaults"]["country"]
    title = f"Organised violence in {country}"
    site = root / "report" / "_output"
    html = (site / "index.html").read_text(encoding="utf-8")
    assert re.search(rf"<title>[^<]*{title}[^<]*</title>", html)
    assert re.search(rf'class="navbar-title">{title}<', html)
    assert "var report" not in html and "?var" not in html
    info = subprocess.run(["pdfinfo", str(site / "report.pdf")], capture_output=True, text=True, check=True).stdout
    assert re.search(rf"^Title:\s+{title}$", info, re.M), info
    assert title in pdf_text(site / "report.pdf").split("\f", 1)[0]


def test_without_the_district_boundaries_the_data_step_names_it_and_keeps_every_row(built_data, tmp_path) -> None:
    """BOUNDARIES_ADMIN2 is read by the data step alone (linking curated events to source events
    by the district containing them; no run reads it), so its absence is checked here: the
    build names it, removes its processed copy, and keeps every row (curated ones included)."""
    root = copy_project(built_data, tmp_path / "project")
    result = run_cli(["data"], root=root, env={"BOUNDARIES_ADMIN2": "none"})
    assert any(line.startswith("absent:") and "(BOUNDARIES_ADMIN2 BOUNDARIES_ADMIN2=none)" in line for line in result.stdout.splitlines())
    assert not (root / "data" / "processed" / "boundaries_admin2.geojson").exists()
    manifest = json.loads((root / "data" / "processed" / "manifest.json").read_text(encoding="utf-8"))
    before = json.loads((built_data / "data" / "processed" / "manifest.json").read_text(encoding="utf-8"))
    kept = {i["name"]: i["rows_kept"] for i in manifest["inputs"] if "rows_kept" in i}
    assert kept == {i["name"]: i["rows_kept"] for i in before["inputs"] if "rows_kept" in i}
    assert any(name.startswith("curated:") for name in kept)


def test_boundaries_without_a_credit_say_so_on_every_map(scratch_project) -> None:
    env = {**EVENT_SOURCE_ONLY, "BOUNDARIES_ADMIN1": str(ADMIN1_FILE)}
    result = run_cli(["data"], root=scratch_project, env=env)
    manifest = json.loads((scratch_project / "data" / "processed" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["boundaries_credit"] == f"{ADMIN1_FILE.name}, credit not given (set BOUNDARIES_CREDIT)"
    assert any(line.startswith("boundaries credit not given") and "BOUNDARIES_CREDIT=" in line for line in result.stdout.splitlines())
    credit = "Example Mapping Agency, CC BY 4.0"
    run_cli(["data"], root=scratch_project, env={**env, "BOUNDARIES_CREDIT": credit})
    manifest = json.loads((scratch_project / "data" / "processed" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["boundaries_credit"] == credit


def test_the_map_aspect_follows_the_boundaries_latitude() -> None:
    """The map's lon/lat aspect is 1/cos(latitude) at the middle of the boundaries' own extent,
    computed here from the GeoJSON's coordinates (not through the package)."""
    import matplotlib

    matplotlib.use("Agg")
    from conflict_report.analysis import plots
    from conflict_report.data import geo

    features = json.loads(ADMIN1_FILE.read_text(encoding="utf-8"))["features"]
    latitudes = np.array([point[1] for f in features for point in _points(f["geometry"])])
    middle = (latitudes.min() + latitudes.max()) / 2
    frame = pd.DataFrame({"geo_precision": [1], "latitude": [35.0], "longitude": [38.0], "deaths_best": [10]})
    fig, *_ = plots.event_map(frame, geo.load_areas(ADMIN1_FILE), "title", "Source: test", "Example credit")
    assert fig.axes[0].get_aspect() == pytest.approx(1 / np.cos(np.deg2rad(middle)))
    assert "Example credit" in " ".join(t.get_text() for t in fig.texts)


def _points(geometry: dict):
    """Every [lon, lat] of a GeoJSON geometry (GeometryCollections included)."""
    if geometry["type"] == "GeometryCollection":
        for part in geometry["geometries"]:
            yield from _points(part)
        return
    stack = [geometry["coordinates"]]
    while stack:
        item = stack.pop()
        if isinstance(item[0], (int, float)):
            yield item
        else:
            stack.extend(item)


# --- each optional input removed alone ---------------------------------------------------------
# The sweep above goes without all of them at once; these go without one at a time, from the full
# build, so an input is shown to be optional whatever else is there. Which runs use it:
BOUNDARY_USERS = "national and every governorate run (the map)"
ALONE = {
    "UCDP_COUNTRY_YEAR": ({"UCDP_COUNTRY_YEAR": "none"}, {"sources": {"published_totals"}}, NEEDS_TOTALS),
    "BOUNDARIES_ADMIN1+2": ({"BOUNDARIES_ADMIN1": "none", "BOUNDARIES_ADMIN2": "none", "BOUNDARIES_CREDIT": ""}, BOUNDARY_USERS,
                            NEEDS_BOUNDARIES),
    "BOUNDARIES_ADMIN2": ({"BOUNDARIES_ADMIN2": "none"}, {}, None),  # no run reads the districts
    "curated files": ({}, {"case-study": {"curated_events", "claims_checked"}}, NEEDS_CURATED),
}


@pytest.mark.parametrize("absent", list(ALONE))
def test_each_optional_input_removed_alone_every_run_succeeds_and_its_users_say_so(absent, swept_project, tmp_path) -> None:
    env, users, note = ALONE[absent]
    root = copy_project(swept_project, tmp_path / "project")
    if absent == "curated files":
        for path in [*(root / "data" / "curated").glob("*.csv"), *(root / "data" / "curated").glob("*/")]:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    data = run_cli(["data"], root=root, env=env)
    sweep = run_cli(["notebooks"], root=root, env=env, check=False, timeout=1800)
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    spec = yaml.safe_load((root / "report" / "runs.yml").read_text(encoding="utf-8"))
    found = ledgers(root)
    assert set(found) == {r["name"] for r in spec["runs"]}, "a run left no ledger"
    if users == BOUNDARY_USERS:
        users = {name: {"map"} for name in found if name == "national" or name.startswith("gov-")}
    for name, ledger in found.items():
        missing = {item["name"] for item in ledger["not_available"]}
        assert missing == users.get(name, set()), (absent, name, missing)
        for item in missing:
            assert ledger["values"][f"{item}_not_available"]["display"].startswith(note), (absent, name, item)
    assert any(line.startswith("absent:") for line in data.stdout.splitlines()), data.stdout  # make data names what is gone
