"""Write outputs so that a failed or killed run leaves the previous good file in place:
write beside the target, fsync, then rename (atomic on POSIX)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    import pandas as pd


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it over the target on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o644)  # mkstemp makes 0600; outputs are for everyone to read
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def remove_leftovers(folder: Path) -> None:
    """Remove the temporary files (named by atomic_path) and folders (sorted_parquet's spill)
    of a run that was killed before it could rename or remove them. Only for folders one run
    writes at a time."""
    for leftover in folder.glob(".*.tmp"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def write_text(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_json(target: Path, data: object) -> None:
    """Sorted keys and a trailing newline: two runs over the same data give the same bytes."""
    write_text(target, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise_formula(value: object) -> object:
    """Spreadsheets execute a cell that starts with = + - @ (or tab/CR) as a formula
    (CSV injection). Prefix such text with a quote; plain numbers such as -5 stay as they are."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.match(value):
        return "'" + value
    return value


def write_csv(target: Path, frame: pd.DataFrame) -> None:
    """CSV for people to open in a spreadsheet: formula-looking text neutralised, LF endings."""
    from pandas.api.types import is_string_dtype  # here, not above: deciding to do nothing needs no pandas

    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise_formula)
    with atomic_path(target) as tmp:
        safe.to_csv(tmp, index=False, lineterminator="\n")


def write_parquet(target: Path, frame: pd.DataFrame) -> None:
    with atomic_path(target) as tmp:
        frame.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd")
