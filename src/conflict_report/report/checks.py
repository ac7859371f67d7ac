"""Checks of a rendered Quarto report: the HTML site (from disk and in a real headless browser) and the PDF.

Why these checks exist: Quarto does not fail a render for an unresolved cross-reference or an unknown
variable -- it only warns and leaves markers such as ``?@fig-x`` or ``?var:total`` in the output. A site
can also look fine on disk yet throw script errors, show broken figures, or fetch scripts and fonts from
other hosts (which leaks every reader's visit and breaks offline reading). So the rendered output itself
is checked: statically from disk, in an installed headless Chromium driven by Playwright (with every
request to another host blocked and reported), and the PDF through poppler's ``pdftotext`` and ``pdfinfo``.

Every check returns a list of :class:`Problem`; an empty list means the output passed.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from enum import Enum
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from conflict_report.report import pdf_layout
from conflict_report.report.check_options import add_arguments

__all__ = [
    "LOCAL_HOSTS",
    "BrowserCheckError",
    "Kind",
    "Problem",
    "add_arguments",
    "check_pdf",
    "check_quarto_stderr",
    "check_rendered",
    "check_site_from_disk",
    "check_site_in_browser",
    "find_chromium",
    "main",
    "run",
]

# The checker serves the site on 127.0.0.1; only these hosts may be contacted by a page.
LOCAL_HOSTS: frozenset[str] = frozenset({"127.0.0.1", "localhost"})

INSTALL_CHROMIUM = "apt-get install chromium, or set CHROMIUM=/path/to/chromium"

CHROMIUM_FLAGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)

A4_POINTS = (595.276, 841.89)
A4_TOLERANCE_POINTS = 2.0


class Kind(str, Enum):
    """What sort of problem was found; the value is the wording shown to the reader."""

    CONSOLE_ERROR = "console error"
    FAILED_LOAD = "failed load"
    BROKEN_IMAGE = "broken image"
    MISSING_ALT = "image without alt text"
    OUTSIDE_REQUEST = "request to other host"
    OUTSIDE_RESOURCE = "resource from other host"
    BROKEN_LINK = "broken link"
    QUARTO_MARKER = "Quarto failure marker"
    MISSING_TEXT = "expected text missing"
    PAGE_COUNT = "page count out of bounds"
    PAGE_SIZE = "page size is not A4"
    RENDER_WARNING = "render warning"
    MISSING_OUTPUT = "missing or unreadable output"
    LAYOUT = "text lost in the PDF layout"
    TOOL_MISSING = "tool missing"
    CHECK_FAILED = "check could not run"


_SHIP_INSIDE_SITE = "Ship the resource inside the site (embed-resources: true); pages load nothing from other hosts"

_ADVICE: dict[Kind, str] = {
    Kind.CONSOLE_ERROR: "Fix the script error; open the page with the browser's console to see it",
    Kind.FAILED_LOAD: "Make the file part of the rendered output, or remove the reference to it",
    Kind.BROKEN_IMAGE: "Make sure the figure file is rendered into the site and is a valid image",
    Kind.MISSING_ALT: "Give the figure alt text (fig-alt: in the chunk options, or ![alt text](file))",
    Kind.OUTSIDE_REQUEST: _SHIP_INSIDE_SITE,
    Kind.OUTSIDE_RESOURCE: _SHIP_INSIDE_SITE,
    Kind.BROKEN_LINK: "Fix the link target, or make the target file part of the rendered output",
    Kind.QUARTO_MARKER: "Fix the cross-reference label or define the variable (_variables.yml); Quarto only warned",
    Kind.MISSING_TEXT: "Check that the report was rendered from the expected data and that the text is not an image",
    Kind.PAGE_COUNT: "Check the render: a report this short or long is probably truncated or duplicated",
    Kind.PAGE_SIZE: "Set papersize: a4 in the PDF format options of _quarto.yml",
    Kind.RENDER_WARNING: "Fix the cause of the warning; Quarto does not fail the render for it",
    Kind.MISSING_OUTPUT: "Re-render the report: this output is missing or damaged",
    Kind.LAYOUT: "Make the table or text fit the page: shorten long values, let the table break (report/_typst/)",
    Kind.TOOL_MISSING: "Install the tool named in the message",
    Kind.CHECK_FAILED: "Fix what the message names and check again; the output was not checked",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the rendered output: where (page or file), what, and (via ``advice``) what to do."""

    kind: Kind
    where: str
    detail: str

    @property
    def advice(self) -> str:
        return _ADVICE[self.kind]

    def __str__(self) -> str:
        return f"{self.where}: {self.kind.value}: {self.detail}. {self.advice}"


