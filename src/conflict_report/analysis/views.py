"""The analyses every notebook shares, over the processed event table. Pure functions of a
DataFrame, so they are tested once and give the same numbers in every run.

Conventions:
- Deaths always travel as low/best/high; civilian deaths are a separate column.
- An event belongs to a period when its start date falls in it (a year-level record that
  starts on 1 January belongs to that year); its deaths are then spread over its own days.
- Curated events linked to a source event (duplicate_of) are not counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from conflict_report import paths
from conflict_report.analysis.params import RunParameters
from conflict_report.data.schema import EVENT_SOURCES, UNKNOWN_ADMIN1, countable
from conflict_report.errors import ParameterError

DEATHS = ["deaths_low", "deaths_best", "deaths_high"]
COARSE_DATE = 4  # date_precision 4-5: month or year level
COUNTRY_LEVEL = 6  # geo_precision 6-7: country level or wider
HEADLINE_CHARS = 90


def load_events() -> pd.DataFrame:
    return pd.read_parquet(paths.EVENTS)


def sides(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (event, actor) for every member of side A or B."""
    long = pd.concat([
        frame[["event_id", "side_a"]].rename(columns={"side_a": "actor"}).assign(side="a"),
        frame[["event_id", "side_b"]].rename(columns={"side_b": "actor"}).assign(side="b"),
    ])
    # Split each distinct side once: a few hundred distinct strings among tens of thousands of
    # rows (str.split on every row was half of a run's start).
    members = {side: side.split(", ") for side in long["actor"].dropna().unique()}
    long["actor"] = long["actor"].map(members)
    return long.explode("actor").dropna(subset=["actor"])


def known_actors(events: pd.DataFrame) -> list[str]:
    """Actors by number of events, most active first (the valid values for `actor`)."""
    return sides(events)["actor"].value_counts().index.tolist()


def known_governorates(events: pd.DataFrame, country: str) -> list[str]:
    """The country's governorates as the event table names them (the valid values for
    `governorate` where data/reference/ has no crosswalk for the country), in order."""
    names = events.loc[events["country"] == country, "admin1"].dropna().unique()
    return sorted(str(name) for name in names if name != UNKNOWN_ADMIN1)


# Sources that record every event of their span (schema.EVENT_SOURCES), so their first and last
# dates bound what the data can say. Curated rows are a handful of events from news reports:
# they cover no period.
SOURCE_NAMES = {"ucdp_ged": "UCDP GED", "acled": "ACLED", "curated": "events curated from news reports"}


def no_value_label(unit: str) -> str:
    """What tables and charts call the row of events with no governorate (district, ...)."""
    return f"No {unit} given"


def long_date(day) -> str:
    """The one way the report writes a date: 30 November 2019."""
    return f"{pd.Timestamp(day):%-d %B %Y}"


@dataclass(frozen=True)
class Period:
    """The days a run reports on: its parameters clipped to what its sources cover. A year or a
    month the period covers only in part is partial, and says so wherever it is shown."""
    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def display(self) -> str:
        return f"{long_date(self.start)} to {long_date(self.end)}"

    def year_is_partial(self, year: int) -> bool:
        return self.start > pd.Timestamp(year=year, month=1, day=1) or self.end < pd.Timestamp(year=year, month=12, day=31)

    def days_in_year(self, year: int) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The first and last day of `year` that the period covers."""
        return max(self.start, pd.Timestamp(year=year, month=1, day=1)), min(self.end, pd.Timestamp(year=year, month=12, day=31))

    def year_label(self, year: int) -> str:
        """'2019', or '2019 (1 January to 30 November)' when the period covers the year only in part."""
        if not self.year_is_partial(year):
            return str(year)
        first, last = self.days_in_year(year)
        return f"{year} ({first:%-d %B} to {last:%-d %B})"

    def year_tick(self, year: int) -> str:
        """The year on a chart's axis: '2019', or '2019' over '1 Jan–30 Nov' when partial."""
        if not self.year_is_partial(year):
            return str(year)
        first, last = self.days_in_year(year)
        return f"{year}\n{first:%-d %b}–{last:%-d %b}"

    def month_is_partial(self, month: str) -> bool:
        first = pd.Period(month, freq="M")
        return self.start > first.start_time or self.end < first.end_time.normalize()


