"""`make notebooks`: execute every run listed in report/runs.yml with papermill, each into
build/<run>/, named by the run's name (the executed notebook beside the figures, tables and
results.json it writes). The sweep tells each run's kernel that folder through
CONFLICT_REPORT_RUN_DIR; a notebook run by hand, without it, writes elsewhere (see run.py), so
it can never replace the sweep's outputs. Folders of runs no longer in the runs file are removed.

The runs file (report/runs.yml):

    notebooks_dir: notebooks          # optional; relative to the project folder
    defaults: {country: Syria, start: "2016-01-01", end: "2019-12-31"}
    runs:
      - name: gov-aleppo              # short key the report uses: lower case, digits, hyphens
        notebook: region_profile      # notebooks_dir/region_profile.ipynb
        parameters: {governorate: Aleppo}

A run's parameters are the defaults overlaid with its own; they are checked with
params.check_parameters (without the lists that need the event table); the checked parameters'
slug prefixes the notebook's labels.

Incremental by content: a run is skipped when build/<run>/results.json exists and
build/<run>/.run-key holds the sha256 of (the notebook file, the checked parameters, the
package code and reference tables, the event table). .run-key is written only after a run
succeeds. Deciding that nothing needs doing imports neither pandas nor papermill, so a no-op
sweep takes a fraction of a second: the checked parameters are cached in
build/.sweep-resolved.json under a hash of the parameters as written and the code fingerprint.

Parallel runs: a pool of WORKERS processes (default: the number of cores), each importing
papermill once, and one kernel template for the sweep: every run's kernel is a fork of it,
started in a fraction of a fresh kernel's 2.7 s and sharing nothing with the runs before it
(forked_kernels.py; FRESH_KERNELS=1 starts each kernel fresh). Kernels are not started ahead of
need: with as many workers as cores a waiting kernel would compete for the same CPUs.

With DASK_SCHEDULER=<address> the same runs are tasks on a dask.distributed cluster instead
(WORKERS is then the cluster's business). Dask workers must see the project folder at the
same path as the machine running the sweep (a shared filesystem: a task reads notebooks/ and
data/processed/ and writes build/<run>/ there by absolute path; its kernel gets
CONFLICT_REPORT_ROOT set to that folder) and run the same environment (Python, this package,
PYTHONPATH). Start them with one thread each, e.g. `dask worker <address> --nworkers 4
--nthreads 1`: a worker process runs one notebook at a time whatever its threads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import os
import re
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from conflict_report import paths
from conflict_report.data.build import (
    code_fingerprint,  # imports neither pandas nor pyarrow
)
from conflict_report.errors import PipelineError

RUNS_FILE = paths.REPORT / "runs.yml"
RESOLVED_CACHE = paths.BUILD / ".sweep-resolved.json"
RUN_KEY_FILE = ".run-key"
RESULTS_FILE = "results.json"

# The parameters of the shipped notebooks, which check_parameters checks as a whole: its
# arguments other than the notebook and the data-dependent lists (tests/test_sweep.py keeps
# the two in step). Any other notebook's parameters are the names its `parameters` cell
# assigns, typed by their defaults.
PARAMETER_NAMES = ("country", "governorate", "actor", "start", "end", "sources", "violence_types", "primary_source")
FILE_KEYS = ("notebooks_dir", "defaults", "runs")
RUN_KEYS = ("name", "notebook", "parameters", "title")
RUN_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
CROSSREF_KINDS = ("fig", "tbl", "lst")  # Quarto label prefixes that must stay first

OK, FAILED, SKIPPED = "ok", "failed", "skipped"


class RunsFileError(PipelineError):
    """The runs file cannot be read as a list of runs; the message lists every problem."""


# --- the runs file ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RunSpec:
    """One run as the runs file writes it: the defaults the notebook has, overlaid with the
    run's own parameters."""
    name: str
    notebook: str
    notebook_path: Path
    parameters: dict
    runs_file: str  # as displayed in messages
    title: str | None = None  # the runs file's `title:`, else the report makes one
    defaults: dict = field(default_factory=dict)  # the runs file's defaults (a period unlike them is named in titles)

    @property
    def shipped(self) -> bool:
        """One of the package's own notebooks, whose parameters check_parameters checks."""
        from conflict_report.analysis import SHIPPED_NOTEBOOKS  # imports no pandas

        return self.notebook in SHIPPED_NOTEBOOKS