class BrowserCheckError(RuntimeError):
    """The browser check itself could not run (Chromium would not start or stopped answering)."""


# --------------------------------------------------------------------------------------------------
# Shared helpers: pages of a site, hosts, Quarto markers, external tools
# --------------------------------------------------------------------------------------------------


def _html_pages(site_dir: Path, names: Sequence[str] | None = None) -> list[Path]:
    """Every HTML page of the site, or those of ``names`` that are there."""
    if names is not None:
        return sorted(site_dir / name for name in names if (site_dir / name).is_file())
    return sorted(path for path in site_dir.rglob("*.html") if path.is_file())


def _no_pages_problem(site_dir: Path) -> list[Problem]:
    """An empty or missing site must not pass as "no problems found"."""
    return [Problem(Kind.MISSING_OUTPUT, str(site_dir), "no HTML pages found")]


def _page_name(site_dir: Path, page: Path) -> str:
    return page.relative_to(site_dir).as_posix()


def _is_other_host(url: str, allowed_hosts: Collection[str]) -> bool:
    """True for URLs naming a host that is not allowed; data:, blob: and about: URLs name no host."""
    host = urlsplit(url).hostname
    return host is not None and host not in allowed_hosts


# Quarto leaves these in the output where a cross-reference or variable could not be resolved.
_QUARTO_MARKERS: dict[str, re.Pattern[str]] = {
    "unresolved cross-reference": re.compile(r"\?@[\w:.-]*"),
    "unknown variable": re.compile(r"\?var:[\w.-]*"),
    "unknown metadata key": re.compile(r"\?meta:[\w.-]*"),
    "invalid variable type": re.compile(r"\?invalid var type"),
}


def _quarto_marker_problems(text: str, where: str) -> list[Problem]:
    problems: list[Problem] = []
    for meaning, pattern in _QUARTO_MARKERS.items():
        found = dict.fromkeys(match.group().rstrip(".:-") for match in pattern.finditer(text))
        problems += [Problem(Kind.QUARTO_MARKER, where, f"{meaning} {token!r} in the text") for token in found]
    return problems


def _normalise_whitespace(text: str) -> str:
    return " ".join(text.split())


def _missing_tool_problems(tools: Sequence[str], package: str, where: str) -> list[Problem]:
    return [
        Problem(Kind.TOOL_MISSING, where, f"{tool} not found on PATH (apt-get install {package})")
        for tool in tools
        if shutil.which(tool) is None
    ]


# --------------------------------------------------------------------------------------------------
# Site from disk
# --------------------------------------------------------------------------------------------------

# <link rel=...> values that make the browser fetch the href (unlike canonical or alternate).
_LOADING_LINK_RELS = frozenset(
    {
        "stylesheet",
        "icon",
        "preload",
        "prefetch",
        "preconnect",
        "dns-prefetch",
        "modulepreload",
        "manifest",
        "apple-touch-icon",
    }
)


@dataclass(frozen=True)
class _Reference:
    tag: str
    attribute: str
    target: str
    loads_resource: bool  # fetched with the page (img/script src, stylesheet href), not merely linked


