"""What a notebook run leaves in build/<slug>/: the results ledger (results.json: every number
the report quotes, with its display text), tables as CSV and figures as PNG and SVG.

Nothing here holds a timestamp or an absolute path, so two runs over the same data give the
same bytes, and a published output never names the build machine."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from conflict_report import atomic, paths
from conflict_report.analysis import figures
from conflict_report.analysis.params import RunParameters


def fmt_int(value: float) -> str:
    return f"{int(round(value)):,}"


def fmt_share(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.1f}%"


class RunOutputs:
    def __init__(self, parameters: RunParameters, folder: Path):
        self.parameters = parameters
        self.folder = folder
        self.values: dict[str, dict] = {}
        self.figures: list[dict] = []
        self.tables: list[dict] = []
        self.not_available: list[dict] = []  # figures and tables left out for want of an optional input
        # A run killed while saving leaves its temporary files; this run rewrites every output.
        for folder in (self.folder, self.folder / "figures", self.folder / "tables"):
            atomic.remove_leftovers(folder)

    # --- the ledger ------------------------------------------------------------------------
    def record(self, key: str, value, display: str, description: str, unit: str = "") -> None:
        if key in self.values:
            raise KeyError(f"ledger key {key!r} recorded twice in run {self.parameters.slug}")
        if hasattr(value, "item"):
            value = value.item()  # numpy scalar -> plain number for JSON
        self.values[key] = {"value": value, "display": display, "description": description, "unit": unit}

    def count(self, key: str, value: float, description: str, unit: str = "events") -> None:
        self.record(key, int(round(value)), fmt_int(value), description, unit)

    def deaths_single(self, key: str, value: float, description: str, why_no_range: str) -> None:
        """A death count the source gives as one figure (UCDP's civilian deaths, a sum of best
        estimates drawn beside its range elsewhere): `why_no_range` is kept in the ledger, so
        every death count either has its low/high or says why it has none."""
        self.count(key, value, description, "deaths")
        self.values[key]["no_range"] = why_no_range

    def deaths(self, key: str, low: float, best: float, high: float, description: str, lower_bound: bool = False) -> None:
        """Deaths always as UCDP's low/best/high range; `key` alone displays the range sentence."""
        self.count(f"{key}_low", low, f"{description} (low estimate)", "deaths")
        self.count(f"{key}_best", best, f"{description} (best estimate)", "deaths")
        self.count(f"{key}_high", high, f"{description} (high estimate)", "deaths")
        text = f"{fmt_int(best)} (range {fmt_int(low)}–{fmt_int(high)})"
        if lower_bound:
            text += ", some counts are lower bounds"
        self.record(key, None, text, f"{description}: best estimate with the low-high range", "deaths")

    def share(self, key: str, numerator: float, denominator: float, description: str) -> None:
        value = numerator / denominator if denominator else float("nan")
        self.record(key, None if math.isnan(value) else round(value, 6), fmt_share(value), description, "share")

    def text(self, key: str, value: str, description: str) -> None:
        self.record(key, value, value, description)

    # --- tables and figures ---------------------------------------------------------------
    def save_table(self, name: str, frame: pd.DataFrame, caption: str, units: dict[str, str] | None = None,
                   event_level: bool = False, credit: str = "") -> Path:
        """Write tables/<name>.csv and list it with the unit of each column (see `column_units`),
        so the report formats a count as a count after the CSV has lost its types. An event-level
        table never carries ACLED rows: ACLED's terms allow aggregates only. `credit`: the
        sources and licences of a table not drawn from the run's events alone (else the run's
        source line)."""
        frame, caption = _without_acled(frame, caption, event_level)
        target = self.folder / "tables" / f"{name}.csv"
        atomic.write_csv(target, frame)
        entry = {"name": name, "file": f"tables/{name}.csv", "caption": caption,
                 "columns": column_units(frame, units), "event_level": event_level}
        if credit:
            entry["credit"] = credit
        self.tables.append(entry)
        return target

    def save_figure(self, fig, name: str, caption: str, alt: str, data: pd.DataFrame, units: dict[str, str] | None = None,
                    event_level: bool = False, boundaries: bool = False, credit: str = "") -> dict:
        """Alt text states what the figure shows (the finding), not just its title. `data` is
        the table the figure was drawn from, written beside it as figures/<name>.csv;
        `boundaries`: the figure draws the administrative boundaries (their licence applies);
        `credit`: its sources and licences when they are not the run's source line."""
        written = figures.save(fig, self.folder / "figures", name)
        data, data_note = _without_acled(data, "", event_level)
        atomic.write_csv(self.folder / "figures" / f"{name}.csv", data)
        entry = {"name": name, "png": f"figures/{written['png']}", "svg": f"figures/{written['svg']}",
                 "csv": f"figures/{name}.csv", "columns": column_units(data, units), "event_level": event_level, "boundaries": boundaries,
                 "caption": caption, "alt": alt}
        if data_note:
            entry["data_note"] = data_note.strip()
        if credit:
            entry["credit"] = credit
        self.figures.append(entry)
        return entry

    def missing_input(self, name: str, kind: str, remedy: str, description: str) -> str:
        """A figure or table (`kind`) this run cannot make because an optional input is absent:
        no file is written; the ledger says "not available: <remedy>" (e.g. "set VAR to ...")
        under `<name>_not_available`, and the report prints it where the figure or table would
        have been."""
        note = f"not available: {remedy}"
        self.text(f"{name}_not_available", note, f"why the run has no {description}")
        self.not_available.append({"name": name, "kind": kind, "description": description, "note": note})
        return note

    def finish(self) -> Path:
        """Write results.json last (atomically): its presence says the run completed."""
        target = self.folder / "results.json"
        atomic.write_json(target, {
            "run": self.parameters.slug,
            "parameters": self.parameters.as_dict(),
            "values": self.values,
            "figures": self.figures,
            "tables": self.tables,
            "not_available": self.not_available,
        })
        return target


