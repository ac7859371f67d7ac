"""The options of `python -m conflict_report check-render`, apart from the checks themselves
(report/checks.py), so that building the command line imports neither the browser's nor the
PDF's tooling: every other subcommand, a no-op `make report` above all, starts without them."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `python -m conflict_report check-render`."""
    parser.add_argument("--site", type=Path, help="folder of the rendered HTML site (holds index.html)")
    parser.add_argument("--no-browser", action="store_true", help="skip the headless Chromium check of the site")
    parser.add_argument("--pdf", type=Path, help="the rendered PDF")
    parser.add_argument(
        "--expect", action="append", default=[], metavar="TEXT", help="text the PDF must contain (repeatable)"
    )
    parser.add_argument("--pdf-source", type=Path,
                        help="the .qmd that rendered the PDF: check the layout against its margins and title (report/report.qmd)")
    parser.add_argument("--min-pages", type=int, default=2)
    parser.add_argument("--max-pages", type=int, default=200)
    parser.add_argument("--a4", action="store_true", help="require every PDF page to be A4")
    parser.add_argument("--render-log", type=Path, help="stderr of `quarto render`, to check for warnings")
