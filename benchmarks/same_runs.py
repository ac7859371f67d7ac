"""Do two sweeps give the same outputs? Compares two build/ folders run by run: results.json,
every table and figure byte for byte, and the executed notebooks' cell sources and outputs
(papermill's timings and the kernel's execution metadata aside).

    python benchmarks/same_runs.py BUILD_A BUILD_B      # exit 1 and a list when anything differs"""

from __future__ import annotations

import json
import sys
from pathlib import Path

NOT_COMPARED = {".run-key"}  # holds the code fingerprint, which differs by design


def run_files(build: Path) -> dict[str, Path]:
    return {str(p.relative_to(build)): p for p in sorted(build.glob("*/**/*"))
            if p.is_file() and p.name not in NOT_COMPARED and p.suffix != ".ipynb"}


def notebook_content(path: Path) -> list[tuple[str, str, str]]:
    """Each cell's type, source and outputs (as JSON): what a reader of the notebook sees."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(c["cell_type"], "".join(c["source"]), json.dumps(c.get("outputs", []), sort_keys=True)) for c in cells]


def differences(build_a: Path, build_b: Path) -> list[str]:
    a, b = run_files(build_a), run_files(build_b)
    problems = [f"only in {build_a}: {name}" for name in sorted(a.keys() - b.keys())]
    problems += [f"only in {build_b}: {name}" for name in sorted(b.keys() - a.keys())]
    problems += [f"differs: {name}" for name in sorted(a.keys() & b.keys()) if a[name].read_bytes() != b[name].read_bytes()]
    notebooks_a = {str(p.relative_to(build_a)): p for p in build_a.glob("*/*.ipynb")}
    notebooks_b = {str(p.relative_to(build_b)): p for p in build_b.glob("*/*.ipynb")}
    problems += [f"notebook only in one: {name}" for name in sorted(notebooks_a.keys() ^ notebooks_b.keys())]
    for name in sorted(notebooks_a.keys() & notebooks_b.keys()):
        cells_a, cells_b = notebook_content(notebooks_a[name]), notebook_content(notebooks_b[name])
        if len(cells_a) != len(cells_b):
            problems.append(f"notebook {name}: {len(cells_a)} cells against {len(cells_b)}")
        problems += [f"notebook {name}: cell {i} differs" for i, (x, y) in enumerate(zip(cells_a, cells_b), start=1) if x != y]
    return problems


def main(argv: list[str]) -> int:
    build_a, build_b = map(Path, argv)
    problems = differences(build_a, build_b)
    compared = len(run_files(build_a))
    print("\n".join(problems) if problems else f"same: {compared} files (results.json, tables, figures) and every notebook's cells")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
