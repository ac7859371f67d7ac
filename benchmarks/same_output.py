"""Check that two builds of data/processed/ hold the same data (before and after a change to
the data layer): the events (every column and dtype, compared after sorting by event_id, as
well as in the order stored), rejected.csv byte for byte, and the manifest's row counts.

    python benchmarks/same_output.py OLD_PROCESSED_DIR NEW_PROCESSED_DIR"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

COUNTS = ("name", "source", "file_name", "dataset_version", "sha256", "rows_read", "rows_kept", "rows_rejected", "rows_flagged")


def events_differences(old: Path, new: Path) -> list[str]:
    before, after = pd.read_parquet(old / "events.parquet"), pd.read_parquet(new / "events.parquet")
    if len(before) != len(after):
        return [f"events: {len(before):,} rows before, {len(after):,} after"]
    problems = []
    if not before.dtypes.equals(after.dtypes):
        problems.append(f"events: dtypes differ\n{pd.concat([before.dtypes, after.dtypes], axis=1)}")
    by_id = [frame.sort_values("event_id").reset_index(drop=True) for frame in (before, after)]
    for column in before.columns:
        if not by_id[0][column].equals(by_id[1][column]):
            problems.append(f"events: column {column} differs")
    if not problems and not before.equals(after):
        problems.append("events: same rows, in a different order")
    return problems


def manifest_counts(folder: Path) -> list[dict]:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return [{k: item.get(k) for k in COUNTS} for item in manifest["inputs"]]


def differences(old: Path, new: Path) -> list[str]:
    problems = events_differences(old, new)
    if (old / "rejected.csv").read_bytes() != (new / "rejected.csv").read_bytes():
        problems.append("rejected.csv differs")
    if manifest_counts(old) != manifest_counts(new):
        problems.append(f"manifest inputs differ:\n{manifest_counts(old)}\n{manifest_counts(new)}")
    return problems


def main(argv: list[str]) -> int:
    old, new = (Path(a) for a in argv)
    problems = differences(old, new)
    print("\n".join(problems) if problems else f"same data: {old} and {new}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
