"""The first and last steps every notebook shares: check the parameters, load the processed
data, select the run's events, and record what every report page quotes about the data."""

from __future__ import annotations

import ast
import dataclasses
import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from IPython.display import Markdown

from conflict_report import paths
from conflict_report.analysis import views as analysis
from conflict_report.analysis.params import RunParameters, check_parameters, counted_sources
from conflict_report.analysis.results import RunOutputs
from conflict_report.data import build as data_step
from conflict_report.data import geo, normalise
from conflict_report.data.inputs import CURATED_ABSENT
from conflict_report.data.schema import EVENT_SOURCES
from conflict_report.errors import ParameterError

LICENCES = {"ucdp_ged": "CC BY 4.0", "acled": "ACLED terms of use", "curated": "see citations"}


@dataclass(frozen=True)
class EventSourceText:
    """How the report's prose names the event source a run counts, and what its figures mean:
    recorded in every ledger (`event_source_*`), so no page names a source that is not there."""
    name: str  # 'UCDP', as in "UCDP recorded ..."
    full: str  # first mention, with its citation
    estimates: str  # what the low, best and high estimates are
    civilians: str  # what counts as a civilian death
    civilians_no_range: str  # why civilian deaths have no low or high
    precision: str  # how coarsely dated or placed records are coded


EVENT_SOURCE_TEXT = {
    "ucdp_ged": EventSourceText(
        "UCDP", "the Uppsala Conflict Data Program (UCDP) [@sundberg2013ged]",
        "The first figure is UCDP's best estimate; the range runs from its low to its high estimate, and this report "
        "never quotes one without the other.",
        "by UCDP's best estimate of civilians killed",
        "UCDP gives one estimate of civilian deaths per event, with no low or high",
        "UCDP codes how exactly it knows when and where an event happened"),
    "acled": EventSourceText(
        "ACLED", "the Armed Conflict Location & Event Data Project (ACLED) [@raleigh2010acled]",
        "ACLED gives one fatality figure per event, so the low, best and high estimates quoted here are that one "
        "figure and every range is a single number.",
        "by ACLED's civilian-targeting mark (deaths in events ACLED codes as aimed at civilians)",
        "ACLED gives one fatality figure per event; civilian deaths are those of events it codes as civilian targeting",
        "ACLED codes how exactly it knows when and where an event happened"),
    "curated": EventSourceText(
        "the curated events", "events curated from news reports",
        "Where a source gives a figure as a lower bound, the low and best estimates are that figure.",
        "as the news reports give them", "the news reports give one civilian figure", "each row codes its own precision"),
}


@dataclass
class Run:
    parameters: RunParameters
    events: pd.DataFrame  # the whole processed table
    selected: pd.DataFrame  # the countable events this run covers
    outputs: RunOutputs
    manifest: dict
    period: analysis.Period  # the parameters' period clipped to what the sources cover

    @property
    def event_source(self) -> str:
        """The event source the run counts (one of schema.EVENT_SOURCES; 'curated' for a run of
        curated events alone)."""
        return next((s for s in self.parameters.sources if s in EVENT_SOURCES), "curated")

    @property
    def source_text(self) -> EventSourceText:
        return EVENT_SOURCE_TEXT[self.event_source]

    @property
    def source_line(self) -> str:
        """'Source: UCDP GED 19.1, CC BY 4.0' for the sources this run's events come from."""
        present = set(self.selected["source"].unique())  # unique(), not set(column): 16,000 rows read one by one
        used = [s for s in self.parameters.sources if s in present] or [self.event_source]
        return self.source_credit(used)

    def source_credit(self, sources) -> str:
        """'Source: UCDP 19.1, CC BY 4.0; ACLED, ACLED terms of use' for the sources given."""
        return "Source: " + "; ".join(f"{self.source_version(s)}, {LICENCES[s]}" for s in sources)

    @property
    def versions(self) -> dict[str, str]:
        """Each event source's dataset version, as the data step read it (manifest.json)."""
        return {i["source"]: i["dataset_version"] for i in self.manifest.get("inputs", []) if "rows_read" in i}

    def source_version(self, source: str) -> str:
        """'UCDP 19.1' (the GED release), 'ACLED', 'events curated from news reports'."""
        return {"ucdp_ged": f"UCDP {self.versions.get('ucdp_ged', 'GED')}", "acled": "ACLED"}.get(source, "events curated from news reports")

    def source_edition(self, source: str) -> str:
        """The version the data step read: 'UCDP 19.1', 'ACLED export (data as of 2023-11-14)'."""
        return self.versions.get(source, "ACLED") if source == "acled" else self.source_version(source)

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

    @property
    def boundaries_credit(self) -> str:
        """The boundaries' publisher and licence (BOUNDARIES_CREDIT, recorded in the manifest)."""
        return self.manifest.get("boundaries_credit") or "credit not given (set BOUNDARIES_CREDIT)"

    def admin_areas(self, level: int) -> geo.Areas | None:
        path = data_step.BOUNDARIES[level]
        return geo.load_areas(path) if path.exists() else None


PAPERMILL_INJECTED_HEADER = "# Parameters"  # the first line of the cell papermill injects


