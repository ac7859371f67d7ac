"""Shared test set-up. Tests read the real data from ../shared/data (SHARED_DATA overrides),
never a copy committed here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SHARED_DATA", REPO.parent / "shared" / "data")).resolve()
UCDP_GED_FILE = SHARED_DATA / "ucdp_ged_syria_2016_2019" / "ged_syria_20160101_20191130.csv.gz"
COUNTRY_YEAR_FILE = SHARED_DATA / "ucdp_organized_violence_cy_v25_1" / "organizedviolencecy_v25_1.csv.gz"
ADMIN1_FILE = SHARED_DATA / "boundaries_syria" / "syr_admin1_ocha.geojson"
ADMIN2_FILE = SHARED_DATA / "boundaries_syria" / "syr_admin2_ocha.geojson"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

DATA_ENV = {
    "UCDP_GED": str(UCDP_GED_FILE),
    "UCDP_COUNTRY_YEAR": str(COUNTRY_YEAR_FILE),
    "BOUNDARIES_ADMIN1": str(ADMIN1_FILE),
    "BOUNDARIES_ADMIN2": str(ADMIN2_FILE),
    # The documented credit of the shared Syria boundaries (OCHA's COD-AB).
    "BOUNDARIES_CREDIT": "UN OCHA / UN Cartographic Section (UNCS), Syrian Arab Republic COD-AB via HDX, CC BY 3.0 IGO",
}


QUARTO_MISSING = ("Quarto is not installed (none on PATH, QUARTO unset): the real render is tested where it is "
                  "(CI installs it from ../shared/tools/quarto)")


def find_quarto() -> str | None:
    """The Quarto `make report` would use: QUARTO, else one on PATH."""
    return os.environ.get("QUARTO") or shutil.which("quarto")


def pytest_configure(config):
    if not UCDP_GED_FILE.exists():
        raise pytest.UsageError(f"The shared UCDP file is missing at {UCDP_GED_FILE}; set SHARED_DATA to the folder holding it.")


@pytest.fixture(scope="session")
def data_env() -> dict[str, str]:
    return dict(DATA_ENV)


def run_cli(args: list[str], root: Path | None = None, env: dict | None = None, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run `python -m conflict_report ...` in a subprocess, optionally against a scratch project."""
    full_env = {**os.environ, **DATA_ENV, **(env or {})}
    if root is not None:
        full_env["CONFLICT_REPORT_ROOT"] = str(root)
    result = subprocess.run([sys.executable, "-m", "conflict_report", *args], env=full_env, cwd=root or REPO,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"conflict_report {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def make_scratch_project(target: Path) -> Path:
    """A copy of the project's committed inputs (no data/processed, no build/), so a test can
    build, break and rebuild without touching the repository's own outputs."""
    for folder in ("data/reference", "data/curated", "notebooks", "report"):
        source = REPO / folder
        if source.exists():
            shutil.copytree(source, target / folder, ignore=shutil.ignore_patterns("_output", ".quarto", "_generated", "build", "_variables.yml"))
    shutil.copy(REPO / "pyproject.toml", target / "pyproject.toml")
    return target


@pytest.fixture
def scratch_project(tmp_path) -> Path:
    return make_scratch_project(tmp_path / "project")


@pytest.fixture(scope="session")
def built_data(tmp_path_factory) -> Path:
    """data/processed built once per session from the real shared files, in a scratch project."""
    root = make_scratch_project(tmp_path_factory.mktemp("built") / "project")
    run_cli(["data"], root=root)
    return root


@pytest.fixture(scope="session")
def swept_project(built_data) -> Path:
    """The full sweep of report/runs.yml (what `make notebooks` runs) over the real data, once
    per session: about two minutes on two cores."""
    run_cli(["notebooks"], root=built_data, timeout=1800)
    return built_data


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` (a scratch clone or copy) with a fixed identity; returns its stdout."""
    done = subprocess.run(["git", "-c", "user.name=conflict-report tests", "-c", "user.email=tests@invalid", *args],
                          cwd=root, capture_output=True, text=True, check=True)
    return done.stdout


def copy_project(source: Path, target: Path) -> Path:
    """A copy of a built project (data, build/, report sources and output) that a test may change."""
    shutil.copytree(source, target, symlinks=True)
    return target


@pytest.fixture(scope="session")
def rendered_project(swept_project, tmp_path_factory) -> Path:
    """The real `make report` (sources, Quarto render, the render's own checks before it replaces
    report/_output) run ONCE per session over the full sweep, in its own git repository: a copy
    of the swept project with the repository's .gitignore, committed, so `git status` after the
    render shows what the render left behind. Tests that only read the render share it; a test
    that changes it works on `copy_project(rendered_project, tmp_path / ...)`.

    Skips with the true reason where no Quarto is installed."""
    quarto = find_quarto()
    if quarto is None:
        pytest.skip(QUARTO_MISSING)
    root = tmp_path_factory.mktemp("rendered") / "project"
    shutil.copytree(swept_project, root, symlinks=True, ignore=shutil.ignore_patterns("_output*", ".quarto"))
    shutil.copy(REPO / ".gitignore", root / ".gitignore")
    git(root, "init", "--quiet")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "-m", "scratch copy of the project")
    done = run_cli(["report"], root=root, env={"QUARTO": quarto}, timeout=1800)
    render_log(root).write_text(done.stdout + done.stderr, encoding="utf-8")
    return root


def render_log(root: Path) -> Path:
    """What `make report` printed when `rendered_project` was made (kept beside the project, not in it)."""
    return root.parent / "make-report.log"


@pytest.fixture(scope="session")
def rendered_report(rendered_project) -> Path:
    """report/_output of the session's one real render (`rendered_project`)."""
    return rendered_project / "report" / "_output"
