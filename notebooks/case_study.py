# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Case study: Raqqa, November 2014
#
# This project started from one news report: AFP, citing the Syrian Observatory for Human
# Rights, on 26 November 2014, on regime air strikes on Raqqa. Its events are coded by hand in
# `data/curated/events.csv` (each with the sentence that supports it) and its figures in
# `data/curated/claims/claims.csv`. Each claim is checked against every source that covers its
# period and place. The UCDP event file used in this report covers 2016–2019 only, so claims
# about 2014 meet UCDP's published country-year totals and the curated rows, not UCDP events.

# %% tags=["parameters"]
country = "Syria"
governorate = ""
actor = ""
start = "2014-11-01"
end = "2014-11-30"
sources = ["ucdp_ged", "acled", "curated"]
violence_types = ["state-based", "non-state", "one-sided", "other"]
primary_source = "ucdp_ged"
context_year = 2014

# %%
from conflict_report import case_study, run as run_

run = run_.start("case_study", country=country, governorate=governorate, actor=actor, start=start, end=end,
                 sources=sources, violence_types=violence_types, primary_source=primary_source)
case_study.ucdp_year_context(run, int(context_year))

# %% [markdown]
# ## The events the article reports
#
# "At least" figures are lower bounds: the low and best estimates are the figure given and the
# high is unknown. Counts of strikes are not deaths.

# %%
#| label: tbl-curated
case_study.curated_events(run)

# %% [markdown]
# ## The article's claims, checked

# %%
#| label: tbl-claims
case_study.claims_checked(run)

# %%
run_.finish(run)
