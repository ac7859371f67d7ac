"""The report's figures, in the house style of figures.py. Each function returns the figure
and an alt text that states what it shows (the finding, with numbers), not just its title."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection

from conflict_report.analysis import figures
from conflict_report.analysis.figures import PALETTE, VIOLENCE_COLOURS, thousands
from conflict_report.analysis.results import fmt_int
from conflict_report.analysis.views import Period, no_value_label
from conflict_report.data import geo
from conflict_report.data.schema import UNKNOWN_ADMIN1

figures.apply_house_style()


def whiskers(best, low, high) -> list:
    """Error-bar lengths from the low and high estimates. UCDP's own data has events whose low
    exceeds the best (or the best the high); such a sum draws no whisker on that side rather
    than a negative one. The numbers themselves are reported as UCDP gives them."""
    best, low, high = (np.asarray(v, dtype=float) for v in (best, low, high))
    return [np.clip(best - low, 0, None), np.clip(high - best, 0, None)]


def _finish(fig, ax, title: str, ylabel: str, source: str, xlabel: str = "") -> None:
    ax.set_title(title, wrap=True)  # a long actor's name must not run off the canvas
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    figures.add_source_line(fig, source)


def monthly_deaths(table: pd.DataFrame, title: str, source: str, period: Period):
    """Best estimate per month with the low-high band; the part from month- or year-level
    records (spread over their days) shaded apart so a reader sees how much is spread. A month
    the period covers only in part is hatched, so its lower count does not read as a fall."""
    fig, ax = plt.subplots()
    months = pd.to_datetime(table["month"])
    for i, month in enumerate(months[table["partial"].to_numpy(dtype=bool)]):
        ax.axvspan(month - pd.Timedelta(days=15), month + pd.Timedelta(days=15), facecolor="none", edgecolor="#999999",
                   hatch="///", linewidth=0, label="month covered only in part" if i == 0 else None)
    ax.fill_between(months, table["deaths_low"], table["deaths_high"], color=PALETTE["sky"], alpha=0.45, linewidth=0, label="low–high range", step="mid")
    ax.step(months, table["deaths_best"], where="mid", color=PALETTE["blue"], linewidth=1.6, label="best estimate")
    ax.fill_between(months, 0, table["deaths_best_coarse"], color=PALETTE["orange"], alpha=0.55, linewidth=0, step="mid",
                    label="of which: month- or year-level records, spread evenly")
    thousands(ax.yaxis)
    ax.set_ylim(bottom=0)
    if len(months):  # the axis ends with the period's last month, not at the next tick
        ax.set_xlim(months.min() - pd.Timedelta(days=20), months.max() + pd.Timedelta(days=20))
    ax.legend(loc="upper right", fontsize=8)
    _finish(fig, ax, title, "Deaths per month", source, "Month")
    peak = table.loc[table["deaths_best"].idxmax()] if len(table) else None
    partial = table.loc[table["partial"].astype(bool), "month"].tolist()
    alt = (f"Line chart of deaths per month, {period.display}: "
           f"best estimate with a shaded low-high band. The deadliest month is {peak['month']} with about "
           f"{fmt_int(peak['deaths_best'])} deaths (best estimate)."
           + (f" Covered only in part: {', '.join(partial)}." if partial else "") if peak is not None else "No events in the period.")
    return fig, alt


def deaths_by_year_and_type(table: pd.DataFrame, title: str, source: str, period: Period):
    fig, ax = plt.subplots()
    pivot = table.pivot_table(index="year", columns="violence_type", values="deaths_best", aggfunc="sum", fill_value=0)
    low = table.groupby("year")["deaths_low"].sum()
    high = table.groupby("year")["deaths_high"].sum()
    bottom = np.zeros(len(pivot))
    x = np.arange(len(pivot))
    for kind in [k for k in VIOLENCE_COLOURS if k in pivot.columns]:
        ax.bar(x, pivot[kind], bottom=bottom, color=VIOLENCE_COLOURS[kind], label=kind, width=0.65)
        bottom += pivot[kind].to_numpy()
    ax.errorbar(x, bottom, yerr=whiskers(bottom, low, high), fmt="none", ecolor="#333333",
                capsize=4, linewidth=1, label="low–high range (all types)")
    ax.set_xticks(x, [period.year_tick(y) for y in pivot.index])
    thousands(ax.yaxis)
    ax.legend(fontsize=8)
    _finish(fig, ax, title, "Deaths (best estimate)", source, "Year")
    parts = "; ".join(f"{period.year_label(year)}: {fmt_int(total)}" for year, total in zip(pivot.index, bottom))
    alt = f"Stacked bars of deaths per year by type of violence (best estimate), with low-high ranges. Totals per year: {parts}."
    return fig, alt


def civilian_deaths(table: pd.DataFrame, title: str, source: str, period: Period):
    fig, ax = plt.subplots()
    x = np.arange(len(table))
    ax.bar(x, table["deaths_best"], color="#cccccc", width=0.65, label="all deaths (best estimate)")
    ax.bar(x, table["deaths_civilians"], color=PALETTE["vermillion"], width=0.65, label="civilian deaths")
    for i, row in table.reset_index(drop=True).iterrows():
        ax.annotate(f"{100 * row['civilian_share_of_best']:.0f}% civilian", (i, row["deaths_best"]), ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(x, [period.year_tick(y) for y in table["year"]])
    thousands(ax.yaxis)
    ax.legend(fontsize=8, loc="upper right")
    _finish(fig, ax, title, "Deaths", source, "Year")
    parts = "; ".join(f"{period.year_label(r.year)}: {fmt_int(r.deaths_civilians)} of {fmt_int(r.deaths_best)}" for r in table.itertuples())
    alt = f"Bars of civilian deaths within all deaths (best estimate) per year. Civilian deaths of all deaths: {parts}."
    return fig, alt


def ranked_bars(table: pd.DataFrame, column: str, title: str, source: str, unit_label: str, highlight: str | None = None):
    """Horizontal bars, deadliest on top, with low-high whiskers; the unknown row in grey."""
    table = table.iloc[::-1].copy()
    table[column] = table[column].replace({UNKNOWN_ADMIN1: no_value_label(unit_label)})
    fig, ax = plt.subplots(figsize=(7.5, max(2.6, 0.32 * len(table) + 1.2)))
    colours = [PALETTE["grey"] if name.startswith("No ") else (PALETTE["vermillion"] if name == highlight else PALETTE["blue"]) for name in table[column]]
    y = np.arange(len(table))
    ax.barh(y, table["deaths_best"], color=colours, height=0.7)
    ax.errorbar(table["deaths_best"], y, xerr=whiskers(table["deaths_best"], table["deaths_low"], table["deaths_high"]),
                fmt="none", ecolor="#333333", capsize=2.5, linewidth=0.8)
    ax.set_yticks(y, table[column])
    ax.grid(axis="y", visible=False)
    thousands(ax.xaxis)
    _finish(fig, ax, title, "", source, "Deaths (best estimate, with low–high range)")
    ordered = table.iloc[::-1]
    unknown = ordered[ordered[column].str.startswith("No ")]
    top = ordered[~ordered[column].str.startswith("No ")].head(3)
    alt = (f"Horizontal bars of deaths by {unit_label} (best estimate), deadliest first. The deadliest: "
           + "; ".join(f"{r[column]} {fmt_int(r.deaths_best)}" for _, r in top.iterrows()) + "."
           + "".join(f" Deaths with no {unit_label} given: {fmt_int(r.deaths_best)}." for _, r in unknown.iterrows()))
    return fig, alt


def boundary_shapes(areas: geo.Areas, highlight_pcode: str | None, view: tuple[float, float, float, float],
                    tolerance: float) -> PolyCollection:
    """The areas' outlines as one collection: drawn as ax.fill would draw each, but without
    ax.fill's per-vertex Python loop for the axis limits (seconds for OCHA's detailed outlines).

    Outlines are simplified to `tolerance` (degrees) and those entirely outside `view` (minx,
    miny, maxx, maxy) left out: OCHA's outlines have vertices a tenth of a print pixel apart,
    and matplotlib does not simplify a collection, so every vertex of every governorate was
    drawn twice and written to the SVG (2.8 MB for a governorate's map), most of them outside
    the zoomed view or closer together than a pixel."""
    rings, faces = [], []
    minx, miny, maxx, maxy = view
    for pcode, geometry in zip(areas.pcodes, areas.geometries):
        gminx, gminy, gmaxx, gmaxy = geometry.bounds
        if gmaxx < minx or gminx > maxx or gmaxy < miny or gminy > maxy:
            continue
        # OCHA's file mixes Polygon, MultiPolygon and GeometryCollection (stray line parts).
        for polygon in (g for g in getattr(geometry, "geoms", [geometry]) if g.geom_type == "Polygon"):
            rings.append(np.column_stack(polygon.exterior.simplify(tolerance).xy))
            faces.append("#fbe3d6" if pcode == highlight_pcode else "#f2f2f2")
    return PolyCollection(rings, facecolors=faces, edgecolors="#888888", linewidths=0.6, joinstyle="miter", capstyle="butt")


def mapped_events(frame: pd.DataFrame) -> pd.DataFrame:
    """The events a map draws: placed at least to the district (geo precision 1-3), largest first."""
    return frame[frame["geo_precision"] <= 3].dropna(subset=["latitude", "longitude"]).sort_values("deaths_best", ascending=False, kind="stable")


def event_map(frame: pd.DataFrame, areas: geo.Areas, title: str, source: str, boundaries_credit: str, highlight_pcode: str | None = None):
    """Events placed at least to the district (geo precision 1-3) as points sized by deaths,
    on the governorate boundaries. Coarser events are not drawn; the caption says how many."""
    fig, ax = plt.subplots(figsize=(7.5, 6.2))
    bounds = np.array([g.bounds for g in areas.geometries])
    view = (*bounds[:, :2].min(axis=0), *bounds[:, 2:].max(axis=0))
    if highlight_pcode and highlight_pcode in areas.pcodes:
        # Zoom to the governorate, with its neighbours for context.
        minx, miny, maxx, maxy = areas.geometries[areas.pcodes.index(highlight_pcode)].bounds
        pad = 0.15 * max(maxx - minx, maxy - miny) + 0.1
        view = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    # A quarter of a print pixel: the widest the view can be across the figure, in degrees per pixel.
    tolerance = max(view[2] - view[0], view[3] - view[1]) / (fig.get_figwidth() * figures.PRINT_DPI) / 4
    ax.add_collection(boundary_shapes(areas, highlight_pcode, view, tolerance))
    drawn = mapped_events(frame)
    # One scatter per death toll, largest first as mapped_events sorts them: the same drawing
    # order as one scatter of every event, but the SVG defines each size's circle once and reuses
    # it instead of writing every event as a path of its own (a third of the national map's
    # time, and its SVG 10 MB -> 2 MB). A one-size scatter is stamped: in the PNG each circle
    # moves to a whole print pixel, less than a pixel (0.08 mm at 300 dpi) from where it was.
    for deaths, events in drawn.groupby("deaths_best", sort=False, dropna=False):
        ax.scatter(events["longitude"], events["latitude"], s=4 + 2.2 * np.sqrt(float(deaths)),
                   color=PALETTE["vermillion"], alpha=0.35, linewidths=0)
    for deaths in (10, 100, 500):
        ax.scatter([], [], s=4 + 2.2 * np.sqrt(deaths), color=PALETTE["vermillion"], alpha=0.5, label=f"{deaths} deaths")
    ax.legend(loc="lower right", fontsize=8, title="Deaths in one event\n(best estimate)", title_fontsize=8)
    if highlight_pcode and highlight_pcode in areas.pcodes:
        ax.set_xlim(view[0], view[2])
        ax.set_ylim(view[1], view[3])
    ax.set_aspect(1 / np.cos(np.deg2rad(areas.mean_latitude)))  # lon/lat at the boundaries' own latitude: undistorted shapes
    ax.grid(False)
    ax.set_xticks([]), ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    credit = f"{source}. {geo.attribution(boundaries_credit)}"
    ax.set_title(title, wrap=True)
    figures.add_source_line(fig, credit)
    alt = (f"Map of {fmt_int(len(drawn))} events located to the district or better, drawn as circles sized by deaths on "
           f"the governorate boundaries; {fmt_int(len(frame) - len(drawn))} events located only to a governorate, "
           f"region or the country are not drawn.")
    return fig, alt, len(drawn), len(frame) - len(drawn)
