"""The case study: events curated from one news report, the report's claims checked against
every source that covers them, and UCDP's yearly totals as context."""

from __future__ import annotations

import pandas as pd
from IPython.display import Markdown

from conflict_report.analysis import claims, coverage, views
from conflict_report.analysis import tables as report_tables
from conflict_report.data.sources import curated
from conflict_report.data.inputs import CURATED_REMEDY
from conflict_report.run import Run, curated_absent


CLAIMS_CREDIT = "Sources: claims and events curated from news reports (see citations)"
SOURCE_CREDITS = {"ucdp_ged": "UCDP GED, CC BY 4.0", "acled": "ACLED, ACLED terms of use",
                  "country_year": "UCDP Country-Year Dataset on Organized Violence, CC BY 4.0"}


def claims_credit(run: Run, country_year_given: bool) -> str:
    """The credit of the claims table: the sources it checked against, those present only."""
    present = [s for s in ("ucdp_ged", "acled") if (run.events["source"] == s).any()] + (["country_year"] if country_year_given else [])
    return "; ".join([CLAIMS_CREDIT, *(SOURCE_CREDITS[s] for s in present)])
LOWER_BOUND = "a lower bound: the source says 'at least' and gives no upper figure"


def _deaths_display(row) -> str:
    if pd.isna(row.deaths_best):
        return "unknown"
    if pd.isna(row.deaths_high):
        return f"at least {int(row.deaths_low):,} (no upper bound)"
    if row.deaths_low == row.deaths_best == row.deaths_high:
        return f"{int(row.deaths_best):,}"
    return report_tables.deaths_text(row.deaths_best, row.deaths_low, row.deaths_high)


def curated_events(run: Run) -> Markdown:
    """The curated events of the period in every country the report names (talks in Sochi
    belong to the story of Raqqa too); confidential rows show their figures only."""
    if curated_absent(run.manifest):
        return Markdown("Curated events " + run.outputs.missing_input("curated_events", "table", CURATED_REMEDY, "table of curated events") + ".")
    p = run.parameters
    rows = run.events[(run.events["source"] == "curated") & run.events["date_start"].between(pd.Timestamp(p.start), pd.Timestamp(p.end))]
    rows = rows.sort_values(["date_start", "event_id"])
    table = pd.DataFrame({
        "date": rows["date_start"].dt.strftime("%Y-%m-%d"),
        "place": [c if p in ("", c) else f"{p}, {c}" for p, c in zip(rows["place"].fillna(""), rows["country"])],
        "sides": rows["side_a"].fillna("?") + " – " + rows["side_b"].fillna("?"),
        "deaths": [_deaths_display(r) for r in rows.itertuples()],
        "civilian_deaths": [("at least " if r.deaths_is_lower_bound and pd.notna(r.deaths_civilians) else "") +
                            (f"{int(r.deaths_civilians):,}" if pd.notna(r.deaths_civilians) else "unknown") for r in rows.itertuples()],
        "strikes": rows["strikes"].astype("Int64"),  # a count, empty where the source gives none
        "what": rows["headline"].fillna("(confidential)"),
    })
    run.outputs.save_table("curated_events", table, "Events curated from the article")
    run.outputs.count("curated_events", len(table), "events curated from news reports in the period")
    raqqa = rows[(rows["admin1"] == "Ar-Raqqa") & rows["deaths_best"].notna()]
    if len(raqqa):
        out = run.outputs
        if raqqa["deaths_high"].isna().any():  # "at least": the low bound is all the source gives
            out.record("raqqa_deaths", int(raqqa["deaths_low"].sum()), f"at least {int(raqqa['deaths_low'].sum()):,}",
                       "deaths in the curated Raqqa events (a lower bound: the source says 'at least')", "deaths")
            out.values["raqqa_deaths"]["no_range"] = LOWER_BOUND
        else:
            out.deaths("raqqa_deaths", raqqa["deaths_low"].sum(), raqqa["deaths_best"].sum(), raqqa["deaths_high"].sum(),
                       "deaths in the curated Raqqa events")
        out.record("raqqa_civilian_deaths", int(raqqa["deaths_civilians"].sum()), f"at least {int(raqqa['deaths_civilians'].sum()):,}",
                   "civilian deaths in the curated Raqqa events (a lower bound)", "deaths")
        out.values["raqqa_civilian_deaths"]["no_range"] = LOWER_BOUND
    return Markdown(report_tables.markdown(report_tables.curated_for_display(table), align_numbers=False))


