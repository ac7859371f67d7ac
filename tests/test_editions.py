"""Editions and "changes since the last edition", on the real GED file: build, save an
edition, build again from a revised copy this test makes (events removed, added with new ids,
deaths changed, one moved to another year, one made unusable), and check `changes --csv`
against the test's own edits, computed here from the CSV, never through the package."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import DATA_ENV, UCDP_GED_FILE, make_scratch_project, run_cli

pytestmark = pytest.mark.slow

# Two runs instead of the report's 23: the national overview and one governorate.
SMALL_RUNS = """\
notebooks_dir: notebooks
defaults: {country: Syria, start: "2016-01-01", end: "2019-12-31"}
runs:
  - name: national
    notebook: overview
  - {name: gov-aleppo, notebook: region_profile, parameters: {governorate: Aleppo}}
"""
DEATHS = ["best", "low", "high"]


def read_ged(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def revise(original: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The revised copy, and what was done to which ids (with the rows before and after)."""
    frame = original.copy()
    order = frame["id"].astype(int).sort_values().index
    removed = list(order[100:105])
    deaths_changed = list(order[200:204])
    moved = next(i for i in order[300:] if frame.at[i, "date_start"].startswith("2017-"))
    quarantined = order[500]
    copied = list(order[400:403])
    before = frame.copy()
    for i in deaths_changed:
        for column, step in (("low", 5), ("best", 10), ("high", 20)):
            frame.at[i, column] = str(int(frame.at[i, column]) + step)
    for column in ("date_start", "date_end"):
        frame.at[moved, column] = "2018-" + frame.at[moved, column][5:]
    frame.at[moved, "year"] = "2018"
    frame.at[quarantined, "best"] = "about forty"
    new_ids = [str(frame["id"].astype(int).max() + n) for n in (1, 2, 3)]
    added = frame.loc[copied].copy()
    added["id"] = new_ids
    frame = pd.concat([frame.drop(index=removed), added], ignore_index=True)
    edits = {
        "removed": before.loc[removed],
        "quarantined": before.loc[[quarantined]],
        "added": added,
        "revised_before": before.loc[[*deaths_changed, moved]],
        "revised_after": pd.concat([frame[frame["id"].isin(before.loc[deaths_changed, "id"])],
                                    frame[frame["id"] == before.at[moved, "id"]]]),
        "deaths_changed_ids": set(before.loc[deaths_changed, "id"]),
        "moved_id": before.at[moved, "id"],
    }
    return frame, edits


def write_gz(frame: pd.DataFrame, path: Path) -> Path:
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        frame.to_csv(fh, index=False)
    return path


def build(root: Path, env: dict) -> None:
    run_cli(["data"], root=root, env=env)
    run_cli(["notebooks"], root=root, env=env, timeout=1800)


def read_csv_dir(folder: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_csv(p, dtype={"source_event_id": str}, keep_default_na=False) for p in folder.glob("*.csv")}


def year_of(row_date: str) -> int:
    return int(row_date[:4])


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    """Build the real GED file, save edition `first`; then build the revised copy."""
    base = tmp_path_factory.mktemp("editions")
    root = make_scratch_project(base / "project")
    (root / "report" / "runs.yml").write_text(SMALL_RUNS, encoding="utf-8")
    env = {"EDITIONS_DIR": str(base / "editions")}
    original = read_ged(UCDP_GED_FILE)
    build(root, {**env, "UCDP_GED": str(write_gz(original, base / "ged_first.csv.gz"))})
    saved = run_cli(["edition", "save", "first"], root=root, env=env)
    revised, edits = revise(original)
    revised_env = {**env, "UCDP_GED": str(write_gz(revised, base / "ged_revised.csv.gz"))}
    run_cli(["data"], root=root, env=revised_env)
    stale = run_cli(["edition", "save", "too-early"], root=root, env=revised_env, check=False)
    run_cli(["notebooks"], root=root, env=revised_env, timeout=1800)
    changes = run_cli(["changes", "--csv", str(base / "csv")], root=root, env=revised_env)
    return {"root": root, "base": base, "env": revised_env, "edits": edits, "original": original, "saved": saved,
            "stale": stale, "summary": changes.stdout, "csv": read_csv_dir(base / "csv")}


