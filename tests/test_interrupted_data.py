"""`make data` killed with SIGKILL (its whole process group) part-way: the last good outputs stay
intact and readable, or the mismatch is detected; the next run completes and gives what a
clean run gives, with no temporary files left behind. And two clean builds are byte-identical."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from conftest import DATA_ENV, UCDP_GED_FILE
from ged_samples import (
    build, event_totals, manifest, plain_sample, processed, raw_totals, real_table, repeated, sha256_of, ucdp_events,
)

# The killed runs read the real rows twice over (new ids): a different result from the last good
# build, so an events.parquet replaced without its manifest is visible.
COPIES = 2


def start_forced_build(root: Path, ucdp_ged: Path) -> subprocess.Popen:
    env = {**os.environ, **DATA_ENV, "UCDP_GED": str(ucdp_ged), "CONFLICT_REPORT_ROOT": str(root)}
    return subprocess.Popen([sys.executable, "-m", "conflict_report", "data", "--force"], env=env, cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def kill_when(process: subprocess.Popen, moment: Callable[[], bool], timeout: float = 300) -> bool:
    """SIGKILL the build's process group as soon as `moment()` holds; False if it ended first."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if moment():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    process.wait()
    return False


def outputs_readable_and_consistent(root: Path) -> bool:
    """Every output the manifest lists reads; True if events.parquet is the one it vouches for."""
    recorded = manifest(root)  # parses
    for name in recorded["outputs"]:
        path = processed(root, name)
        if name.endswith(".parquet"):
            pq.read_table(path)
        elif name.endswith(".csv"):
            list(csv.reader(path.open(encoding="utf-8", newline="")))
        else:
            json.loads(path.read_text(encoding="utf-8"))
    return sha256_of(processed(root, "events.parquet")) == recorded["outputs"]["events.parquet"]


def seconds_after(start: float, seconds: float) -> Callable[[], bool]:
    return lambda: time.monotonic() - start >= seconds


def temporary_file_of(root: Path, name: str) -> Callable[[], bool]:
    return lambda: any(processed(root, "").glob(f".{name}.*.tmp"))


def replaced(path: Path) -> Callable[[], bool]:
    inode = path.stat().st_ino
    return lambda: path.stat().st_ino != inode


def test_killed_build_leaves_good_outputs_and_the_next_run_recovers(scratch_project, tmp_path) -> None:
    bigger = repeated(real_table(), COPIES).write(tmp_path / "ged_syria_twice.csv")
    build(scratch_project, UCDP_GED_FILE)
    clean = {name: sha256_of(processed(scratch_project, name)) for name in ("events.parquet", "rejected.csv")}
    clean_totals = event_totals(ucdp_events(scratch_project))
    assert clean_totals == raw_totals(real_table())

    moments = {
        "a second in, while reading": lambda: seconds_after(time.monotonic(), 1.0),
        "while writing events.parquet": lambda: temporary_file_of(scratch_project, "events.parquet"),
        "between the renames": lambda: replaced(processed(scratch_project, "events.parquet")),
    }
    for label, moment in moments.items():
        assert kill_when(start_forced_build(scratch_project, bigger), moment()), f"the build ended before {label}"
        consistent = outputs_readable_and_consistent(scratch_project)
        assert consistent or label == "between the renames", label

    # The last kill left the twice-over events under the once-over manifest: the next run with
    # the manifest's own inputs must notice, rebuild, and clear the killed runs' temporary files.
    assert not outputs_readable_and_consistent(scratch_project)
    build(scratch_project, UCDP_GED_FILE)
    assert outputs_readable_and_consistent(scratch_project)
    assert {name: sha256_of(processed(scratch_project, name)) for name in clean} == clean
    assert event_totals(ucdp_events(scratch_project)) == clean_totals
    assert not list(processed(scratch_project, "").glob(".*.tmp"))


def test_two_clean_builds_are_byte_identical(scratch_project, tmp_path) -> None:
    table = plain_sample(60).set(5, "best", "several").set(9, "date_start", "2016-02-30")  # rejected.csv has rows
    source = table.write(tmp_path / "ged_sample.csv")
    outputs = ("events.parquet", "rejected.csv", "ucdp_country_year.parquet")
    build(scratch_project, source, force=True)
    first = {name: processed(scratch_project, name).read_bytes() for name in outputs}
    build(scratch_project, source, force=True)
    assert {name: processed(scratch_project, name).read_bytes() for name in outputs} == first
    assert first["rejected.csv"].count(b"\nucdp_ged,") == 2
