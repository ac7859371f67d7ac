"""Tests of the rendered-report checks on small hand-made fixtures.

The checks are proven on fixtures that plant each fault they look
for (tests/fixtures/site_bad) and on a clean site (tests/fixtures/site_good) that must pass, so a
check that always fails would be caught too. The browser is a real headless Chromium and the PDFs
are real, made in the test with pandoc (pypandoc-binary) and Typst (the typst package).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from conftest import run_cli

from conflict_report.report.checks import (
    Kind,
    Problem,
    check_pdf,
    check_quarto_stderr,
    check_site_from_disk,
    check_site_in_browser,
    find_chromium,
    main,
)

FIXTURES = Path(__file__).parent / "fixtures"
SITE_GOOD = FIXTURES / "site_good"
SITE_BAD = FIXTURES / "site_bad"

needs_chromium = pytest.mark.skipif(
    find_chromium() is None, reason="Chromium is not installed (apt-get install chromium, or set $CHROMIUM)"
)
needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None,
    reason="pdftotext/pdfinfo are not installed (apt-get install poppler-utils)",
)


def details(problems: list[Problem], kind: Kind, where: str) -> list[str]:
    """The details of the problems of one kind reported for one page or file."""
    return [problem.detail for problem in problems if problem.kind is kind and problem.where == where]


def assert_one_mentions(texts: list[str], fragment: str) -> None:
    assert sum(fragment in text for text in texts) == 1, f"expected exactly one of {texts} to mention {fragment!r}"


# --------------------------------------------------------------------------------------------------
# Site from disk
# --------------------------------------------------------------------------------------------------


def test_disk_check_passes_the_good_site() -> None:
    assert check_site_from_disk(SITE_GOOD) == []


def test_disk_check_reports_resources_from_other_hosts() -> None:
    outside = details(check_site_from_disk(SITE_BAD), Kind.OUTSIDE_RESOURCE, "index.html")
    assert_one_mentions(outside, "https://cdn.jsdelivr.net/npm/x.js")
    assert_one_mentions(outside, "http://example.com/a.png")
    assert len(outside) == 2


def test_disk_check_reports_missing_files_and_broken_links_only() -> None:
    broken = details(check_site_from_disk(SITE_BAD), Kind.BROKEN_LINK, "index.html")
    assert_one_mentions(broken, "missing.png")
    assert_one_mentions(broken, "nowhere.html")
    assert len(broken) == 2  # markers.html and pic.png exist and are not reported


def test_disk_check_reports_the_image_without_alt_text() -> None:
    problems = check_site_from_disk(SITE_BAD)
    assert details(problems, Kind.MISSING_ALT, "index.html") == ["<img src='pic.png'> has no alt text"]


def test_disk_check_reports_quarto_markers_on_their_page() -> None:
    problems = check_site_from_disk(SITE_BAD)
    markers = details(problems, Kind.QUARTO_MARKER, "markers.html")
    assert_one_mentions(markers, "'?@fig-x'")
    assert_one_mentions(markers, "'?var:total'")
    assert details(problems, Kind.QUARTO_MARKER, "index.html") == []


def test_an_empty_site_is_reported_not_passed(tmp_path: Path) -> None:
    assert [problem.kind for problem in check_site_from_disk(tmp_path)] == [Kind.MISSING_OUTPUT]
    assert [problem.kind for problem in check_site_in_browser(tmp_path)] == [Kind.MISSING_OUTPUT]


# --------------------------------------------------------------------------------------------------
# Site in the browser
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_site_in_browser() -> list[Problem]:
    """One browser run over the bad site, shared by the tests that each look for one planted fault."""
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium, or set $CHROMIUM)")
    return check_site_in_browser(SITE_BAD)


@pytest.mark.browser
@needs_chromium
def test_browser_passes_the_good_site() -> None:
    assert check_site_in_browser(SITE_GOOD) == []


@pytest.mark.browser
def test_browser_reports_requests_to_other_hosts_with_their_url(bad_site_in_browser: list[Problem]) -> None:
    outside = details(bad_site_in_browser, Kind.OUTSIDE_REQUEST, "index.html")
    assert_one_mentions(outside, "https://cdn.jsdelivr.net/npm/x.js")
    assert_one_mentions(outside, "http://example.com/a.png")
    # Blocked on purpose, so reported as a request to another host -- not as a failed load or broken image.
    others = [problem.detail for problem in bad_site_in_browser if problem.kind is not Kind.OUTSIDE_REQUEST]
    assert not [detail for detail in others if "jsdelivr" in detail or "example.com" in detail]


@pytest.mark.browser
def test_browser_reports_console_error_and_uncaught_exception(bad_site_in_browser: list[Problem]) -> None:
    errors = details(bad_site_in_browser, Kind.CONSOLE_ERROR, "index.html")
    assert_one_mentions(errors, "console.error: planted console error")
    assert_one_mentions(errors, "uncaught exception: Error: planted exception")


@pytest.mark.browser
def test_browser_reports_missing_image_as_failed_load_and_broken_image(bad_site_in_browser: list[Problem]) -> None:
    failed = details(bad_site_in_browser, Kind.FAILED_LOAD, "index.html")
    assert len(failed) == 1 and failed[0].startswith("HTTP 404 for ") and failed[0].endswith("/missing.png")
    broken = details(bad_site_in_browser, Kind.BROKEN_IMAGE, "index.html")
    assert len(broken) == 1 and broken[0].startswith("<img src='missing.png'> did not load")


@pytest.mark.browser
def test_browser_reports_the_image_without_alt_text(bad_site_in_browser: list[Problem]) -> None:
    assert details(bad_site_in_browser, Kind.MISSING_ALT, "index.html") == ["<img src='pic.png'> has no alt text"]


@pytest.mark.browser
def test_browser_attributes_problems_to_their_own_page(bad_site_in_browser: list[Problem]) -> None:
    assert {problem.where for problem in bad_site_in_browser} == {"index.html"}  # markers.html loads cleanly


class _RecordingHandler(BaseHTTPRequestHandler):
    """Answers every GET with 200 and records its path, so a leaked request would be seen."""

    def do_GET(self) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def sentinel_host(address: str) -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on another loopback address standing in for 'another host'; yields (base URL, paths hit)."""
    try:
        server = ThreadingHTTPServer((address, 0), _RecordingHandler)
    except OSError as error:
        pytest.skip(f"cannot bind a sentinel server to {address}: {error}")
    server.paths = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}", server.paths  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
