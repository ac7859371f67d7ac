"""One house style for every figure: title, axis labels with units, a source line, a
colour-blind-safe palette (Okabe & Ito), PNG at print resolution and a deterministic SVG."""

from __future__ import annotations

import io
import struct
import textwrap
import zlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on build machines; set before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.layout_engine import TightLayoutEngine  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from conflict_report import atomic  # noqa: E402

# Okabe & Ito (2008), distinguishable under the common forms of colour-vision deficiency.
PALETTE = {
    "blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermillion": "#D55E00",
    "sky": "#56B4E9", "purple": "#CC79A7", "yellow": "#F0E442", "grey": "#777777", "black": "#000000",
}
VIOLENCE_COLOURS = {"state-based": PALETTE["blue"], "non-state": PALETTE["orange"], "one-sided": PALETTE["vermillion"], "other": PALETTE["grey"]}
PRINT_DPI = 300
NOTEBOOK_DPI = 100  # the size of the copy shown in the notebook (the print PNG, scaled)


def apply_house_style() -> None:
    plt.rcParams.update({
        "figure.figsize": (7.5, 4.2),
        "figure.dpi": 100,
        "font.size": 9.5,
        "axes.titlesize": 11.5,
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.color": "#dddddd",
        "grid.linewidth": 0.6,
        "axes.axisbelow": True,
        "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE.values())),
        "legend.frameon": False,
        "svg.hashsalt": "conflict-report",  # fixed ids: the same figure gives the same SVG bytes
        "svg.fonttype": "path",
    })


def add_source_line(fig, source: str) -> None:
    """The source (and, on maps, the boundaries' credit) bottom left, wrapped to the figure."""
    width = int(fig.get_figwidth() * 17)  # characters of 7.5 pt text per inch, roughly
    lines = [textwrap.fill(part, width) for part in source.split("\n")]
    fig.text(0.01, 0.005, "\n".join(lines), ha="left", va="bottom", fontsize=7.5, color="#555555")


def thousands(axis) -> None:
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))


def _lay_out(fig) -> None:
    """Place every artist as a draw would, without rasterising anything: text extents and the
    ticks in view are all the checks below need."""
    fig.draw_without_rendering()


def _drawn_texts(fig) -> list[Text]:
    """The texts the figure, as last laid out or drawn, draws; tick labels only for the ticks
    the axes draw."""
    undrawn = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            drawn = set(map(id, axis._update_ticks()))  # matplotlib's own choice of ticks in view
            undrawn |= {id(t) for tick in axis.get_major_ticks() + axis.get_minor_ticks() if id(tick) not in drawn
                        for t in (tick.label1, tick.label2)}
    return [t for t in fig.findobj(Text) if id(t) not in undrawn and t.get_visible() and t.get_text().strip()]


def _overflow(fig) -> list[tuple[Text, dict[str, float]]]:
    """Per drawn text of the figure as last laid out or drawn, how far it reaches past each
    edge of the canvas, in pixels of the notebook's 100-dpi copy (whatever dpi it was drawn at)."""
    renderer, edge, scale = fig.canvas.get_renderer(), fig.bbox, NOTEBOOK_DPI / fig.dpi
    result = []
    for text in _drawn_texts(fig):
        box = text.get_window_extent(renderer)
        result.append((text, {"left": (edge.x0 - box.x0) * scale, "right": (box.x1 - edge.x1) * scale,
                              "bottom": (edge.y0 - box.y0) * scale, "top": (box.y1 - edge.y1) * scale}))
    return result


def text_outside_canvas(fig, tolerance: float = 0.5) -> list[str]:
    """Every drawn text of the figure that reaches past its edges, as 'text' (how far, in
    pixels at 100 dpi)."""
    _lay_out(fig)
    return _past_edges(_overflow(fig), tolerance)


def _past_edges(overflow: list[tuple[Text, dict[str, float]]], tolerance: float = 0.5) -> list[str]:
    return [f"{text.get_text()!r} ({max(sides.values()):.0f} px past the {max(sides, key=sides.get)} edge)"
            for text, sides in overflow if max(sides.values()) > tolerance]