class _PageParser(HTMLParser):
    """Collects references, images without alt text, and the visible text of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.references: list[_Reference] = []
        self.images_without_alt: list[str] = []
        self.text_chunks: list[str] = []
        self._hidden_depth = 0  # inside <script>/<style>, whose text is code, not report text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if "src" in attributes:
            self.references.append(_Reference(tag, "src", attributes["src"], loads_resource=True))
        if "href" in attributes:
            rels = set(attributes.get("rel", "").lower().split())
            loads = tag == "link" and bool(rels & _LOADING_LINK_RELS)
            self.references.append(_Reference(tag, "href", attributes["href"], loads_resource=loads))
        if tag == "img" and not attributes.get("alt", "").strip():
            self.images_without_alt.append(attributes.get("src", ""))
        if tag in ("script", "style"):
            self._hidden_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden_depth = max(0, self._hidden_depth - 1)

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.text_chunks.append(data)


def check_site_from_disk(site_dir: Path, pages: Sequence[str] | None = None) -> list[Problem]:
    """Check every HTML page of a rendered site (or the ``pages`` named, paths in the site)
    without a browser.

    Reports relative links and sources that do not resolve to a file inside the site, resources
    (img/script src, stylesheet-like link href) loaded from other hosts, images without alt text, and
    Quarto's failure markers left in the text. Links to other sites, ``#anchors`` and ``mailto:`` are fine.
    """
    site_dir = Path(site_dir)
    found = _html_pages(site_dir, pages)
    if not found:
        return _no_pages_problem(site_dir)
    missing = [Problem(Kind.MISSING_OUTPUT, str(site_dir / name), "the page was rendered but is not in the site")
               for name in pages or () if not (site_dir / name).is_file()]
    return missing + [problem for page in found for problem in _check_page_from_disk(site_dir, page)]


def _check_page_from_disk(site_dir: Path, page: Path) -> list[Problem]:
    where = _page_name(site_dir, page)
    parser = _PageParser()
    parser.feed(page.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    problems = [
        problem
        for problem in (_reference_problem(site_dir, page, where, reference) for reference in parser.references)
        if problem is not None
    ]
    problems += [
        Problem(Kind.MISSING_ALT, where, f"<img src={source!r}> has no alt text")
        for source in parser.images_without_alt
    ]
    return problems + _quarto_marker_problems(_normalise_whitespace("".join(parser.text_chunks)), where)


def _reference_problem(site_dir: Path, page: Path, where: str, reference: _Reference) -> Problem | None:
    target = reference.target.strip()
    parts = urlsplit(target)
    shown = f"<{reference.tag} {reference.attribute}={target!r}>"
    if parts.scheme in ("http", "https") or target.startswith("//"):
        if reference.loads_resource and _is_other_host(target if parts.scheme else "http:" + target, LOCAL_HOSTS):
            return Problem(Kind.OUTSIDE_RESOURCE, where, f"{shown} loads from another host")
        return None
    if parts.scheme:  # mailto:, data:, javascript:, tel: ... name no file of the site
        return None
    resolved = _resolve_inside_site(site_dir, page, unquote(parts.path))
    if resolved is None:
        return Problem(Kind.BROKEN_LINK, where, f"{shown} does not resolve to a file inside the site")
    return None


def _resolve_inside_site(site_dir: Path, page: Path, path: str) -> Path | None:
    """The file a relative URL path names, or None if it is missing or outside the site."""
    if not path:  # "#anchor" or "?query" alone: the page itself
        return page
    base = site_dir if path.startswith("/") else page.parent
    candidate = (base / path.lstrip("/")).resolve()
    if not candidate.is_relative_to(site_dir.resolve()):
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"  # what a web server answers for a folder
    return candidate if candidate.is_file() else None


# --------------------------------------------------------------------------------------------------
# Site in the browser: static server, an installed Chromium driven by Playwright
# --------------------------------------------------------------------------------------------------


def find_chromium() -> str | None:
    """The installed Chromium to drive: $CHROMIUM (a path, or a name on PATH) if set, else Debian's
    /usr/bin/chromium, else chromium or chromium-browser on PATH; None if there is none.

    Playwright is only the driver: it is never asked to download a browser of its own."""
    named = os.environ.get("CHROMIUM")
    candidates = [named] if named else ["/usr/bin/chromium", "chromium", "chromium-browser"]
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
        found = shutil.which(candidate)
        if found:
            return found
    return None


class _QuietFileHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the requests are judged through the browser, and test output stays readable."""


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silent: the browser closing a connection early is no fault of the site."""


@contextmanager
def _serving(site_dir: Path) -> Iterator[str]:
    """Serve ``site_dir`` on 127.0.0.1 on a free port; yields the base URL (ending in '/')."""
    handler = functools.partial(_QuietFileHandler, directory=str(site_dir))
    server = _QuietServer(("127.0.0.1", 0), handler)
    # shutdown() waits for serve_forever's next look at its flag: every 0.5 s by default.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="report-check-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def _refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so nothing else takes it) but not listening."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@contextmanager
def _launched_browser(chromium: str) -> Iterator[Any]:
    """Headless ``chromium`` under Playwright; yields a fresh browser context.

    Besides the per-page block of other hosts (routes), Chromium is pointed at a proxy port that
    refuses connections, so traffic the routes cannot see (preconnects, browser services) cannot
    leave either; Chromium sends loopback addresses past proxies, so the local server is still
    reached directly. The proxy is given as a plain switch: Playwright's own ``proxy`` option
    would send loopback through it too.
    """
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise BrowserCheckError(f"the Python package playwright is not installed ({error}); pip install playwright") from error
    with _refusing_port() as dead_proxy_port, sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=chromium,
                headless=True,
                args=[*CHROMIUM_FLAGS, f"--proxy-server=http://127.0.0.1:{dead_proxy_port}"],
                timeout=60_000,
            )
        except PlaywrightError as error:
            raise BrowserCheckError(f"Chromium at {chromium} would not start: {error.message.splitlines()[0]}") from error
        try:
            yield browser.new_context()
        finally:
            browser.close()


# Makes lazy images load, waits (bounded) for all images to settle, and describes each one.
_IMAGE_SURVEY_SCRIPT = """
async () => {
  const images = Array.from(document.images);
  for (const image of images) image.loading = "eager";
  const settled = image => image.complete ? null : new Promise(done => {
    image.addEventListener("load", done, {once: true});
    image.addEventListener("error", done, {once: true});
  });
  await Promise.race([Promise.all(images.map(settled)), new Promise(done => setTimeout(done, 5000))]);
  return images.map(image => ({
    source: image.getAttribute("src") || "",
    url: image.currentSrc || image.src,
    hasAlt: (image.getAttribute("alt") || "").trim() !== "",
    broken: image.naturalWidth === 0,
  }));
}
"""

# Chromium logs each failed load to the console too; those are reported once, from the network
# events (as a failed load, or as a blocked request to another host), not as console errors.
_NETWORK_LOG_PREFIX = "Failed to load resource:"


@dataclass
class _PageVisit:
    """What one page does in the browser, gathered from the events of its own tab."""

    page: str
    allowed_hosts: frozenset[str]
    problems: list[Problem] = field(default_factory=list)

    def report(self, kind: Kind, detail: str) -> None:
        problem = Problem(kind, self.page, detail)
        if problem not in self.problems:
            self.problems.append(problem)

    def route(self, route: Any) -> None:
        """Every request asks here first: other hosts are refused before anything leaves the machine."""
        url = route.request.url
        if _is_other_host(url, self.allowed_hosts):
            self.report(Kind.OUTSIDE_REQUEST, f"blocked request to {url}")
            route.abort("blockedbyclient")
        else:
            route.continue_()

    def on_response(self, response: Any) -> None:
        if response.status >= 400 and not _is_unasked_favicon(response.url):
            self.report(Kind.FAILED_LOAD, f"HTTP {response.status} for {response.url}")

    def on_request_failed(self, request: Any) -> None:
        failure = request.failure or "load failed"
        # Requests to other hosts were reported when blocked; aborted ones were not faults of the site.
        if not _is_other_host(request.url, self.allowed_hosts) and "ERR_ABORTED" not in failure:
            self.report(Kind.FAILED_LOAD, f"{failure} for {request.url}")

    def on_console(self, message: Any) -> None:
        if message.type in ("error", "assert") and not message.text.startswith(_NETWORK_LOG_PREFIX):
            self.report(Kind.CONSOLE_ERROR, f"console.{message.type}: {message.text}")

    def on_page_error(self, error: Any) -> None:
        name = getattr(error, "name", "") or "Error"
        first_line = (getattr(error, "message", "") or str(error)).splitlines()
        self.report(Kind.CONSOLE_ERROR, f"uncaught exception: {name}: {first_line[0] if first_line else '?'}")


def _is_unasked_favicon(url: str) -> bool:
    """Browsers ask for /favicon.ico on their own; a missing one is no fault of the site (a declared
    icon that is missing is found by the disk check)."""
    return urlsplit(url).path == "/favicon.ico"


def check_site_in_browser(
    site_dir: Path,
    *,
    page_timeout: float = 15.0,
    extra_allowed_hosts: Collection[str] = (),
    pages: Sequence[str] | None = None,
) -> list[Problem]:
    """Load every HTML page of a rendered site in headless Chromium and report what went wrong.

    The site is served on 127.0.0.1 on a free port and each page opens in a fresh tab of an
    installed Chromium (see :func:`find_chromium`) driven by Playwright. Reported per page: console
    errors and uncaught exceptions, failed loads (network errors or HTTP >= 400), broken images,
    images without alt text, and every request to a host other than 127.0.0.1/localhost (or
    ``extra_allowed_hosts``) -- such requests are blocked before they leave the machine, and
    reported with their URL. Raises BrowserCheckError if Chromium cannot be started or driven.
    """
    site_dir = Path(site_dir)
    found = _html_pages(site_dir, pages)
    if not found:
        return _no_pages_problem(site_dir)
    chromium = find_chromium()
    if chromium is None:
        return [Problem(Kind.TOOL_MISSING, str(site_dir), f"Chromium not found ({INSTALL_CHROMIUM})")]
    allowed_hosts = LOCAL_HOSTS | frozenset(extra_allowed_hosts)
    problems: list[Problem] = []
    with _serving(site_dir) as base_url, _launched_browser(chromium) as context:
        for page in found:
            name = _page_name(site_dir, page)
            problems += _visit_page(context, base_url + quote(name), _PageVisit(name, allowed_hosts), page_timeout)
    return problems


def _visit_page(context: Any, url: str, visit: _PageVisit, timeout: float) -> list[Problem]:
    """Open ``url`` in a fresh tab (so every event belongs to this page), let it settle, survey it."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    tab = context.new_page()
    try:
        tab.route("**/*", visit.route)
        tab.on("response", visit.on_response)
        tab.on("requestfailed", visit.on_request_failed)
        tab.on("console", visit.on_console)
        tab.on("pageerror", visit.on_page_error)
        try:
            tab.goto(url, wait_until="load", timeout=timeout * 1000)
        except PlaywrightTimeout:
            visit.report(Kind.FAILED_LOAD, f"page did not finish loading within {timeout:.0f} s")
        except PlaywrightError as error:
            visit.report(Kind.FAILED_LOAD, f"{error.message.splitlines()[0]} for {url}")
            return visit.problems
        try:  # late requests (scripts fetching data) are judged too
            tab.wait_for_load_state("networkidle", timeout=3000)
        except PlaywrightTimeout:
            pass
        try:
            images = tab.evaluate(_IMAGE_SURVEY_SCRIPT)
        except PlaywrightError as error:
            raise BrowserCheckError(f"image survey failed on {visit.page}: {error.message.splitlines()[0]}") from error
        for image in images:
            # An image from another host is broken because it was blocked; that was reported already.
            if image["broken"] and not _is_other_host(image["url"], visit.allowed_hosts):
                visit.report(Kind.BROKEN_IMAGE, f"<img src={image['source']!r}> did not load ({image['url']})")
            if not image["hasAlt"]:
                visit.report(Kind.MISSING_ALT, f"<img src={image['source']!r}> has no alt text")
        return visit.problems
    finally:
        tab.close()


