"""The first and last steps every notebook shares: check the parameters, load the processed
data, select the run's events, and record what every report page quotes about the data."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from IPython.display import Markdown

from conflict_report import paths
from conflict_report.analysis import views as analysis
from conflict_report.analysis.params import RunParameters, check_parameters
from conflict_report.analysis.results import RunOutputs
from conflict_report.data import build as data_step
from conflict_report.data import geo, normalise

CIVILIANS_NO_RANGE = "UCDP gives one estimate of civilian deaths per event, with no low or high"
LICENCES = {"ucdp_ged": "CC BY 4.0", "acled": "ACLED terms of use", "curated": "see citations"}


@dataclass
class Run:
    parameters: RunParameters
    events: pd.DataFrame  # the whole processed table
    selected: pd.DataFrame  # the countable events this run covers
    outputs: RunOutputs
    manifest: dict

    @property
    def source_line(self) -> str:
        """'Source: UCDP GED 19.1, CC BY 4.0' for the sources this run's events come from."""
        versions = {i["source"]: i["dataset_version"] for i in self.manifest.get("inputs", []) if "rows_read" in i}
        used = [s for s in self.parameters.sources if s in set(self.selected["source"])] or ["ucdp_ged"]
        names = {"ucdp_ged": f"UCDP {versions.get('ucdp_ged', 'GED')}", "acled": "ACLED", "curated": "events curated from news reports"}
        return "Source: " + "; ".join(f"{names[s]}, {LICENCES[s]}" for s in used)

    @property
    def scope(self) -> str:
        """What the run covers, for titles: 'Syria', 'Aleppo, Syria', 'IS as a side, Syria'."""
        p = self.parameters
        if p.governorate:
            return f"{p.governorate}, {p.country}"
        if p.actor:
            return f"events with {p.actor} as a side, {p.country}"
        return p.country

    @property
    def governorate_pcode(self) -> str | None:
        return normalise.admin1_pcode(self.parameters.country, self.parameters.governorate) if self.parameters.governorate else None

    def summary(self) -> Markdown:
        v = self.outputs.values
        return Markdown(f"**{v['events']['display']} events**, {v['period']['display']}, {self.scope}. "
                        f"Deaths: **{v['deaths']['display']}**; civilian deaths: {v['deaths_civilians']['display']} "
                        f"({v['civilian_share']['display']} of the best estimate).")

    def record_share_of_national(self) -> None:
        """The governorate's deaths as a share of the country's, for the same period and filters."""
        national = analysis.select(self.events, dataclasses.replace(self.parameters, governorate=None))
        totals = analysis.death_totals(national)
        self.outputs.deaths("national_deaths", totals["deaths_low"], totals["deaths_best"], totals["deaths_high"], "deaths in the whole country")
        self.outputs.share("share_of_national", int(self.selected["deaths_best"].sum()), totals["deaths_best"],
                           "share of the country's deaths (best estimates)")

    def admin_areas(self, level: int) -> geo.Areas | None:
        path = data_step.BOUNDARIES[level]
        return geo.load_areas(path) if path.exists() else None


def start(notebook: str, **raw) -> Run:
    """Check parameters (valid values taken from the data itself) and select the run's events."""
    events = analysis.load_events()
    parameters = check_parameters(notebook, known_actors=analysis.known_actors(events),
                                  known_countries=sorted(events["country"].dropna().unique()), **raw)
    manifest = json.loads(paths.MANIFEST.read_text(encoding="utf-8"))
    run = Run(parameters, events, analysis.select(events, parameters), RunOutputs(parameters), manifest)
    record_data_facts(run)
    return run


def record_data_facts(run: Run) -> None:
    """Totals for the run's events, and the data's versions and quality counts."""
    out, frame = run.outputs, run.selected
    totals = analysis.death_totals(frame)
    out.count("events", totals["events"], "events counted in this run")
    out.deaths("deaths", totals["deaths_low"], totals["deaths_best"], totals["deaths_high"], "deaths in organised violence",
               lower_bound=bool(frame["deaths_is_lower_bound"].any()))
    out.deaths_single("deaths_civilians", totals["deaths_civilians"], "civilian deaths (UCDP's best estimate of civilians killed)", CIVILIANS_NO_RANGE)
    out.share("civilian_share", totals["deaths_civilians"], totals["deaths_best"], "civilian deaths as a share of all deaths (best estimates)")
    for key, value in analysis.precision_counts(frame).items():
        if isinstance(value, tuple):  # deaths, as (low, best, high)
            out.deaths(key, *value, key.replace("_", " "))
        else:
            out.count(key, value, key.replace("_", " "), "events")
    if len(frame):
        out.text("first_event_date", frame["date_start"].min().strftime("%Y-%m-%d"), "start date of the first event")
        out.text("last_event_date", frame["date_end"].max().strftime("%Y-%m-%d"), "end date of the last event")
    out.text("period", f"{run.parameters.start:%-d %B %Y} to {run.parameters.end:%-d %B %Y}", "the period the run covers")
    for item in run.manifest.get("inputs", []):
        out.text(f"version_{item['name'].replace(':', '_').replace('.', '_')}", item["dataset_version"], f"version of input {item['file_name']}")
    out.text("source_line", run.source_line, "the source line under every figure")


def finish(run: Run) -> Path:
    return run.outputs.finish()