def source_spans(events: pd.DataFrame, country: str, sources) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """Per source, the first and last start date of its events in the country: the span the
    data itself covers (an event whose end date spills past it does not extend it)."""
    mine = events[(events["country"] == country) & events["source"].isin(list(sources))]
    spans = mine.groupby("source")["date_start"].agg(["min", "max"])
    return {source: (row["min"], row["max"]) for source, row in spans.iterrows()}


def spans_text(spans: dict) -> str:
    return "; ".join(f"{SOURCE_NAMES.get(s, s)}: {long_date(a)} to {long_date(b)}" for s, (a, b) in sorted(spans.items())) or "no events"


def covered_period(events: pd.DataFrame, p: RunParameters) -> Period:
    """The run's period clipped to what its continuous sources cover. A period that no source
    covers at all is a parameter error naming the coverage."""
    start, end = pd.Timestamp(p.start), pd.Timestamp(p.end)
    spans = source_spans(events, p.country, p.sources)
    overlapping = {s: (a, b) for s, (a, b) in spans.items() if a <= end and b >= start}
    if not overlapping:
        raise ParameterError("start, end", f"{p.start.isoformat()} to {p.end.isoformat()}",
                             f"no source has events in {p.country} in this period",
                             f"a period within what the sources cover ({spans_text(spans)})")
    continuous = [span for s, span in overlapping.items() if s in EVENT_SOURCES]
    if not continuous:
        return Period(start, end)
    return Period(max(start, min(a for a, _ in continuous)), min(end, max(b for _, b in continuous)))


def select(events: pd.DataFrame, p: RunParameters) -> pd.DataFrame:
    """The countable events a run covers: its country, period, sources, violence types, and
    governorate or actor when given."""
    start, end = pd.Timestamp(p.start), pd.Timestamp(p.end)
    keep = (
        (events["country"] == p.country)
        & events["date_start"].between(start, end)
        & events["source"].isin(p.sources)
        & events["violence_type"].isin(p.violence_types)
    )
    if p.governorate:
        keep &= events["admin1"] == p.governorate
    chosen = countable(events[keep])
    if p.actor:
        ids = sides(chosen).query("actor == @p.actor")["event_id"].unique()
        chosen = chosen[chosen["event_id"].isin(ids)]
    return chosen.copy()


def death_totals(frame: pd.DataFrame) -> dict[str, int]:
    totals = {c: int(frame[c].sum()) for c in [*DEATHS, "deaths_civilians"]}
    totals["events"] = len(frame)
    return totals


def monthly(frame: pd.DataFrame, period: Period | None = None) -> pd.DataFrame:
    """Deaths per calendar month, each event's deaths spread evenly over the days from its
    start to its end date, so the series sums to the total and no month carries a year-level
    record's deaths on its start date. Fractions are kept; round only for display.
    `deaths_best_coarse` is the part that comes from month- or year-level records.

    With a period, an event's days stop at the period's end: an event whose end date spills
    past what the source covers spreads its deaths over its days inside the period, so no
    month past the coverage is drawn (from a few spilled-over days) and the series still sums
    to the total. `partial` marks a month the period covers only in part."""
    end = frame["date_end"] if period is None else frame["date_end"].clip(upper=period.end)
    days = (end - frame["date_start"]).dt.days + 1
    spread = frame.assign(days=days, offset=[range(d) for d in days]).explode("offset")
    spread["day"] = spread["date_start"] + pd.to_timedelta(spread["offset"].astype(int), unit="D")
    spread["month"] = spread["day"].dt.strftime("%Y-%m")
    for column in DEATHS:
        spread[column] = spread[column].astype(float) / spread["days"]
    spread["deaths_best_coarse"] = spread["deaths_best"].where(spread["date_precision"] >= COARSE_DATE, 0.0)
    columns = [*DEATHS, "deaths_best_coarse"]
    table = spread.groupby("month")[columns].sum()
    if len(table) or period is not None:
        # Months with no events are real zeros, not gaps in the line. With a period: its every
        # month, and only those; the period is clipped to what the sources cover, so a month
        # before a source's coverage starts is never drawn as a zero.
        ends = [] if period is None else [f"{period.start:%Y-%m}", f"{period.end:%Y-%m}"]
        months = [*table.index, *ends]
        full = pd.period_range(min(months), max(months), freq="M").strftime("%Y-%m")
        table = table.reindex(full, fill_value=0.0)
    table = table.rename_axis("month").reset_index()
    table["partial"] = table["month"].map(period.month_is_partial) if period is not None else False
    return table


