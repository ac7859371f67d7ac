"""conflict_report: curated conflict event data -> validated event table -> parameterised
notebooks (papermill) -> results ledger -> Quarto report (HTML site and PDF)."""

__version__ = "0.1.0"