# --------------------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------------------


def check_pdf(
    pdf_path: Path,
    expected_texts: Sequence[str],
    min_pages: int = 2,
    max_pages: int = 200,
    require_a4: bool = False,
    source_qmd: Path | None = None,
) -> list[Problem]:
    """Check a rendered PDF with poppler's pdfinfo and pdftotext.

    Reports expected texts (e.g. ledger totals such as "112,337") that do not appear, Quarto failure
    markers (``?@``, ``?var:``) left in the text, a page count outside [min_pages, max_pages], and with
    ``require_a4`` any page that is not A4 (either orientation). Whitespace and line breaks are
    normalised before matching, since pdftotext breaks lines wherever the layout did. With
    ``source_qmd`` (the document that rendered the PDF), also every word outside the text area or
    over another word (:func:`conflict_report.report.pdf_layout.report_layout_problems`).
    """
    where = str(pdf_path)
    missing_tools = _missing_tool_problems(("pdfinfo", "pdftotext"), "poppler-utils", where)
    if missing_tools:
        return missing_tools
    try:
        info = _run_poppler(["pdfinfo", "-f", "1", "-l", str(max_pages + 1), str(pdf_path)])
        text = _run_poppler(["pdftotext", "-enc", "UTF-8", str(pdf_path), "-"])
    except subprocess.CalledProcessError as error:
        return [
            Problem(Kind.MISSING_OUTPUT, where, f"{error.cmd[0]} failed: {error.stderr.strip() or error.returncode}")
        ]
    problems = _page_count_problems(info, where, min_pages, max_pages)
    if require_a4:
        problems += _page_size_problems(info, where)
    problems += _missing_text_problems(text, expected_texts, where)
    problems += _quarto_marker_problems(_normalise_whitespace(text), where)
    if source_qmd is not None:
        problems += [Problem(Kind.LAYOUT, where, detail) for detail in pdf_layout.report_layout_problems(pdf_path, source_qmd)]
    return problems


