"""conflict_report: curated conflict event data -> validated event table -> parameterised
notebooks (papermill) -> results ledger -> Quarto report (HTML site and PDF).

The package is laid out by stage, each importing only the ones below it:
`report/` (make report) -> `runs/` (make notebooks) -> `analysis/` (what notebooks call) ->
`data/` (make data) -> `paths`, `errors`, `atomic`. `run` and `sections` stay here as the
notebooks' API.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Modules that notebooks imported from the top of the package before it was laid out by stage:
# `from conflict_report import case_study` keeps working, imported only when asked for, so a
# no-op step still starts without pandas.
_MOVED = {
    "case_study": "analysis.case_study",
    "claims": "analysis.claims",
    "coverage": "analysis.coverage",
    "figures": "analysis.figures",
    "params": "analysis.params",
    "plots": "analysis.plots",
    "report_tables": "analysis.tables",
    "results": "analysis.results",
    "source_sections": "analysis.source_sections",
    "geo": "data.geo",
    "inputs": "data.inputs",
    "linking": "data.linking",
    "normalise": "data.normalise",
    "schema": "data.schema",
}


def __getattr__(name: str):
    if name in _MOVED:
        return importlib.import_module(f"{__name__}.{_MOVED[name]}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
