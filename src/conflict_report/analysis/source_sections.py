"""The sources notebook's views (see coverage.py for the computations)."""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown

from conflict_report.analysis import coverage, figures, plots, views
from conflict_report.analysis import tables as report_tables
from conflict_report.analysis.figures import PALETTE, thousands
from conflict_report.analysis.results import fmt_int
from conflict_report.data.schema import EVENT_SOURCES
from conflict_report.run import Run

COUNTRY_YEAR_CREDIT = "; UCDP Country-Year Dataset on Organized Violence, CC BY 4.0"
SOURCE_NAMES = {"ucdp_ged": "UCDP GED", "acled": "ACLED", "curated": "Curated from news reports"}


def source_coverage(run: Run) -> None:
    table = coverage.events_per_month(run.events[run.events["country"] == run.parameters.country])
    run.outputs.save_table("events_per_month_by_source", table, "Events per month by source (whole event table); empty: "
                           "a month outside the source's coverage (not covered), which is not a month without events")
    present = [s for s in SOURCE_NAMES if s in table.columns]
    months = pd.PeriodIndex(table["month"], freq="M")
    fig, axes = plt.subplots(len(present), 1, sharex=True, squeeze=False, figsize=(7.5, 1.2 + 1.5 * len(present)))
    colours = [PALETTE["blue"], PALETTE["orange"], PALETTE["green"]]
    for ax, source, colour in zip(axes[:, 0], present, colours):
        counts = table[source].astype("float")
        ax.bar(months.to_timestamp(), counts.fillna(0), width=25, color=colour)
        uncovered = months[counts.isna().to_numpy()]
        for i, month in enumerate(uncovered):  # drawn apart, so "not covered" never reads as "no events"
            ax.axvspan(month.start_time, month.end_time, facecolor="none", edgecolor="#999999", hatch="///", linewidth=0,
                       label="not covered by this source" if i == 0 else None)
        if len(uncovered):
            ax.legend(loc="upper right", fontsize=7)
        ax.set_ylabel("Events", fontsize=8)
        ax.set_title(SOURCE_NAMES[source], fontsize=9, fontweight="normal", loc="left")
        thousands(ax.yaxis)
    fig.suptitle(f"Events per month by source, {run.parameters.country}", x=0.01, ha="left", fontweight="bold", fontsize=11.5, wrap=True)
    axes[-1, 0].set_xlabel("Month of the event's start date")
    credit = run.source_credit(present)
    figures.add_source_line(fig, credit)
    spans = views.source_spans(run.events, run.parameters.country, present)
    run.outputs.save_figure(fig, "coverage", "Events per month by source over the whole event table; hatched: months the source "
                            "does not cover.", f"Bar charts of events per month for each source. Coverage: {views.spans_text(spans)}.",
                            data=table, credit=credit)
    for source, (first, last) in spans.items():
        run.outputs.text(f"coverage_{source}", views.Period(first, last).display, f"the days covered by {SOURCE_NAMES[source]} (first to last event)")
    run.outputs.text("coverage_event_sources", views.spans_text({s: span for s, span in spans.items() if s in EVENT_SOURCES}),
                     "the days each event source covers (first to last event)")


def source_comparison(run: Run) -> Markdown:
    """The event sources side by side, year by year: the report counts one of them (the primary
    source) and shows the other here, never adding them up."""
    p = run.parameters
    both = analysis_select(run, EVENT_SOURCES)
    spans = views.source_spans(run.events, p.country, EVENT_SOURCES)
    table = coverage.by_year_and_source(both, spans, range(p.start.year, p.end.year + 1))
    credit = run.source_credit([s for s in EVENT_SOURCES if s in spans])
    table = table.assign(source=table["source"].map(SOURCE_NAMES))
    run.outputs.save_table("by_year_and_source", table, "Events and deaths per year by event source, side by side (never added "
                           "up); not covered: a year outside the source's coverage", credit=credit)
    counted = SOURCE_NAMES[run.event_source]
    others = [SOURCE_NAMES[s] for s in spans if s != run.event_source]
    run.outputs.text("counted_source", counted, "the event source the report's figures come from")
    if others:
        note = (f"The report's figures come from {counted}, the primary source; {' and '.join(others)} is shown beside it "
                "for comparison and never added to it (the two record the same war).")
    else:
        note = f"The report's figures come from {counted}, the one event source given: there is no other to compare it with."
    run.outputs.text("source_comparison_note", note, "which event source the report counts, and which it compares")
    return Markdown(report_tables.markdown(report_tables.by_source_for_display(table), align_numbers=False))


def analysis_select(run: Run, sources) -> pd.DataFrame:
    """The run's events (country, period, violence types) from the given sources."""
    return views.select(run.events, dataclasses.replace(run.parameters, sources=tuple(sources)))


def linked(run: Run) -> Markdown:
    table = coverage.linked_events(run.events)
    run.outputs.save_table("linked_events", table, "Curated events linked to a source event (counted once)", event_level=True)
    run.outputs.count("events_linked", len(table), "curated events linked to a source event and counted once")
    if table.empty:
        return Markdown("No curated event overlaps a source event in time and place.")
    shown = table.assign(date_start=table["date_start"].dt.strftime("%Y-%m-%d"))
    return Markdown(report_tables.markdown(shown))


