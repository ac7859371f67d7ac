"""The sweep (`make notebooks`) against its two yardsticks, and the rebuilds.

Sweep efficiency = (sum of each run's solo time / workers) / the sweep's wall time, where a
run's solo time is the execution time the sweep itself reports for it when it runs alone
(kernel start to tidied notebook), and the sweep's wall time is the whole command's (Python
start, pool start, every run). The CLI loop is what researchers do by hand: one `papermill`
command per run, one after another, each a fresh Python and a fresh kernel."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path

import measure
from measure import median

SUMMARY = re.compile(r"(\d+) runs: (\d+) ok, (\d+) skipped, (\d+) failed")


def read_runs(root: Path):
    from conflict_report.runs.sweep import read_runs_file

    return read_runs_file(root / "report" / "runs.yml")


def papermill_command(spec, output_folder: str) -> str:
    """One run as a researcher types it: -p for each value, -y for a list."""
    words = ["papermill", f"notebooks/{spec.notebook}.ipynb", f"{output_folder}/{spec.name}.ipynb"]
    for name, value in spec.parameters.items():
        words += ["-y", json.dumps({name: value})] if isinstance(value, list) else ["-p", name, str(value)]
    return shlex.join(words)


def cli_loop_script(root: Path, specs) -> Path:
    script = root / "cli-loop.sh"
    commands = [papermill_command(spec, "cli-loop") for spec in specs]
    script.write_text("set -e\nmkdir -p cli-loop\n" + "\n".join(commands) + "\n", encoding="utf-8")
    return script


def executed(measurement: measure.Measurement) -> tuple[int, int]:
    """(runs executed, runs skipped) from the sweep's summary line; a failed run is an error."""
    found = SUMMARY.search(measurement.stdout)
    if not found or int(found[4]):
        raise RuntimeError(f"the sweep did not succeed:\n{measurement.stdout[-3000:]}")
    return int(found[2]), int(found[3])


def solo_seconds(root: Path, name: str) -> float:
    """The run's own execution time when it is the only run (one worker, nothing else running)."""
    output = measure.pipeline(root, "notebooks", "--only", name, "--force", "--workers", "1").stdout
    return float(re.search(rf"^{re.escape(name)}\s+ok\s+([\d.]+)s", output, re.MULTILINE)[1])


def built_project(name: str) -> Path:
    root = measure.scratch_project(name)
    measure.pipeline(root, "data")
    return root


def bench_sweep(repeat: int) -> tuple[list[dict], str]:
    root = built_project("sweep")
    specs = read_runs(root)
    workers = os.cpu_count()
    loop = cli_loop_script(root, specs)
    loop_env = {"CONFLICT_REPORT_ROOT": str(root), "PATH": f"{Path(measure.PYTHON).parent}:{os.environ['PATH']}"}
    repeats = []
    for _ in range(repeat):
        sweep = measure.pipeline(root, "notebooks", "--force", "--workers", str(workers))
        assert executed(sweep)[0] == len(specs), sweep.stdout
        solo = {spec.name: solo_seconds(root, spec.name) for spec in specs}
        cli = measure.timed(["bash", str(loop)], env=loop_env, cwd=root)
        repeats.append({"workers": workers, "runs": len(specs), "load_before": sweep.load_before,
                        "sweep_s": sweep.seconds, "sweep_peak_mb": sweep.peak_rss_bytes / 2**20,
                        "solo_s": solo, "cli_loop_s": cli.seconds,
                        "efficiency": sum(solo.values()) / workers / sweep.seconds, "speedup_vs_cli": cli.seconds / sweep.seconds})
        print(json.dumps({k: v for k, v in repeats[-1].items() if k != "solo_s"}), file=sys.stderr)
    return repeats, sweep_table(repeats)


def sweep_table(repeats: list[dict]) -> str:
    solo_sum = [sum(r["solo_s"].values()) for r in repeats]
    first = repeats[0]
    return "\n".join([
        f"| figure ({first['runs']} runs, {first['workers']} workers) | median | runs |",
        "|---|---:|---|",
        f"| sweep wall time, s | {median([r['sweep_s'] for r in repeats]):.1f} | {_each([r['sweep_s'] for r in repeats])} |",
        f"| sum of solo run times, s | {median(solo_sum):.1f} | {_each(solo_sum)} |",
        f"| ideal: sum of solo / workers, s | {median(solo_sum) / first['workers']:.1f} | |",
        f"| **efficiency** (ideal / sweep) | **{median([r['efficiency'] for r in repeats]):.2f}** | {_each([r['efficiency'] for r in repeats], 2)} |",
        f"| papermill CLI loop, s | {median([r['cli_loop_s'] for r in repeats]):.1f} | {_each([r['cli_loop_s'] for r in repeats])} |",
        f"| **speed-up over the CLI loop** | **{median([r['speedup_vs_cli'] for r in repeats]):.2f}x** | {_each([r['speedup_vs_cli'] for r in repeats], 2)} |",
        f"| sweep peak RSS (all processes), MB | {median([r['sweep_peak_mb'] for r in repeats]):,.0f} | |",
    ])


def _each(values, digits: int = 1) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


# --- rebuilds ---------------------------------------------------------------------------------

NO_OP_STEPS = {"data": ("data",), "notebooks": ("notebooks",), "report --no-render": ("report", "--no-render")}