def by_year_and_type(frame: pd.DataFrame) -> pd.DataFrame:
    table = frame.groupby(["year", "violence_type"])[[*DEATHS, "deaths_civilians"]].sum().reset_index()
    table["events"] = frame.groupby(["year", "violence_type"]).size().to_numpy()
    return table.astype({c: "int64" for c in [*DEATHS, "deaths_civilians", "events"]})


def civilians_by_year(frame: pd.DataFrame) -> pd.DataFrame:
    table = frame.groupby("year")[["deaths_civilians", "deaths_best"]].sum().reset_index()
    table["civilian_share_of_best"] = (table["deaths_civilians"] / table["deaths_best"]).round(4)
    return table.astype({"deaths_civilians": "int64", "deaths_best": "int64"})


def ranked(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Events and deaths per value of `column` (governorate, district), deadliest first; the
    unknown value is kept as its own row so the parts add up to the whole."""
    keyed = frame.assign(**{column: frame[column].fillna(UNKNOWN_ADMIN1)})
    table = keyed.groupby(column)[[*DEATHS, "deaths_civilians"]].sum()
    table["events"] = keyed.groupby(column).size()
    table = table.reset_index().sort_values(["deaths_best", column], ascending=[False, True], kind="stable")
    return table.astype({c: "int64" for c in [*DEATHS, "deaths_civilians", "events"]}).reset_index(drop=True)


def shorten(text: object, limit: int = HEADLINE_CHARS) -> str:
    text = "" if text is None or pd.isna(text) else " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def deadliest(frame: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The deadliest single events. Records that summarise a month or a year (date precision
    4-5) are not events in this sense and are left out."""
    # ACLED's terms allow aggregates only: its events are never listed one by one.
    events = frame[(frame["date_precision"] < COARSE_DATE) & ~frame["confidential"] & (frame["source"] != "acled")]
    top = events.sort_values(["deaths_best", "date_start", "event_id"], ascending=[False, True, True], kind="stable").head(n)
    return pd.DataFrame({
        "date": top["date_start"].dt.strftime("%Y-%m-%d"),
        "governorate": top["admin1"],
        "place": top["place"].fillna(""),
        "sides": top["side_a"].fillna("?") + " – " + top["side_b"].fillna("?"),
        "deaths_best": top["deaths_best"].astype("int64"),
        "deaths_low": top["deaths_low"].astype("int64"),
        "deaths_high": top["deaths_high"].astype("Int64"),
        "headline": top["headline"].map(shorten),
        "event_id": top["event_id"],
        "source": top["source"],
    }).reset_index(drop=True)


def opponents(frame: pd.DataFrame, actor: str) -> pd.DataFrame:
    """For events where `actor` is a member of one side: the members of the other side."""
    long = sides(frame)
    own = long[long["actor"] == actor][["event_id", "side"]].drop_duplicates()
    other = long.merge(own, on="event_id", suffixes=("", "_own"))
    other = other[(other["side"] != other["side_own"]) & (other["actor"] != actor)][["event_id", "actor"]].drop_duplicates()
    merged = other.merge(frame[["event_id", *DEATHS, "deaths_civilians"]], on="event_id")
    table = merged.groupby("actor")[[*DEATHS, "deaths_civilians"]].sum()
    table["events"] = merged.groupby("actor").size()
    table = table.reset_index().rename(columns={"actor": "opponent"})
    return table.sort_values(["deaths_best", "opponent"], ascending=[False, True], kind="stable").astype(
        {c: "int64" for c in [*DEATHS, "deaths_civilians", "events"]}).reset_index(drop=True)


def precision_counts(frame: pd.DataFrame) -> dict[str, int]:
    coarse_date = frame["date_precision"] >= COARSE_DATE
    country_level = frame["geo_precision"] >= COUNTRY_LEVEL
    return {
        "events_coarse_date": int(coarse_date.sum()),
        "deaths_coarse_date": tuple(int(frame.loc[coarse_date, c].sum()) for c in DEATHS),
        "events_country_level": int(country_level.sum()),
        "deaths_country_level": tuple(int(frame.loc[country_level, c].sum()) for c in DEATHS),
        "events_flagged": int((frame["quality_flags"] != "").sum()),
    }
