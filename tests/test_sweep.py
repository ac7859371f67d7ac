"""The notebook sweep: real papermill, real kernels, over a tiny fixture notebook that checks its
parameters against the real event table and writes results.json like the real notebooks."""

from __future__ import annotations

import csv
import gzip
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import DATA_ENV, FIXTURES, REPO, UCDP_GED_FILE, run_cli

from conflict_report.analysis.params import check_parameters
from conflict_report.data import normalise
from conflict_report.runs import sweep

FIXTURE_NOTEBOOK = FIXTURES / "sweep" / "profile.ipynb"
FIXTURE_NAMES = ("overview", "region_profile", "actor_profile")
GOVERNORATES = ["Damascus", "Aleppo", "Rural Damascus", "Homs", "Hama", "Lattakia", "Idleb", "Al-Hasakeh",
                "Deir-ez-Zor", "Tartous", "Ar-Raqqa", "Dar'a", "As-Sweida", "Quneitra"]
ACTORS = ["Government of Syria", "IS", "SDF", "Syrian insurgents", "HTS", "Government of Turkey"]
FOUR_RUNS = {
    "national": {"notebook": "overview"},
    "gov-aleppo": {"notebook": "region_profile", "parameters": {"governorate": "Aleppo"}},
    "gov-dara": {"notebook": "region_profile", "parameters": {"governorate": "Dar'a"}},
    "actor-is": {"notebook": "actor_profile", "parameters": {"actor": "IS"}},
}
SLUGS = {"national": "overview-syria", "gov-aleppo": "region-profile-syria-aleppo",
         "gov-dara": "region-profile-syria-dara", "actor-is": "actor-profile-syria-is"}  # build/<run>/ holds the run with this slug
STATUS_LINE = re.compile(r"^(\S+)\s+(ok|failed|skipped)\s+[\d.]+s(?:\s+on \S+ pid (\d+))?$", re.MULTILINE)

real_kernels = pytest.mark.notebooks  # these start real kernels: about 10-30 s each on 2 cores


# --- helpers ---------------------------------------------------------------------------------

def make_project(built_data: Path, root: Path) -> Path:
    """A private copy of the project with data/processed built (once per session), so each
    test owns its build/ folder, and of the package (see sweep_cli)."""
    shutil.copytree(built_data, root, ignore=shutil.ignore_patterns("build"))
    shutil.copytree(REPO / "src" / "conflict_report", root / "src" / "conflict_report",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "sweep-notebooks").mkdir()
    for name in FIXTURE_NAMES:
        text = FIXTURE_NOTEBOOK.read_text(encoding="utf-8").replace("__NOTEBOOK__", name)
        (root / "sweep-notebooks" / f"{name}.ipynb").write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def project(built_data, tmp_path) -> Path:
    return make_project(built_data, tmp_path / "project")