@needs_chromium
def test_no_request_reaches_another_host(tmp_path: Path) -> None:
    with sentinel_host("127.0.0.2") as (outside, paths_hit):
        urls = [f"{outside}/beacon.png", f"{outside}/tracker.js", f"{outside}/api"]
        (tmp_path / "index.html").write_text(
            f'<!DOCTYPE html><html><head><script src="{urls[1]}"></script></head><body>'
            f'<img src="{urls[0]}" alt="beacon"><script>fetch("{urls[2]}").catch(() => {{}});</script>'
            "</body></html>",
            encoding="utf-8",
        )
        blocked = check_site_in_browser(tmp_path)
        assert paths_hit == [], "a request left the checker's browser"
        outside_requests = details(blocked, Kind.OUTSIDE_REQUEST, "index.html")
        for url in urls:
            assert_one_mentions(outside_requests, url)

        # Control: with that host allowed, the same page does reach the sentinel, so an empty
        # list above means the requests were blocked -- not that the sentinel could not see them.
        allowed = check_site_in_browser(tmp_path, extra_allowed_hosts={"127.0.0.2"})
        assert sorted(paths_hit) == ["/api", "/beacon.png", "/tracker.js"]
        assert details(allowed, Kind.OUTSIDE_REQUEST, "index.html") == []


# --------------------------------------------------------------------------------------------------
# PDF (made in the test: pandoc writes Typst markup, Typst compiles it)
# --------------------------------------------------------------------------------------------------

GOOD_REPORT_MARKDOWN = r"""
# Ledger

The ledger counts 112,337 events.

Events in 2023:\
45,210

`#pagebreak()`{=typst}

# Sources

Events come from three sources.
"""

