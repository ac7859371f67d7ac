"""Timing a command: wall time and peak memory of its whole process tree, and medians.

Peak memory is the largest sum of the resident set sizes of the command and all its
descendants, sampled every POLL_SECONDS (a kernel or a pool worker counts with its parent;
/usr/bin/time -v would report only the largest single process)."""

from __future__ import annotations

import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / "work"
PYTHON = sys.executable
POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_rss_bytes: int
    stdout: str
    load_before: float  # the machine's 1-minute load average as the command started (shared machine: >> 0 means disturbed)
    cpu_seconds: float = 0.0  # user + system CPU time of the command and its descendants: what a busy machine does not inflate


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            pass  # ended between listing and reading
    return total


def timed(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Measurement:
    """Run the command to its end; raise with its output when it fails."""
    load = os.getloadavg()[0]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    process = psutil.Popen(command, env={**os.environ, **(env or {})}, cwd=cwd,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    with process:
        reader = _drain(process)
        while process.poll() is None:
            try:
                peak = max(peak, _tree_rss(process))
            except psutil.NoSuchProcess:
                break
            time.sleep(POLL_SECONDS)
        process.wait()
        seconds = time.perf_counter() - started
        output = reader()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{output[-4000:]}")
    return Measurement(seconds, peak, output, load, _children_cpu() - cpu_before)


def _children_cpu() -> float:
    """CPU seconds of every descendant this process has waited for (each waited for its own)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _drain(process: subprocess.Popen):
    """Read the output in a thread so that a full pipe never blocks the command."""
    import threading

    chunks: list[str] = []
    thread = threading.Thread(target=lambda: chunks.append(process.stdout.read()), daemon=True)
    thread.start()

    def collected() -> str:
        thread.join()
        return "".join(chunks)

    return collected


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, object]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1), "cpu_model": model,
            "python": platform.python_version(), "system": platform.platform()}


def _test_setup():
    """tests/conftest.py, the one definition of a scratch project and the shared data files
    (loaded by path: tests/ is not a package)."""
    spec = importlib.util.spec_from_file_location("conftest_for_benchmarks", REPO / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TEST_SETUP = _test_setup()
DATA_ENV: dict[str, str] = TEST_SETUP.DATA_ENV
UCDP_GED_FILE: Path = TEST_SETUP.UCDP_GED_FILE
ADMIN1_FILE: Path = TEST_SETUP.ADMIN1_FILE


def tree_of(commit: str, only_src: bool = False) -> Path:
    """A commit's files, exported once into benchmarks/work/tree-<commit>/ (only its src/:
    code-<commit>/)."""
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{commit}^{{commit}}"], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout.strip()
    target = WORK / f"{'code' if only_src else 'tree'}-{sha[:12]}"
    folders = ["src"] if only_src else []
    if not target.exists():
        partial = target.with_name(target.name + ".partial")
        subprocess.run(["rm", "-rf", str(partial)], check=True)
        partial.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", sha, *folders], cwd=REPO, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(partial)], input=archive, check=True)
        partial.rename(target)
    return target


def scratch_project(name: str) -> Path:
    """A fresh copy of the project's committed inputs under benchmarks/work/projects/."""
    import shutil

    target = WORK / "projects" / name
    shutil.rmtree(target, ignore_errors=True)
    return TEST_SETUP.make_scratch_project(target)


def pipeline(root: Path, *args: str, ucdp_ged: Path | None = None, env: dict[str, str] | None = None) -> Measurement:
    """`python -m conflict_report <args>` against a scratch project (with `env` added)."""
    env = {**DATA_ENV, **(env or {}), "CONFLICT_REPORT_ROOT": str(root)}
    if ucdp_ged is not None:
        env["UCDP_GED"] = str(ucdp_ged)
    return timed([PYTHON, "-m", "conflict_report", *args], env=env, cwd=root)