def _run_poppler(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout


def _page_count_problems(info: str, where: str, min_pages: int, max_pages: int) -> list[Problem]:
    match = re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE)
    if match is None:
        return [Problem(Kind.MISSING_OUTPUT, where, "pdfinfo reported no page count")]
    pages = int(match.group(1))
    if min_pages <= pages <= max_pages:
        return []
    return [Problem(Kind.PAGE_COUNT, where, f"{pages} pages, expected between {min_pages} and {max_pages}")]


def _page_size_problems(info: str, where: str) -> list[Problem]:
    problems = []
    for page, width, height in re.findall(r"^Page\s+(\d+) size:\s+([\d.]+) x ([\d.]+) pts", info, re.MULTILINE):
        if not _is_a4(float(width), float(height)):
            problems.append(Problem(Kind.PAGE_SIZE, where, f"page {page} is {width} x {height} pt, A4 is 595 x 842 pt"))
    return problems


def _is_a4(width: float, height: float) -> bool:
    short, long = sorted((width, height))
    return abs(short - A4_POINTS[0]) <= A4_TOLERANCE_POINTS and abs(long - A4_POINTS[1]) <= A4_TOLERANCE_POINTS


def _missing_text_problems(text: str, expected_texts: Sequence[str], where: str) -> list[Problem]:
    # Also search with end-of-line hyphens joined, for words the layout hyphenated across lines.
    haystacks = (_normalise_whitespace(text), _normalise_whitespace(re.sub(r"-\n", "", text)))
    return [
        Problem(Kind.MISSING_TEXT, where, f"{expected!r} does not appear in the text")
        for expected in expected_texts
        if not any(_normalise_whitespace(expected) in haystack for haystack in haystacks)
    ]


