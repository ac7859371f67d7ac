"""Layout check of a rendered PDF: text that left the page's text area, and text printed over text.

Why: Typst does not fail when a table inside a figure float is taller than the page (the rows past
the bottom margin are printed over the footer and off the page) or when an unbreakable cell value is
wider than its column (it runs into the next column). The text is all still in the PDF, so a text
search passes; only the positions of the words show the damage. Poppler's ``pdftotext -bbox-layout``
gives every word's box, and two rules over those boxes catch both defects:

- every word lies inside the text area (the page less its margins), except the running header in
  the top margin and the page number in the bottom margin, whose text must be the expected header
  and "n of N";
- no two word boxes overlap by more than ``OVERLAP_TOLERANCE_PT`` on both axes.

The page setup (paper and margins) is read from the same Quarto front matter that rendered the PDF,
so the check and the render never disagree about where the text area is.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from conflict_report import yaml_text

__all__ = ["OVERLAP_TOLERANCE_PT", "PageSetup", "Word", "layout_problems", "page_setup_from_qmd", "report_layout_problems", "words_by_page"]

# Word boxes of neighbouring words and lines may touch; glyph boxes of one font overlap by a
# fraction of a point where kerning pulls letters together. More than this is text over text.
OVERLAP_TOLERANCE_PT = 1.0
# How far a word box may reach past the text area's left and right edges (side bearings).
EDGE_TOLERANCE_PT = 1.0
# pdftotext's word box is the font's box (ascender to descender, about 1.15 em), while Typst sets
# the first line of a page with its cap height, and the last with its baseline, on the text area's
# edge: the box of a word set flush with the top or bottom edge sticks out by about a fifth of its
# height. A word cut off by the edge of the page, or pushed into the margin, sticks out by far more.
GLYPH_BOX_SLACK = 0.25

_POINTS_PER_UNIT = {"pt": 1.0, "mm": 72 / 25.4, "cm": 72 / 2.54, "in": 72.0}
_PAPER_POINTS = {"a4": (595.276, 841.89), "us-letter": (612.0, 792.0)}
_XHTML = "{http://www.w3.org/1999/xhtml}"


@dataclass(frozen=True)
class PageSetup:
    """The text area of every page, as margins in points (the paper size comes from the PDF)."""

    left: float
    right: float
    top: float
    bottom: float


@dataclass(frozen=True)
class Word:
    text: str
    x_min: float
    y_min: float
    x_max: float
    y_max: float


def _length_points(value: object, where: str) -> float:
    match = re.fullmatch(r"\s*([\d.]+)\s*(pt|mm|cm|in)\s*", str(value))
    if match is None:
        raise ValueError(f"{where}: margin {value!r} is not a length such as 2.2cm, 20mm, 1in or 60pt")
    return float(match.group(1)) * _POINTS_PER_UNIT[match.group(2)]


def _front_matter(qmd: Path) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", Path(qmd).read_text(encoding="utf-8"), re.S)
    front = yaml_text.load(match.group(1)) if match else None
    return front if isinstance(front, dict) else {}


def page_setup_from_qmd(qmd: Path) -> PageSetup:
    """The margins a Quarto document gives its Typst PDF (``format: typst: margin:``).

    Reads the keys Quarto's Typst template reads: ``x`` and ``y``, overridden by ``left``,
    ``right``, ``top``, ``bottom``. Raises ValueError naming the file if the front matter has none.
    """
    formats = _front_matter(qmd).get("format")
    typst = formats.get("typst") if isinstance(formats, dict) else None  # `format: typst` alone sets no margin
    margin = typst.get("margin") if isinstance(typst, dict) else None
    if not isinstance(margin, dict):
        raise ValueError(f"{qmd}: no format: typst: margin: in the front matter; the layout check needs the page's margins")
    x, y = margin.get("x"), margin.get("y")
    sides = {"left": margin.get("left", x), "right": margin.get("right", x), "top": margin.get("top", y), "bottom": margin.get("bottom", y)}
    missing = [side for side, value in sides.items() if value is None]
    if missing:
        raise ValueError(f"{qmd}: format: typst: margin: gives no {', '.join(missing)} margin (set x: and y:)")
    return PageSetup(**{side: _length_points(value, f"{qmd}, margin {side}") for side, value in sides.items()})


def words_by_page(pdf: Path) -> list[tuple[float, float, list[Word]]]:
    """Per page: its width, height (points) and words with their boxes, from ``pdftotext -bbox-layout``.

    Raises FileNotFoundError if poppler's pdftotext is not installed, CalledProcessError if it fails.
    """
    if shutil.which("pdftotext") is None:
        raise FileNotFoundError("pdftotext not found on PATH (apt-get install poppler-utils)")
    xhtml = subprocess.run(["pdftotext", "-bbox-layout", "-enc", "UTF-8", str(pdf), "-"],
                           capture_output=True, check=True, timeout=300).stdout
    root = ElementTree.fromstring(xhtml)
    pages = []
    for page in root.iter(f"{_XHTML}page"):
        words = [Word(element.text or "", *(float(element.get(side)) for side in ("xMin", "yMin", "xMax", "yMax")))
                 for element in page.iter(f"{_XHTML}word")]
        pages.append((float(page.get("width")), float(page.get("height")), words))
    return pages


def _joined(words: list[Word]) -> str:
    """The words of a band in reading order (top to bottom, then left to right)."""
    ordered = sorted(words, key=lambda word: (round(word.y_min), word.x_min))
    return " ".join(word.text for word in ordered)


def _abridged(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + " …"


def _shown(words: list[Word], limit: int = 8) -> str:
    texts = [word.text for word in words]
    return " ".join(texts[:limit]) + (f" … ({len(texts)} words)" if len(texts) > limit else "")


def _upper_edge(word: Word) -> float:
    """The top of the letters (see GLYPH_BOX_SLACK)."""
    return word.y_min + GLYPH_BOX_SLACK * (word.y_max - word.y_min)


def _lower_edge(word: Word) -> float:
    return word.y_max - GLYPH_BOX_SLACK * (word.y_max - word.y_min)


def _inside(word: Word, left: float, top: float, right: float, bottom: float) -> bool:
    return left <= word.x_min and word.x_max <= right and top <= _upper_edge(word) and _lower_edge(word) <= bottom


def _overlapping_pairs(words: list[Word], tolerance: float) -> list[tuple[Word, Word]]:
    """Pairs of words whose boxes overlap by more than ``tolerance`` both across and down.

    A sweep over the words sorted by their top edge: only words whose vertical extent can still
    overlap are compared, which keeps a page of a thousand words fast."""
    ordered = sorted(words, key=lambda word: word.y_min)
    pairs = []
    active: list[Word] = []
    for word in ordered:
        active = [other for other in active if other.y_max - word.y_min > tolerance]
        for other in active:
            across = min(word.x_max, other.x_max) - max(word.x_min, other.x_min)
            down = min(word.y_max, other.y_max) - max(word.y_min, other.y_min)
            if across > tolerance and down > tolerance:
                pairs.append((other, word))
        active.append(word)
    return pairs


def layout_problems(
    pdf: Path,
    *,
    page_setup: PageSetup,
    header_text: str | None,
    first_numbered_page: int = 1,
    overlap_tolerance: float = OVERLAP_TOLERANCE_PT,
    edge_tolerance: float = EDGE_TOLERANCE_PT,
) -> list[str]:
    """Everything wrong with where the words of ``pdf`` are; an empty list means the layout passed.

    Each problem names the page and the words. A page's words must lie in its text area (the page
    less ``page_setup``'s margins), except:

    - in the top margin, the running header: its text must start with ``header_text`` (the
      report's title; the current section may follow). With ``header_text=None`` no header is
      expected and any word there is a problem. The pages before ``first_numbered_page`` (a
      title page) have no header;
    - in the bottom margin, the page number: exactly "n of N" (n this page, N the page count) on
      every page from ``first_numbered_page`` on, nothing before it.

    Words in the left or right margin, and any two word boxes that overlap by more than
    ``overlap_tolerance`` points on both axes, are problems on every page.
    """
    pages = words_by_page(pdf)
    count = len(pages)
    problems: list[str] = []
    for number, (width, height, words) in enumerate(pages, start=1):
        left, right = page_setup.left - edge_tolerance, width - page_setup.right + edge_tolerance
        top, bottom = page_setup.top, height - page_setup.bottom
        in_header = [w for w in words if _lower_edge(w) <= top and left <= w.x_min and w.x_max <= right]
        in_footer = [w for w in words if _upper_edge(w) >= bottom and left <= w.x_min and w.x_max <= right]
        banded = set(map(id, in_header)) | set(map(id, in_footer))
        outside = [w for w in words if id(w) not in banded and not _inside(w, left, top, right, bottom)]
        if outside:
            problems.append(f"page {number}: {len(outside)} word(s) outside the text area: {_shown(outside)}")
        problems += _band_problems(number, count, in_header, in_footer, header_text, first_numbered_page)
        pairs = _overlapping_pairs(words, overlap_tolerance)
        if pairs:
            shown = "; ".join(f"{first.text!r} and {second.text!r} at x {second.x_min:.0f}, y {second.y_min:.0f} pt"
                              for first, second in pairs[:3])
            more = f" and {len(pairs) - 3} more pair(s)" if len(pairs) > 3 else ""
            problems.append(f"page {number}: words printed over each other: {shown}{more}")
    return problems


def report_layout_problems(pdf: Path, qmd: Path) -> list[str]:
    """The layout check of a PDF rendered from ``qmd`` with the report's Typst design (report/_typst/):
    its margins, its title as the running header, and no header or number on the title page, which
    the design adds when the front matter lists ``keyfigures``."""
    front = _front_matter(qmd)
    title = with_variables(str(front.get("title") or ""), qmd.parent / "_variables.yml")
    return layout_problems(pdf, page_setup=page_setup_from_qmd(qmd), header_text=title or None,
                           first_numbered_page=2 if front.get("keyfigures") else 1)


VAR_SHORTCODE = re.compile(r"\{\{<\s*var\s+([\w.]+)\s*>\}\}")


def with_variables(text: str, variables_file: Path) -> str:
    """``text`` with its ``{{< var a.b >}}`` shortcodes replaced by their values in the project's
    _variables.yml, as Quarto prints them (the title comes from the runs' country)."""
    try:
        variables = yaml_text.load(variables_file.read_text(encoding="utf-8")) or {}
    except OSError:
        variables = {}

    def value(match: re.Match) -> str:
        node: object = variables
        for part in match.group(1).split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return str(node) if isinstance(node, (str, int, float)) else match.group(0)

    return VAR_SHORTCODE.sub(value, text)


def _band_problems(number: int, count: int, in_header: list[Word], in_footer: list[Word],
                   header_text: str | None, first_numbered_page: int) -> list[str]:
    problems = []
    numbered = number >= first_numbered_page
    header = _joined(in_header)
    header_expected = numbered and header_text is not None
    if (in_header or header_expected) and not (header_expected and header.startswith(header_text)):
        expected = f"the running header {header_text!r}" if header_expected else "nothing"
        problems.append(f"page {number}: the top margin holds {_abridged(header)!r}, expected {expected}")
    footer = _joined(in_footer)
    expected_number = f"{number} of {count}" if numbered else ""
    if footer != expected_number:
        expected = f"the page number {expected_number!r}" if numbered else "nothing"
        problems.append(f"page {number}: the bottom margin holds {_abridged(footer)!r}, expected {expected}")
    return problems