@pytest.fixture(scope="module")
def swept(built_data, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A project after one sweep of FOUR_RUNS, shared by the tests that read its outputs."""
    root = make_project(built_data, tmp_path_factory.mktemp("swept") / "project")
    return root, sweep_cli(root, FOUR_RUNS)


def write_runs(root: Path, runs: dict[str, dict]) -> Path:
    target = root / "sweep-runs.yml"
    document = {"notebooks_dir": "sweep-notebooks",
                "defaults": {"country": "Syria", "start": "2016-01-01", "end": "2019-12-31"},
                "runs": [{"name": name, **run} for name, run in runs.items()]}
    target.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return target


def sweep_cli(root: Path, runs: dict[str, dict] | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """The CLI and its kernels import the project's copy of the package: the code fingerprint
    is then that of the copy, unchanged by edits to the repository's files during the test."""
    runs_file = write_runs(root, runs) if runs is not None else root / "sweep-runs.yml"
    env = {"PYTHONPATH": str(root / "src"), **(env or {})}
    return run_cli(["notebooks", "--runs", str(runs_file)], root=root, env=env, check=False)


def statuses(result: subprocess.CompletedProcess) -> dict[str, str]:
    return {m[1]: m[2] for m in STATUS_LINE.finditer(result.stdout)}


def output_times(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in (root / "build").glob("*/*") if p.is_file()}


def assert_no_machine_paths(text: str, root: Path) -> None:
    for place in {str(root), os.path.realpath(root), tempfile.gettempdir(), "/root", "/tmp", sys.prefix, str(REPO)}:
        assert place not in text, f"{place} left in the executed notebook"


# --- the runs file ---------------------------------------------------------------------------

def test_parameter_names_are_those_of_check_parameters():
    names = [n for n in inspect.signature(check_parameters).parameters if n != "notebook" and not n.startswith("known_")]
    assert tuple(names) == sweep.PARAMETER_NAMES


@pytest.mark.parametrize("step", ["data", "notebooks"])
def test_a_step_with_nothing_to_do_imports_neither_pandas_nor_pyarrow(swept_project, step):
    """`make notebooks` with nothing changed runs both steps; importing pandas and pyarrow
    alone takes most of a second (benchmarks/RESULTS.md), so deciding must not need them."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "conflict_report", step],
                            env={**os.environ, **DATA_ENV, "CONFLICT_REPORT_ROOT": str(swept_project)},
                            cwd=swept_project, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "conflict_report.data.build" in imported  # the step ran and decided
    assert not imported & {"pandas", "pyarrow", "numpy"}
    if step == "notebooks":
        assert re.search(r"\b0 ok, [1-9]\d* skipped, 0 failed", result.stdout + result.stderr), result.stdout


def test_report_runs_file_lists_national_governorates_actors_and_sources():
    document = yaml.safe_load((REPO / "report" / "runs.yml").read_text(encoding="utf-8"))
    runs = {r["name"]: r for r in document["runs"]}
    assert document["defaults"] == {"country": "Syria", "start": "2016-01-01", "end": "2019-12-31", "primary_source": "ucdp_ged"}
    assert runs["national"]["notebook"] == "overview" and runs["sources"]["notebook"] == "sources"
    assert [r["parameters"]["governorate"] for r in runs.values() if r["notebook"] == "region_profile"] == GOVERNORATES
    assert normalise.governorate_names("Syria") == GOVERNORATES
    assert [r["parameters"]["actor"] for r in runs.values() if r["notebook"] == "actor_profile"] == ACTORS
    slugs = {check_parameters(notebook=r["notebook"], **{**document["defaults"], **r.get("parameters", {})}).slug
             for r in runs.values()}
    assert len(slugs) == len(runs) >= 1 + len(GOVERNORATES) + len(ACTORS) + 1
    assert "overview-syria" in slugs


def test_report_runs_file_reads():
    specs = sweep.read_runs_file(REPO / "report" / "runs.yml")
    assert [s.name for s in specs][:3] == ["national", "gov-damascus", "gov-aleppo"]
    assert all(s.notebook_path.is_file() for s in specs)


def test_runs_file_problems_are_all_named_with_file_and_run(tmp_path):
    (tmp_path / "overview.ipynb").write_text(FIXTURE_NOTEBOOK.read_text(encoding="utf-8"), encoding="utf-8")
    runs_file = tmp_path / "bad-runs.yml"
    runs_file.write_text(yaml.safe_dump({
        "notebooks_dir": str(tmp_path), "colour": "red",
        "runs": [{"name": "national", "notebook": "overview"},
                 {"name": "national", "notebook": "overview"},
                 {"name": "gov-x", "notebook": "region_profil"},
                 {"name": "gov-y", "notebook": "overview", "parameters": {"governate": "Aleppo"}},
                 {"name": "Bad Name", "notebook": "overview", "when": 2016}]}), encoding="utf-8")
    with pytest.raises(sweep.RunsFileError) as raised:
        sweep.read_runs_file(runs_file)
    lines = str(raised.value).splitlines()
    assert all(line.startswith("bad-runs.yml: ") for line in lines)
    expected = ["unknown key 'colour'", "run 'national': duplicate name",
                "run 'gov-x': unknown notebook 'region_profil' (no bad-runs.yml", "run 'gov-y': unknown parameter 'governate'",
                "run 'Bad Name': 'name' must be lower-case", "run 'Bad Name': unknown key 'when'"]
    for problem in expected:
        assert any(problem.split(" (no ")[0] in line for line in lines), f"{problem!r} not in {lines}"
    assert "notebooks: overview" in str(raised.value)


# --- tidying the executed notebook -------------------------------------------------------------

def test_labels_get_the_slug_after_their_kind():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("See @fig-monthly and @tbl-top, not @fig-monthly-extra."),
        nbformat.v4.new_code_cell("#| label: fig-monthly\n#| fig-cap: Deaths\nplot()"),
        nbformat.v4.new_code_cell('#| label: "setup"\nimport x'),
        nbformat.v4.new_code_cell("table()", metadata={"label": "tbl-top"}),
    ])
    sweep.prefix_labels(notebook, "region-profile-syria-aleppo")
    assert notebook.cells[1].source.splitlines()[:2] == ["#| label: fig-region-profile-syria-aleppo-monthly", "#| fig-cap: Deaths"]
    assert notebook.cells[2].source.splitlines()[0] == '#| label: "region-profile-syria-aleppo-setup"'
    assert notebook.cells[3].metadata["label"] == "tbl-region-profile-syria-aleppo-top"
    assert notebook.cells[0].source == ("See @fig-region-profile-syria-aleppo-monthly and @tbl-region-profile-syria-aleppo-top, "
                                        "not @fig-monthly-extra.")


def test_machine_paths_become_relative_or_placeholders():
    replace = sweep.machine_path_replacer({"/tmp": "<tmp>", "/tmp/x/project": ".", "/opt/env": "<python-env>"})
    assert replace("File \x1b[0;32m/tmp/x/project/src/a.py:3\x1b[0m") == "File \x1b[0;32m./src/a.py:3\x1b[0m"
    assert replace("at /opt/env/lib/b.py and /tmp/y") == "at <python-env>/lib/b.py and <tmp>/y"
    assert replace("/var/tmp/z /opt/envy /tmp/x/project") == "/var/tmp/z /opt/envy ."


# --- sweeps with real kernels ------------------------------------------------------------------

@real_kernels
def test_first_sweep_executes_every_run_in_the_venv_kernel(swept):
    project, first = swept
    assert first.returncode == 0, first.stdout + first.stderr
    assert statuses(first) == dict.fromkeys(FOUR_RUNS, "ok")
    assert "4 runs: 4 ok, 0 skipped, 0 failed" in first.stdout
    for name, slug in SLUGS.items():
        folder = project / "build" / name
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        assert results["run"] == slug and results["values"]["events"]["value"] > 0
        assert (folder / ".run-key").exists()
        kernel = json.loads((folder / "kernel.json").read_text(encoding="utf-8"))
        # Not resolved: the venv's python is a symlink to the base interpreter.
        assert Path(kernel["python"]).parent == Path(sys.executable).parent, "the kernel is not the venv's Python"
    assert sorted(p.name for p in (project / "build").iterdir() if p.is_dir()) == sorted(FOUR_RUNS)
    aleppo = json.loads((project / "build" / "gov-aleppo" / "results.json").read_text(encoding="utf-8"))
    assert aleppo["parameters"]["governorate"] == "Aleppo"


@real_kernels
def test_second_sweep_skips_and_a_changed_run_reruns_alone(swept):
    project, _ = swept
    before = output_times(project)
    second = sweep_cli(project, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert second.stdout.splitlines() == ["4 runs: 0 ok, 4 skipped, 0 failed (nothing changed)"], second.stdout
    assert output_times(project) == before
    imported = {line.split("|")[-1].strip() for line in second.stderr.splitlines() if line.startswith("import time:")}
    assert not imported & {"pandas", "papermill", "matplotlib", "nbformat"}, "the no-op sweep imported heavy modules"

    # gov-dara changed (gov-aleppo stays as the first sweep left it for the test below).
    changed = {**FOUR_RUNS, "gov-dara": {"notebook": "region_profile", "parameters": {"governorate": "Dar'a", "start": "2017-01-01"}}}
    third = sweep_cli(project, changed)
    assert statuses(third) == {"gov-dara": "ok"}, third.stdout  # skipped runs are only counted
    assert "4 runs: 1 ok, 3 skipped, 0 failed" in third.stdout
    dara = json.loads((project / "build" / "gov-dara" / "results.json").read_text(encoding="utf-8"))
    assert dara["parameters"]["start"] == "2017-01-01"
    assert {k: v for k, v in output_times(project).items() if not k.startswith("build/gov-dara/")} == \
        {k: v for k, v in before.items() if not k.startswith("build/gov-dara/")}

    # A run taken out of the runs file loses its folder, so the report cannot quote it.
    fewer = {k: v for k, v in changed.items() if k != "actor-is"}
    fourth = sweep_cli(project, fewer)
    assert "removed the build folders of runs no longer in the runs file: actor-is" in fourth.stdout
    assert not (project / "build" / "actor-is").exists()


@real_kernels
def test_executed_notebook_is_tidied_for_the_report(swept):
    project, _ = swept
    path = project / "build" / "gov-aleppo" / "region_profile.ipynb"
    text = path.read_text(encoding="utf-8")
    notebook = nbformat.reads(text, as_version=4)
    sources = [c.source for c in notebook.cells]
    assert any(s.startswith("#| label: fig-region-profile-syria-aleppo-events\n") for s in sources)
    assert any(c.metadata.get("label") == "tbl-region-profile-syria-aleppo-kernel" for c in notebook.cells)
    assert "See @fig-region-profile-syria-aleppo-events." in sources[0]
    injected = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata.tags
    assert 'governorate = "Aleppo"' in injected[0].source
    assert notebook.metadata.papermill.input_path == "sweep-notebooks/region_profile.ipynb"
    assert notebook.metadata.papermill.output_path == "build/gov-aleppo/region_profile.ipynb"
    assert_no_machine_paths(text, project)
    assert not list(path.parent.glob(".*.tmp")), "a temporary notebook was left behind"


@real_kernels
def test_failing_runs_do_not_stop_the_others(project):
    runs = {"national": FOUR_RUNS["national"],
            "gov-narnia": {"notebook": "region_profile", "parameters": {"governorate": "Narnia"}},
            "actor-narnia": {"notebook": "actor_profile", "parameters": {"actor": "Narnia Liberation Front"}}}
    result = sweep_cli(project, runs)
    assert result.returncode == 1
    assert statuses(result) == {"national": "ok", "gov-narnia": "failed", "actor-narnia": "failed"}
    assert (project / "build" / "national" / "results.json").exists()
    lines = result.stdout.splitlines()
    assert "3 runs: 1 ok, 0 skipped, 2 failed" in lines

    # Rejected by check_parameters before any kernel starts: the message lists the governorates.
    narnia = lines.index(next(line for line in lines if line.startswith("FAILED gov-narnia: ")))
    assert lines[narnia].startswith("FAILED gov-narnia: parameter 'governorate' = 'Narnia': not a governorate of Syria. Valid values: ")
    assert all(name in lines[narnia] for name in GOVERNORATES)
    assert lines[narnia + 1].strip() == "not executed: fix its parameters in sweep-runs.yml"

    # Failing inside the notebook (an actor absent from the event table): papermill's partial notebook.
    actor = lines.index(next(line for line in lines if line.startswith("FAILED actor-narnia: ")))
    assert lines[actor].startswith("FAILED actor-narnia: ParameterError: parameter 'actor' = 'Narnia Liberation Front': "
                                   "not an actor in the event table. Valid values: ")
    executed = "build/actor-narnia/actor_profile.ipynb"
    assert lines[actor + 1].strip() == executed
    text = (project / executed).read_text(encoding="utf-8")
    assert "ParameterError" in text and "papermill-error-cell" in text
    assert_no_machine_paths(text, project)
    assert not (project / executed).with_name(".run-key").exists()
    assert not (project / executed).with_name("results.json").exists()


@real_kernels
def test_a_kernel_that_dies_fails_its_run_alone_and_keeps_its_last_notebook(project):
    """papermill writes the notebook once, at the end: a kernel that dies leaves nothing to
    keep, so the run fails with papermill's error and its last good notebook stays."""
    dying = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os\nos._exit(3)")])
    dying.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nbformat.write(dying, project / "sweep-notebooks" / "dies.ipynb")
    last_good = project / "build" / "dies" / "dies.ipynb"
    last_good.parent.mkdir(parents=True)
    last_good.write_text("the last good notebook", encoding="utf-8")

    result = sweep_cli(project, {"national": FOUR_RUNS["national"], "dies": {"notebook": "dies"}})
    assert result.returncode == 1
    assert statuses(result) == {"national": "ok", "dies": "failed"}
    lines = result.stdout.splitlines()
    failure = lines.index(next(line for line in lines if line.startswith("FAILED dies: ")))
    assert "DeadKernelError" in lines[failure], lines[failure]
    assert lines[failure + 1].strip() == "no notebook written"
    assert last_good.read_text(encoding="utf-8") == "the last good notebook"
    assert sorted(p.name for p in last_good.parent.iterdir()) == ["dies.ipynb"]  # no temporary file left


@real_kernels
def test_code_change_and_data_change_each_rerun_every_run(project, tmp_path):
    runs = {k: FOUR_RUNS[k] for k in ("national", "actor-is")}
    first = sweep_cli(project, runs)
    assert statuses(first) == {"national": "ok", "actor-is": "ok"}, first.stdout + first.stderr
    kernel = json.loads((project / "build" / "national" / "kernel.json").read_text(encoding="utf-8"))
    assert Path(kernel["package"]).resolve().is_relative_to((project / "src").resolve()), "the kernel ignored PYTHONPATH"
    assert "2 runs: 0 ok, 2 skipped, 0 failed" in sweep_cli(project).stdout

    # The report stage cannot change what a run computes: editing it reruns nothing.
    report_code = project / "src" / "conflict_report" / "report" / "build.py"
    report_code.write_text(report_code.read_text(encoding="utf-8") + "\n# An edited comment.\n", encoding="utf-8")
    assert "2 runs: 0 ok, 2 skipped, 0 failed" in sweep_cli(project).stdout

    # A comment edited in the package the CLI and kernels import.
    schema = project / "src" / "conflict_report" / "data" / "schema.py"
    schema.write_text(schema.read_text(encoding="utf-8") + "\n# An edited comment.\n", encoding="utf-8")
    assert statuses(sweep_cli(project)) == {"national": "ok", "actor-is": "ok"}

    # The event table rebuilt from a GED file with one event fewer.
    fewer_events = tmp_path / "ged_without_last_event.csv"
    with gzip.open(UCDP_GED_FILE, "rt", encoding="utf-8", newline="") as source:
        rows = list(csv.reader(source))
    with open(fewer_events, "w", encoding="utf-8", newline="") as target:
        csv.writer(target).writerows(rows[:-1])
    run_cli(["data"], root=project, env={"UCDP_GED": str(fewer_events), "PYTHONPATH": str(project / "src")})
    assert statuses(sweep_cli(project)) == {"national": "ok", "actor-is": "ok"}


@real_kernels
def test_dask_cluster_executes_the_runs_on_its_workers(project):
    distributed = pytest.importorskip("distributed")
    # Workers run the sweep's environment, as a real cluster must: here the package copy.
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  env={"PYTHONPATH": str(project / "src")}) as cluster, \
            distributed.Client(cluster) as client:
        worker_pids = set(client.run(os.getpid).values())
        result = sweep_cli(project, FOUR_RUNS, env={"DASK_SCHEDULER": cluster.scheduler_address})
    assert result.returncode == 0, result.stdout + result.stderr
    assert statuses(result) == dict.fromkeys(FOUR_RUNS, "ok")
    executed_by = {int(m[3]) for m in STATUS_LINE.finditer(result.stdout)}
    assert executed_by == worker_pids, f"runs executed by {executed_by}, workers are {worker_pids}"
    for name in FOUR_RUNS:
        assert (project / "build" / name / "results.json").exists()
        assert (project / "build" / name / ".run-key").exists()
        kernel = json.loads((project / "build" / name / "kernel.json").read_text(encoding="utf-8"))
        assert Path(kernel["package"]).resolve().is_relative_to((project / "src").resolve())