def notebook_parameters(notebook_path: Path) -> dict[str, object] | None:
    """The names the notebook's `parameters` cell assigns, with their default values (None
    where the default is not a plain literal); None when the notebook has no such cell."""
    import ast

    try:
        cells = json.loads(notebook_path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return None
    for cell in cells:
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell.get("source", []))
            try:
                tree = ast.parse(source)
            except SyntaxError:
                return {}
            declared: dict[str, object] = {}
            for node in tree.body:
                if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in (t for t in targets if isinstance(t, ast.Name)):
                        try:
                            declared[target.id] = ast.literal_eval(node.value)
                        except ValueError:
                            declared[target.id] = None
            return declared
    return None


def _type_problem(name: str, value: object, default: object) -> str | None:
    """A value whose type differs from the notebook's default for it (numbers are numbers)."""
    if default is None or value is None:
        return None
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(value, bool) and isinstance(default, bool)
    elif isinstance(default, (int, float)):
        ok = isinstance(value, (int, float)) and (isinstance(default, float) or isinstance(value, int))
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
    else:
        ok = isinstance(value, type(default))
    kinds = {bool: "true or false", int: "a whole number", float: "a number", str: "text", list: "a list", tuple: "a list"}
    return None if ok else f"parameter '{name}' = {value!r} is not {kinds.get(type(default), type(default).__name__)} like its default {default!r}"


def read_runs_file(runs_file: Path | str | None = None) -> list[RunSpec]:
    """Read and check the runs file's structure (not yet the parameter values)."""
    path = Path(runs_file) if runs_file else RUNS_FILE
    where = paths.display_path(path)
    document = _load_yaml(path, where)
    problems = [f"unknown key '{k}' (keys: {', '.join(FILE_KEYS)})" for k in document if k not in FILE_KEYS]
    notebooks_dir = paths.ROOT / str(document.get("notebooks_dir") or "notebooks")
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append("defaults: parameters must be a mapping of name: value")
    runs = document.get("runs")
    if not isinstance(runs, list) or not runs:
        problems.append("'runs' must be a non-empty list of runs")
        runs = []
    specs, run_problems = _read_runs(runs, defaults if isinstance(defaults, dict) else {}, notebooks_dir, where)
    problems += run_problems
    if problems:
        raise RunsFileError(f"{where}: " + f"\n{where}: ".join(problems))
    return specs