def expected_cells(edits: dict) -> pd.DataFrame:
    """(change, year) -> events and deaths, from the test's own edits."""
    parts = []
    for change, key in (("removed", "removed"), ("newly quarantined", "quarantined"), ("added", "added"),
                        ("revised: before", "revised_before"), ("revised: after", "revised_after")):
        rows = edits[key]
        parts.append(pd.DataFrame({"change": change, "year": rows["date_start"].map(year_of), "events": 1,
                                   **{f"deaths_{d}": pd.to_numeric(rows[d], errors="coerce").fillna(0).astype(int) for d in DEATHS}}))
    return pd.concat(parts).groupby(["change", "year"]).sum().sort_index()


def test_saving_needs_up_to_date_runs(two_builds):
    assert two_builds["stale"].returncode == 2
    assert "no up-to-date results" in two_builds["stale"].stderr and "make notebooks" in two_builds["stale"].stderr


def test_counts_per_source_match_the_edits(two_builds):
    edits = two_builds["edits"]
    ged = two_builds["csv"]["by_source"].set_index("source").loc["ucdp_ged"]
    assert (ged["events_added"], ged["events_removed"], ged["events_revised"]) == (3, 5, 5)
    assert (ged["events_newly_quarantined"], ged["events_newly_accepted"]) == (1, 0)
    for d in DEATHS:
        gained = sum(pd.to_numeric(edits[k][d]).sum() for k in ("added", "revised_after"))
        lost = sum(pd.to_numeric(edits[k][d], errors="coerce").fillna(0).sum() for k in ("removed", "quarantined", "revised_before"))
        assert ged[f"deaths_{d}_net_change"] == gained - lost
    curated = two_builds["csv"]["by_source"].set_index("source").loc["curated"]
    assert curated[["events_added", "events_removed", "events_revised", "deaths_best_net_change"]].tolist() == [0, 0, 0, 0]


def test_deaths_by_year_match_the_edits_and_the_moved_event_changes_cell(two_builds):
    edits = two_builds["edits"]
    table = two_builds["csv"]["by_year"]
    ged = table[(table["source"] == "ucdp_ged") & (table["change"] != "net")]
    got = ged.drop(columns="source").groupby(["change", "year"]).sum().sort_index()
    expected = expected_cells(edits)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    moved = edits["revised_before"].set_index("id").loc[edits["moved_id"]]
    assert year_of(moved["date_start"]) == 2017
    # The moved event leaves 2017 (its old deaths) and joins 2018 (its new ones).
    assert got.loc[("revised: before", 2017), "deaths_best"] >= int(moved["best"])
    assert got.loc[("revised: after", 2018), "events"] >= 1
    net = table[(table["source"] == "ucdp_ged") & (table["change"] == "net")].set_index("year")
    signed = expected.copy()
    signed[signed.index.get_level_values("change").isin(["removed", "newly quarantined", "revised: before"])] *= -1
    assert net["deaths_best"].to_dict() == {y: v for y, v in signed.groupby(level="year")["deaths_best"].sum().items()
                                            if y in set(net.index)}


def test_deaths_by_governorate_add_up_to_the_edits(two_builds):
    """Per change, the governorate cells hold the same events and deaths as the year cells."""
    table = two_builds["csv"]["by_governorate"]
    ged = table[(table["source"] == "ucdp_ged") & (table["change"] != "net")]
    got = ged.drop(columns=["source", "governorate"]).groupby("change").sum().sort_index()
    expected = expected_cells(two_builds["edits"]).groupby(level="change").sum()
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_the_event_list_says_what_changed(two_builds):
    edits = two_builds["edits"]
    events = two_builds["csv"]["events"].set_index("source_event_id")
    assert set(events.loc[events["change"] == "removed"].index) == set(edits["removed"]["id"])
    assert set(events.loc[events["change"] == "added"].index) == set(edits["added"]["id"])
    assert set(events.loc[events["change"] == "newly quarantined"].index) == set(edits["quarantined"]["id"])
    assert set(events.loc[events["change"] == "revised"].index) == edits["deaths_changed_ids"] | {edits["moved_id"]}
    assert (events.loc[list(edits["deaths_changed_ids"]), "what_changed"] == "deaths").all()
    assert (events.loc[list(edits["deaths_changed_ids"]), "deaths_best_change"] == 10).all()
    assert events.at[edits["moved_id"], "what_changed"] == "date"
    assert (events.at[edits["moved_id"], "year_old"], events.at[edits["moved_id"], "year_new"]) == ("2017", "2018")  # read as text: added rows have no old year
    assert not (events["source"] == "acled").any()


