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
# # Sources and coverage
#
# What each source covers over time, events linked across sources (counted once), the event
# table's yearly totals against UCDP's published country-year totals, and the rows flagged or
# quarantined on the way in.

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
from conflict_report import run as run_, source_sections

run = run_.start("sources", country=country, governorate=governorate, actor=actor, start=start, end=end,
                 sources=sources, violence_types=violence_types, primary_source=primary_source)
run.summary()

# %% [markdown]
# ## Coverage of each source over time
#
# Events per month by source, over the whole event table (not only this run's period).

# %%
#| label: fig-coverage
source_sections.source_coverage(run)

# %% [markdown]
# ## The event sources side by side
#
# With both UCDP GED and ACLED, the run counts the primary source (`primary_source`) and shows
# the other here, year by year: the two record the same war, so they are never added up.

# %%
#| label: tbl-by-source
source_sections.source_comparison(run)

# %% [markdown]
# ## Events linked across sources
#
# A curated event that describes the same event as a UCDP or ACLED event is linked to it and
# counted once (see the methods).

# %%
#| label: tbl-linked
source_sections.linked(run)

# %% [markdown]
# ## Yearly totals against UCDP's published country-year totals
#
# UCDP revises its data with every release: events are added, re-dated and re-estimated. The
# event table's sums are therefore compared with the published totals year by year and type by
# type, and the gap is stated. Within one release the sums should agree within 1.5% (the
# tolerance Our World in Data uses for the same check); across releases the gap measures the
# revision, and is explained rather than treated as an error.

# %%
#| label: tbl-published
source_sections.published_totals(run)

# %%
#| label: fig-published
source_sections.published_totals_figure(run)

# %% [markdown]
# ## Flagged and quarantined rows
#
# Suspicious but usable rows are kept and flagged (never silently repaired); unusable rows are
# quarantined in `data/processed/rejected.csv` with their reason.

# %%
#| label: tbl-flags
source_sections.quality(run)

# %%
run_.finish(run)