def _load_yaml(path: Path, where: str) -> dict:
    import yaml

    from conflict_report import yaml_text

    try:
        document = yaml_text.load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunsFileError(f"{where}: cannot read the runs file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise RunsFileError(f"{where}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(document, dict):
        raise RunsFileError(f"{where}: expected a mapping with the keys {', '.join(FILE_KEYS)}")
    return document


def _parameter_problems(parameters: object, where: str, declared: dict | None, notebook: str, shipped: bool) -> list[str]:
    """Names the notebook does not have, and (for a researcher's own notebook) values not of
    the type of their default; the shipped notebooks' values are checked by check_parameters."""
    if not isinstance(parameters, dict):
        return [f"{where}: parameters must be a mapping of name: value"]
    if declared is None:
        return [f"{where}: notebook '{notebook}' has no cell tagged 'parameters', so it takes no parameters"] if parameters else []
    problems = [f"{where}: unknown parameter '{k}' (notebook {notebook}'s parameters: {', '.join(declared) or 'none'})"
                for k in parameters if k not in declared]
    if not shipped:
        problems += [f"{where}: {problem}" for k, v in parameters.items() if k in declared
                     if (problem := _type_problem(k, v, declared[k]))]
    return problems


def _read_runs(runs: list, defaults: dict, notebooks_dir: Path, where: str) -> tuple[list[RunSpec], list[str]]:
    specs, problems, seen = [], [], set()
    declared_anywhere: set[str] = set()
    for number, run in enumerate(runs, start=1):
        if not isinstance(run, dict):
            problems.append(f"run {number}: expected a mapping with the keys {', '.join(RUN_KEYS)}")
            continue
        name = run.get("name")
        label = f"run '{name}'" if name else f"run {number}"
        problems += [f"{label}: unknown key '{k}' (keys: {', '.join(RUN_KEYS)})" for k in run if k not in RUN_KEYS]
        if not isinstance(name, str) or not RUN_NAME.fullmatch(name):
            problems.append(f"{label}: 'name' must be lower-case letters, digits and hyphens, e.g. gov-aleppo")
        elif name in seen:
            problems.append(f"{label}: duplicate name")
        seen.add(name)
        notebook_path = notebooks_dir / f"{run.get('notebook')}.ipynb"
        if not notebook_path.is_file():
            available = ", ".join(sorted(p.stem for p in notebooks_dir.glob("*.ipynb"))) or "none"
            problems.append(f"{label}: unknown notebook '{run.get('notebook')}' "
                            f"(no {paths.display_path(notebook_path)}; notebooks: {available})")
        if run.get("title") is not None and not isinstance(run.get("title"), str):
            problems.append(f"{label}: 'title' must be text")
        own = run.get("parameters") or {}
        if not notebook_path.is_file():
            continue
        declared = notebook_parameters(notebook_path)
        declared_anywhere.update(declared or {})
        spec = RunSpec(str(name), str(run.get("notebook")), notebook_path, {}, where, run.get("title"), defaults)
        problems += _parameter_problems(own, label, declared, spec.notebook, spec.shipped)
        if isinstance(own, dict):
            # The defaults a notebook does not have are not its business (a plain notebook has no country).
            given = {k: v for k, v in defaults.items() if k in (declared or {})} | own
            specs.append(dataclasses.replace(spec, parameters=given))
    if specs:
        problems += [f"defaults: parameter '{k}' is a parameter of none of the notebooks run" for k in defaults if k not in declared_anywhere]
    return specs, problems


# --- checked parameters, slugs and run keys ----------------------------------------------------

@dataclass(frozen=True)
class Run:
    """A run ready to execute: checked parameters, its folder and its content key."""
    spec: RunSpec
    parameters: dict  # RunParameters.as_dict() without notebook and slug
    slug: str
    key: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def folder(self) -> Path:
        return paths.BUILD / self.name

    @property
    def executed_notebook(self) -> Path:
        return self.folder / f"{self.spec.notebook}.ipynb"

    def is_up_to_date(self) -> bool:
        try:
            stored = (self.folder / RUN_KEY_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            return False
        return stored == self.key and self.executed_notebook.exists()


@dataclass(frozen=True)
class Outcome:
    """What became of one run; sent back from a pool process or Dask worker, so plain data."""
    name: str
    status: str
    seconds: float
    error: str | None = None
    location: str | None = None  # the executed notebook, or why there is none
    where: str = ""  # host and process that executed the run

    def line(self, show_where: bool = False) -> str:
        text = f"{self.name:<28} {self.status:<8} {self.seconds:6.1f}s"
        return f"{text}  on {self.where}" if show_where and self.where else text


def processed_data_digest() -> str:
    """What the runs read of data/processed/, as the data step recorded it (hashing the files
    would be slower): the event table's hash, and those of the other outputs (country-year
    totals, boundaries), the boundaries' credit and the inputs left out, so a run redoes its
    map or its check when one of them comes or goes, even with the events unchanged."""
    try:
        manifest = json.loads(paths.MANIFEST.read_text(encoding="utf-8"))
        digest = manifest["outputs"]["events.parquet"]
    except (OSError, ValueError, KeyError, TypeError):
        digest = None
    if not digest or not paths.EVENTS.exists():
        raise PipelineError(f"{paths.display_path(paths.EVENTS)} or its checksum in {paths.display_path(paths.MANIFEST)} "
                            "is missing. Build the event table first: python -m conflict_report data")
    read_by_runs = {"outputs": manifest["outputs"], "boundaries_credit": manifest.get("boundaries_credit"),
                    "absent": sorted(a["variable"] for a in manifest.get("absent_inputs", []))}
    return hashlib.sha256(json.dumps(read_by_runs, sort_keys=True).encode()).hexdigest()


def run_key(notebook_path: Path, parameters: dict, code: str, events: str) -> str:
    digest = hashlib.sha256()
    for part in (hashlib.sha256(notebook_path.read_bytes()).hexdigest(), json.dumps(parameters, sort_keys=True), code, events):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def check_runs(specs: list[RunSpec], code: str, events: str) -> tuple[list[Run], list[Outcome]]:
    """Each run's checked parameters (from the cache when its parameters and the code are
    unchanged); a run whose parameters fail the check becomes a failed outcome."""
    checked = _checked_parameters(specs, code)
    runs, rejected = [], []
    for spec in specs:
        result = checked[spec.name]
        if isinstance(result, str):
            rejected.append(Outcome(spec.name, FAILED, 0.0, result, f"not executed: fix its parameters in {spec.runs_file}"))
            continue
        if not spec.shipped and (problems := labelled_cell_problems(spec.notebook_path)):
            rejected.append(Outcome(spec.name, FAILED, 0.0, "; ".join(problems),
                                    f"not executed: fix {paths.display_path(spec.notebook_path)}"))
            continue
        parameters = {k: result[k] for k in PARAMETER_NAMES} if spec.shipped else result["parameters"]
        runs.append(Run(spec, parameters, result["slug"], run_key(spec.notebook_path, parameters, code, events)))
    _refuse_shared_folders(runs)
    return runs, rejected


def _cache_key(spec: RunSpec) -> str:
    written = json.dumps({"notebook": spec.notebook, "parameters": spec.parameters}, sort_keys=True, default=str)
    return hashlib.sha256(written.encode()).hexdigest()


def _checked_parameters(specs: list[RunSpec], code: str) -> dict[str, dict | str]:
    """Run name -> checked parameters with the slug, or the ParameterError's message.

    check_parameters needs pandas (the reference tables), so its results are cached: they
    depend only on the parameters as written and on the package and reference tables, which
    the code fingerprint covers."""
    try:
        cache = json.loads(RESOLVED_CACHE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    known = cache.get("runs", {}) if cache.get("code") == code else {}
    missing = [s for s in specs if _cache_key(s) not in known]
    results: dict[str, dict | str] = {s.name: known[_cache_key(s)] for s in specs if s not in missing}
    if missing:
        from conflict_report import atomic
        from conflict_report.analysis.params import check_parameters, slugify
        from conflict_report.errors import ParameterError

        for spec in missing:
            if not spec.shipped:  # a researcher's own notebook: its parameters as given, typed above
                written = json.dumps(spec.parameters, sort_keys=True, default=str)
                slug = f"{slugify(spec.notebook)}-{hashlib.sha256(written.encode()).hexdigest()[:8]}"
                results[spec.name] = known[_cache_key(spec)] = {"parameters": spec.parameters, "slug": slug}
                continue
            try:
                checked = check_parameters(notebook=spec.notebook, **spec.parameters)
            except ParameterError as exc:
                results[spec.name] = str(exc)
                continue
            results[spec.name] = known[_cache_key(spec)] = {**checked.as_dict(), "slug": checked.slug}
        atomic.write_json(RESOLVED_CACHE, {"code": code, "runs": known})
    return results


def _refuse_shared_folders(runs: list[Run]) -> None:
    by_slug: dict[str, list[str]] = {}
    for run in runs:
        by_slug.setdefault(run.slug, []).append(run.name)
    clashes = [f"{runs[0].spec.runs_file}: runs {', '.join(names)} have the same parameters (and would give the same results)"
               for slug, names in by_slug.items() if len(names) > 1]
    if clashes:
        raise RunsFileError("\n".join(clashes))


def planned_runs(runs_file: Path | str | None = None) -> list[Run]:
    """The runs file's runs with their slugs (for the report: run name -> build/<slug>/)."""
    runs, rejected = check_runs(read_runs_file(runs_file), code_fingerprint(), processed_data_digest())
    if rejected:
        raise RunsFileError("\n".join(f"run '{o.name}': {o.error}" for o in rejected))
    return runs


# --- executing one run (in a pool process or on a Dask worker) ---------------------------------

@dataclass(frozen=True)
class Job:
    """Everything a worker needs to execute a run, as plain picklable data."""
    name: str
    slug: str
    root: str
    notebook_path: str
    output_path: str
    notebook_display: str
    output_display: str
    parameters: dict

    @classmethod
    def of(cls, run: Run) -> Job:
        return cls(run.name, run.slug, str(paths.ROOT), str(run.spec.notebook_path), str(run.executed_notebook),
                   paths.display_path(run.spec.notebook_path), paths.display_path(run.executed_notebook), run.parameters)


# papermill is not safe to run in several threads of one process (see _in_process_pool), and a
# Dask worker may have several threads: one notebook at a time per process.
_ONE_NOTEBOOK_PER_PROCESS = threading.Lock()


def execute_run(job: Job) -> Outcome:
    """Execute one notebook in a kernel of its own into build/<slug>/ and say how it went."""
    with _ONE_NOTEBOOK_PER_PROCESS:
        _import_papermill()  # before the clock: a Dask worker's first run would count 2 s more
        started = time.monotonic()
        try:
            error = _execute_into_place(job)
        except Exception as exc:  # papermill wrote nothing usable; the previous notebook stays
            message = str(exc) if isinstance(exc, _NothingWritten) else _first_line(exc)
            return Outcome(job.name, FAILED, time.monotonic() - started, message, "no notebook written", _where())
        return Outcome(job.name, OK if error is None else FAILED, time.monotonic() - started, error,
                       job.output_display, _where())


def _execute_into_place(job: Job) -> str | None:
    """papermill writes to a temporary file beside the target, renamed over it once tidied,
    whether the notebook failed or not: a killed run leaves the last notebook in place."""
    from conflict_report import atomic

    target = Path(job.output_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    (target.parent / RUN_KEY_FILE).unlink(missing_ok=True)  # until this execution succeeds
    atomic.remove_leftovers(target.parent)  # of this run, killed last time
    with atomic.atomic_path(target) as partial:
        error = _papermill(job, partial)
        if not partial.stat().st_size:  # the kernel died or did not start: papermill wrote nothing
            raise _NothingWritten(error or "papermill wrote no notebook")
        tidy_executed_notebook(partial, job)
    return error


class _NothingWritten(Exception):
    """The run ended without a notebook; the message is papermill's error."""


def _papermill(job: Job, output: Path) -> str | None:
    """Execute with papermill; the first line of the error, or None.

    The kernel talks to papermill over IPC sockets in a private folder, not TCP: kernels
    started at the same moment by parallel workers can race for the same free TCP port
    (papermill#511), and local sockets are not reachable by other users of the machine."""
    import tempfile
    import warnings

    import shutil

    import papermill
    from traitlets.config import Config

    # The temporary output's name ends in .tmp, which papermill warns about (naming its path).
    warnings.filterwarnings("ignore", message=r"The specified file .* does not end in one of", category=UserWarning)
    # The kernel inherits this process's environment: point it at the sweep's project and at
    # the run's own folder (a notebook run by hand has no such folder and writes elsewhere).
    os.environ["CONFLICT_REPORT_ROOT"] = job.root
    os.environ[paths.RUN_DIR_VARIABLE] = str(Path(job.output_path).parent)
    with tempfile.TemporaryDirectory(prefix="sweep-kernel-") as sockets:
        # The kernel's IPython profile runs kernel_startup.py first: DataFrames display as
        # Markdown, figures at print resolution (see there).
        startup = Path(sockets, "ipython", "profile_default", "startup")
        startup.mkdir(parents=True)
        shutil.copyfile(Path(__file__).with_name("kernel_startup.py"), startup / "00-report-displays.py")
        os.environ["IPYTHONDIR"] = str(Path(sockets, "ipython"))
        config = Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(sockets, "kernel")}})
        try:
            # request_save_on_cell_execute=False: papermill writes the notebook once, at the end
            # (with the error, when a cell fails), not twice per cell (about 0.5 s a run). A
            # notebook saved half-way would be thrown away anyway: it is a temporary file that
            # replaces the last good notebook only once the run ends.
            # shutdown_kernel="immediate": the last cell has finished and its outputs are in, so
            # the kernel is killed rather than asked to stop and polled until it has (0.2 s a run).
            papermill.execute_notebook(job.notebook_path, str(output), parameters=job.parameters,
                                       cwd=str(Path(job.notebook_path).parent), progress_bar=False, config=config,
                                       request_save_on_cell_execute=False, shutdown_kernel="immediate",
                                       **_kernel_manager())
        except papermill.PapermillExecutionError as exc:
            return _first_line(f"{exc.ename}: {exc.evalue}")
        except Exception as exc:  # the kernel died or did not start: no notebook is written
            return _first_line(exc)
    return None


def _first_line(error: object) -> str:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return (text.strip().splitlines() or [""])[0]


def _where() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


# --- tidying the executed notebook ------------------------------------------------------------

def tidy_executed_notebook(path: Path, job: Job) -> None:
    """Make the executed notebook fit for the report: labels unique across runs, the injected
    parameters cell hidden, and no path of the build machine left in it."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    prefix_labels(notebook, job.slug)
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"] if "remove-cell" not in tags else tags
            cell["id"] = "injected-parameters"  # papermill draws a random id: two runs would differ
    notebook.metadata.setdefault("papermill", {}).update(input_path=job.notebook_display, output_path=job.output_display)
    # Outputs and metadata, not sources: the code stays as written.
    replace = machine_path_replacer(_machine_paths(job.root))
    for node in [notebook.metadata, *(c.metadata for c in notebook.cells), *(c.get("outputs", []) for c in notebook.cells)]:
        _map_strings(node, replace)
    nbformat.write(notebook, path)


_LABEL_LINE = re.compile(r"^(#\|\s*label:\s*)(['\"]?)([\w-]+)\2[ \t]*$", re.MULTILINE)
_OPTION_LINE = re.compile(r"^#\|\s?(.*)$")


def cell_options(source: str) -> dict:
    """A cell's Quarto options: the YAML of its leading `#|` lines ({} when they do not parse)."""
    import yaml

    from conflict_report import yaml_text

    lines = []
    for line in source.splitlines():
        match = _OPTION_LINE.match(line)
        if not match:
            break
        lines.append(match[1])
    try:
        options = yaml_text.load("\n".join(lines)) if lines else {}
    except yaml.YAMLError:
        return {}
    return options if isinstance(options, dict) else {}


def unprefixed_label(label: str, slug: str) -> str:
    """The label as the notebook wrote it: fig-<slug>-deaths -> fig-deaths (see slugged_label)."""
    kind, _, rest = label.partition("-")
    prefix = f"{slug}-"
    if kind in CROSSREF_KINDS and rest.startswith(prefix):
        return f"{kind}-{rest[len(prefix):]}"
    return label[len(prefix):] if label.startswith(prefix) else label


CAPTIONS = {"fig": ("fig-cap", "fig-alt"), "tbl": ("tbl-cap",)}


def labelled_cell_problems(notebook_path: Path) -> list[str]:
    """A researcher's notebook becomes a page from its labelled cells' outputs: each fig- cell
    needs its caption and alt text, each tbl- cell its caption."""
    try:
        cells = json.loads(notebook_path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError) as exc:
        return [f"{paths.display_path(notebook_path)}: cannot be read as a notebook ({exc})"]
    problems = []
    for number, cell in enumerate(cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        options = cell_options("".join(cell.get("source", [])))
        label = str(options.get("label", ""))
        missing = [key for key in CAPTIONS.get(label.partition("-")[0], ()) if not str(options.get(key) or "").strip()]
        if missing:
            problems.append(f"{paths.display_path(notebook_path)}, cell {number} ({label}): no "
                            + " and no ".join(missing) + " (add `#| " + ": ...` and `#| ".join(missing) + ": ...` at the top of the cell)")
    return problems


def slugged_label(label: str, slug: str) -> str:
    """fig-monthly -> fig-<slug>-monthly (Quarto reads the kind from the prefix); setup -> <slug>-setup."""
    kind, _, rest = label.partition("-")
    return f"{kind}-{slug}-{rest}" if kind in CROSSREF_KINDS and rest else f"{slug}-{label}"


def prefix_labels(notebook, slug: str) -> None:
    """Prefix every cell label (`#| label:` lines and a `label` metadata key) with the run's
    slug, and the notebook's own cross-references (@fig-x) with it."""
    renamed: dict[str, str] = {}

    def rename(label: str) -> str:
        renamed[label] = slugged_label(label, slug)
        return renamed[label]

    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = _LABEL_LINE.sub(lambda m: m[1] + m[2] + rename(m[3]) + m[2], cell.source)
        if isinstance(cell.metadata.get("label"), str):
            cell.metadata["label"] = rename(cell.metadata["label"])
    if renamed:
        reference = re.compile(r"@(" + "|".join(map(re.escape, sorted(renamed, key=len, reverse=True))) + r")(?![\w-])")
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                cell.source = reference.sub(lambda m: "@" + renamed[m[1]], cell.source)


def _machine_paths(root: str) -> dict[str, str]:
    """Folders of this machine that may appear in outputs (tracebacks, warnings), and what
    replaces them: the project folder becomes relative, the others a placeholder."""
    import tempfile

    import conflict_report

    places = {
        sys.prefix: "<python-env>", sys.exec_prefix: "<python-env>", sys.base_prefix: "<python>",
        str(Path(conflict_report.__file__).parent.parent): "<package-src>",
        tempfile.gettempdir(): "<tmp>", os.path.expanduser("~"): "~",
        root: ".",
    }
    with_real = {**places, **{os.path.realpath(p): token for p, token in places.items()}}
    return {p: token for p, token in with_real.items() if len(p) > 1}


def machine_path_replacer(places: dict[str, str]):
    """A function replacing each machine folder that starts a path in a text; the longest
    first, so the project inside the temp folder becomes relative. A folder counts only as
    whole path components, after a non-path character or an ANSI colour code (tracebacks)."""
    alternatives = "|".join(map(re.escape, sorted(places, key=len, reverse=True)))
    pattern = re.compile(r"(^|[^\w/.~-]|\x1b\[[\d;]*m)(" + alternatives + r")(?![\w.-])")
    return lambda text: pattern.sub(lambda m: m[1] + places[m[2]], text)


BASE64_OUTPUTS = {"image/png", "image/jpeg", "image/gif", "application/pdf"}  # no path in them, megabytes to scan


def _map_strings(node, replace) -> None:
    items = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
    for key, value in items:
        if key in BASE64_OUTPUTS:
            continue
        if isinstance(value, str):
            node[key] = replace(value)
        elif isinstance(value, (dict, list)):
            _map_strings(value, replace)


# --- running many: a local process pool or a Dask cluster --------------------------------------

def _import_papermill() -> None:
    """Once per pool process, not once per run. jsonschema (through nbformat) imports
    rfc3987_syntax when it is installed (jupyter's packages pull it in) to check "iri" string
    formats, which no notebook schema uses, and that import compiles a grammar: 1.2 of the 1.9 s
    papermill's import took. A None in sys.modules makes the import fail, which jsonschema
    expects of an optional checker."""
    sys.modules.setdefault("rfc3987_syntax", None)
    import papermill  # noqa: F401


def _start_worker(template: tuple[str, int] | None) -> None:
    """A local pool's worker: its kernels are forked from the sweep's template, if there is one."""
    _exit_with_parent()
    if template is not None:
        from conflict_report.runs import forked_kernels

        forked_kernels.use_template(template)
    _import_papermill()


def _exit_with_parent() -> None:
    """A worker whose sweep was killed (SIGKILL, SIGTERM, a closed terminal) exits within a
    second instead of finishing its run first: a pool worker reads its next task only after
    the current one. Its kernel goes with it (a forked kernel's template sees the worker go; a
    fresh kernel watches its parent, the worker)."""
    import threading

    sweep_pid = os.getppid()

    def watch() -> None:
        while os.getppid() == sweep_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-sweep", daemon=True).start()


def _kernel_manager() -> dict:
    """papermill's kernel manager: forked kernels in a local pool's worker (forked_kernels.py),
    jupyter_client's own elsewhere (a Dask worker outlives the sweep; its template would too)."""
    from conflict_report.runs import forked_kernels

    return {"kernel_manager_class": forked_kernels.ForkedKernelManager} if forked_kernels.template_in_use() else {}


def _fork_kernels() -> bool:
    """FRESH_KERNELS=1 starts every kernel fresh, as before the template (to compare, or to rule it out)."""
    text = os.environ.get("FRESH_KERNELS", "").strip()
    if text not in ("", "0", "1"):
        raise PipelineError(f"FRESH_KERNELS={text!r}: expected 1 (every kernel started fresh) or 0 / unset (forked from a template)")
    return text != "1"


def _in_process_pool(jobs: list[Job], workers: int) -> Iterator[tuple[Job, object]]:
    """Why processes and not threads: papermill is not thread-safe. execute_notebook changes the
    working directory of the whole process (os.chdir for cwd=; papermill#473, still open) and
    sets and restores the cwd of its module-global local-file handler around every call, so
    two threads restore each other's. Its maintainer runs papermill in parallel with processes
    (papermill#578). "spawn" starts clean interpreters: the parent holds a thread (tqdm's
    monitor) and maybe pandas, which fork would copy mid-state."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from conflict_report.runs.forked_kernels import KernelTemplate

    context = multiprocessing.get_context("spawn")
    # One template for the sweep, started first (its imports overlap the workers' start) and
    # stopped after the last worker: it never outlives the sweep.
    with KernelTemplate() if _fork_kernels() else contextlib.nullcontext() as template, \
            ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context, initializer=_start_worker,
                                initargs=(template and template.address,)) as pool:
        futures = {pool.submit(execute_run, job): job for job in jobs}
        for future in as_completed(futures):
            yield futures[future], future


def _on_dask(jobs: list[Job], address: str) -> Iterator[tuple[Job, object]]:
    """The same execute_run as a task per run; pure=False because a run has side effects."""
    import uuid

    from distributed import Client, as_completed

    sweep_id = uuid.uuid4().hex[:8]
    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise PipelineError(f"cannot reach the Dask scheduler at DASK_SCHEDULER={address} ({exc})") from None
    with client:
        futures = {client.submit(execute_run, job, key=f"sweep-{sweep_id}-{job.name}", pure=False): job for job in jobs}
        for future in as_completed(futures):
            yield futures[future], future


def _outcome(job: Job, future) -> Outcome:
    """The run's outcome, or a failure when the task itself failed (a worker died): both
    concurrent.futures and Dask futures have exception() and result()."""
    error = future.exception()
    if error is None:
        return future.result()
    return Outcome(job.name, FAILED, 0.0, _first_line(error), "the worker failed before reporting", "")


def _dask_scheduler() -> str:
    return os.environ.get("DASK_SCHEDULER", "").strip()


def _worker_count(workers: int | None) -> int:
    text = str(workers if workers is not None else os.environ.get("WORKERS") or os.cpu_count() or 1)
    if not text.isdigit() or int(text) < 1:
        raise PipelineError(f"WORKERS / --workers = {text!r}: expected a whole number of parallel runs, 1 or more")
    return int(text)


def _execute(runs: list[Run], workers: int) -> Iterator[Outcome]:
    """Execute the runs, yielding outcomes as they finish; .run-key is written on success."""
    if not runs:
        return
    jobs = [Job.of(run) for run in runs]
    address = _dask_scheduler()
    finished = _on_dask(jobs, address) if address else _in_process_pool(jobs, workers)
    by_name = {run.name: run for run in runs}
    for job, future in finished:
        outcome = _outcome(job, future)
        if outcome.status == OK:
            from conflict_report import atomic

            atomic.write_text(by_name[job.name].folder / RUN_KEY_FILE, by_name[job.name].key + "\n")
        yield outcome


# --- the command ---------------------------------------------------------------------------

def main(runs_file: Path | str | None = None, workers: int | None = None, only: list[str] | None = None,
         force: bool = False) -> int:
    """Execute the runs (all, or those named in `only`); 0 when none failed, else 1."""
    all_specs = read_runs_file(runs_file)
    specs = _select(all_specs, only)
    workers = _worker_count(workers)
    runs, rejected = check_runs(specs, code_fingerprint(), processed_data_digest())
    remove_stale_folders({s.name for s in all_specs})
    to_execute = runs if force else [r for r in runs if not r.is_up_to_date()]
    skipped = [Outcome(r.name, SKIPPED, 0.0) for r in runs if r not in to_execute]
    if not to_execute and not rejected:  # nothing to do: one line, not one per run
        print(summary(skipped, order=[s.name for s in specs]) + " (nothing changed)")
        return 0
    try:
        outcomes = _show_progress([*rejected, *skipped], _execute(to_execute, workers), total=len(specs))
    except KeyboardInterrupt:
        print("interrupted: the runs that had not finished keep their previous notebooks and run again next time",
              file=sys.stderr)
        return 130
    print(summary(outcomes, order=[s.name for s in specs]))
    return 1 if any(o.status == FAILED for o in outcomes) else 0


def remove_stale_folders(run_names: set[str]) -> list[str]:
    """Remove the build folders of runs no longer in the runs file (a run folder is one with a
    results.json or a run key), so the report can never pick up a removed run's results."""
    import shutil

    removed = []
    for folder in sorted(paths.BUILD.glob("*/")) if paths.BUILD.is_dir() else []:
        if folder.name not in run_names and ((folder / RESULTS_FILE).exists() or (folder / RUN_KEY_FILE).exists()):
            shutil.rmtree(folder)
            removed.append(folder.name)
    if removed:
        print(f"removed the build folders of runs no longer in the runs file: {', '.join(removed)}")
    return removed


def _select(specs: list[RunSpec], only: list[str] | None) -> list[RunSpec]:
    if not only:
        return specs
    names = {s.name for s in specs}
    unknown = [n for n in only if n not in names]
    if unknown:
        raise RunsFileError(f"no run named {', '.join(map(repr, unknown))} (runs: {', '.join(s.name for s in specs)})")
    return [s for s in specs if s.name in only]


def _show_progress(known: list[Outcome], executing: Iterable[Outcome], total: int) -> list[Outcome]:
    """One line per run as it finishes (stdout), under an overall count (stderr)."""
    from tqdm import tqdm

    on_dask = bool(_dask_scheduler())
    outcomes = []
    with tqdm(total=total, unit="run", desc="notebooks", file=sys.stderr, dynamic_ncols=True) as bar:
        for outcome in itertools.chain(known, executing):
            if outcome.status != SKIPPED:  # the summary counts the skipped ones
                bar.write(outcome.line(show_where=on_dask), file=sys.stdout)
            bar.update()
            outcomes.append(outcome)
    return outcomes


def summary(outcomes: list[Outcome], order: list[str]) -> str:
    counts = Counter(o.status for o in outcomes)
    lines = [f"{len(outcomes)} runs: {counts[OK]} ok, {counts[SKIPPED]} skipped, {counts[FAILED]} failed"]
    for outcome in sorted((o for o in outcomes if o.status == FAILED), key=lambda o: order.index(o.name)):
        lines += [f"FAILED {outcome.name}: {outcome.error}", f"    {outcome.location}"]
    return "\n".join(lines)
