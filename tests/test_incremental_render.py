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


def other_sources(root: Path) -> set[str]:
    """Every display text of the other runs' ledgers and every number in their tables (as the
    report prints it, 3,308): a number one of them shows may be on the same page or in the PDF
    without being Aleppo's (the national run's table of governorates has Aleppo's old row)."""
    found = set()
    for folder in (root / "build").iterdir():
        if folder.name == RUN or not (folder / "results.json").exists():
            continue
        found |= set(ledger(root, folder.name).values())
        for table in (folder / "tables").glob("*.csv"):
            for value in pd.read_csv(table).select_dtypes("number").stack():
                found |= {f"{value:,.0f}", f"{value:,.1f}", f"{value:.1%}"}
    return found


# Aleppo's own text in each document: its page is all Aleppo's; the overview's list item; the
# PDF's compact section ("83 events; deaths 225 (range 216–384), that is 9.9% of ...").
OVERVIEW_ITEM = re.compile(r"Aleppo ?: (.+?) of the national total")  # a space where the link ends
PDF_SECTION = re.compile(r"Aleppo\s+(\S+ events; deaths .+?; civilian deaths \S+)")


def test_a_governorates_new_violence_types_reach_its_page_the_overview_and_the_pdf(rendered_project, tmp_path):
    if not (rendered_project / "report" / "_output" / "report.pdf").exists():
        pytest.skip("no rendered report")
    root = copy_project(rendered_project, tmp_path / "project")
    output = root / "report" / "_output"
    old = ledger(root, RUN)
    before = {path.relative_to(output).as_posix(): path.read_bytes() for path in output.rglob("*.html")}
    # Before: Aleppo's text in the overview and the PDF holds its old numbers (what must go).
    assert OVERVIEW_ITEM.search(page_text(output / "governorates.html"))[1] == f"{old['deaths']} deaths, {old['share_of_national']}"
    assert all(old[key] in PDF_SECTION.search(pdf_text(output / "report.pdf"))[1] for key in QUOTED)

    runs_file = root / "report" / "runs.yml"
    text = runs_file.read_text(encoding="utf-8")
    assert ORIGINAL_LINE in text
    runs_file.write_text(text.replace(ORIGINAL_LINE, ONE_SIDED_LINE), encoding="utf-8")
    notebooks = run_cli(["notebooks"], root=root, timeout=1800)
    assert "1 ok, 22 skipped, 0 failed" in notebooks.stdout, notebooks.stdout
    report = run_cli(["report"], root=root, env={"QUARTO": find_quarto()}, timeout=1800)
    # Aleppo's page, the overview quoting it, and the PDF; and the methods page, which prints
    # the commit: runs.yml is now changed against it ("-modified").
    assert "rendering what changed: governorates.qmd, governorate-gov-aleppo.qmd, methods.qmd, report.qmd" in report.stdout, report.stdout

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

    # Aleppo's own text in the overview and the PDF holds the new numbers and none of the old.
    overview_item = OVERVIEW_ITEM.search(overview)[1]
    pdf_section = PDF_SECTION.search(pdf)[1]
    assert overview_item == f"{new['deaths']} deaths, {new['share_of_national']}"
    for key in ("events", "deaths", "deaths_civilians", "share_of_national"):
        assert new[key] in pdf_section, (key, pdf_section)
    for key in QUOTED:
        if old[key] not in new.values():
            assert old[key] not in aleppo_page and old[key] not in overview_item and old[key] not in pdf_section, (key, old[key])
    # And nowhere at all where no other run shows the same number.
    distinctive = [old[key] for key in QUOTED if old[key] not in other_sources(root) and old[key] not in new.values()
                   and re.search(r"\d,\d{3}", old[key])]
    for value in distinctive:
        assert value not in aleppo_page and value not in overview and value not in pdf, value

    # Only the pages that show Aleppo's numbers were rendered again: every other page is byte for byte the same.
    after = {path.relative_to(output).as_posix(): path.read_bytes() for path in output.rglob("*.html")}
    assert set(after) == set(before)
    changed = sorted(name for name in after if after[name] != before[name])
    assert changed == ["governorate-gov-aleppo.html", "governorates.html", "methods.html"]
    assert "-modified" in page_text(output / "methods.html")
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
