"""Sources and coverage: what each source covers over time, which events were linked across
sources, how the event table's yearly totals compare with UCDP's published country-year
totals, and what was flagged or quarantined and why."""

from __future__ import annotations

import pandas as pd

from conflict_report import paths
from conflict_report.analysis.views import DEATHS, long_date
from conflict_report.data.schema import EVENT_SOURCES, QUALITY_FLAGS

# OWID checks GED sums against UCDP's own tables within 1.5% when both come from the same
# release. Across releases UCDP revises and adds events, so a larger gap is expected there:
# it is reported and explained, not treated as an error.
SAME_RELEASE_TOLERANCE = 0.015
TYPE_COLUMNS = {"state-based": "state_based", "non-state": "non_state", "one-sided": "one_sided"}


def events_per_month(events: pd.DataFrame) -> pd.DataFrame:
    """Events per month and source over every month of the table's span. A month outside an
    event source's coverage (before its first or after its last event) is empty, "not
    covered", never 0: an ACLED export that starts in 2017 says nothing about 2016. The curated
    rows cover no period, so a month without one is 0."""
    table = events.assign(month=events["date_start"].dt.strftime("%Y-%m")).groupby(["month", "source"]).size()
    table = table.unstack("source", fill_value=0)
    months = pd.period_range(table.index.min(), table.index.max(), freq="M").strftime("%Y-%m")
    table = table.reindex(months, fill_value=0).astype("Int64")
    for source in (s for s in EVENT_SOURCES if s in table.columns):
        dates = events.loc[events["source"] == source, "date_start"]
        outside = (table.index < f"{dates.min():%Y-%m}") | (table.index > f"{dates.max():%Y-%m}")
        table.loc[outside, source] = pd.NA
    return table.rename_axis("month").reset_index().rename_axis(None, axis=1)


def by_year_and_source(events: pd.DataFrame, spans: dict, years: range) -> pd.DataFrame:
    """Events and deaths per year for each event source, side by side and never added up; a
    year outside a source's coverage (`spans`: source -> first and last day, views.source_spans)
    is "not covered" (no numbers), a year it covers in part says which days."""
    rows = []
    for source in (s for s in EVENT_SOURCES if s in spans):
        mine = events[events["source"] == source]
        first, last = spans[source]
        for year in years:
            start, end = max(first, pd.Timestamp(year=year, month=1, day=1)), min(last, pd.Timestamp(year=year, month=12, day=31))
            row = {"year": year, "source": source}
            if start > end:
                rows.append({**row, "covered": "not covered"})
                continue
            part = mine[mine["date_start"].dt.year == year]
            whole = (start.month, start.day, end.month, end.day) == (1, 1, 12, 31)
            rows.append({**row, "covered": "whole year" if whole else f"{start:%-d %B} to {end:%-d %B}",
                         "events": len(part), **{c: int(part[c].sum()) for c in [*DEATHS, "deaths_civilians"]}})
    columns = ["year", "source", "covered", "events", *DEATHS, "deaths_civilians"]
    # Year by year, the sources of each year together, so the eye compares them row to row.
    table = pd.DataFrame(rows, columns=columns).sort_values("year", kind="stable").reset_index(drop=True)
    return table.astype({c: "Int64" for c in ["events", *DEATHS, "deaths_civilians"]})


def linked_events(events: pd.DataFrame) -> pd.DataFrame:
    linked = events[events["duplicate_of"].notna()]
    return linked[["event_id", "source", "duplicate_of", "link_reason", "date_start", "admin1"]].reset_index(drop=True)


COUNTRY_YEAR_ABSENT = "not available: set UCDP_COUNTRY_YEAR to UCDP's country-year file"


def load_country_year() -> pd.DataFrame | None:
    path = paths.PROCESSED / "ucdp_country_year.parquet"
    return pd.read_parquet(path) if path.exists() else None


def compare_with_country_year(events: pd.DataFrame, country_year: pd.DataFrame, country: str, ged_version: str) -> pd.DataFrame:
    """Yearly GED sums by type of violence against UCDP's published country-year totals.
    `gap` = event table − published (best); `within_range` says whether the event table's best
    falls inside the published low–high range."""
    ged = events[(events["source"] == "ucdp_ged") & (events["country"] == country)]
    sums = ged.groupby(["year", "violence_type"])[DEATHS].sum().reset_index()
    last_day = ged.groupby("year")["date_start"].max()  # what the file covers (an end date may spill past it)
    published = country_year[country_year["country"] == country]
    rows = []
    for item in sums.itertuples():
        column = TYPE_COLUMNS.get(item.violence_type)
        match = published[published["year"] == item.year]
        if column is None or match.empty:
            continue
        pub = match.iloc[0]
        best = int(pub[f"{column}_best"])
        rows.append({
            "year": int(item.year), "violence_type": item.violence_type,
            "event_table_best": int(item.deaths_best), "event_table_low": int(item.deaths_low), "event_table_high": int(item.deaths_high),
            "published_best": best, "published_low": int(pub[f"{column}_low"]), "published_high": int(pub[f"{column}_high"]),
            "gap": int(item.deaths_best) - best,
            "gap_share": round((int(item.deaths_best) - best) / best, 4) if best else None,
            "published_version": str(pub.get("ucdp_version", "")),
            "event_table_version": ged_version,
        })
    table = pd.DataFrame(rows)
    if len(table):
        table["within_range"] = table["event_table_best"].between(table["published_low"], table["published_high"])
        same_release = table["published_version"].map(lambda v: v and v in ged_version)
        table["status"] = [
            ("agrees within 1.5%" if abs(g or 0) <= SAME_RELEASE_TOLERANCE else "DIFFERS beyond 1.5% within one release") if same
            else "release gap (different UCDP versions)"
            for g, same in zip(table["gap_share"], same_release)
        ]
        # A year the event file stops short of (the Syria extract ends on 30 November 2019)
        # cannot match a full-year total.
        partial = table["year"].map(lambda y: last_day[y] < pd.Timestamp(year=int(y), month=12, day=1))
        table["status"] = [status + (f"; event file ends {long_date(last_day[y])}" if short else "")
                           for status, y, short in zip(table["status"], table["year"], partial)]
    return table


def flag_counts(events: pd.DataFrame) -> pd.DataFrame:
    flags = events["quality_flags"].str.split(";").explode()
    counts = flags[flags != ""].value_counts()
    return pd.DataFrame({
        "flag": list(QUALITY_FLAGS),
        "meaning": list(QUALITY_FLAGS.values()),
        "rows": [int(counts.get(flag, 0)) for flag in QUALITY_FLAGS],
    })


def quarantine_reasons() -> pd.DataFrame:
    """Quarantined rows by source, column and the kind of reason (the text before any value)."""
    try:
        rejected = pd.read_csv(paths.REJECTED, dtype=str, keep_default_na=False)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        rejected = pd.DataFrame(columns=["source", "column", "reason"])
    if rejected.empty:
        return pd.DataFrame(columns=["source", "column", "reason", "rows"])
    kind = rejected["reason"].str.replace(r"[:(].*$", "", regex=True).str.strip()
    table = rejected.assign(reason=kind).groupby(["source", "column", "reason"]).size().rename("rows").reset_index()
    return table.sort_values(["rows", "source", "column"], ascending=[False, True, True], kind="stable").reset_index(drop=True)
