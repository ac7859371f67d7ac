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

# Each repeat gives Aleppo's run another set of violence types (never one it had before, so the
# run always executes again) and Damascus's run another title.
VIOLENCE_TYPES = [["one-sided"], ["state-based"], ["non-state"], ["state-based", "one-sided"], ["non-state", "one-sided"],
                  ["state-based", "non-state"], ["one-sided", "other"]]
ALEPPO_LINE = "  - {name: gov-aleppo, notebook: region_profile, parameters: {governorate: Aleppo"


def change_one_run(root: Path, attempt: int) -> None:
    """Another `violence_types` for Aleppo's run: its results change, its title and the
    navigation do not."""
    runs_file = root / "report" / "runs.yml"
    text = runs_file.read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith(ALEPPO_LINE))
    kinds = ", ".join(VIOLENCE_TYPES[attempt % len(VIOLENCE_TYPES)])
    runs_file.write_text(text.replace(line, f"{ALEPPO_LINE}, violence_types: [{kinds}]}}}}"), encoding="utf-8")


DAMASCUS_LINE = "  - {name: gov-damascus, notebook: region_profile, "


def change_a_title(root: Path, attempt: int) -> None:
    """A new `title:` for Damascus's run: its menu entry and page title change, so the whole
    site renders (its results do not: the run is not executed again)."""
    runs_file = root / "report" / "runs.yml"
    text = runs_file.read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith(DAMASCUS_LINE))
    changed = f'{DAMASCUS_LINE}title: "Damascus city ({attempt + 1})", parameters: {{governorate: Damascus}}}}'
    runs_file.write_text(text.replace(line, changed), encoding="utf-8")


def make(root: Path, target: str) -> measure.Measurement:
    """`make <target>` as a researcher types it, against the scratch project."""
    return measure.timed(["make", "--no-print-directory", "-C", str(measure.REPO), target],
                         env={**measure.DATA_ENV, "CONFLICT_REPORT_ROOT": str(root)})


def rendered(measurement: measure.Measurement, what: str) -> str:
    """What the report step rendered, from its output; raises when it was not ``what``."""
    line = next((line for line in measurement.stdout.splitlines() if line.startswith("report sources written and checked")), "")
    found = "whole" if "the whole site" in line else "changed" if "what changed" in line else "nothing"
    if found != what:
        raise RuntimeError(f"expected the report step to render {what}, it rendered {found}:\n{measurement.stdout[-3000:]}")
    return line.partition("rendering ")[2]


def own_repository(root: Path) -> Path:
    """The scratch project as its own git repository, its inputs committed: the PDF prints the
    commit, and the scratch folder lies inside this repository, whose commit moves with any
    edit made while the benchmark runs (each would make the next `make report` render again)."""
    import shutil

    shutil.copy(measure.REPO / ".gitignore", root / ".gitignore")
    measure.TEST_SETUP.git(root, "init", "--quiet")
    measure.TEST_SETUP.git(root, "add", "--all")
    measure.TEST_SETUP.git(root, "commit", "--quiet", "-m", "scratch copy of the project")
    return root


def bench_rebuild(repeat: int, no_op_repeat: int = 5) -> tuple[list[dict], str]:
    """Per repeat, in a fresh copy of the project: `make report` from scratch (data, 23 runs,
    the whole site and PDF, their checks); one run's results changed; a title changed; then
    `no_op_repeat` no-op `make report`s and the no-op steps alone."""
    if measure.TEST_SETUP.find_quarto() is None:
        raise RuntimeError("Quarto is needed (QUARTO=... or on PATH): these rebuilds render the report")
    repeats = []
    for attempt in range(repeat):
        root = own_repository(measure.scratch_project("rebuild"))
        row: dict[str, object] = {"load_before": os.getloadavg()[0]}
        scratch = make(root, "report")
        rendered(scratch, "whole")
        row["from scratch: make report"] = scratch.seconds
        change_one_run(root, attempt)
        one = make(root, "report")
        row["pages rendered after one run changed"] = rendered(one, "changed")
        if executed(one) != (1, len(read_runs(root)) - 1):
            raise RuntimeError(f"changing one run did not rerun exactly that run:\n{one.stdout}")
        row["one run changed (violence_types): make report"] = one.seconds
        change_a_title(root, attempt)
        title = make(root, "report")
        rendered(title, "whole")
        row["a title changed: make report"] = title.seconds
        no_ops = [make(root, "report") for _ in range(no_op_repeat)]
        for measurement in no_ops:
            if "report/_output is up to date" not in measurement.stdout:
                raise RuntimeError(f"a no-op `make report` did something:\n{measurement.stdout[-3000:]}")
        row["no-op make report"] = [m.seconds for m in no_ops]
        row["no-op make report, CPU s"] = [m.cpu_seconds for m in no_ops]
        for step, args in NO_OP_STEPS.items():
            row[f"no-op {step}"] = measure.pipeline(root, *args).seconds
        row["one run changed / from scratch"] = row["one run changed (violence_types): make report"] / scratch.seconds
        repeats.append(row)
        print(json.dumps(row), file=sys.stderr)
    return repeats, rebuild_table(repeats)


NO_OP_STEPS = {"data": ("data",), "notebooks": ("notebooks",), "report": ("report",)}


def rebuild_table(repeats: list[dict]) -> str:
    lines = ["| rebuild | median s | each repeat |", "|---|---:|---|"]
    timed = ["from scratch: make report", "one run changed (violence_types): make report", "a title changed: make report",
             "no-op data", "no-op notebooks", "no-op report"]
    for figure in timed:
        values = [r[figure] for r in repeats]
        lines.append(f"| {figure} | {median(values):.2f} | {_each(values, 2)} |")
    no_ops = [s for r in repeats for s in r["no-op make report"]]
    lines.append(f"| **no-op `make report`** ({len(no_ops)} runs) | **{median(no_ops):.2f}** | {_each(no_ops, 2)} |")
    cpu = [s for r in repeats for s in r["no-op make report, CPU s"]]
    lines.append(f"| no-op `make report`, CPU time (user + system, all processes) | {median(cpu):.2f} | {_each(cpu, 2)} |")
    ratios = [r["one run changed / from scratch"] for r in repeats]
    lines.append(f"| **one run changed / from scratch** (target ≤ 0.25) | **{median(ratios):.2f}** | {_each(ratios, 2)} |")
    lines.append(f"| load average before each repeat | | {_each([r['load_before'] for r in repeats], 1)} |")
    lines.append("")
    lines.append(f"Pages rendered after the one-run change: {repeats[0]['pages rendered after one run changed']}.")
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