def published_totals(run: Run) -> Markdown:
    country_year = coverage.load_country_year()
    if country_year is None:
        run.outputs.text("published_check", coverage.COUNTRY_YEAR_ABSENT, "the check against UCDP's published totals")
        run.outputs.missing_input("published_totals", "table", coverage.COUNTRY_YEAR_ABSENT.removeprefix("not available: "),
                                  "check against UCDP's published totals")
        return Markdown(f"UCDP's country-year totals: {coverage.COUNTRY_YEAR_ABSENT}, so this check was not run.")
    ged_version = run.manifest["inputs"][0]["dataset_version"]
    table = coverage.compare_with_country_year(run.events, country_year, run.parameters.country, ged_version)
    run.outputs.save_table("published_totals", table, "Event table sums against UCDP's published country-year totals",
                           credit=run.source_line + COUNTRY_YEAR_CREDIT)
    run._published = table  # the figure below draws the same table
    totals = table.groupby("year")[[f"{p}_{e}" for p in ("event_table", "published") for e in ("low", "best", "high")]].sum().reset_index()
    for row in totals.itertuples():
        run.outputs.deaths(f"published_{row.year}", row.published_low, row.published_best, row.published_high, f"UCDP's published total for {row.year}")
        run.outputs.deaths(f"event_table_{row.year}", row.event_table_low, row.event_table_best, row.event_table_high, f"event table total for {row.year}")
        run.outputs.share(f"published_gap_{row.year}", row.event_table_best - row.published_best, row.published_best,
                          f"gap between the event table and UCDP's published total for {row.year}, as a share of the published total")
    run.outputs.text("published_version", str(table["published_version"].iloc[0]) if len(table) else "", "version of UCDP's published totals")
    shown = report_tables.published_for_display(table)
    return Markdown(report_tables.markdown(shown))


def published_totals_figure(run: Run) -> None:
    table = getattr(run, "_published", None)
    if table is None or table.empty:
        return
    totals = table.groupby("year")[["event_table_best", "event_table_low", "event_table_high", "published_best", "published_low", "published_high"]].sum()
    fig, ax = plt.subplots()
    x = np.arange(len(totals))
    for offset, prefix, colour, label in ((-0.18, "event_table", PALETTE["blue"], f"event table ({table['event_table_version'].iloc[0]})"),
                                          (0.18, "published", PALETTE["orange"], f"UCDP published country-year {table['published_version'].iloc[0]}")):
        best = totals[f"{prefix}_best"].to_numpy()
        ax.bar(x + offset, best, width=0.34, color=colour, label=label)
        ax.errorbar(x + offset, best, yerr=plots.whiskers(best, totals[f"{prefix}_low"], totals[f"{prefix}_high"]),
                    fmt="none", ecolor="#333333", capsize=3, linewidth=0.9)
    ax.set_xticks(x, [str(y) for y in totals.index])
    thousands(ax.yaxis)
    ax.legend(fontsize=8)
    ax.set_title(f"Yearly deaths: event table against UCDP's published totals, {run.parameters.country}", wrap=True)
    ax.set_ylabel("Deaths (best, with low–high range)")
    ax.set_xlabel("Year")
    credit = run.source_line + COUNTRY_YEAR_CREDIT
    figures.add_source_line(fig, credit)
    parts = "; ".join(f"{y}: {fmt_int(r.event_table_best)} against {fmt_int(r.published_best)}" for y, r in totals.iterrows())
    run.outputs.save_figure(fig, "published", "Deaths per year in the event table against UCDP's published country-year totals "
                            "(best estimates with low–high ranges; all three types of violence).",
                            f"Paired bars per year, event table against UCDP's published totals: {parts}.", data=totals.reset_index(),
                            credit=credit)


def quality(run: Run) -> Markdown:
    flags = coverage.flag_counts(run.events)
    reasons = coverage.quarantine_reasons()
    run.outputs.save_table("quality_flags", flags, "Rows kept but flagged, by flag")
    run.outputs.save_table("quarantine_reasons", reasons, "Rows quarantined, by source, column and reason")
    for row in flags.itertuples():
        run.outputs.count(f"flagged_{row.flag}", row.rows, f"rows flagged: {row.meaning}", "rows")
    run.outputs.count("rows_flagged", int((run.events["quality_flags"] != "").sum()), "rows kept but flagged", "rows")
    run.outputs.count("rows_quarantined", int(reasons["rows"].sum()) if len(reasons) else 0, "rows quarantined (unusable)", "rows")
    read = sum(i.get("rows_read", 0) for i in run.manifest["inputs"])
    run.outputs.count("rows_read", read, "rows read from all event sources", "rows")
    text = report_tables.markdown(report_tables.flags_for_display(flags))
    if len(reasons):
        text += "\n\n" + report_tables.markdown(reasons)
    return Markdown(text)
