"""Command-line interface: every Makefile target is a thin call to one of these subcommands,
so people without make (Windows) run the same steps: `python -m conflict_report data`."""

from __future__ import annotations

import argparse
import logging
import sys

from conflict_report.errors import PipelineError


def _data(args) -> int:
    from conflict_report.data import build as data_step

    manifest = data_step.run(force=args.force)
    for item in manifest["inputs"]:
        if "rows_read" in item:
            print(f"{item['file_name']}: {item['rows_read']:,} rows read, {item['rows_kept']:,} kept "
                  f"({item['rows_flagged']:,} flagged), {item['rows_rejected']:,} quarantined")
    return 0


def _notebooks(args) -> int:
    from conflict_report.runs import sweep

    return sweep.main(runs_file=args.runs, workers=args.workers, only=args.only, force=args.force)


def _report(args) -> int:
    from conflict_report.report import build as report

    return report.main(render_report=not args.no_render)


def _curate_check(args) -> int:
    from conflict_report.data.sources import curated

    return curated.check_main(args.paths)


def _check_render(args) -> int:
    from conflict_report.report import checks as report_checks

    if args.site or args.pdf or args.render_log:
        return report_checks.run(args)
    from conflict_report.report import build as report

    return report.check_main()


def _serve(args) -> int:
    from conflict_report.report import build as report

    return report.serve(port=args.port)


def build_parser() -> argparse.ArgumentParser:
    from conflict_report.report import checks as report_checks

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
    p = sub.add_parser("curate-check", help="validate the hand-curated files in data/curated/")
    p.add_argument("paths", nargs="*", help="files or folders (default data/curated)")
    p.set_defaults(func=_curate_check)
    p = sub.add_parser("check-render", help="check a rendered site and PDF (browser, links, ledger numbers); "
                       "without --site/--pdf/--render-log: report/_output, as `make report` checks it")
    report_checks.add_arguments(p)
    p.set_defaults(func=_check_render)
    p = sub.add_parser("serve", help="serve report/_output on 127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=_serve)
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
