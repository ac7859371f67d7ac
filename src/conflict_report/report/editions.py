"""Editions: a build saved on purpose as a published edition, so the next build can say what
changed since (see report/changes.py).

An edition is a folder EDITIONS_DIR/<name>/ (default: editions/ in the project, ignored by
git; set EDITIONS_DIR to keep a team's editions on shared storage):

    edition.json      name, saved time, commit, hash of runs.yml, the package's code
                      fingerprint, each run's notebook hash, parameters and ledger file, and
                      the sha256 of every file below (checked on import)
    manifest.json     the inputs (version, sha256) as data/processed/manifest.json had them
    events.parquet    the validated event table
    rejected.csv      the quarantined rows (to tell newly quarantined rows from removed events)
    results/<run>.json  every run's results ledger, by run name

A save writes into a temporary folder inside EDITIONS_DIR and renames it into place, so an
interrupted save leaves no half edition and never touches the earlier ones. A name is never
reused: builds in between cannot replace a saved edition."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from conflict_report import atomic, paths
from conflict_report.report.stamp import editions_dir  # noqa: F401 (also used as editions.editions_dir)
from conflict_report.errors import PipelineError

EDITION_FILE = "edition.json"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
REQUIRED_FILES = ("manifest.json", "events.parquet", "rejected.csv")
FORMAT = 1


class EditionError(PipelineError):
    pass


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def runs_file_sha256() -> str:
    from conflict_report.runs import sweep

    return sha256_file(sweep.RUNS_FILE)


def check_name(name: str) -> str:
    if not NAME.fullmatch(name or ""):
        raise EditionError(f"edition name {name!r}: use letters, digits, '.', '_' and '-' (up to 80, not starting with a "
                           "dot or hyphen), e.g. 2026-12 or v1.2")
    return name


@dataclass(frozen=True)
class Edition:
    folder: Path
    info: dict

    @property
    def name(self) -> str:
        return self.info["name"]

    @property
    def saved_at(self) -> str:
        return self.info["saved_at"]

    def results(self) -> dict[str, dict]:
        """Run name -> its results ledger (results.json as the run wrote it)."""
        return {name: json.loads((self.folder / run["results"]).read_text(encoding="utf-8")) for name, run in self.info["runs"].items()}


def _read_edition(folder: Path) -> Edition:
    where = paths.display_path(folder / EDITION_FILE)
    try:
        info = json.loads((folder / EDITION_FILE).read_text(encoding="utf-8"))
    except OSError as exc:
        raise EditionError(f"{where}: cannot read it ({exc.strerror}); is {paths.display_path(folder)} an edition?") from None
    except ValueError as exc:
        raise EditionError(f"{where}: not valid JSON ({exc})") from None
    missing = [k for k in ("name", "saved_at", "commit", "runs_sha256", "code_fingerprint", "runs", "files") if k not in info]
    if missing:
        raise EditionError(f"{where}: missing {', '.join(missing)}; it was not written by `edition save`")
    return Edition(folder, info)


def list_editions() -> list[Edition]:
    """Saved editions, oldest first by saved time (temporary folders of a save are skipped)."""
    folder = editions_dir()
    if not folder.is_dir():
        return []
    found = [_read_edition(p) for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / EDITION_FILE).exists()]
    return sorted(found, key=lambda e: (e.saved_at, e.name))


def get(name: str) -> Edition:
    folder = editions_dir() / check_name(name)
    if not (folder / EDITION_FILE).exists():
        known = ", ".join(e.name for e in list_editions()) or "none saved yet"
        raise EditionError(f"no edition named {name!r} in {folder.parent} (editions: {known})")
    return _read_edition(folder)


def last() -> Edition | None:
    editions = list_editions()
    return editions[-1] if editions else None


def current_runs() -> list:
    """The runs file's runs, every one up to date (an edition never records stale results)."""
    from conflict_report.runs import sweep

    runs = sweep.planned_runs()
    stale = [f"{run.name} ({paths.display_path(run.folder)})" for run in runs if not run.is_up_to_date()]
    if stale:
        raise EditionError("these runs have no up-to-date results: " + ", ".join(stale) + ". Run `make notebooks` first.")
    return runs


