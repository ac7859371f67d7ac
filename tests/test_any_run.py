"""Any notebook, any run (issue 12): a researcher's own plain notebook listed in runs.yml, and a
second run of a shipped notebook over another period, each get their page in the site and
their section in the PDF. Real data, real papermill, a real Quarto render of a scratch project
(a trimmed runs file: the runs the hand-written pages quote, one governorate over two periods,
one actor, and the plain notebook)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import nbformat
import pandas as pd
import pytest
import yaml
from conftest import make_scratch_project, run_cli

QUARTO = os.environ.get("QUARTO") or shutil.which("quarto")
needs_quarto = pytest.mark.skipif(not QUARTO, reason="Quarto not found: set QUARTO or put quarto on PATH")
needs_poppler = pytest.mark.skipif(not shutil.which("pdftotext"), reason="pdftotext (poppler-utils) not installed")
FIGURE_CAPTION = "Events with at least ten deaths, per year"
TABLE_CAPTION = "Deadly events and their deaths per year"


def plain_notebook(path: Path) -> None:
    """Plain pandas and matplotlib over the event table: no ledger, one labelled figure and
    one labelled table, and a parameter of its own."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Deadly events\n\nEvents with at least `min_deaths` deaths, per year."),
        nbformat.v4.new_code_cell("min_deaths = 5", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\nimport pandas as pd\nfrom conflict_report import paths\n\n"
            "events = pd.read_parquet(paths.EVENTS)\ndeadly = events[events['deaths_best'] >= min_deaths]\n"
            "by_year = deadly.groupby('year').agg(events=('event_id', 'size'), deaths=('deaths_best', 'sum')).reset_index()"),
        nbformat.v4.new_code_cell(
            f"#| label: fig-deadly-by-year\n#| fig-cap: {FIGURE_CAPTION}\n#| fig-alt: Bars of the number of deadly events per year\n"
            "fig, ax = plt.subplots()\nax.bar(by_year['year'].astype(str), by_year['events'])\nax.set_title('Deadly events per year')\nplt.show()"),
        nbformat.v4.new_code_cell(f"#| label: tbl-deadly-by-year\n#| tbl-cap: {TABLE_CAPTION}\nby_year"),
    ]
    nbformat.write(notebook, path)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    if not QUARTO:
        pytest.skip("Quarto not found: set QUARTO or put quarto on PATH")
    root = make_scratch_project(tmp_path_factory.mktemp("any-run") / "project")
    plain_notebook(root / "notebooks" / "deadly_events.ipynb")
    runs_file = root / "report" / "runs.yml"
    document = yaml.safe_load(runs_file.read_text(encoding="utf-8"))
    keep = {"national", "sources", "case-study", "gov-aleppo", "actor-is"}
    document["runs"] = [r for r in document["runs"] if r["name"] in keep] + [
        {"name": "gov-aleppo-2016", "notebook": "region_profile",
         "parameters": {"governorate": "Aleppo", "start": "2016-01-01", "end": "2016-12-31"}},
        {"name": "deadly-events", "notebook": "deadly_events", "parameters": {"min_deaths": 10}},
    ]
    runs_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    run_cli(["data"], root=root)
    run_cli(["notebooks"], root=root, timeout=1800)
    run_cli(["report"], root=root, env={"QUARTO": QUARTO}, timeout=1800)
    return root