def test_moved_ledger_entries_are_listed_as_data_revised(two_builds):
    ledger = two_builds["csv"]["ledger"]
    assert len(ledger) and (ledger["why"] == "data revised").all()  # same code and runs.yml, new GED file
    net = two_builds["csv"]["by_source"].set_index("source").at["ucdp_ged", "deaths_best_net_change"]
    national = ledger[(ledger["run"] == "national") & (ledger["key"] == "deaths_best")].iloc[0]
    assert national["page"] == "Country overview"
    assert int(national["after"].replace(",", "")) - int(national["before"].replace(",", "")) == net
    assert national["difference"] == f"{net:+,}"
    inputs = two_builds["csv"]["inputs"].set_index("input")
    assert inputs.at["ucdp_ged", "changed"] == "yes" and inputs.at["boundaries_admin1", "changed"] == "no"
    assert "Changes since edition first" in two_builds["summary"]


def report_partial(root: Path, env: dict) -> str:
    """The changes partial as `make report` writes it (report.build.changes_files)."""
    code = "from conflict_report.report import build; print(next(t for p, t in build.changes_files().items() if p.suffix == '.qmd'))"
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **DATA_ENV, **env, "CONFLICT_REPORT_ROOT": str(root)},
                          capture_output=True, text=True, timeout=600, check=True)
    return done.stdout


def test_the_page_shows_the_same_counts(two_builds):
    text = report_partial(two_builds["root"], two_builds["env"])
    net = two_builds["csv"]["by_source"].set_index("source").at["ucdp_ged", "deaths_best_net_change"]
    assert f"| UCDP GED | 3 | 5 | 5 | 1 | 0 | {net:+,} (" in text
    assert "edition **first**" in text and "events.csv" in text
    assert "### Country overview" in text


def test_a_rebuild_with_nothing_changed_gives_the_same_comparison(two_builds):
    root, env, base = two_builds["root"], two_builds["env"], two_builds["base"]
    build(root, env)
    run_cli(["changes", "--csv", str(base / "csv-again")], root=root, env=env)
    for name in ("inputs", "by_source", "by_year", "by_governorate", "events", "ledger"):
        assert (base / "csv-again" / f"{name}.csv").read_bytes() == (base / "csv" / f"{name}.csv").read_bytes(), name


def test_a_name_is_never_reused(two_builds):
    again = run_cli(["edition", "save", "first"], root=two_builds["root"], env=two_builds["env"], check=False)
    assert again.returncode == 2 and "already exists" in again.stderr


