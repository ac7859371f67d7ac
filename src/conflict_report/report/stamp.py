"""The report step's no-op check: has anything it reads changed since it last succeeded?

Decided before pandas, PyYAML or Quarto are imported, so a `make report` with nothing to do
takes a fraction of a second. The stamp is a hash of the size, modification time, change
time and inode of every file the step reads (its sources in report/, the runs' outputs in
build/, the processed data, the saved editions and the package's own code), the commit the
report prints, and the Quarto it would call. A file rewritten in any way changes its change
time (which no tool can set back), so any edit makes the step do its real work: write the
sources, hash what each page reads, and render what changed (report/render_plan.py). A
change of time alone costs that slower check, never a wrong report.

Two stamps: one beside the rendered site (report/_output/.inputs-stamp, swapped in with it,
so it always describes the site it sits in), one for `report --no-render`
(build/.report-sources-stamp)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from conflict_report import paths

RENDERED_STAMP_NAME = ".inputs-stamp"
SOURCES_STAMP = paths.BUILD / ".report-sources-stamp"
# Written by the render itself, or by Quarto during it (its own cache, the .gitignore it
# keeps up to date), or the stamps and the render's log: none of them is read by the step.
NOT_INPUTS = {paths.REPORT_OUTPUT.name, "_output.new", "_output.old", ".quarto", "__pycache__"}
NOT_INPUT_FILES = {str(path) for path in (paths.REPORT / ".gitignore", SOURCES_STAMP, paths.BUILD / "quarto-render.log")}


def _tree(folder: str, digest: hashlib._Hash) -> None:
    """Every file under ``folder`` (by path and stat), folders in NOT_INPUTS left out. Plain
    strings and os.scandir: about 2,000 files, where pathlib would double the step's time."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in NOT_INPUTS:
                _tree(entry.path, digest)
        elif entry.path not in NOT_INPUT_FILES:
            _file(entry.path, digest)


def _file(path: str, digest: hashlib._Hash) -> None:
    try:
        info = os.stat(path)
    except OSError:
        digest.update(f"{path}\0missing\n".encode())
        return
    digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0{info.st_ctime_ns}\0{info.st_ino}\n".encode())


def git_commit() -> str:
    """The commit the report prints (with "-modified" when tracked files differ from it)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=paths.ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=paths.ROOT, capture_output=True, text=True).stdout.strip()
        return commit + ("-modified" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def find_quarto() -> str | None:
    return os.environ.get("QUARTO") or shutil.which("quarto")


def editions_dir() -> Path:
    """Where saved editions are kept: EDITIONS_DIR, else editions/ in the project (defined
    here, not in report/editions.py, so that the no-op check imports no archive tooling)."""
    return Path(os.environ["EDITIONS_DIR"]).resolve() if os.environ.get("EDITIONS_DIR") else paths.ROOT / "editions"


def fingerprint(quarto: str | None) -> str:
    """The stamp of the step's inputs as they are now, for the render with ``quarto`` (None:
    the sources alone, `report --no-render`)."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent.parent  # src/conflict_report: the code that writes the sources
    # The changes page compares the build with the last saved edition.
    for folder in (paths.REPORT, paths.BUILD, paths.PROCESSED, paths.REFERENCE, editions_dir(), package):
        digest.update(f"[{folder}]\n".encode())
        _tree(str(folder), digest)
    digest.update(f"commit {git_commit()}\n".encode())
    digest.update(f"quarto {quarto}\n".encode())
    if quarto:
        _file(os.path.realpath(quarto), digest)
    return digest.hexdigest()


def rendered_stamp(output: Path = paths.REPORT_OUTPUT) -> Path:
    return output / RENDERED_STAMP_NAME


def _stored(stamp: Path) -> str | None:
    try:
        return json.loads(stamp.read_text(encoding="utf-8"))["inputs"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def nothing_changed(render: bool) -> bool:
    """True when the step last succeeded on exactly these inputs (and, for a render, the site
    it made is still there)."""
    if render:
        quarto = find_quarto()
        if quarto is None or not all((paths.REPORT_OUTPUT / name).exists() for name in ("index.html", "report.pdf")):
            return False
        stored = _stored(rendered_stamp())
        return stored is not None and stored == fingerprint(quarto)
    stored = _stored(SOURCES_STAMP)
    return stored is not None and stored == fingerprint(None)


def write(stamp: Path, inputs: str) -> None:
    from conflict_report import atomic

    atomic.write_text(stamp, json.dumps({"inputs": inputs}) + "\n")
