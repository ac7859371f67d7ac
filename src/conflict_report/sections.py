"""The views the notebooks show, one function each: compute the table, save it, draw and save
the figure, and record the numbers the report quotes. A notebook cell is then one call."""

from __future__ import annotations

from IPython.display import Markdown

from conflict_report.analysis import plots
from conflict_report.analysis import tables as report_tables
from conflict_report.analysis import views as analysis
from conflict_report.data.schema import UNKNOWN_ADMIN1
from conflict_report.run import Run

# What the map's CSV gives per event drawn: where, when, who and how many died.
MAP_COLUMNS = ["event_id", "source", "date_start", "date_end", "admin1", "admin2", "place", "latitude", "longitude",
               "geo_precision", "violence_type", "side_a", "side_b", "deaths_low", "deaths_best", "deaths_high", "deaths_civilians"]


def shown_table(shown) -> Markdown:
    """A table as the notebook shows it, with the note on marked rows when it has any."""
    note = report_tables.inconsistent_note(shown)
    return Markdown(report_tables.markdown(shown) + (f"\n{note}\n" if note else ""))


def monthly(run: Run) -> None:
    table = analysis.monthly(run.selected, run.period)
    run.outputs.save_table("monthly", table, "Deaths per month (low, best, high); month- and year-level records spread over their days "
                           "within the period; partial: a month the period covers only in part")
    fig, alt = plots.monthly_deaths(table, f"Deaths per month in organised violence, {run.scope}", run.source_line, run.period)
    run.outputs.save_figure(fig, "monthly", f"Deaths per month in organised violence, {run.scope}, {run.period.display}: best estimate "
                            "with the low–high range. Records dated only to a month or a year (orange) are spread evenly over their days.", alt, data=table)


def by_year_and_type(run: Run) -> None:
    table = analysis.by_year_and_type(run.selected)
    run.outputs.save_table("by_year_type", table, "Deaths per year and type of violence (low, best, high, civilians) and events")
    fig, alt = plots.deaths_by_year_and_type(table, f"Deaths per year by type of violence, {run.scope}", run.source_line, run.period)
    run.outputs.save_figure(fig, "by_year_type", f"Deaths per year by type of violence, {run.scope}, {run.period.display} (best estimate); "
                            "whiskers show the low–high range of each year's total.", alt, data=table)
    for year, part in table.groupby("year"):
        run.outputs.deaths(f"deaths_{year}", part["deaths_low"].sum(), part["deaths_best"].sum(), part["deaths_high"].sum(), f"deaths in {year}")
    for kind, part in table.groupby("violence_type"):
        run.outputs.deaths(f"deaths_{report_tables.key(kind)}", part["deaths_low"].sum(), part["deaths_best"].sum(), part["deaths_high"].sum(),
                           f"deaths in {kind} violence")


def civilians(run: Run) -> None:
    table = analysis.civilians_by_year(run.selected)
    run.outputs.save_table("civilians_by_year", table, "Civilian deaths and all deaths (best) per year",
                           units={"civilian_share_of_best": "share"})
    fig, alt = plots.civilian_deaths(table, f"Civilian deaths per year, {run.scope}", run.source_line, run.period)
    run.outputs.save_figure(fig, "civilians", f"Civilian deaths within all deaths per year, {run.scope}, {run.period.display} "
                            "(best estimates), with the civilian share.", alt, data=table, units={"civilian_share_of_best": "share"})


def ranked(run: Run, column: str, label: str, plural: str, highlight: str | None = None, frame=None) -> Markdown:
    """Deaths by governorate or district, deadliest first, with the unknown row kept."""
    table = analysis.ranked(run.selected if frame is None else frame, column)
    name = report_tables.key(plural)
    run.outputs.save_table(name, table, f"Events and deaths per {label}, deadliest first")
    fig, alt = plots.ranked_bars(table, column, f"Deaths by {label}, {run.scope if frame is None else run.parameters.country}",
                                 run.source_line, label, highlight)
    run.outputs.save_figure(fig, name, f"Deaths by {label} (best estimate, with the low–high range); grey: events with no {label}.", alt, data=table)
    for row in table.itertuples():
        run.outputs.deaths(f"deaths_{name}_{report_tables.key(getattr(row, column))}", row.deaths_low, row.deaths_best, row.deaths_high,
                           f"deaths in {getattr(row, column)}")
    named = table[table[column] != UNKNOWN_ADMIN1]
    if len(named):
        top = named.iloc[0]
        run.outputs.text(f"top_{name}", top[column], f"the {label} with the most deaths (best estimate)")
        run.outputs.deaths(f"top_{name}_deaths", top["deaths_low"], top["deaths_best"], top["deaths_high"], f"deaths in the {label} with the most deaths")
    return shown_table(report_tables.ranked_for_display(table, column, label.capitalize()))


def deadliest(run: Run) -> Markdown:
    table = analysis.deadliest(run.selected)
    run.outputs.save_table("deadliest", table, "The deadliest single events (best estimate, with range)", event_level=True)
    return shown_table(report_tables.deadliest_for_display(table))


MAP_NEEDS = "set BOUNDARIES_ADMIN1 to the governorate boundaries (a GeoJSON file; see the README)"


def event_map(run: Run, highlight_pcode: str | None = None) -> Markdown | None:
    drawn_events = plots.mapped_events(run.selected)
    run.outputs.count("events_mapped", len(drawn_events), "events located to the district or better (drawn on the map)")
    run.outputs.count("events_not_mapped", len(run.selected) - len(drawn_events),
                      "events located only to a governorate, region or the country (not drawn)")
    areas = run.admin_areas(1)
    if areas is None:  # a map without boundaries would be dots on a blank page
        return Markdown("Map " + run.outputs.missing_input("map", "figure", MAP_NEEDS, "map of events") + ".")
    fig, alt, drawn, not_drawn = plots.event_map(run.selected, areas, f"Events of organised violence, {run.scope}",
                                                 run.source_line, run.boundaries_credit, highlight_pcode)
    run.outputs.save_figure(fig, "map", f"Events of organised violence, {run.scope}, located to the district or better and sized by deaths "
                            f"(best estimate); {not_drawn:,} events located more coarsely are not drawn.", alt,
                            data=drawn_events[MAP_COLUMNS], event_level=True, boundaries=True)
    return None


def opponents(run: Run) -> Markdown:
    table = analysis.opponents(run.selected, run.parameters.actor)
    run.outputs.save_table("opponents", table, f"Opponents of {run.parameters.actor}: events and deaths where they are on the other side")
    top = table.head(12)
    fig, alt = plots.ranked_bars(top, "opponent", f"Main opponents of {run.parameters.actor}, {run.parameters.country}", run.source_line, "opponent")
    run.outputs.save_figure(fig, "opponents", f"Deaths in events between {run.parameters.actor} and each of its main opponents "
                            "(best estimate, with the low–high range).", alt, data=top)
    if len(table):
        run.outputs.text("main_opponent", table.iloc[0]["opponent"], "the opponent in the deadliest fighting (best estimate)")
    return shown_table(report_tables.ranked_for_display(top, "opponent", "Opponent"))
