"""Command-line interface: every Makefile target is a thin call to one of these subcommands,
so people without make (Windows) run the same steps: `python -m conflict_report data`."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from conflict_report.errors import PipelineError


def _data(args) -> int:
    from conflict_report.data import build as data_step

    step = data_step.run(force=args.force)
    if not step.rebuilt:  # nothing rebuilt: one line
        kept = sum(item.get("rows_kept", 0) for item in step.manifest["inputs"])
        absent = ", ".join(a["variable"] for a in step.resolved.absent)
        print(f"data/processed is up to date ({kept:,} rows kept; inputs and code unchanged"
              + (f"; absent: {absent}" if absent else "") + ")")
        return 0
    for line in step.notes():
        print(line)
    for item in step.manifest["inputs"]:
        if "rows_read" in item:
            print(f"{item['file_name']}: {item['rows_read']:,} rows read, {item['rows_kept']:,} kept "
                  f"({item['rows_flagged']:,} flagged), {item['rows_rejected']:,} quarantined")
    return 0


def _notebooks(args) -> int:
    from conflict_report.runs import sweep

    return sweep.main(runs_file=args.runs, workers=args.workers, only=args.only, force=args.force)


def _report(args) -> int:
    from conflict_report.report import stamp

    if stamp.nothing_changed(render=not args.no_render):  # before pandas and Quarto: a no-op stays fast
        print("report/_output is up to date (nothing the render reads has changed)" if not args.no_render
              else "report sources are up to date (nothing they are written from has changed)")
        return 0
    from conflict_report.report import build as report

    return report.main(render_report=not args.no_render)


def _all(args) -> int:
    """What `make report` runs: the data, notebooks and report steps one after another, each
    skipping what is up to date, in one process (a no-op `make report` starts Python once)."""
    for step in (_data, _notebooks, _report):
        status = step(args)
        if status != 0:
            return status
    return 0


def _curate_check(args) -> int:
    from conflict_report.data.sources import curated

    return curated.check_main(args.paths)


def _check_render(args) -> int:
    from conflict_report.report import checks as report_checks

    if args.site or args.pdf or args.render_log:
        return report_checks.run(args)
    from conflict_report.report import build as report

    return report.check_main()


def _actors(args) -> int:
    from conflict_report.analysis import views

    counts = views.sides(views.load_events())["actor"].value_counts()
    for actor, events in counts.items():
        print(f"{events:>7,}  {actor}")
    return 0


def _serve(args) -> int:
    from conflict_report.report import build as report

    return report.serve(port=args.port)


def _edition(args) -> int:
    from conflict_report.report import editions
    from conflict_report.report.stamp import git_commit

    if args.action == "save":
        edition = editions.save(args.name, git_commit())
        print(f"edition {edition.name} saved in {edition.folder} ({len(edition.info['runs'])} runs, commit {edition.info['commit']})")
    elif args.action == "list":
        found = editions.list_editions()
        if not found:
            print(f"no saved edition in {editions.editions_dir()}")
        for edition in found:
            print(f"{edition.name:<24} saved {edition.saved_at[:19].replace('T', ' ')} UTC  commit {edition.info['commit']}")
    elif args.action == "export":
        print(f"edition {args.name} written to {editions.export(args.name, args.output)}")
    else:
        edition = editions.import_archive(args.file)
        print(f"edition {edition.name} imported into {edition.folder}")
    return 0


def _changes(args) -> int:
    from conflict_report.report import changes

    comparison = changes.compare(args.since)
    print(changes.summary(comparison), end="")
    if args.csv and comparison is not None:
        for path in changes.write_csv(comparison, args.csv):
            print(f"written: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from conflict_report.report.check_options import add_arguments as add_check_arguments

    parser = argparse.ArgumentParser(prog="python -m conflict_report", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data", help="build data/processed/ from the sources (UCDP_GED=..., see README)")
    p.add_argument("--force", action="store_true", help="rebuild even when inputs are unchanged")
    p.set_defaults(func=_data)
    p = sub.add_parser("notebooks", help="execute the runs in report/runs.yml into build/")
    p.add_argument("--runs", default=None, help="runs file (default report/runs.yml)")
    p.add_argument("--workers", type=int, default=None, help="parallel runs (default: WORKERS or the number of cores)")
    p.add_argument("--only", nargs="*", default=None, help="run names to execute")
    p.add_argument("--force", action="store_true", help="rerun even when nothing changed")
    p.set_defaults(func=_notebooks)
    p = sub.add_parser("report", help="write the report's generated sources and render it with Quarto")
    p.add_argument("--no-render", action="store_true", help="prepare report/ but do not call Quarto")
    p.set_defaults(func=_report)
    p = sub.add_parser("all", help="data, notebooks and report, each only if something changed (what `make report` runs)")
    p.set_defaults(func=_all, force=False, runs=None, workers=None, only=None, no_render=False)
    p = sub.add_parser("curate-check", help="validate the hand-curated files in data/curated/")
    p.add_argument("paths", nargs="*", help="files or folders (default data/curated)")
    p.set_defaults(func=_curate_check)
    p = sub.add_parser("check-render", help="check a rendered site and PDF (browser, links, ledger numbers); "
                       "without --site/--pdf/--render-log: report/_output, as `make report` checks it")
    add_check_arguments(p)
    p.set_defaults(func=_check_render)
    p = sub.add_parser("actors", help="list every actor in the event table (valid values of the actor parameter), most events first")
    p.set_defaults(func=_actors)
    p = sub.add_parser("serve", help="serve report/_output on 127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=_serve)
    p = sub.add_parser("edition", help="save, list, export or import a published edition (EDITIONS_DIR, default editions/)")
    actions = p.add_subparsers(dest="action", required=True)
    a = actions.add_parser("save", help="record the current build (after `make notebooks`) as edition NAME")
    a.add_argument("name")
    actions.add_parser("list", help="list the saved editions, oldest first")
    a = actions.add_parser("export", help="write edition NAME as one .tar.gz archive")
    a.add_argument("name")
    a.add_argument("--output", type=Path, default=None, help="archive file (default edition-NAME.tar.gz here)")
    a = actions.add_parser("import", help="read an archive written by `edition export` into EDITIONS_DIR")
    a.add_argument("file", type=Path)
    p.set_defaults(func=_edition)
    p = sub.add_parser("changes", help="what changed since the last saved edition: inputs, events, ledger entries")
    p.add_argument("--since", default=None, help="compare with this edition (default: the last saved)")
    p.add_argument("--csv", type=Path, default=None, metavar="DIR", help="write the tables as CSV files into DIR")
    p.set_defaults(func=_changes)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return args.func(args)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
