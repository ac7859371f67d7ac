"""One house style for every figure: title, axis labels with units, a source line, a
colour-blind-safe palette (Okabe & Ito), PNG at print resolution and a deterministic SVG."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on build machines; set before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402

from conflict_report import atomic  # noqa: E402

# Okabe & Ito (2008), distinguishable under the common forms of colour-vision deficiency.
PALETTE = {
    "blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermillion": "#D55E00",
    "sky": "#56B4E9", "purple": "#CC79A7", "yellow": "#F0E442", "grey": "#777777", "black": "#000000",
}
VIOLENCE_COLOURS = {"state-based": PALETTE["blue"], "non-state": PALETTE["orange"], "one-sided": PALETTE["vermillion"], "other": PALETTE["grey"]}
PRINT_DPI = 300


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


def save(fig, folder: Path, name: str) -> dict[str, str]:
    """Write name.png (300 dpi) and name.svg atomically; return their paths relative to folder."""
    folder.mkdir(parents=True, exist_ok=True)
    source_lines = max((t.get_text().count("\n") + 1 for t in fig.texts), default=0)
    fig.tight_layout(rect=(0, 0.012 + 0.028 * source_lines * 4.2 / fig.get_figheight(), 1, 1))
    written = {}
    for ext, options in (("png", {"dpi": PRINT_DPI, "metadata": {"Software": None}}),
                         ("svg", {"metadata": {"Date": None, "Creator": None}})):
        target = folder / f"{name}.{ext}"
        with atomic.atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, **options)
        written[ext] = target.name
    plt.close(fig)
    return written