def claims_checked(run: Run) -> Markdown:
    if curated_absent(run.manifest):
        return Markdown("Claims checked " + run.outputs.missing_input("claims_checked", "table", CURATED_REMEDY, "table of claims checked") + ".")
    country_year = coverage.load_country_year()
    checks = claims.check_claims(curated.read_claims(), run.events, country_year if country_year is not None else pd.DataFrame())
    run.outputs.save_table("claims_checked", checks, "Each claim of the article checked against each source",
                           credit=claims_credit(run, country_year is not None))
    for key, text in claims.claims_ledger(checks).items():
        run.outputs.text(key, text, "claim check (see claims_checked.csv)")
    run.outputs.count("claims", checks["claim_id"].nunique(), "claims checked", "claims")
    run.outputs.count("claims_consistent", int((checks["verdict"] == "consistent").sum()), "claim-source pairs found consistent", "checks")
    run.outputs.count("claims_inconsistent", int((checks["verdict"] == "inconsistent").sum()), "claim-source pairs found inconsistent", "checks")
    shown = report_tables.claims_for_display(checks)
    return Markdown(report_tables.markdown(shown, align_numbers=False, min_widths=report_tables.CLAIMS_MIN_WIDTHS) + "\n"
                    + report_tables.claims_notes(checks))


def ucdp_year_context(run: Run, year: int) -> Markdown:
    country_year = coverage.load_country_year()
    out = run.outputs
    if country_year is None:
        # The page quotes these entries: each says why it is empty and how to fill it.
        for key in (*(f"ucdp_{year}_{kind}" for kind in ("total", "state_based", "non_state", "one_sided", "civilians")),
                    "ucdp_country_year_version"):
            out.text(key, coverage.COUNTRY_YEAR_ABSENT, "UCDP's country-year totals (not given)")
        _ged_coverage(run)
        return Markdown(f"UCDP's country-year totals: {coverage.COUNTRY_YEAR_ABSENT}.")
    row = country_year[(country_year["country"] == run.parameters.country) & (country_year["year"] == year)].iloc[0]
    out.deaths(f"ucdp_{year}_total", row["total_low"], row["total_best"], row["total_high"], f"UCDP's published deaths in organised violence in {year}")
    for kind, label in (("state_based", "state-based"), ("non_state", "non-state"), ("one_sided", "one-sided")):
        out.deaths(f"ucdp_{year}_{kind}", row[f"{kind}_low"], row[f"{kind}_best"], row[f"{kind}_high"], f"UCDP's published {label} deaths in {year}")
    out.deaths_single(f"ucdp_{year}_civilians", row["civilian_deaths"], f"UCDP's published civilian deaths in {year}",
                      "UCDP's country-year table gives one civilian estimate per year, with no low or high")
    out.text("ucdp_country_year_version", str(row["ucdp_version"]), "version of UCDP's country-year totals")
    _ged_coverage(run)
    return Markdown(f"UCDP {year}, {run.parameters.country}: {out.values[f'ucdp_{year}_total']['display']} deaths in organised violence.")


def _ged_coverage(run: Run) -> None:
    spans = views.source_spans(run.events, run.parameters.country, ["ucdp_ged"])
    coverage_text = views.Period(*spans["ucdp_ged"]).display if "ucdp_ged" in spans else "not available: set UCDP_GED to UCDP's event file"
    run.outputs.text("ged_coverage", coverage_text, "the period the UCDP event file covers")
