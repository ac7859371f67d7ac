"""Issue 14's acceptance test: after a full report, one governorate run's new parameters reach
its page, the governorates overview and the PDF through the real `make report` steps (the
sweep reruns that run, Quarto re-renders only the pages that show its numbers), and its old
figures are nowhere. Real data, real notebooks, real Quarto, real pdftotext."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from conftest import DATA_ENV, copy_project, find_quarto, run_cli

pytestmark = pytest.mark.slow

RUN = "gov-aleppo"
ORIGINAL_LINE = "{name: gov-aleppo, notebook: region_profile, parameters: {governorate: Aleppo}}"
ONE_SIDED_LINE = "{name: gov-aleppo, notebook: region_profile, parameters: {governorate: Aleppo, violence_types: [one-sided]}}"
# The ledger entries Aleppo's page, the overview and the PDF's Aleppo section print.
QUOTED = ("events", "deaths", "deaths_civilians", "share_of_national")


class _Text(HTMLParser):
    """A page's visible text (scripts and styles left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.chunks.append(data)


def page_text(path: Path) -> str:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return " ".join(" ".join(parser.chunks).split())


def pdf_text(path: Path) -> str:
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


def ledger(root: Path, run: str) -> dict[str, str]:
    values = json.loads((root / "build" / run / "results.json").read_text(encoding="utf-8"))["values"]
    return {key: str(item["display"]) for key, item in values.items()}


def other_runs_values(root: Path) -> set[str]:
    """Every display text of the other runs' ledgers: a number one of them quotes may be on
    the same page without being Aleppo's."""
    return {value for folder in (root / "build").iterdir() if folder.name != RUN and (folder / "results.json").exists()
            for value in ledger(root, folder.name).values()}


def test_a_governorates_new_violence_types_reach_its_page_the_overview_and_the_pdf(rendered_project, tmp_path):
    if not (rendered_project / "report" / "_output" / "report.pdf").exists():
        pytest.skip("no rendered report")
    root = copy_project(rendered_project, tmp_path / "project")
    output = root / "report" / "_output"
    old = ledger(root, RUN)
    before = {path.relative_to(output).as_posix(): path.read_bytes() for path in output.rglob("*.html")}

    runs_file = root / "report" / "runs.yml"
    text = runs_file.read_text(encoding="utf-8")
    assert ORIGINAL_LINE in text
    runs_file.write_text(text.replace(ORIGINAL_LINE, ONE_SIDED_LINE), encoding="utf-8")
    notebooks = run_cli(["notebooks"], root=root, timeout=1800)
    assert "1 ok, 22 skipped, 0 failed" in notebooks.stdout, notebooks.stdout
    report = run_cli(["report"], root=root, env={"QUARTO": find_quarto()}, timeout=1800)
    assert "rendering what changed: governorates.qmd, governorate-gov-aleppo.qmd, report.qmd" in report.stdout, report.stdout

    new = ledger(root, RUN)
    # The headline counts again from the event table, with pandas: Aleppo's one-sided violence
    # over the report's period.
    events = pd.read_parquet(root / "data" / "processed" / "events.parquet")
    aleppo = events[(events["admin1"] == "Aleppo") & (events["violence_type"] == "one-sided")
                    & (events["date_start"] >= pd.Timestamp("2016-01-01")) & (events["date_end"] <= pd.Timestamp("2019-12-31"))]
    assert new["events"] == f"{len(aleppo):,}"
    assert new["deaths"] == (f"{int(aleppo['deaths_best'].sum()):,} (range {int(aleppo['deaths_low'].sum()):,}"
                             f"–{int(aleppo['deaths_high'].sum()):,})")
    assert new["deaths_civilians"] == f"{int(aleppo['deaths_civilians'].sum()):,}"
    assert new["events"] != old["events"] and new["deaths"] != old["deaths"]

    aleppo_page = page_text(output / "governorate-gov-aleppo.html")
    overview = page_text(output / "governorates.html")
    pdf = pdf_text(output / "report.pdf")
    for key in QUOTED:
        assert new[key] in aleppo_page, (key, new[key])
    for key in ("deaths", "share_of_national"):  # what the overview quotes of each governorate
        assert new[key] in overview, (key, new[key])
    for key in ("events", "deaths", "deaths_civilians", "share_of_national"):  # the PDF's Aleppo section
        assert new[key] in pdf, (key, new[key])
    search = json.loads((output / "search.json").read_text(encoding="utf-8"))
    assert any(new["deaths"] in entry.get("text", "") for entry in search if entry["href"].startswith("governorate-gov-aleppo.html"))

    # The old figures, where they are Aleppo's alone (no other run quotes them), are gone.
    distinctive = [old[key] for key in QUOTED if old[key] not in other_runs_values(root) and old[key] not in new.values()
                   and re.search(r"\d,\d{3}", old[key])]
    assert distinctive, old
    for value in distinctive:
        assert value not in aleppo_page and value not in overview and value not in pdf, value

    # Only the pages that show Aleppo's numbers were rendered again: every other page is byte for byte the same.
    after = {path.relative_to(output).as_posix(): path.read_bytes() for path in output.rglob("*.html")}
    assert set(after) == set(before)
    changed = sorted(name for name in after if after[name] != before[name])
    assert changed == ["governorate-gov-aleppo.html", "governorates.html"]
    # The figures in the site are the new run's: the same files as in build/.
    for svg in (root / "build" / RUN / "figures").glob("*.svg"):
        assert (output / "figures" / RUN / svg.name).read_bytes() == svg.read_bytes(), svg.name

    again = run_cli(["report"], root=root, env={"QUARTO": find_quarto()})
    assert "report/_output is up to date" in again.stdout


def test_a_make_report_with_nothing_to_do_imports_no_pandas_and_starts_no_quarto(rendered_project):
    """What `make report` runs (`all`: data, notebooks, report in one process), right after the
    session's render: each step says it is up to date, and deciding that took neither pandas
    nor the module that calls Quarto (the report step's stamp of its inputs)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "conflict_report", "all"],
                            env={**os.environ, **DATA_ENV, "CONFLICT_REPORT_ROOT": str(rendered_project), "QUARTO": find_quarto()},
                            cwd=rendered_project, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "data/processed is up to date" in result.stdout and "(nothing changed)" in result.stdout
    assert "report/_output is up to date" in result.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "conflict_report.report.stamp" in imported  # the report step ran and decided
    assert not imported & {"pandas", "pyarrow", "numpy", "conflict_report.report.build"}
