"""The PDF layout check on real Quarto renders: one fixture per defect seen in the report (a table
in a float that runs off the page, a wide table whose columns overlap), each failing the check as
Quarto's default design renders it and passing once fixed with the report's own Typst design
(report/_typst/), at the thresholds used on the real report; and the real report passing it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO

from conflict_report.report import checks, pdf_layout, stamp

FIXTURE_DIR = FIXTURES / "pdf_layout"
REPORT_QMD = REPO / "report" / "report.qmd"
QUARTO = stamp.find_quarto()

needs_quarto = pytest.mark.skipif(QUARTO is None, reason="Quarto not found: set QUARTO or put quarto on PATH")
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                   reason="poppler's pdftotext not found (apt-get install poppler-utils)")


@pytest.fixture(scope="module")
def rendered_fixtures(tmp_path_factory) -> dict[str, Path]:
    """Every fixture rendered once by the real Quarto, beside a copy of the report's Typst design
    (the fixed variants name it in `template-partials`)."""
    folder = tmp_path_factory.mktemp("pdf_layout")
    shutil.copytree(REPO / "report" / "_typst", folder / "_typst")
    pdfs = {}
    for source in sorted(FIXTURE_DIR.glob("*.qmd")):
        shutil.copy(source, folder / source.name)
        done = subprocess.run([QUARTO, "render", source.name, "--to", "typst"], cwd=folder,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"quarto render {source.name} failed:\n{done.stderr[-3000:]}"
        pdfs[source.stem] = folder / f"{source.stem}.pdf"
    return pdfs


def problems_of(pdf: Path, header_text: str | None) -> list[str]:
    return pdf_layout.layout_problems(pdf, page_setup=pdf_layout.page_setup_from_qmd(REPORT_QMD), header_text=header_text)


def test_the_fixtures_have_the_report_page_setup():
    report = pdf_layout.page_setup_from_qmd(REPORT_QMD)
    for source in FIXTURE_DIR.glob("*.qmd"):
        assert pdf_layout.page_setup_from_qmd(source) == report, source.name


@needs_quarto
@needs_poppler
def test_a_table_in_a_float_that_runs_off_the_page_fails(rendered_fixtures):
    problems = problems_of(rendered_fixtures["long-table-in-float"], header_text=None)
    # The rows that did not fit are printed in a pile over the bottom margin, where only the page number may be.
    assert any(p.startswith("page 2: the bottom margin holds") and "expected the page number '2 of" in p for p in problems), problems
    assert any(p.startswith("page 2: words printed over each other") for p in problems), problems


@needs_quarto
@needs_poppler
def test_the_long_table_breaks_across_pages_with_the_report_design(rendered_fixtures):
    pdf = rendered_fixtures["long-table-in-float-fixed"]
    assert problems_of(pdf, header_text="A long table in a float") == []
    pages = pdf_layout.words_by_page(pdf)
    assert len(pages) >= 2
    texts = [" ".join(word.text for word in sorted(words, key=lambda w: (round(w.y_min), w.x_min))) for _, _, words in pages]
    assert "80 Event 80" in " ".join(texts), "the last row is on a page"
    # The header row is repeated on the page the table continues on.
    continued = next(text for text in texts[1:] if "Event 80" in text)
    assert "Row What Deaths" in continued


@needs_quarto
@needs_poppler
def test_a_wide_table_whose_columns_overlap_fails(rendered_fixtures):
    problems = problems_of(rendered_fixtures["wide-table"], header_text=None)
    assert any(p.startswith("page 1: words printed over each other") and "'ged_syria_20160101_20191130.csv.gz' and '25.1'" in p
               for p in problems), problems
    assert any(p.startswith("page 1: 2 word(s) outside the text area: 3b1f0c9a27d8") for p in problems), problems


@needs_quarto
@needs_poppler
def test_the_wide_table_fits_with_short_hashes_and_the_report_design(rendered_fixtures):
    assert problems_of(rendered_fixtures["wide-table-fixed"], header_text="A wide table") == []


@needs_quarto
@needs_poppler
def test_a_wrong_running_header_or_page_number_is_reported(rendered_fixtures):
    pdf = rendered_fixtures["wide-table-fixed"]
    assert problems_of(pdf, header_text="Another title") == [
        "page 1: the top margin holds 'A wide table', expected the running header 'Another title'"]
    # Quarto's default design has no running header.
    assert "page 1: the top margin holds '', expected the running header 'A wide table'" in problems_of(
        rendered_fixtures["wide-table"], header_text="A wide table")


@needs_quarto
@needs_poppler
def test_the_pdf_check_runs_the_layout_check_given_the_source_qmd(rendered_fixtures, capsys):
    broken, fixed = rendered_fixtures["wide-table"], rendered_fixtures["wide-table-fixed"]
    problems = checks.check_pdf(broken, [], min_pages=1, source_qmd=FIXTURE_DIR / "wide-table.qmd")
    assert problems and {problem.kind for problem in problems} == {checks.Kind.LAYOUT}
    assert any("words printed over each other" in problem.detail for problem in problems)
    assert checks.check_pdf(fixed, [], min_pages=1, source_qmd=FIXTURE_DIR / "wide-table-fixed.qmd") == []
    assert checks.main(["--pdf", str(broken), "--pdf-source", str(FIXTURE_DIR / "wide-table.qmd"), "--min-pages", "1"]) == 1
    assert "text lost in the PDF layout" in capsys.readouterr().out


def test_margins_missing_from_the_front_matter_are_named(tmp_path):
    qmd = tmp_path / "bare.qmd"
    qmd.write_text("---\ntitle: Bare\nformat: typst\n---\n\nText.\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bare.qmd: no format: typst: margin:"):
        pdf_layout.page_setup_from_qmd(qmd)


@needs_quarto
@needs_poppler
@pytest.mark.slow
def test_the_real_report_pdf_passes_the_layout_check(rendered_project):
    pdf = rendered_project / "report" / "_output" / "report.pdf"
    assert pdf_layout.report_layout_problems(pdf, rendered_project / "report" / "report.qmd") == []
