"""Checking claims: hand-worked verdicts on small hand-built tables, then the article's claims
against the real build (UCDP GED 2016-2019, the curated events, UCDP's country-year file)."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import REPO

from conflict_report.analysis import claims
from conflict_report.data.schema import conform
from conflict_report.data.sources import curated

CLAIMS_FILE = REPO / "data" / "curated" / "claims" / "claims.csv"
DAY = pd.Timestamp("2017-03-01")


def claim(**overrides) -> dict:
    base = dict(claim_id="c1", claimant="A monitor", article_citation="Article A", source_url=None, source_published=DAY,
                quote="q", figure=30, figure_kind="deaths", bound="at_least", period_start=DAY, period_end=DAY, country="Syria",
                admin1="Aleppo", place="Aleppo city", actor=None, curated_ids=None, confidential=False, notes=None)
    return base | overrides


def event(event_id: str, source: str, date: str, admin1: str, low=None, best=None, high=None, **overrides) -> dict:
    day = pd.Timestamp(date)
    base = dict(event_id=event_id, source=source, source_event_id=event_id, dataset_version="test", date_start=day, date_end=day,
                date_precision=1, year=day.year, country="Syria", admin1=admin1, geo_precision=4, violence_type="state-based",
                latitude=float("nan"), longitude=float("nan"),
                side_a="Government of Syria", side_b="Syrian insurgents", deaths_low=low, deaths_best=best, deaths_high=high,
                deaths_is_lower_bound=False, quality_flags="", confidential=False, citation="Other article")
    return base | overrides


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


# GED-like events covering 2017 (first and last event), two of them in Aleppo on 1 March:
# low 10 + 5 = 15, best 12 + 8 = 20, high 20 + 15 = 35.
GED = [
    event("g:1", "ucdp_ged", "2017-01-01", "Damascus", 1, 1, 1),
    event("g:2", "ucdp_ged", "2017-03-01", "Aleppo", 10, 12, 20),
    event("g:3", "ucdp_ged", "2017-03-01", "Aleppo", 5, 8, 15),
    event("g:4", "ucdp_ged", "2017-12-31", "Damascus", 1, 1, 1),
]
# Country-year totals (low, best, high) chosen so that every sum can be read off by eye.
COUNTRY_YEAR = pd.DataFrame({"country": "Syria", "year": [2011, 2012, 2013, 2014], "total_low": [10, 100, 1000, 10000],
                             "total_best": [20, 200, 2000, 20000], "total_high": [30, 300, 3000, 30000],
                             "civilian_deaths": [1, 2, 3, 4], "ucdp_version": "25.1"})


def check(claim_rows: list[dict], event_rows: list[dict], country_year: pd.DataFrame = COUNTRY_YEAR) -> pd.DataFrame:
    events = conform(frame(*event_rows))
    return claims.check_claims(frame(*claim_rows), events, country_year).set_index("source_key")


@pytest.mark.parametrize("figure, bound, verdict, difference, compared_with", [
    (30, "at_least", "consistent", 30 - 20, "best"),      # 30 or more overlaps 15-35
    (35, "at_least", "consistent", 35 - 20, "best"),      # touches the high end
    (40, "at_least", "inconsistent", 40 - 35, "high"),    # 40 or more lies above 35
    (35, "more_than", "inconsistent", 35 - 35, "high"),   # more than 35 is 36 or more
    (10, "exact", "inconsistent", 10 - 15, "low"),        # 10 lies below 15
    (14, "about", "consistent", 14 - 20, "best"),         # 12.6-15.4 overlaps 15-35
    (13, "about", "inconsistent", 13 - 15, "low"),        # 11.7-14.3 lies below 15
])
def test_verdicts_against_an_event_table(figure, bound, verdict, difference, compared_with):
    result = check([claim(figure=figure, bound=bound)], GED).loc["ucdp_ged"]
    assert (result["covered"], result["source_low"], result["source_best"], result["source_high"]) == (True, 15, 20, 35)
    assert (result["verdict"], result["difference"], result["compared_with"]) == (verdict, difference, compared_with)
    assert "2 event(s) with a figure in Aleppo (Syria), 1 March 2017" in result["explanation"]
    assert "organised violence only" in result["explanation"]  # UCDP's definitions differ from a monitor's


def test_a_period_the_source_does_not_cover_is_not_covered_never_not_found():
    result = check([claim(period_start=pd.Timestamp("2014-11-25"), period_end=pd.Timestamp("2014-11-25"))], GED).loc["ucdp_ged"]
    assert (result["covered"], result["verdict"]) == (False, "not covered")
    assert pd.isna(result["source_best"]) and pd.isna(result["difference"])
    assert "covers Syria from 1 January 2017 to 31 December 2017" in result["explanation"]
    assert "not found" not in result["explanation"]


def test_a_covered_place_with_no_events_counts_as_zero():
    result = check([claim(admin1="Homs")], GED).loc["ucdp_ged"]
    assert (result["covered"], result["source_low"], result["source_high"]) == (True, 0, 0)
    assert (result["verdict"], result["difference"], result["compared_with"]) == ("inconsistent", 30, "high")


@pytest.mark.parametrize("overrides, source_key, reason", [
    ({"figure_kind": "strikes"}, "ucdp_ged", "UCDP GED records no strikes"),
    ({"figure_kind": "strikes", "admin1": None}, "ucdp_country_year", "counts deaths, not strikes"),
    ({"country": "Iraq", "admin1": None}, "ucdp_ged", "UCDP GED has no events in Iraq"),
    ({"country": "Iraq", "admin1": None, "figure_kind": "strikes"}, "ucdp_ged", "UCDP GED has no events in Iraq"),
    ({}, "ucdp_country_year", "cannot check a claim about one governorate"),
    ({}, "curated", "no curated event matches the claim"),
    ({"figure_kind": "cumulative_toll"}, "curated", "cannot check a cumulative toll"),
    ({"admin1": None, "period_start": pd.Timestamp("2010-06-01")}, "ucdp_country_year", "no rows for Syria in 2010"),
])
def test_not_covered_says_why(overrides, source_key, reason):
    result = check([claim(**overrides)], GED).loc[source_key]
    assert (result["covered"], result["verdict"]) == (False, "not covered")
    assert reason in result["explanation"]


def test_the_claims_own_article_is_the_same_source_not_a_confirmation():
    own = event("curated:own", "curated", "2017-03-01", "Aleppo", 30, 30, None, deaths_is_lower_bound=True, citation="Article A")
    result = check([claim()], GED + [own]).loc["curated"]
    assert (result["verdict"], result["same_source"], result["source_low"]) == ("same source", True, 30)
    assert pd.isna(result["source_high"])  # a lower bound has no upper end
    assert "not an independent confirmation" in result["explanation"]
    # A confidential event from the same article has no citation left: curated_ids still says whose it is.
    hidden = own | {"citation": None, "confidential": True}
    result = check([claim(curated_ids="own")], GED + [hidden]).loc["curated"]
    assert result["verdict"] == "same source"


def test_an_independent_curated_event_is_checked_without_the_claims_own():
    own = event("curated:own", "curated", "2017-03-01", "Aleppo", 30, 30, 30, citation="Article A")
    other = event("curated:other", "curated", "2017-03-01", "Aleppo", 50, 50, 50, citation="Article B")
    result = check([claim()], GED + [own, other]).loc["curated"]
    assert (result["verdict"], result["same_source"], result["source_best"], result["difference"]) == ("consistent", False, 50, -20)
    assert "1 event(s) coded from the claim's own article are left out" in result["explanation"]


def test_an_actor_restricts_the_events_compared():
    result = check([claim(actor="IS")], GED + [event("g:5", "ucdp_ged", "2017-03-01", "Aleppo", 40, 40, 40, side_b="IS")]).loc["ucdp_ged"]
    assert (result["source_best"], result["verdict"]) == (40, "consistent")


@pytest.mark.parametrize("start, end, figure, bound, expected", [
    # 15 Mar 2011 - 26 Nov 2014: whole years 2012-2013 -> low 100 + 1000; all four years -> best 22,220, high 33,330.
    ("2011-03-15", "2014-11-26", 1000, "more_than", (1100, 22220, 33330, "consistent", 1000 - 22220, "best")),
    ("2011-03-15", "2014-11-26", 33330, "more_than", (1100, 22220, 33330, "inconsistent", 0, "high")),
    ("2011-03-15", "2014-11-26", 1000, "exact", (1100, 22220, 33330, "inconsistent", 1000 - 1100, "low")),
    # Whole calendar years: no envelope, the sums themselves.
    ("2012-01-01", "2013-12-31", 2500, "about", (1100, 2200, 3300, "consistent", 2500 - 2200, "best")),
    # No whole year inside: the low end is 0.
    ("2014-11-25", "2014-11-25", 95, "at_least", (0, 20000, 30000, "consistent", 95 - 20000, "best")),
])
def test_country_year_envelope(start, end, figure, bound, expected):
    row = claim(figure=figure, bound=bound, admin1=None, period_start=pd.Timestamp(start), period_end=pd.Timestamp(end),
                figure_kind="cumulative_toll")
    result = check([row], GED).loc["ucdp_country_year"]
    actual = tuple(result[c] for c in ("source_low", "source_best", "source_high", "verdict", "difference", "compared_with"))
    assert actual == expected
    assert result["source"] == "UCDP country-year 25.1"


def test_the_envelope_is_stated_in_the_explanation():
    row = claim(figure=1000, bound="more_than", admin1=None, period_start=pd.Timestamp("2011-03-15"),
                period_end=pd.Timestamp("2014-11-26"), figure_kind="cumulative_toll")
    explanation = check([row], GED).loc["ucdp_country_year", "explanation"]
    assert "covers 2012–2013 fully and 2011 and 2014 only in part" in explanation
    assert "years wholly inside the period (1,100)" in explanation and "every year the period touches, 2011–2014 (33,330)" in explanation


# --- the article's claims against the real build ---------------------------------------------
@pytest.fixture(scope="module")
def article_checks(built_data) -> pd.DataFrame:
    processed = built_data / "data" / "processed"
    events = pd.read_parquet(processed / "events.parquet")
    country_year = pd.read_parquet(processed / "ucdp_country_year.parquet")
    return claims.check_claims(curated.read_claims(CLAIMS_FILE), events, country_year)


def test_the_article_claims_verdicts(article_checks):
    verdicts = {(r.claim_id, r.source_key): r.verdict for r in article_checks.itertuples()}
    raqqa_claims = ["sohr-2014-11-25-raqqa-deaths", "sohr-2014-11-25-raqqa-civilian-deaths"]
    strike_claims = ["us-2014-11-24-air-strikes-syria", "us-2014-11-24-coalition-air-strikes-iraq"]
    expected = {}
    for claim_id in raqqa_claims + strike_claims:
        expected |= {(claim_id, "ucdp_ged"): "not covered", (claim_id, "curated"): "same source", (claim_id, "ucdp_country_year"): "not covered"}
    toll = "afp-2014-11-26-syria-war-toll"
    expected |= {(toll, "ucdp_ged"): "not covered", (toll, "curated"): "not covered", (toll, "ucdp_country_year"): "consistent"}
    assert verdicts == expected
    ged_2014 = article_checks[(article_checks["source_key"] == "ucdp_ged") & article_checks["claim_id"].isin(raqqa_claims + [toll])]
    assert ged_2014["explanation"].str.contains("covers Syria from 1 January 2016").all()


def test_the_war_toll_against_ucdp_country_year(article_checks, built_data):
    toll = article_checks.set_index(["claim_id", "source_key"]).loc[("afp-2014-11-26-syria-war-toll", "ucdp_country_year")]
    # By hand from UCDP v25.1 (Syria): best 2011-2014 = 4,347 + 53,699 + 76,500 + 78,689 = 213,235;
    # low of the whole years 2012-2013 = 51,500 + 72,686 = 124,186;
    # high 2011-2014 = 4,974 + 59,441 + 81,693 + 82,835 = 228,943.
    assert (toll["source_low"], toll["source_best"], toll["source_high"]) == (124_186, 213_235, 228_943)
    # "more than 195,000" is 195,001 or more: inside 124,186-228,943, 18,235 below the best sum.
    assert (toll["verdict"], toll["difference"], toll["compared_with"]) == ("consistent", 195_000 - 213_235, "best")
    assert "organised violence only" in toll["explanation"] and "includes" not in toll["explanation"].split("Definitions")[0]
    # The README's 213,244 "up to the end of 2014" also counts 1989-2010 (8 deaths in 2004, 1 in 2008).
    country_year = pd.read_parquet(built_data / "data" / "processed" / "ucdp_country_year.parquet")
    syria = country_year[country_year["country"] == "Syria"]
    assert syria.loc[syria["year"] <= 2014, "total_best"].sum() == 213_244
    assert syria.loc[syria["year"].between(2011, 2014), "total_best"].sum() == 213_235


def test_the_ledger_holds_preformatted_verdicts(article_checks):
    ledger = claims.claims_ledger(article_checks)
    toll = "claim_afp_2014_11_26_syria_war_toll"
    assert ledger[toll] == "more than 195,000 deaths in total, Syria, 15 March 2011 to 26 November 2014"
    assert ledger[f"{toll}_ucdp_country_year"] == "consistent (UCDP country-year 25.1: 124,186–228,943 (best 213,235))"
    assert ledger[f"{toll}_ucdp_ged"] == "not covered by event table: UCDP GED"
    raqqa = "claim_sohr_2014_11_25_raqqa_deaths"
    assert ledger[raqqa] == "at least 95 deaths, Ar-Raqqa (Syria), 25 November 2014"
    assert ledger[f"{raqqa}_curated_verdict"] == "same source"
    assert ledger[f"{raqqa}_curated_range"].startswith("at least 95")
    assert all(isinstance(v, str) and v for v in ledger.values())


def test_shipped_claims_are_read_with_canonical_names():
    shipped = curated.read_claims(CLAIMS_FILE).set_index("claim_id")
    raqqa = shipped.loc["sohr-2014-11-25-raqqa-deaths"]
    assert (raqqa["admin1"], raqqa["actor"], raqqa["figure"], raqqa["bound"]) == ("Ar-Raqqa", "Government of Syria", 95, "at_least")
    civilians = shipped.loc["sohr-2014-11-25-raqqa-civilian-deaths"]
    assert (civilians["figure"], civilians["bound"]) == (48, "at_least")  # more than half of 95 = more than 47.5
    toll = shipped.loc["afp-2014-11-26-syria-war-toll"]
    assert (toll["figure"], toll["bound"], toll["period_start"], toll["period_end"]) == (
        195_000, "more_than", pd.Timestamp("2011-03-15"), pd.Timestamp("2014-11-26"))


def test_curate_check_names_problems_in_a_claims_file(tmp_path, capsys):
    rows = pd.read_csv(CLAIMS_FILE, dtype=str, keep_default_na=False)
    rows.loc[1, "figure_kind"] = "casualties"
    rows.loc[2, "actor"] = "Martians"
    rows.loc[3, "figure"] = "about 7"
    path = tmp_path / "claims.csv"
    rows.to_csv(path, index=False)
    assert curated.check_main([str(path)]) == 1
    out = capsys.readouterr().out
    assert "claims.csv, row 2, column 'figure_kind': not one of deaths, civilian_deaths, strikes, cumulative_toll: 'casualties'" in out
    assert "claims.csv, row 3, column 'actor': not in data/reference/actors.csv: 'Martians'" in out
    assert "claims.csv, row 4, column 'figure': not a whole number: 'about 7'" in out
    assert "3 problem(s)" in out


@pytest.mark.parametrize("figure, bound, verdict, sentence", [
    (40, "at_least", "inconsistent", "the claim lies 5 above the source's high estimate"),   # 40 against high 35
    (10, "exact", "inconsistent", "the claim lies 5 below the source's low estimate"),       # 10 against low 15
    (30, "at_least", "consistent", "(+10 against the best)"),                                # 30 against best 20
])
def test_each_row_has_a_short_note_beside_the_full_explanation(figure, bound, verdict, sentence):
    result = check([claim(figure=figure, bound=bound)], GED).loc["ucdp_ged"]
    assert result["note"].startswith("UCDP GED has 2 event(s) with a figure in Aleppo")
    assert f"{verdict.capitalize()}: " in result["note"] and sentence in result["note"]
    assert len(result["note"].split()) <= 40 and len(result["note"]) < len(result["explanation"])
    assert "organised violence only" in result["note"]  # the definitions caveat, in a few words


def test_the_envelope_note_is_short_and_the_explanation_keeps_the_method():
    row = claim(figure=30000, bound="about", admin1=None, figure_kind="cumulative_toll",
                period_start=pd.Timestamp("2011-03-15"), period_end=pd.Timestamp("2014-11-26"))
    result = check([row], GED).loc["ucdp_country_year"]
    assert "low from the whole years inside (2012–2013), high from every year touched" in result["note"]
    assert len(result["note"].split()) <= 40
    assert "Method (an envelope" in result["explanation"]
