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
# # One governorate: profile
#
# The overview's views scoped to one governorate, its share of the national total, and its
# districts. Events that UCDP places only at country level belong to no governorate and are
# not counted here (the overview shows them as their own row).

# %% tags=["parameters"]
country = "Syria"
governorate = ""  # required: one of the governorates (a wrong or missing name lists them)
actor = ""
start = "2016-01-01"
end = "2019-12-31"
sources = ["ucdp_ged", "acled", "curated"]
violence_types = ["state-based", "non-state", "one-sided"]
primary_source = "ucdp_ged"

# %%
from conflict_report import run as run_, sections

run = run_.start("region_profile", country=country, governorate=governorate, actor=actor, start=start, end=end,
                 sources=sources, violence_types=violence_types, primary_source=primary_source)
run.record_share_of_national()
run.summary()

# %% [markdown]
# ## Deaths per month

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

# %%
#| label: fig-civilians
sections.civilians(run)

# %% [markdown]
# ## Districts
#
# Districts as the source names them (UCDP's `adm_2`); events with no district form their own row.

# %%
#| label: fig-districts
sections.ranked(run, "admin2", "district", "districts")

# %% [markdown]
# ## The deadliest events

# %%
#| label: tbl-deadliest
sections.deadliest(run)

# %% [markdown]
# ## Map of events

# %%
#| label: fig-map
sections.event_map(run, highlight_pcode=run.governorate_pcode)

# %%
run_.finish(run)
