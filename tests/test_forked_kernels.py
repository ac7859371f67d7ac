"""Kernels forked from a template (runs/forked_kernels.py) carry nothing from one run to the
next: real runs of the shipped notebooks give byte-identical outputs in forked and fresh
kernels, in forward and reverse order, beside a notebook that changes rcParams, pandas
options, a package global, the working directory, os.environ, sys.path and sys.modules; the
template never outlives its sweep; a run that fails or whose kernel dies stops no other run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import DATA_ENV, REPO, run_cli
from test_sweep import make_project, statuses

from conflict_report.analysis import figures

pytestmark = pytest.mark.notebooks

REAL_RUNS = {
    "gov-quneitra": {"notebook": "region_profile", "parameters": {"governorate": "Quneitra"}},
    "actor-government-of-turkey": {"notebook": "actor_profile", "parameters": {"actor": "Government of Turkey"}},
}
# The meddler runs first, then a real run, then the meddler again, then the other real run:
# in either order every real run and one meddler run come after a meddler run in the same worker.
# plain-figure shows a figure the way a researcher's own notebook does, through matplotlib's
# inline backend, without the package.
FORWARD = ["meddler-a", "gov-quneitra", "meddler-b", "plain-figure", "actor-government-of-turkey"]

OBSERVE = '''\
import json, os, sys
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd

from conflict_report.analysis import figures

observed = {
    "rcParams lines.linewidth": plt.rcParams["lines.linewidth"],
    "rcParams font.size": plt.rcParams["font.size"],
    "matplotlib backend": matplotlib.get_backend(),
    "pandas display.precision": pd.get_option("display.precision"),
    "pandas display.max_rows": pd.get_option("display.max_rows"),
    "package global PRINT_DPI": figures.PRINT_DPI,
    "package global PALETTE blue": figures.PALETTE["blue"],
    "working directory": os.path.relpath(os.getcwd(), os.environ["CONFLICT_REPORT_ROOT"]),
    "MEDDLED": os.environ.get("MEDDLED"),
    "/meddled on sys.path": "/meddled" in sys.path,
    "meddler_module imported": "meddler_module" in sys.modules,
}
run_dir = Path(os.environ["CONFLICT_REPORT_RUN_DIR"])
(run_dir / "observed.json").write_text(json.dumps(observed, indent=1, sort_keys=True))
# Which process started this kernel: the template (forked) or the sweep's worker (fresh).
parent = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().replace(b"\\0", b" ").decode()
(run_dir / "kernel-parent.txt").write_text(parent)
observed
'''

MEDDLE = '''\
import time

plt.rcParams["lines.linewidth"] = 9
plt.rcParams["font.size"] = 3
pd.set_option("display.precision", 1)
pd.set_option("display.max_rows", 3)
figures.PRINT_DPI = 20
figures.PALETTE["blue"] = "#ff00ff"
os.chdir("/")
os.environ["MEDDLED"] = "yes"
os.environ["CONFLICT_REPORT_ROOT"] = "/nonexistent"
sys.path.insert(0, "/meddled")
sys.modules["meddler_module"] = type(sys)("meddler_module")
if fail:
    raise RuntimeError("this run fails on purpose")
if die:
    os._exit(3)
time.sleep(sleep_s)
'''


def meddler_notebook() -> nbformat.NotebookNode:
    parameters = nbformat.v4.new_code_cell('label = ""  # runs differ by it: the sweep refuses two runs with the same parameters\n'
                                           "fail = False\ndie = False\nsleep_s = 0")
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(cells=[parameters, nbformat.v4.new_code_cell(OBSERVE),
                                               nbformat.v4.new_code_cell(MEDDLE)])
    notebook.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    return notebook


def plain_figure_notebook() -> nbformat.NotebookNode:
    parameters = nbformat.v4.new_code_cell('label = ""')
    parameters.metadata["tags"] = ["parameters"]
    # The semicolon: no repr of the line, whose memory address differs between any two kernels.
    figure = nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\n\nplt.figure(figsize=(3, 2))\nplt.plot([0, 1, 4]);")
    notebook = nbformat.v4.new_notebook(cells=[parameters, figure])
    notebook.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    return notebook


@pytest.fixture(scope="module")
def project(built_data, tmp_path_factory) -> Path:
    root = make_project(built_data, tmp_path_factory.mktemp("forked") / "project")
    notebooks = root / "forked-notebooks"
    notebooks.mkdir()
    for name in ("region_profile", "actor_profile"):
        shutil.copyfile(REPO / "notebooks" / f"{name}.ipynb", notebooks / f"{name}.ipynb")
    nbformat.write(meddler_notebook(), notebooks / "meddler.ipynb")
    nbformat.write(plain_figure_notebook(), notebooks / "plain_figure.ipynb")
    return root


def run_spec(name: str, **parameters) -> dict:
    if name.startswith(("meddler", "fails", "dies")):
        return {"name": name, "notebook": "meddler", "parameters": {"label": name, **parameters}}
    if name == "plain-figure":
        return {"name": name, "notebook": "plain_figure", "parameters": {"label": name}}
    return {"name": name, **REAL_RUNS[name]}


def sweep(root: Path, runs: list[dict], fresh: bool = False, wait: bool = True):
    runs_file = root / "forked-runs.yml"
    runs_file.write_text(yaml.safe_dump({"notebooks_dir": "forked-notebooks", "runs": runs}, sort_keys=False),
                         encoding="utf-8")
    env = {"PYTHONPATH": str(root / "src"), "FRESH_KERNELS": "1" if fresh else "0"}
    args = ["notebooks", "--runs", str(runs_file), "--workers", "1", "--force"]
    if wait:
        return run_cli(args, root=root, env=env, check=False)
    return subprocess.Popen([sys.executable, "-m", "conflict_report", *args], cwd=root,
                            env={**os.environ, **DATA_ENV, **env, "CONFLICT_REPORT_ROOT": str(root)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def template_processes(root: Path) -> list[int]:
    """The template and its forked kernels (a fork keeps the template's command line)."""
    script = str(root / "src" / "conflict_report" / "runs" / "kernel_template.py")
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and script in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:  # the process ended while we looked
            pass
    return found


def outputs(build: Path) -> dict[str, object]:
    """Every file of every run byte for byte, and each executed notebook's cells (papermill's
    timings aside); the kernel-parent.txt of the meddler differs by design."""
    found = {}
    for path in sorted(build.glob("*/**/*")):
        if not path.is_file() or path.name in ("kernel-parent.txt", ".run-key"):
            continue
        key = str(path.relative_to(build))
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            found[key] = [(c["source"], c.get("outputs"), c.get("execution_count")) for c in cells]
        else:
            found[key] = path.read_bytes()
    return found


def test_forked_and_fresh_kernels_give_the_same_bytes_in_either_order(project, tmp_path):
    forward = [run_spec(name) for name in FORWARD]
    builds = {}
    for label, runs, fresh in (("forked, forward", forward, False), ("forked, reverse", forward[::-1], False),
                               ("fresh, forward", forward, True)):
        shutil.rmtree(project / "build", ignore_errors=True)
        result = sweep(project, runs, fresh=fresh)
        assert statuses(result) == dict.fromkeys(FORWARD, "ok"), f"{label}\n{result.stdout}\n{result.stderr[-3000:]}"
        assert template_processes(project) == [], f"{label}: the template outlived its sweep"
        parents = {name: (project / "build" / name / "kernel-parent.txt").read_text() for name in ("meddler-a", "meddler-b")}
        for name, parent in parents.items():
            assert ("kernel_template.py" in parent) != fresh, f"{label}: {name}'s kernel was started by {parent!r}"
        builds[label] = tmp_path / label
        shutil.copytree(project / "build", builds[label])

    reference = outputs(builds["fresh, forward"])
    assert {key.split("/")[0] for key in reference} == set(FORWARD)
    assert any(key.endswith(".png") for key in reference) and any(key.endswith("results.json") for key in reference)
    for label in ("forked, forward", "forked, reverse"):
        found = outputs(builds[label])
        assert found.keys() == reference.keys(), label
        differing = [key for key in reference if found[key] != reference[key]]
        assert not differing, f"{label}: differs from fresh kernels in {differing}"

    # The plain notebook's figure is shown, as in a fresh kernel (the inline backend's hook).
    assert any("image/png" in output.get("data", {}) for _, outputs, _ in reference["plain-figure/plain_figure.ipynb"]
               for output in outputs or [])
    # Every meddler run saw what a fresh kernel sees, never the other meddler's changes.
    observed = json.loads(reference["meddler-b/observed.json"])
    assert observed["MEDDLED"] is None and observed["package global PRINT_DPI"] == figures.PRINT_DPI
    assert observed["working directory"] == "forked-notebooks" and not observed["/meddled on sys.path"]
    assert reference["meddler-a/observed.json"] == reference["meddler-b/observed.json"]


def test_a_failing_run_and_a_dying_kernel_stop_no_other_run(project):
    runs = [run_spec("dies", die=True), run_spec("fails", fail=True), run_spec("meddler-a"), run_spec("gov-quneitra")]
    result = sweep(project, runs)
    assert statuses(result) == {"dies": "failed", "fails": "failed", "meddler-a": "ok", "gov-quneitra": "ok"}, result.stdout
    assert "FAILED dies: DeadKernelError" in result.stdout and "FAILED fails: RuntimeError: this run fails on purpose" in result.stdout
    assert "kernel_template.py" in (project / "build" / "meddler-a" / "kernel-parent.txt").read_text()
    observed = json.loads((project / "build" / "meddler-a" / "observed.json").read_text())
    assert observed["MEDDLED"] is None and observed["package global PALETTE blue"] == figures.PALETTE["blue"]
    assert template_processes(project) == []


def test_a_killed_sweep_takes_its_template_and_kernels_with_it(project):
    shutil.rmtree(project / "build", ignore_errors=True)
    started = sweep(project, [run_spec("meddler-a", sleep_s=600)], wait=False)
    try:
        deadline = time.monotonic() + 120
        while not (project / "build" / "meddler-a" / "observed.json").exists():  # its kernel is running
            assert time.monotonic() < deadline and started.poll() is None, "the sleeping run never started"
            time.sleep(0.2)
        assert len(template_processes(project)) == 2  # the template and the forked kernel
        started.send_signal(signal.SIGKILL)
        started.wait()
        deadline = time.monotonic() + 30
        while template_processes(project):
            assert time.monotonic() < deadline, f"left running after the sweep was killed: {template_processes(project)}"
            time.sleep(0.2)
    finally:
        started.kill()
        for pid in template_processes(project):
            os.kill(pid, signal.SIGKILL)