class PageText(HTMLParser):
    """The text of a page's main content, its images and their alt text."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.images: list[dict] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


def page(root: Path, name: str) -> PageText:
    parser = PageText()
    parser.feed((root / "report" / "_output" / name).read_text(encoding="utf-8"))
    parser.joined = " ".join(" ".join(parser.text).split())
    return parser


@needs_quarto
def test_a_plain_notebook_gets_a_page_with_its_figure_and_table(rendered) -> None:
    shown = page(rendered, "run-deadly-events.html")
    assert FIGURE_CAPTION in shown.joined and TABLE_CAPTION in shown.joined
    figures = [i for i in shown.images if "deadly" in i.get("src", "")]
    assert figures and figures[0].get("alt") == "Bars of the number of deadly events per year"
    assert (rendered / "report" / "_output" / html.unescape(figures[0]["src"])).is_file()
    # The table as the notebook computed it, from its own CSV-free display: the 2017 row.
    events = pd.read_parquet(rendered / "data" / "processed" / "events.parquet")
    deadly_2017 = events[(events["deaths_best"] >= 10) & (events["year"] == 2017)]
    assert re.search(rf"\b2017 {len(deadly_2017)} {int(deadly_2017['deaths_best'].sum())}\b", shown.joined)
    # Listed in the navigation under "Other analyses", and the page quotes no ledger number.
    assert "Other analyses" in page(rendered, "index.html").joined
    assert "?var" not in shown.joined


@needs_quarto
@needs_poppler
def test_the_plain_notebook_is_a_section_of_the_pdf(rendered) -> None:
    text = subprocess.run(["pdftotext", "-layout", str(rendered / "report" / "_output" / "report.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    assert "Other analyses" in flat and FIGURE_CAPTION in flat and TABLE_CAPTION in flat


@needs_quarto
def test_a_second_period_is_its_own_page_listed_under_its_subject(rendered) -> None:
    results = json.loads((rendered / "build" / "gov-aleppo-2016" / "results.json").read_text(encoding="utf-8"))["values"]
    by_year = pd.read_csv(rendered / "build" / "gov-aleppo" / "tables" / "by_year_type.csv")
    row_2016 = by_year[by_year["year"] == 2016][["deaths_low", "deaths_best", "deaths_high"]].sum()
    events = str(rendered / "data" / "processed" / "events.parquet")
    queried = duckdb.connect().execute(
        f"select sum(deaths_low), sum(deaths_best), sum(deaths_high) from read_parquet('{events}') "
        "where country = 'Syria' and admin1 = 'Aleppo' and duplicate_of is null "
        "and violence_type in ('state-based', 'non-state', 'one-sided') "
        "and date_start >= '2016-01-01' and date_start < '2017-01-01'").fetchall()[0]
    ledger = (results["deaths_low"]["value"], results["deaths_best"]["value"], results["deaths_high"]["value"])
    assert ledger == tuple(int(v) for v in row_2016) == tuple(int(v) for v in queried)

    shown = page(rendered, "governorate-gov-aleppo-2016.html")
    assert "Aleppo, 2016" in shown.joined
    assert results["deaths"]["display"] in shown.joined
    # Listed under Aleppo (its page links to it), not as another governorate.
    assert "governorate-gov-aleppo-2016.html" in (rendered / "report" / "_output" / "governorate-gov-aleppo.html").read_text(encoding="utf-8")
    navigation = yaml.safe_load((rendered / "report" / "_navigation.yml").read_text(encoding="utf-8"))
    menus = {item["text"]: [i["text"] for i in item.get("menu", [])] for item in navigation["website"]["navbar"]["left"]}
    assert menus["Governorates"] == ["All governorates", "Aleppo"]
    assert menus["Other analyses"] == ["Deadly events"]


def test_a_labelled_figure_without_alt_text_fails_its_run_naming_the_cell(tmp_path) -> None:
    root = make_scratch_project(tmp_path / "project")
    path = root / "notebooks" / "deadly_events.ipynb"
    plain_notebook(path)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[3].source = notebook.cells[3].source.replace("#| fig-alt: Bars of the number of deadly events per year\n", "")
    nbformat.write(notebook, path)
    runs_file = root / "report" / "one-run.yml"
    runs_file.write_text("runs:\n  - {name: deadly-events, notebook: deadly_events}\n", encoding="utf-8")
    run_cli(["data"], root=root)
    result = run_cli(["notebooks", "--runs", str(runs_file)], root=root, check=False)
    assert result.returncode == 1
    assert "notebooks/deadly_events.ipynb, cell 4 (fig-deadly-by-year): no fig-alt" in result.stdout


def test_a_notebooks_own_parameters_are_typed_by_their_defaults(tmp_path) -> None:
    from conflict_report.runs import sweep

    plain_notebook(tmp_path / "deadly_events.ipynb")
    runs_file = tmp_path / "runs.yml"
    runs_file.write_text(yaml.safe_dump({
        "notebooks_dir": str(tmp_path), "defaults": {"min_deaths": 7, "contry": "Syria"},
        "runs": [{"name": "ok", "notebook": "deadly_events", "parameters": {"min_deaths": 25}},
                 {"name": "typo", "notebook": "deadly_events", "parameters": {"min_death": 25}},
                 {"name": "text", "notebook": "deadly_events", "parameters": {"min_deaths": "many"}}]}), encoding="utf-8")
    with pytest.raises(sweep.RunsFileError) as raised:
        sweep.read_runs_file(runs_file)
    message = str(raised.value)
    assert "run 'typo': unknown parameter 'min_death' (notebook deadly_events's parameters: min_deaths)" in message
    assert "run 'text': parameter 'min_deaths' = 'many' is not a whole number like its default 5" in message
    assert "run 'ok'" not in message
    assert "defaults: parameter 'contry' is a parameter of none of the notebooks run" in message
    assert "min_deaths" not in message.split("defaults:", 1)[1]