# One page, US letter, unresolved markers as Quarto leaves them, and no ledger total.
BAD_REPORT_MARKDOWN = r"""
# Ledger

The trend is shown in ?\@fig-x; in total ?var:total events.
"""


def render_pdf(markdown: str, paper: str, pdf_path: Path) -> Path:
    """Write ``markdown`` as a PDF on ``paper`` via pandoc's Typst writer and the Typst compiler."""
    pypandoc = pytest.importorskip("pypandoc", reason="pypandoc-binary is not installed (pip install pypandoc-binary)")
    typst = pytest.importorskip("typst", reason="typst is not installed (pip install typst)")
    typst_source = pdf_path.with_suffix(".typ")
    typst_source.write_text(
        pypandoc.convert_text(
            markdown, "typst", format="markdown", extra_args=["--standalone", "-V", f"papersize={paper}"]
        ),
        encoding="utf-8",
    )
    typst.compile(str(typst_source), output=str(pdf_path))
    return pdf_path


@pytest.fixture(scope="module")
def good_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_pdf(GOOD_REPORT_MARKDOWN, "a4", tmp_path_factory.mktemp("pdf") / "good.pdf")


@needs_poppler
def test_pdf_check_passes_the_good_pdf(good_pdf: Path) -> None:
    assert check_pdf(good_pdf, ["112,337", "Events in 2023: 45,210"], require_a4=True) == []