def change_one_run(root: Path, attempt: int) -> None:
    """A new start date for one governorate's run (a new one each time: going back to an
    earlier value would find that run's earlier results still valid and rerun nothing)."""
    runs_file = root / "report" / "runs.yml"
    text = runs_file.read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.lstrip().startswith("- {name: gov-dara,"))
    changed = f"  - {{name: gov-dara, notebook: region_profile, parameters: {{governorate: \"Dar'a\", start: \"2016-{attempt + 2:02d}-01\"}}}}"
    runs_file.write_text(text.replace(line, changed), encoding="utf-8")


def make_notebooks(root: Path) -> measure.Measurement:
    """`make notebooks` as a researcher types it (make, then the data and notebooks steps)."""
    return measure.timed(["make", "--no-print-directory", "-C", str(measure.REPO), "notebooks"],
                         env={**measure.DATA_ENV, "CONFLICT_REPORT_ROOT": str(root)})


def bench_rebuild(repeat: int) -> tuple[list[dict], str]:
    root = built_project("rebuild")
    measure.pipeline(root, "notebooks")
    measure.pipeline(root, "report", "--no-render")
    repeats = []
    for attempt in range(repeat):
        row = {f"no-op {step}": measure.pipeline(root, *args).seconds for step, args in NO_OP_STEPS.items()}
        row["no-op `make notebooks` itself"] = make_notebooks(root).seconds
        change_one_run(root, attempt)
        notebooks = measure.pipeline(root, "notebooks")
        if executed(notebooks) != (1, len(read_runs(root)) - 1):
            raise RuntimeError(f"changing one run did not rerun exactly that run:\n{notebooks.stdout}")
        row["one run changed: notebooks"] = notebooks.seconds
        row["one run changed: report --no-render"] = measure.pipeline(root, "report", "--no-render").seconds
        repeats.append(row)
        print(json.dumps(row), file=sys.stderr)
    return repeats, rebuild_table(repeats)


def rebuild_table(repeats: list[dict]) -> str:
    lines = ["| rebuild | median s | runs |", "|---|---:|---|"]
    for figure in repeats[0]:
        values = [r[figure] for r in repeats]
        lines.append(f"| {figure} | {median(values):.2f} | {_each(values, 2)} |")
    chain = [r["no-op data"] + r["no-op notebooks"] for r in repeats]
    lines.append(f"| no-op `make notebooks` (data + notebooks) | {median(chain):.2f} | {_each(chain, 2)} |")
    chain = [c + r["no-op report --no-render"] for c, r in zip(chain, repeats)]
    lines.append(f"| no-op `make report` up to the render | {median(chain):.2f} | {_each(chain, 2)} |")
    return "\n".join(lines)


# --- the sweep of older commits, back to back with the working tree's -------------------------

WORKING_TREE = "working tree"


def commit_project(commit: str) -> tuple[Path, dict[str, str]]:
    """A scratch copy of the commit's project (its own notebooks, runs.yml and reference
    tables) with data/processed built by the commit's own data step, and the environment that
    makes the commit's package the one imported (by the CLI, its pool and its kernels)."""
    import shutil

    tree = measure.tree_of(commit)
    root = measure.WORK / "projects" / f"sweep-{commit}"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(tree, root, ignore=shutil.ignore_patterns("src", "benchmarks", "tests"))
    env = {"PYTHONPATH": str(tree / "src")}
    measure.pipeline(root, "data", env=env)
    return root, env


def working_tree_label() -> str:
    import subprocess

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=measure.REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=measure.REPO,
                           capture_output=True, text=True).stdout.strip()
    return f"{WORKING_TREE} ({head}{' + uncommitted changes' if dirty else ''})"


def bench_sweep_against(commits: list[str], repeat: int) -> tuple[list[dict], str]:
    """`notebooks --force` of each commit and of the working tree, interleaved in each repeat
    (the same number of workers; each on the processed data its own data step built)."""
    projects = {commit: commit_project(commit) for commit in commits}
    projects[WORKING_TREE] = (built_project("sweep-now"), {})
    workers = os.cpu_count()
    repeats = []
    for attempt in range(repeat):
        row = {"workers": workers, "load_before": {}, "sweep_s": {}, "runs": {}}
        for label, (root, env) in projects.items():
            sweep = measure.pipeline(root, "notebooks", "--force", "--workers", str(workers), env=env)
            row["runs"][label] = executed(sweep)[0]
            row["sweep_s"][label] = sweep.seconds
            row["load_before"][label] = sweep.load_before
        row["ratio"] = {commit: row["sweep_s"][WORKING_TREE] / row["sweep_s"][commit] for commit in commits}
        repeats.append(row)
        print(json.dumps(row), file=sys.stderr)
    return {"working_tree": working_tree_label(), "repeats": repeats}, against_table(commits, repeats)


def against_table(commits: list[str], repeats: list[dict]) -> str:
    labels = [*commits, WORKING_TREE]
    lines = [f"| sweep ({repeats[0]['workers']} workers, `notebooks --force`) | runs | median s | each repeat, s | load average before |",
             "|---|---:|---:|---|---|"]
    for label in labels:
        seconds = [r["sweep_s"][label] for r in repeats]
        lines.append(f"| {label} | {repeats[0]['runs'][label]} | {median(seconds):.1f} | {_each(seconds)} | "
                     f"{_each([r['load_before'][label] for r in repeats])} |")
    for commit in commits:
        ratios = [r["ratio"][commit] for r in repeats]
        lines.append(f"| **working tree / {commit}** | | **{median(ratios):.2f}** | {_each(ratios, 2)} | |")
    return "\n".join(lines)