def save(name: str, commit: str) -> Edition:
    """Record the current build as edition `name` (after `make notebooks`; Quarto not needed).
    `commit`: the project's commit as report.stamp.git_commit() gives it (passed in, as the
    command line has it already)."""
    from conflict_report.data.build import code_fingerprint

    check_name(name)
    target_dir = editions_dir()
    if (target_dir / name).exists():
        raise EditionError(f"an edition named {name!r} already exists in {target_dir}; saved editions are never replaced, choose another name")
    runs = current_runs()
    for path in (paths.MANIFEST, paths.EVENTS, paths.REJECTED):
        if not path.exists():
            raise EditionError(f"{paths.display_path(path)} is missing; build the data first: python -m conflict_report data")
    target_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=target_dir))
    try:
        for path in (paths.MANIFEST, paths.EVENTS, paths.REJECTED):
            shutil.copyfile(path, scratch / path.name)
        (scratch / "results").mkdir()
        recorded_runs = {}
        for run in runs:
            results_file = f"results/{run.name}.json"
            shutil.copyfile(run.folder / "results.json", scratch / results_file)
            recorded_runs[run.name] = {
                "notebook": run.spec.notebook,
                "notebook_sha256": sha256_file(run.spec.notebook_path),
                "parameters": run.parameters,
                "results": results_file,
            }
        files = {p.relative_to(scratch).as_posix(): sha256_file(p) for p in sorted(scratch.rglob("*")) if p.is_file()}
        info = {
            "format": FORMAT,
            "name": name,
            "saved_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"),
            "commit": commit,
            "runs_sha256": runs_file_sha256(),
            "code_fingerprint": code_fingerprint(),
            "runs": recorded_runs,
            "files": files,
        }
        atomic.write_json(scratch / EDITION_FILE, info)
        os.chmod(scratch, 0o755)  # mkdtemp makes 0700; an edition on shared storage is for the team to read
        if (target_dir / name).exists():  # saved by someone else meanwhile
            raise EditionError(f"an edition named {name!r} was saved in {target_dir} meanwhile; choose another name")
        os.rename(scratch, target_dir / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return get(name)


# --- one archive per edition ---------------------------------------------------------------------

def export(name: str, output: Path | None = None) -> Path:
    edition = get(name)
    target = Path(output) if output else Path.cwd() / f"edition-{name}.tar.gz"
    with atomic.atomic_path(target) as tmp:
        with tarfile.open(tmp, "w:gz") as archive:
            archive.add(edition.folder, arcname=name, recursive=True)
    return target


def _archive_problems(members: list[tarfile.TarInfo]) -> tuple[str | None, list[str]]:
    """The archive's one top folder, and whatever makes it unsafe or not an edition."""
    problems, tops = [], set()
    for member in members:
        parts = Path(member.name).parts
        if member.name.startswith("/") or ".." in parts:
            problems.append(f"{member.name}: a path outside the edition")
        if not (member.isfile() or member.isdir()):
            problems.append(f"{member.name}: not a plain file or folder (links and devices are refused)")
        if parts:
            tops.add(parts[0])
    if len(tops) != 1:
        problems.append(f"expected one top folder named after the edition, found {', '.join(sorted(tops)) or 'none'}")
        return None, problems
    return tops.pop(), problems


def import_archive(file: Path) -> Edition:
    """Read an archive written by `edition export` into EDITIONS_DIR, checking every file."""
    file = Path(file)
    where = paths.display_path(file)
    try:
        archive = tarfile.open(file, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise EditionError(f"{where}: not a readable archive ({exc}); pass a file written by `edition export`") from None
    with archive:
        name, problems = _archive_problems(archive.getmembers())
        if problems:
            raise EditionError(f"{where}: not an edition archive:\n  " + "\n  ".join(problems))
        check_name(name)
        target_dir = editions_dir()
        if (target_dir / name).exists():
            raise EditionError(f"{where}: an edition named {name!r} already exists in {target_dir}; it is not replaced "
                               "(export it first, or remove it yourself if it is truly unwanted)")
        target_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=target_dir))
        try:
            archive.extractall(scratch, filter="data")
            folder = scratch / name
            edition = _read_edition(folder)
            problems = _content_problems(edition, name)
            if problems:
                raise EditionError(f"{where}: the edition's contents do not match its edition.json:\n  " + "\n  ".join(problems))
            os.chmod(folder, 0o755)
            if (target_dir / name).exists():
                raise EditionError(f"{where}: an edition named {name!r} was saved in {target_dir} meanwhile; it is not replaced")
            os.rename(folder, target_dir / name)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return get(name)


def _content_problems(edition: Edition, folder_name: str) -> list[str]:
    info = edition.info
    problems = []
    if info["name"] != folder_name:
        problems.append(f"edition.json names {info['name']!r} but the folder is {folder_name!r}")
    listed = dict(info["files"])
    present = {p.relative_to(edition.folder).as_posix() for p in edition.folder.rglob("*") if p.is_file()} - {EDITION_FILE}
    for missing in sorted(set(listed) - present):
        problems.append(f"{missing}: listed in edition.json but missing")
    for extra in sorted(present - set(listed)):
        problems.append(f"{extra}: not listed in edition.json")
    for relative in sorted(set(listed) & present):
        if sha256_file(edition.folder / relative) != listed[relative]:
            problems.append(f"{relative}: its sha256 differs from edition.json (damaged or edited)")
    for required in REQUIRED_FILES:
        if required not in listed:
            problems.append(f"{required}: missing, every edition has one")
    for run_name, run in info["runs"].items():
        if run.get("results") not in listed:
            problems.append(f"run {run_name}: its results file {run.get('results')!r} is missing")
    return problems
