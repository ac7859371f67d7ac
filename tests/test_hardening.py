"""Interrupted and repeated sweeps, determinism of outputs, and secrets kept out of outputs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import DATA_ENV, run_cli

pytestmark = pytest.mark.slow
RUN = "national"


def digests(folder: Path, suffixes=(".json", ".csv", ".svg", ".png")) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.suffix in suffixes}


def notebook_without_execution_metadata(path: Path) -> dict:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    notebook["metadata"].pop("papermill", None)
    for cell in notebook["cells"]:
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
    return notebook


def test_two_clean_runs_give_identical_outputs(swept_project):
    folder = swept_project / "build" / RUN
    before, notebook_before = digests(folder), notebook_without_execution_metadata(folder / "overview.ipynb")
    run_cli(["notebooks", "--only", RUN, "--force"], root=swept_project)
    assert digests(folder) == before  # results.json, CSV tables, SVG and PNG figures, byte for byte
    assert notebook_without_execution_metadata(folder / "overview.ipynb") == notebook_before


def test_credentials_in_the_environment_never_reach_any_output(swept_project):
    secrets = {"ACLED_USERNAME": f"user-{uuid.uuid4()}@example.org", "ACLED_PASSWORD": f"pw-{uuid.uuid4()}"}
    done = run_cli(["notebooks", "--only", RUN, "sources", "--force"], root=swept_project, env=secrets)
    logs = done.stdout + done.stderr
    for folder in ("build", "data/processed", "report"):
        for path in (swept_project / folder).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for value in secrets.values():
                    assert value.encode() not in data, f"{path} holds a credential"
    for value in secrets.values():
        assert value not in logs


def test_kill_during_the_sweep_keeps_last_good_outputs(swept_project, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(swept_project, root, symlinks=True)
    folder = root / "build" / RUN
    good = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    good_files = digests(folder)
    env = {**os.environ, **DATA_ENV, "CONFLICT_REPORT_ROOT": str(root)}
    for delay in (2.0, 5.0, 8.0):
        process = subprocess.Popen([sys.executable, "-m", "conflict_report", "notebooks", "--force", "--only", RUN, "gov-aleppo"],
                                   cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        # Every file is whole: the results ledger parses and says what it said before.
        assert json.loads((folder / "results.json").read_text(encoding="utf-8")) == good
        json.loads((folder / "overview.ipynb").read_text(encoding="utf-8"))
    time.sleep(1)  # kernels of the killed group are gone with it
    run_cli(["notebooks", "--only", RUN], root=root)
    assert json.loads((folder / "results.json").read_text(encoding="utf-8")) == good
    assert digests(folder) == good_files  # no mix of old and half-written new figures
    assert not list(folder.rglob("*.tmp")), "temporary files left behind after a completed run"
