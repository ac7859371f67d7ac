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
    def save_table(self, name: str, frame: pd.DataFrame, caption: str) -> Path:
        target = self.folder / "tables" / f"{name}.csv"
        atomic.write_csv(target, frame)
        self.tables.append({"name": name, "file": f"tables/{name}.csv", "caption": caption})
        return target

    def save_figure(self, fig, name: str, caption: str, alt: str) -> dict:
        """Alt text states what the figure shows (the finding), not just its title."""
        written = figures.save(fig, self.folder / "figures", name)
        entry = {"name": name, "png": f"figures/{written['png']}", "svg": f"figures/{written['svg']}",
                 "caption": caption, "alt": alt}
        self.figures.append(entry)
        return entry

    def finish(self) -> Path:
        """Write results.json last (atomically): its presence says the run completed."""
        target = self.folder / "results.json"
        atomic.write_json(target, {
            "run": self.parameters.slug,
            "parameters": self.parameters.as_dict(),
            "values": self.values,
            "figures": self.figures,
            "tables": self.tables,
        })
        return target


def load_results(slug: str, build_dir: Path | None = None) -> dict:
    return json.loads(((build_dir or paths.BUILD) / slug / "results.json").read_text(encoding="utf-8"))
