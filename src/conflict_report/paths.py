"""Where things live. Every path is derived from the project root, never from the working
directory, so a notebook opened anywhere in JupyterLab finds the same data as the sweep."""

from __future__ import annotations

import os
from pathlib import Path


def _find_root() -> Path:
    # An explicit root wins (used by tests that build in a scratch copy).
    if os.environ.get("CONFLICT_REPORT_ROOT"):
        return Path(os.environ["CONFLICT_REPORT_ROOT"]).resolve()
    # The package is installed editable from src/: the repository is two levels up.
    here = Path(__file__).resolve().parent
    for candidate in (here.parent.parent, *Path.cwd().resolve().parents, Path.cwd().resolve()):
        if (candidate / "pyproject.toml").exists() and (candidate / "report").is_dir():
            return candidate
    raise RuntimeError(
        "Cannot find the project folder (one with pyproject.toml and report/). "
        "Install the package with `pip install -e .` from the repository, or set CONFLICT_REPORT_ROOT."
    )


ROOT = _find_root()
DATA = ROOT / "data"
RAW = DATA / "raw"
PROCESSED = DATA / "processed"
REFERENCE = DATA / "reference"
CURATED = DATA / "curated"
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
REPORT = ROOT / "report"
REPORT_OUTPUT = REPORT / "_output"

EVENTS = PROCESSED / "events.parquet"
REJECTED = PROCESSED / "rejected.csv"
MANIFEST = PROCESSED / "manifest.json"
# Set by the sweep to build/<run>/ for each of its runs (run.py reads it; a run by hand has none).
RUN_DIR_VARIABLE = "CONFLICT_REPORT_RUN_DIR"


def display_path(path: str | os.PathLike) -> str:
    """A path fit for published outputs: relative to the project when inside it, otherwise
    the bare file name, so no build machine's absolute path leaks into a report."""
    text = str(path)
    if "://" in text:
        return text
    p = Path(text)
    try:
        return p.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return p.name