def unknown_parameter_names(executed_cells: list[str]) -> tuple[list[str], list[str]]:
    """The names papermill injected that the notebook's parameters cell does not define, and
    the names it does define. papermill only logs "Passed unknown parameter" and runs on with
    the defaults, so a misspelt name would silently run the default subject.

    `executed_cells` are the sources of the cells run so far, in order (IPython's `In`); the
    injected cell is the last one that starts with papermill's header, the parameters cell
    the one executed just before it."""
    injected = [i for i, source in enumerate(executed_cells) if source.lstrip().startswith(PAPERMILL_INJECTED_HEADER)]
    if not injected or injected[-1] == 0:
        return [], []
    given, declared = (_assigned_names(executed_cells[i]) for i in (injected[-1], injected[-1] - 1))
    return [name for name in given if name not in declared], declared


def _assigned_names(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)]


def check_injected_names() -> None:
    """Fail on a parameter name the notebook does not have (inside IPython; a no-op elsewhere)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    unknown, declared = unknown_parameter_names(list(shell.user_ns.get("In", [])))
    if unknown:
        near = difflib.get_close_matches(unknown[0], declared, n=1)
        raise ParameterError(unknown[0], shell.user_ns.get(unknown[0]),
                             "not a parameter of this notebook" + (f" (did you mean '{near[0]}'?)" if near else ""),
                             ", ".join(declared))


CURATED_NOTEBOOKS = ("case_study",)  # notebooks about the curated events (data/curated/)


def curated_absent(manifest: dict) -> bool:
    """The build had no curated file (data/curated/ empty)."""
    return any(a["variable"] == CURATED_ABSENT["variable"] for a in manifest.get("absent_inputs", []))


HAND_RUNS = "run-outputs"


def output_folder(parameters: RunParameters) -> Path:
    """Where a run writes: the folder the sweep names; a run by hand (JupyterLab, papermill)
    writes to run-outputs/<slug>/ under its working directory, never into the sweep's build/."""
    given = os.environ.get(paths.RUN_DIR_VARIABLE, "").strip()
    return Path(given).resolve() if given else Path.cwd().resolve() / HAND_RUNS / parameters.slug


def start(notebook: str, **raw) -> Run:
    """Check parameters (valid values taken from the data itself) and select the run's events."""
    check_injected_names()
    events = analysis.load_events()
    country = str(raw.get("country") or "")
    parameters = check_parameters(notebook, known_actors=analysis.known_actors(events),
                                  known_countries=sorted(events["country"].dropna().unique()),
                                  known_governorates=analysis.known_governorates(events, country), **raw)
    # GED and ACLED are never added up: the run counts one of them (results.json records which).
    parameters = dataclasses.replace(parameters, sources=counted_sources(parameters, set(events["source"].unique())))
    manifest = json.loads(paths.MANIFEST.read_text(encoding="utf-8"))
    if notebook in CURATED_NOTEBOOKS and curated_absent(manifest):
        # Its period is the curated events'; without them the run records what is missing.
        period = analysis.Period(pd.Timestamp(parameters.start), pd.Timestamp(parameters.end))
    else:
        period = analysis.covered_period(events, parameters)
    folder = output_folder(parameters)
    if not os.environ.get(paths.RUN_DIR_VARIABLE):
        print(f"A run by hand: figures, tables and results.json go to {folder} (the sweep's runs write to build/<run>/).")
    run = Run(parameters, events, analysis.select(events, parameters), RunOutputs(parameters, folder), manifest, period)
    record_data_facts(run)
    return run


def record_data_facts(run: Run) -> None:
    """Totals for the run's events, and the data's versions and quality counts."""
    out, frame = run.outputs, run.selected
    totals = analysis.death_totals(frame)
    out.count("events", totals["events"], "events counted in this run")
    out.deaths("deaths", totals["deaths_low"], totals["deaths_best"], totals["deaths_high"], "deaths in organised violence",
               lower_bound=bool(frame["deaths_is_lower_bound"].any()))
    text = run.source_text
    out.deaths_single("deaths_civilians", totals["deaths_civilians"], f"civilian deaths ({text.civilians})", text.civilians_no_range)
    out.share("civilian_share", totals["deaths_civilians"], totals["deaths_best"], "civilian deaths as a share of all deaths (best estimates)")
    for key, value in analysis.precision_counts(frame).items():
        if isinstance(value, tuple):  # deaths, as (low, best, high)
            out.deaths(key, *value, key.replace("_", " "))
        else:
            out.count(key, value, key.replace("_", " "), "events")
    if len(frame):
        out.text("first_event_date", frame["date_start"].min().strftime("%Y-%m-%d"), "start date of the first event")
    period = run.period
    out.text("period", period.display, "the period the run covers: its parameters clipped to what the sources cover")
    out.text("period_start", analysis.long_date(period.start), "the first day of the run's period")
    out.text("period_end", analysis.long_date(period.end), "the last day of the run's period")
    for year in range(period.start.year, period.end.year + 1):
        out.text(f"year_{year}", period.year_label(year), f"{year}, with the part of it the period covers when not all of it")
    for item in run.manifest.get("inputs", []):
        out.text(f"version_{item['name'].replace(':', '_').replace('.', '_')}", item["dataset_version"], f"version of input {item['file_name']}")
    out.text("source_line", run.source_line, "the source line under every figure")
    out.text("event_source_version", run.source_edition(run.event_source), "the event source counted, with its version")
    for field_name, value in dataclasses.asdict(text).items():
        out.text(f"event_source_{field_name}", value, f"the prose's words for the event source counted ({field_name})")


def finish(run: Run) -> Path:
    return run.outputs.finish()