def fit_inside(fig, margin: float = 3.0, rounds: int = 3, draw=_lay_out) -> list[str]:
    """Shrink the axes until every text is inside the canvas. tight_layout misses a title
    above an axes whose aspect is fixed (maps) and a title that wraps only when drawn.
    `draw(fig)` lays the figure out before each measure: by default without rendering; save()
    passes its print drawing, so that the check costs no pass of its own. Returns what
    text_outside_canvas would say of the result, measured on the last drawing."""
    for _ in range(rounds):
        draw(fig)
        overflow = _overflow(fig)
        over = {side: max([0.0, *(sides[side] for _, sides in overflow)]) for side in ("left", "right", "bottom", "top")}
        if max(over.values()) <= 0.5:
            return _past_edges(overflow)
        scale = NOTEBOOK_DPI / fig.dpi
        width, height = fig.bbox.width * scale, fig.bbox.height * scale
        for ax in fig.axes:
            box = ax.get_position(original=True)
            x0 = box.x0 + (over["left"] + margin) / width if over["left"] > 0.5 else box.x0
            x1 = box.x1 - (over["right"] + margin) / width if over["right"] > 0.5 else box.x1
            y0 = box.y0 + (over["bottom"] + margin) / height if over["bottom"] > 0.5 else box.y0
            y1 = box.y1 - (over["top"] + margin) / height if over["top"] > 0.5 else box.y1
            ax.set_position([x0, y0, x1 - x0, y1 - y0])
    draw(fig)
    return _past_edges(_overflow(fig))


def show_in_notebook(png: bytes, fig) -> None:
    """Display the print PNG in the notebook that runs this (nothing outside IPython), at the
    size a 100-dpi copy would have: the bytes already written, not a third drawing of the
    figure. A PNG and its text/plain stand-in only: an HTML output would make Quarto load CDN
    scripts."""
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return
    if get_ipython() is None:
        return
    display(Image(data=png, format="png", width=round(fig.get_figwidth() * NOTEBOOK_DPI)))


def _png(rgba: np.ndarray) -> bytes:
    """Agg's pixels at PRINT_DPI as a PNG, without the alpha channel when every pixel is opaque
    (the house style's figures are): the pixels savefig would write, in a third of its time.
    Pillow's encoder, which savefig uses, tries five PNG filters on every row and was two thirds
    of a 300-dpi savefig; on flat-coloured charts zlib's fastest level does nearly as well with
    no filter (files about 10% larger). benchmarks/RESULTS.md, section 4, has the figures."""
    opaque = bool((rgba[..., 3] == 255).all())
    pixels = rgba[..., :3] if opaque else rgba
    height, width, channels = pixels.shape
    rows = np.zeros((height, 1 + width * channels), np.uint8)  # each row: filter type 0 (none), then its bytes
    rows[:, 1:] = pixels.reshape(height, -1)
    per_metre = round(PRINT_DPI / 0.0254)
    chunks = [(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2 if opaque else 6, 0, 0, 0)),  # 8-bit RGB / RGBA
              (b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
              (b"IDAT", zlib.compress(rows, 1)),
              (b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
                                         for kind, data in chunks)


def save(fig, folder: Path, name: str) -> dict[str, str]:
    """Write name.png (300 dpi) and name.svg atomically, show the figure in the notebook, and
    return the files' paths relative to folder. A figure with text past its edges is an error."""
    folder.mkdir(parents=True, exist_ok=True)
    source_lines = max((t.get_text().count("\n") + 1 for t in fig.texts), default=0)
    # fig.tight_layout() would leave a placeholder layout engine on the figure, and savefig
    # lays out a figure with any engine once more before drawing it: run the engine directly.
    TightLayoutEngine(rect=(0, 0.012 + 0.028 * source_lines * 4.2 / fig.get_figheight(), 1, 1)).execute(fig)
    # The print drawing is also what the text check measures: no layout pass of its own.
    canvas, screen_dpi = FigureCanvasAgg(fig), fig.dpi
    fig.set_dpi(PRINT_DPI)
    try:
        outside = fit_inside(fig, draw=lambda _: canvas.draw())
        png = None if outside else _png(np.asarray(canvas.buffer_rgba()))
    finally:
        fig.set_dpi(screen_dpi)
    if outside:
        plt.close(fig)
        raise ValueError(f"figure {name}: text reaches past the figure's edge: {'; '.join(outside)}")
    atomic.write_bytes(folder / f"{name}.png", png)
    show_in_notebook(png, fig)
    svg = io.StringIO()  # text: matplotlib wraps a binary file in a UTF-8 writer called per element
    fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    atomic.write_bytes(folder / f"{name}.svg", svg.getvalue().encode("utf-8"))
    plt.close(fig)
    return {"png": f"{name}.png", "svg": f"{name}.svg"}
