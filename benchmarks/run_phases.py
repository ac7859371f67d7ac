"""Where a run's time goes (benchmarks/RESULTS.md, section 4).

    python benchmarks/run_phases.py notebooks BUILD      # shares of the runs' time, from the executed
                                                         # notebooks' papermill timings in BUILD/<run>/
    python benchmarks/run_phases.py figures [GOVERNORATE]  # one region_profile run's code outside
                                                         # papermill, with the time of each part of figures.save

Run `figures` with CONFLICT_REPORT_ROOT at a project with data/processed built, and with
PYTHONPATH at another commit's src to measure that commit's code. Outside IPython no notebook
copy of a figure is drawn, so `figures` leaves that part out."""

from __future__ import annotations

import collections
import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def notebook_phases(build: Path) -> str:
    phases = collections.Counter()
    total = 0.0
    notebooks = sorted(build.glob("*/*.ipynb"))
    for path in notebooks:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        timing = notebook["metadata"]["papermill"]
        started, ended = datetime.fromisoformat(timing["start_time"]), datetime.fromisoformat(timing["end_time"])
        cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        sources = ["".join(c["source"]) for c in cells]
        kernel = (datetime.fromisoformat(cells[0]["metadata"]["papermill"]["start_time"]) - started).total_seconds()
        setup = next(c for c, s in zip(cells, sources) if "run_.start(" in s)["metadata"]["papermill"]["duration"]
        figures = sum(c["metadata"]["papermill"]["duration"] for c, s in zip(cells, sources) if "label: fig-" in s)
        whole = (ended - started).total_seconds()
        phases["kernel start (papermill's start to the first cell)"] += kernel
        phases["first cell: imports, read the table, check parameters, select"] += setup
        phases["figure cells: analysis, plotting, figure files"] += figures
        phases["the other cells and papermill's own work between cells"] += whole - kernel - setup - figures
        total += whole
    lines = [f"{len(notebooks)} runs, {total:.1f} s in all (papermill's start to end of each notebook)", "",
             "| phase | s | share |", "|---|---:|---:|"]
    lines += [f"| {phase} | {seconds:.1f} | {seconds / total:.0%} |" for phase, seconds in phases.items()]
    return "\n".join(lines)


def figure_parts(governorate: str) -> str:
    import matplotlib.figure

    from conflict_report.analysis import figures

    os.environ["CONFLICT_REPORT_RUN_DIR"] = tempfile.mkdtemp(prefix="run-phases-")
    spent = collections.Counter()

    def timed(label, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label(kwargs) if callable(label) else label] += time.perf_counter() - started
        return wrapper

    matplotlib.figure.Figure.savefig = timed(lambda k: f"savefig {k.get('format')} {k.get('dpi', '')}".strip(), matplotlib.figure.Figure.savefig)
    matplotlib.figure.Figure.tight_layout = timed("tight_layout", matplotlib.figure.Figure.tight_layout)
    figures.fit_inside = timed("fit_inside (its checks)", figures.fit_inside)
    figures.text_outside_canvas = timed("text_outside_canvas", figures.text_outside_canvas)
    figures.save = timed("figures.save, all of it", figures.save)
    source = (REPO / "notebooks" / "region_profile.py").read_text(encoding="utf-8")
    source = source.replace('governorate = ""  #', f'governorate = {governorate!r}  #')
    started = time.perf_counter()
    exec(compile(source, "region_profile.py", "exec"), {})
    lines = [f"region_profile ({governorate}), its code outside papermill: {time.perf_counter() - started:.2f} s", "",
             "| part | s |", "|---|---:|"]
    lines += [f"| {part} | {seconds:.2f} |" for part, seconds in spent.most_common()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] == ["notebooks"] and len(argv) == 2:
        print(notebook_phases(Path(argv[1])))
    elif argv[:1] == ["figures"]:
        print(figure_parts(argv[1] if len(argv) > 1 else "Aleppo"))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