# --------------------------------------------------------------------------------------------------
# Quarto render log
# --------------------------------------------------------------------------------------------------

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def check_quarto_stderr(text: str) -> list[Problem]:
    """Every WARNING line of a ``quarto render`` log is a problem: Quarto reports unresolved
    cross-references and unknown variables only as warnings and still exits 0."""
    lines = _ANSI_ESCAPE.sub("", text).splitlines()
    return [
        Problem(Kind.RENDER_WARNING, f"quarto render log, line {number}", line.strip())
        for number, line in enumerate(lines, start=1)
        if re.search(r"\bWARN(ING)?\b", line)
    ]


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def check_rendered(
    site: Path | None = None,
    pdf: Path | None = None,
    *,
    expected_texts: Sequence[str] = (),
    min_pages: int = 2,
    max_pages: int = 200,
    require_a4: bool = False,
    render_log: str | None = None,
    browser: bool = True,
    source_qmd: Path | None = None,
    site_pages: Sequence[str] | None = None,
) -> list[Problem]:
    """Every check of a rendered report in one call (what `make report` runs on a new render
    before it replaces the last good one, and what `check-render` runs): the site from disk and
    in the browser, the PDF, and Quarto's warnings in ``render_log`` (its stderr).

    A tool that is not installed gives a :attr:`Kind.TOOL_MISSING` problem; the caller decides
    whether that fails the run or is only said. ``site_pages`` limits the site's checks to
    those pages (paths in the site: what a partial render wrote); an empty list skips them."""
    problems: list[Problem] = []
    if site is not None and (site_pages is None or site_pages):
        problems += check_site_from_disk(site, site_pages)
        if browser:
            try:
                problems += check_site_in_browser(site, pages=site_pages)
            except BrowserCheckError as error:
                problems.append(Problem(Kind.CHECK_FAILED, str(site), f"the browser check could not run: {error}"))
    if pdf is not None:
        problems += check_pdf(pdf, expected_texts, min_pages, max_pages, require_a4, source_qmd=source_qmd)
    if render_log is not None:
        problems += check_quarto_stderr(render_log)
    return problems


def run(arguments: argparse.Namespace) -> int:
    """Check what ``arguments`` name; prints one problem per line and returns 1 if there are any, else 0."""
    problems = check_rendered(
        arguments.site,
        arguments.pdf,
        expected_texts=arguments.expect,
        min_pages=arguments.min_pages,
        max_pages=arguments.max_pages,
        require_a4=arguments.a4,
        render_log=arguments.render_log.read_text(encoding="utf-8", errors="replace") if arguments.render_log else None,
        browser=not arguments.no_browser,
        source_qmd=arguments.pdf_source,
    )
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) found" if problems else "rendered report passed all checks")
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None, prog: str = "conflict_report check-render") -> int:
    """Check a rendered report named on the command line (see :func:`run`)."""
    parser = argparse.ArgumentParser(prog=prog, description="Check a rendered Quarto report (HTML site and PDF).")
    add_arguments(parser)
    arguments = parser.parse_args(argv)
    if not (arguments.site or arguments.pdf or arguments.render_log):
        parser.error("give at least one of --site, --pdf, --render-log")
    return run(arguments)
