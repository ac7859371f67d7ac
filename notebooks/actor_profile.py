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
# # One actor: profile
#
# Events and deaths where the actor is a side: UCDP names alliances as lists of members, and an
# actor is a side of an event when it is one of the members listed for side A or B. By year,
# by governorate, and its main opponents.

# %% tags=["parameters"]
country = "Syria"
governorate = ""
actor = ""  # required: an actor of the event table (`python -m conflict_report actors` lists them)
start = "2016-01-01"
end = "2019-12-31"
sources = ["ucdp_ged", "acled", "curated"]
violence_types = ["state-based", "non-state", "one-sided"]
primary_source = "ucdp_ged"

# %%
from conflict_report import run as run_, sections

run = run_.start("actor_profile", country=country, governorate=governorate, actor=actor, start=start, end=end,
                 sources=sources, violence_types=violence_types, primary_source=primary_source)
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
# ## By governorate

# %%
#| label: fig-governorates
sections.ranked(run, "admin1", "governorate", "governorates")

# %% [markdown]
# ## Main opponents
#
# The members of the other side in the events where this actor is a side. One event can count
# for several opponents (an alliance), so these rows do not add up to the actor's total.

# %%
#| label: fig-opponents
sections.opponents(run)

# %% [markdown]
# ## The deadliest events

# %%
#| label: tbl-deadliest
sections.deadliest(run)

# %%
run_.finish(run)