def tree_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_export_import_round_trip_and_refusals(two_builds, tmp_path):
    root, env = two_builds["root"], two_builds["env"]
    archive = tmp_path / "first.tar.gz"
    run_cli(["edition", "export", "first", "--output", str(archive)], root=root, env=env)
    other = {**env, "EDITIONS_DIR": str(tmp_path / "other")}
    run_cli(["edition", "import", str(archive)], root=root, env=other)
    assert tree_hashes(tmp_path / "other" / "first") == tree_hashes(Path(env["EDITIONS_DIR"]) / "first")
    clash = run_cli(["edition", "import", str(archive)], root=root, env=other, check=False)
    assert clash.returncode == 2 and "already exists" in clash.stderr
    # A damaged archive: events.parquet altered after export.
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as source, tarfile.open(damaged, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else None
            if member.name == "first/events.parquet":
                data += b"x"
                member.size = len(data)
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    third = {**env, "EDITIONS_DIR": str(tmp_path / "third")}
    refused = run_cli(["edition", "import", str(damaged)], root=root, env=third, check=False)
    assert refused.returncode == 2 and "events.parquet: its sha256 differs" in refused.stderr
    assert not [p for p in (tmp_path / "third").iterdir()]


INTERRUPT = """
import os, sys
from conflict_report import atomic
from conflict_report.report import editions
def killed(*args, **kwargs):
    os._exit(9)  # as if the process were killed while writing edition.json: no clean-up runs
def interrupted(*args, **kwargs):
    raise KeyboardInterrupt
atomic.write_json = killed if sys.argv[1] == "kill" else interrupted
editions.save(sys.argv[2], "test")
"""


@pytest.mark.parametrize("how", ["kill", "interrupt"])
def test_an_interrupted_save_leaves_the_earlier_editions(two_builds, how):
    root, env = two_builds["root"], two_builds["env"]
    editions_dir = Path(env["EDITIONS_DIR"])
    before = tree_hashes(editions_dir / "first")
    done = subprocess.run([sys.executable, "-c", INTERRUPT, how, f"cut-{how}"],
                          env={**os.environ, **DATA_ENV, **env, "CONFLICT_REPORT_ROOT": str(root)},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    assert not (editions_dir / f"cut-{how}").exists()
    assert tree_hashes(editions_dir / "first") == before
    listed = run_cli(["edition", "list"], root=root, env=env).stdout
    assert f"cut-{how}" not in listed and "first" in listed
    leftovers = [p for p in editions_dir.iterdir() if p.name.startswith(f".cut-{how}.")]
    assert bool(leftovers) == (how == "kill")  # a killed save leaves its temporary folder, which is ignored


def test_a_fresh_project_says_there_is_no_saved_edition(tmp_path):
    root = make_scratch_project(tmp_path / "fresh")
    env = {"EDITIONS_DIR": str(tmp_path / "none")}
    assert "No saved edition" in run_cli(["changes"], root=root, env=env).stdout
    assert "No edition has been saved yet" in report_partial(root, env)
    shutil.rmtree(root)


def test_acled_and_confidential_events_count_but_are_never_rows():
    """ACLED's terms allow aggregates only: its changed events are in the counts and sums, not
    in the event list nor the largest revisions (confidential curated events likewise)."""
    from conflict_report.report import changes

    def events(rows):
        frame = pd.DataFrame(rows)
        for column in changes.EVENT_COLUMNS:
            if column not in frame:
                frame[column] = pd.NA
        frame["date_start"] = pd.to_datetime(frame["date_start"])
        return frame[changes.EVENT_COLUMNS]

    common = {"year": 2019, "date_start": "2019-03-01", "admin1": "Idleb", "confidential": False}
    old = events([{**common, "source": "acled", "source_event_id": "SYR1", "deaths_best": 4, "deaths_low": 4, "deaths_high": 4},
                  {**common, "source": "acled", "source_event_id": "SYR2", "deaths_best": 9, "deaths_low": 9, "deaths_high": 9},
                  {**common, "source": "curated", "source_event_id": "C1", "deaths_best": 2, "deaths_low": 2, "deaths_high": 2,
                   "confidential": True}])
    new = events([{**common, "source": "acled", "source_event_id": "SYR1", "deaths_best": 6, "deaths_low": 6, "deaths_high": 6},
                  {**common, "source": "curated", "source_event_id": "C1", "deaths_best": 3, "deaths_low": 3, "deaths_high": 3,
                   "confidential": True}])
    changed = changes.compare_events(old, new, set(), set())
    acled = changes.by_source(changed, ["acled", "curated"]).set_index("source").loc["acled"]
    assert (acled["events_revised"], acled["events_removed"], acled["deaths_best_net_change"]) == (1, 1, 6 - 4 - 9)
    assert changes.shown_events(changed).empty
    assert changes.largest_revisions(changed).empty