ACLED_LEFT_OUT = "No ACLED event is listed: ACLED's terms allow aggregates only."
ACLED_ID_PREFIX = "acled:"  # the event table's ids of ACLED events (data/sources/acled.py)
ACLED_ID_WITHHELD = "an ACLED event (not listed)"
COLUMN_UNITS = ("count", "number", "share", "date", "text")


def column_units(frame: pd.DataFrame, declared: dict[str, str] | None = None) -> dict[str, str]:
    """Each column's unit, from its type unless declared: whole-number columns (nullable or
    not) are counts, other numbers are measures shown to one decimal, shares (0-1) must be
    declared. Never from the column's name."""
    declared = declared or {}
    unknown = {c: u for c, u in declared.items() if c not in frame.columns or u not in COLUMN_UNITS}
    if unknown:
        raise ValueError(f"declared column units {unknown} name no column of the table or no unit of {COLUMN_UNITS}")
    units = {}
    for column in frame.columns:
        dtype = frame[column].dtype
        if column in declared:
            units[column] = declared[column]
        elif pd.api.types.is_bool_dtype(dtype):
            units[column] = "text"
        elif pd.api.types.is_integer_dtype(dtype):
            units[column] = "count"
        elif pd.api.types.is_float_dtype(dtype):
            units[column] = "number"
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            units[column] = "date"
        else:
            units[column] = "text"
    return units


def _without_acled(frame: pd.DataFrame, caption: str, event_level: bool) -> tuple[pd.DataFrame, str]:
    if not event_level:
        return frame, caption
    if "source" not in frame.columns:
        raise ValueError("an event-level table needs its `source` column, so ACLED rows can be left out")
    kept = frame[frame["source"].astype(str) != "acled"].reset_index(drop=True)
    # Nor its identifiers elsewhere in a row: a curated event linked to an ACLED event names it.
    for column in kept.columns[kept.dtypes == object]:
        kept[column] = kept[column].mask(kept[column].astype(str).str.startswith(ACLED_ID_PREFIX), ACLED_ID_WITHHELD)
    return kept, f"{caption.rstrip('.')}. {ACLED_LEFT_OUT}" if caption else ACLED_LEFT_OUT


def load_results(slug: str, build_dir: Path | None = None) -> dict:
    return json.loads(((build_dir or paths.BUILD) / slug / "results.json").read_text(encoding="utf-8"))
