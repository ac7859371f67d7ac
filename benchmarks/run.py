"""Benchmarks of the pipeline against the plain alternatives (see benchmarks/RESULTS.md).

    python benchmarks/run.py scale                  # make the scaled data (once; kept in work/)
    python benchmarks/run.py data --repeat 3        # make data vs DuckDB read_csv -> Parquet
    python benchmarks/run.py sweep --repeat 3       # the sweep vs solo runs and the papermill CLI loop
    python benchmarks/run.py sweep --before 3b35267 ae0ca67   # the sweeps of those commits and of the
                                                    # working tree, back to back
    python benchmarks/run.py rebuild --repeat 3     # make report: from scratch, one run changed, a title, no-op
    python benchmarks/run.py same --before COMMIT   # the data layer of COMMIT and of the working
                                                    # tree build the same data/processed/

Every comparison is measured within one invocation, its commands interleaved, and reported as
the median over the repeats (ratios are medians of the per-repeat ratios). Each subcommand
prints a Markdown table and keeps it, with the raw figures, in benchmarks/work/results/.
Nothing here is a test: `make test` never runs it."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import measure  # noqa: E402
import same_output  # noqa: E402
import scale_data  # noqa: E402
import sweep_bench  # noqa: E402
from measure import WORK, median  # noqa: E402

# Resampled files are in date order, as UCDP's own; "-shuffled" is the same rows in random order.
SIZES = {"real": None, "100k": 100_000, "400k": 400_000, "2.5M": 2_500_000, "2.5M-shuffled": 2_500_000}
RESULTS = WORK / "results"


def scaled_file(label: str) -> Path:
    if SIZES[label] is None:
        return measure.UCDP_GED_FILE
    target = WORK / "data" / f"ged_syria_resampled_{label}.csv.gz"
    return scale_data.make_scaled_file(measure.UCDP_GED_FILE, measure.ADMIN1_FILE, SIZES[label], target, shuffled=label.endswith("-shuffled"))


def duckdb_to_parquet(csv: Path) -> measure.Measurement:
    """The practical limit: DuckDB's own CSV reader straight to Parquet, nothing checked."""
    target = WORK / "duckdb" / "events.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    statement = f"COPY (SELECT * FROM read_csv('{csv}')) TO '{target}' (FORMAT parquet)"
    return measure.timed([measure.PYTHON, "-c", f"import duckdb; duckdb.sql({statement!r})"])


def bench_data(labels: list[str], repeat: int) -> tuple[list[dict], str]:
    rows = []
    for label in labels:
        csv = scaled_file(label)
        root = measure.scratch_project(f"data-{label}")
        pairs = [(measure.pipeline(root, "data", "--force", ucdp_ged=csv), duckdb_to_parquet(csv)) for _ in range(repeat)]
        rows.append(data_row(label, csv, pairs))
        print(f"{label}: {rows[-1]}", file=sys.stderr)
    return rows, data_table(rows)


def data_row(label: str, csv: Path, pairs) -> dict:
    ours, duck = [p[0] for p in pairs], [p[1] for p in pairs]
    return {
        "size": label, "csv_mb": round(csv.stat().st_size / 2**20, 1),
        "make_data_s": [m.seconds for m in ours], "duckdb_s": [m.seconds for m in duck],
        "make_data_peak_mb": [m.peak_rss_bytes / 2**20 for m in ours], "duckdb_peak_mb": [m.peak_rss_bytes / 2**20 for m in duck],
        "ratio": [a.seconds / b.seconds for a, b in pairs],
        "load_before": [m.load_before for m in ours],
        "rows_line": ours[-1].stdout.strip().splitlines()[0] if ours[-1].stdout.strip() else "",
    }


def data_table(rows: list[dict]) -> str:
    lines = ["| events | csv.gz MB | make data s | DuckDB s | time ratio | make data peak RSS MB | DuckDB peak RSS MB |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['size']} | {r['csv_mb']} | {median(r['make_data_s']):.1f} | {median(r['duckdb_s']):.1f} | "
                     f"{median(r['ratio']):.2f} | {median(r['make_data_peak_mb']):,.0f} | {median(r['duckdb_peak_mb']):,.0f} |")
    return "\n".join(lines)


def code_of(commit: str) -> Path:
    """The package source of a commit, exported once into benchmarks/work/code-<commit>/."""
    return measure.tree_of(commit, only_src=True) / "src"


def same_data(commit: str, labels: list[str]) -> int:
    """Build data/processed/ from each file with the data layer of `commit` and with the
    working tree's, and compare them (same_output.py); the number of files that differ."""
    before_src, differing = code_of(commit), 0
    for label in labels:
        csv = scaled_file(label) if label in SIZES else Path(label).resolve()
        built = {}
        for name, code in (("before", {"PYTHONPATH": str(before_src)}), ("now", {})):  # "now": the installed package
            root = measure.scratch_project(f"same-{Path(label).name}-{name}")
            measure.pipeline(root, "data", "--force", ucdp_ged=csv, env=code)
            built[name] = root / "data" / "processed"
        problems = same_output.differences(built["before"], built["now"])
        differing += bool(problems)
        print(f"{label}: " + ("; ".join(problems) if problems else "same events.parquet, rejected.csv and manifest counts"))
    return differing


def save(name: str, raw: object, table: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": measure.machine(), "results": raw}, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(table + "\n")
    print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("scale", help="write the resampled files").add_argument("--sizes", nargs="*", default=[s for s in SIZES if SIZES[s]], choices=SIZES)
    data = sub.add_parser("data", help="make data vs DuckDB CSV -> Parquet")
    data.add_argument("--sizes", nargs="*", default=list(SIZES), choices=SIZES)
    data.add_argument("--repeat", type=int, default=3)
    data.add_argument("--tag", default="", help="suffix for the results file (e.g. before, after)")
    for name in ("sweep", "rebuild"):
        command = sub.add_parser(name)
        command.add_argument("--repeat", type=int, default=3)
        command.add_argument("--tag", default="")
    sub.choices["sweep"].add_argument(
        "--before", nargs="*", default=[], metavar="COMMIT",
        help="instead: time the sweep of each COMMIT (its own code, notebooks and runs.yml) and of the working tree, interleaved")
    same = sub.add_parser("same", help="the data layer of a commit and of the working tree give the same outputs")
    same.add_argument("--before", required=True, help="the commit to compare with (e.g. 5e6100c)")
    same.add_argument("--inputs", nargs="*", default=["real", "400k", "2.5M-shuffled"],
                      help=f"size labels ({', '.join(SIZES)}) or paths of UCDP GED files")
    args = parser.parse_args(argv)
    tag = f"-{args.tag}" if getattr(args, "tag", "") else ""
    if args.command == "scale":
        for label in args.sizes:
            print(scaled_file(label))
    elif args.command == "same":
        return 1 if same_data(args.before, args.inputs) else 0
    elif args.command == "data":
        save(f"data{tag}", *bench_data(args.sizes, args.repeat))
    elif args.command == "sweep" and args.before:
        save(f"sweep-vs{tag}", *sweep_bench.bench_sweep_against(args.before, args.repeat))
    elif args.command == "sweep":
        save(f"sweep{tag}", *sweep_bench.bench_sweep(args.repeat))
    else:
        save(f"rebuild{tag}", *sweep_bench.bench_rebuild(args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
