"""What the notebooks call: views of the event table, figures, tables, claims, the results ledger, parameters."""

# The package's own notebooks (notebooks/*.ipynb), whose parameters analysis.params checks as
# a whole. Here, not in params, so the sweep can tell them apart without importing pandas.
SHIPPED_NOTEBOOKS = ("overview", "region_profile", "actor_profile", "sources", "case_study")