@needs_poppler
def test_pdf_check_matches_text_across_line_breaks(good_pdf: Path) -> None:
    raw_text = subprocess.run(["pdftotext", str(good_pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Events in 2023: 45,210" not in raw_text  # the layout really broke the line
    assert check_pdf(good_pdf, ["Events in 2023: 45,210"]) == []
    assert details(check_pdf(good_pdf, ["Events in 2024: 45,210"]), Kind.MISSING_TEXT, str(good_pdf)) == [
        "'Events in 2024: 45,210' does not appear in the text"
    ]


@needs_poppler
def test_pdf_check_reports_markers_missing_text_page_count_and_size(tmp_path: Path) -> None:
    bad_pdf = render_pdf(BAD_REPORT_MARKDOWN, "us-letter", tmp_path / "bad.pdf")
    problems = check_pdf(bad_pdf, ["112,337"], require_a4=True)
    where = str(bad_pdf)
    markers = details(problems, Kind.QUARTO_MARKER, where)
    assert_one_mentions(markers, "'?@fig-x'")
    assert_one_mentions(markers, "'?var:total'")
    assert details(problems, Kind.MISSING_TEXT, where) == ["'112,337' does not appear in the text"]
    assert details(problems, Kind.PAGE_COUNT, where) == ["1 pages, expected between 2 and 200"]
    assert details(problems, Kind.PAGE_SIZE, where) == ["page 1 is 612 x 792 pt, A4 is 595 x 842 pt"]
    assert len(problems) == 5


@needs_poppler
def test_pdf_check_reports_a_file_that_is_not_a_pdf(tmp_path: Path) -> None:
    not_a_pdf = tmp_path / "report.pdf"
    not_a_pdf.write_text("<html>an error page saved as PDF</html>")
    assert [problem.kind for problem in check_pdf(not_a_pdf, ["112,337"])] == [Kind.MISSING_OUTPUT]


# --------------------------------------------------------------------------------------------------
# Quarto render log and command line
# --------------------------------------------------------------------------------------------------


def test_quarto_stderr_warning_lines_are_problems() -> None:
    log = (
        "Rendering report.qmd\n"
        "\x1b[33mWARNING (report.qmd:12:5) Unable to resolve crossref @fig-x\x1b[39m\n"
        "Output created: _site/index.html\n"
        "WARNING: ?var:total is not defined in _variables.yml\n"
    )
    problems = check_quarto_stderr(log)
    assert [(problem.kind, problem.where) for problem in problems] == [
        (Kind.RENDER_WARNING, "quarto render log, line 2"),
        (Kind.RENDER_WARNING, "quarto render log, line 4"),
    ]
    assert problems[0].detail == "WARNING (report.qmd:12:5) Unable to resolve crossref @fig-x"
    assert check_quarto_stderr("Rendering report.qmd\nOutput created: _site/index.html\n") == []


def test_main_prints_problems_and_returns_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    render_log = tmp_path / "render.log"
    render_log.write_text("WARNING: unresolved crossref\n")
    assert main(["--site", str(SITE_BAD), "--no-browser", "--render-log", str(render_log)]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert any(
        line.startswith("markers.html: Quarto failure marker: unresolved cross-reference '?@fig-x'") for line in printed
    )
    assert any(line.startswith("quarto render log, line 1: render warning:") for line in printed)


def test_main_refuses_to_check_nothing() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2


@pytest.mark.browser
@needs_chromium
@needs_poppler
def test_main_returns_0_for_the_good_site_and_pdf(capsys: pytest.CaptureFixture[str], good_pdf: Path) -> None:
    assert main(["--site", str(SITE_GOOD), "--pdf", str(good_pdf), "--expect", "112,337", "--a4"]) == 0
    assert capsys.readouterr().out == "rendered report passed all checks\n"


# --------------------------------------------------------------------------------------------------
# A real render, when there is one
# --------------------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
@needs_poppler
def test_real_quarto_render_passes_the_checks(rendered_project: Path) -> None:
    """`make render-check` (check-render with no paths) on the session's real render: the site in
    Chromium, the PDF with the ledger's national totals, and the render's Quarto warnings."""
    variables = yaml.safe_load((rendered_project / "report" / "_variables.yml").read_text(encoding="utf-8"))
    done = run_cli(["check-render"], root=rendered_project, check=False, timeout=1800)
    assert (done.returncode, done.stdout.splitlines()[-1:]) == (0, ["rendered report passed all checks"]), done.stdout + done.stderr
    # The same checks do see the ledger's numbers in this PDF, and would miss a number it lacks.
    pdf = rendered_project / "report" / "_output" / "report.pdf"
    national = [variables["national"]["deaths_best"], variables["national"]["events"]]
    assert check_pdf(pdf, national, min_pages=10, require_a4=True) == []
    assert details(check_pdf(pdf, ["999,999,999"]), Kind.MISSING_TEXT, str(pdf)) == ["'999,999,999' does not appear in the text"]


def test_check_render_takes_its_options(capsys: pytest.CaptureFixture[str], good_pdf: Path) -> None:
    """The CLI's check-render (what `make render-check` calls) parses --site and --pdf itself."""
    from conflict_report.cli import main as cli_main

    assert cli_main(["check-render", "--site", str(SITE_BAD), "--no-browser", "--pdf", str(good_pdf), "--expect", "112,337"]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert any(line.startswith("markers.html: Quarto failure marker") for line in printed)
    assert printed[-1].endswith("problem(s) found")


def test_make_report_says_in_one_line_which_checks_a_missing_tool_skipped(
    tmp_path: Path, good_pdf: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without Chromium and poppler, `make report` still checks the site from disk and Quarto's
    log, says in one line what it skipped, and passes; `make render-check` fails instead."""
    from conflict_report.report import build

    output = tmp_path / "_output"
    shutil.copytree(SITE_GOOD, output)
    shutil.copy(good_pdf, output / "report.pdf")
    monkeypatch.setattr(build, "VARIABLES", tmp_path / "no-variables.yml")
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no pdftotext, no pdfinfo, no chromium
    assert build.check_output(output, "Output created: _output.new/index.html\n") is True
    printed = capsys.readouterr()
    skipped = [line for line in printed.out.splitlines() if "skipped" in line]
    assert len(skipped) == 1 and all(tool in skipped[0] for tool in ("Chromium", "pdftotext", "pdfinfo")), printed.out
    assert printed.err == ""
    assert build.check_output(output, None, missing_tools_fail=True) is False
    # The checks that need no tool still fail the run.
    assert build.check_output(output, "WARNING (overview.qmd:3:1) Unknown var nope specified in a var shortcode\n") is False
    assert "Unknown var nope" in capsys.readouterr().err
