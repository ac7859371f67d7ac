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
# # Organised violence in one country: overview
#
# Deaths in organised violence by month, year and type of violence, civilian deaths, the
# governorates ranked, the deadliest single events and a map. Deaths are UCDP's best estimate
# shown with its low–high range. Every number the report quotes comes from this run's
# `results.json`, written by the calls below; the analysis itself lives in the
# `conflict_report` package, where it is tested.

# %% tags=["parameters"]
country = "Syria"
governorate = ""
actor = ""
start = "2016-01-01"
end = "2019-12-31"
sources = ["ucdp_ged", "acled", "curated"]
violence_types = ["state-based", "non-state", "one-sided"]
primary_source = "ucdp_ged"

# %%
from conflict_report import run as run_, sections

run = run_.start("overview", country=country, governorate=governorate, actor=actor, start=start, end=end,
                 sources=sources, violence_types=violence_types, primary_source=primary_source)
run.summary()

# %% [markdown]
# ## Deaths per month
#
# Events that UCDP can date only to a month or a year (date precision 4–5) are spread evenly
# over the days from their start to their end date, so the monthly series adds up to the total
# and no month carries a whole year's record on its first day. The orange area is that part.

# %%
#| label: fig-monthly
sections.monthly(run)

# %% [markdown]
# ## By type of violence and year

# %%
#| label: fig-by-year-type
sections.by_year_and_type(run)

# %% [markdown]
# ## Civilian deaths
#
# UCDP's civilian deaths are part of its best estimate of all deaths; the share is civilian
# deaths over all deaths (best estimates).

# %%
#| label: fig-civilians
sections.civilians(run)

# %% [markdown]
# ## Governorates ranked
#
# Events UCDP places only at country level, or in no governorate, form a row of their own:
# the governorates plus that row add up to the national total.

# %%
#| label: fig-governorates
sections.ranked(run, "admin1", "governorate", "governorates")

# %% [markdown]
# ## The deadliest events
#
# Single events only: records that summarise a month or a year are left out.

# %%
#| label: tbl-deadliest
sections.deadliest(run)

# %% [markdown]
# ## Map of events

# %%
#| label: fig-map
sections.event_map(run)

# %%
run_.finish(run)
