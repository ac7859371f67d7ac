"""Linking curated events to the source events they describe. The shared GED file (2016-2019)
and the article (2014) never overlap, so the cases are fixtures built for the rule, read by the
real adapters: tests/fixtures/curated/linking_events.csv (curated) and linking_ged.csv (GED
format). Each curated id names its case; near misses differ from a match in one criterion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ADMIN2_FILE, FIXTURES

from conflict_report.data import geo, linking
from conflict_report.data.schema import countable
from conflict_report.data.sources import curated, ucdp_ged

CURATED_FIXTURE = FIXTURES / "curated" / "linking_events.csv"
GED_FIXTURE = FIXTURES / "curated" / "linking_ged.csv"


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return pd.concat([ucdp_ged.read(GED_FIXTURE).events, curated.read(CURATED_FIXTURE).events], ignore_index=True)


@pytest.fixture(scope="module")
def districts() -> geo.Areas:
    return geo.load_areas(Path(ADMIN2_FILE))


@pytest.fixture(scope="module")
def linked(events, districts) -> pd.DataFrame:
    return linking.link_events(events, admin2_areas=districts).set_index("event_id")


def test_a_match_is_linked_with_a_reason(linked):
    # 35.95 N 39.01 E to 35.953 N 39.03 E: 0.33 km north, 1.80 km east -> 1.83 km.
    assert linked.at["curated:match", "duplicate_of"] == "ucdp_ged:101"
    assert linked.at["curated:match", "link_reason"] == "same day, 1.8 km apart, sides Government of Syria / IS"


def test_one_day_apart_links_but_two_days_apart_does_not(linked):
    assert linked.at["curated:one-day-apart", "duplicate_of"] == "ucdp_ged:108"
    assert linked.at["curated:one-day-apart", "link_reason"].startswith("1 day apart, 0.0 km apart")
    assert pd.isna(linked.at["curated:two-days-apart", "duplicate_of"])


def test_thirty_km_apart_links_only_within_one_district(linked, districts):
    located = districts.locate(np.array([38.80, 39.133, 39.01, 39.343]), np.array([35.87, 35.87, 35.95, 35.95]))
    assert list(located) == ["SY1103", "SY1101", "SY1101", "SY1101"]  # the fixtures' premise
    assert linking.distance_km(35.87, 39.133, pd.Series([35.87]), pd.Series([38.80]))[0] == pytest.approx(30, abs=0.5)
    assert pd.isna(linked.at["curated:other-district-30km", "duplicate_of"])
    assert linked.at["curated:same-district-30km", "duplicate_of"] == "ucdp_ged:107"
    assert linked.at["curated:same-district-30km", "link_reason"] == "same day, same district (Ar-Raqqa), sides Government of Syria / IS"


def test_incompatible_sides_are_not_linked_but_an_unknown_side_is(linked):
    assert pd.isna(linked.at["curated:incompatible-sides", "duplicate_of"])  # Government of Syria / IS vs SDF / IS
    assert linked.at["curated:one-side-unknown", "duplicate_of"] == "ucdp_ged:109"


def test_two_candidates_link_to_the_nearest_whatever_the_row_order(events, districts, linked):
    assert linked.at["curated:two-candidates", "duplicate_of"] == "ucdp_ged:106"  # 2.0 km, not 105 at 5.0 km
    assert linked.at["curated:two-candidates", "link_reason"].endswith("(the nearest of 2 matching source events)")
    reordered = linking.link_events(events.iloc[::-1].reset_index(drop=True), admin2_areas=districts).set_index("event_id")
    pd.testing.assert_frame_equal(reordered.loc[linked.index, ["duplicate_of", "link_reason"]], linked[["duplicate_of", "link_reason"]])


def test_linked_curated_events_are_shown_but_not_counted(linked):
    curated_rows = linked[linked["source"] == "curated"]
    assert curated_rows["duplicate_of"].notna().sum() == 5
    assert not countable(linked).index.isin(curated_rows.index[curated_rows["duplicate_of"].notna()]).any()
    assert linked.loc[linked["source"] == "ucdp_ged", "duplicate_of"].isna().all()  # source events are never linked


def test_without_boundaries_districts_are_compared_by_name(events, monkeypatch):
    monkeypatch.delenv("BOUNDARIES_ADMIN2", raising=False)
    by_name = linking.link_events(events).set_index("event_id")
    assert pd.isna(by_name.at["curated:same-district-30km", "duplicate_of"])  # 'Ar-Raqqa' vs 'Ar Raqqah district'
    renamed = events.copy()
    renamed.loc[renamed["event_id"] == "curated:same-district-30km", "admin2"] = "Ar Raqqah"
    by_name = linking.link_events(renamed).set_index("event_id")
    assert by_name.at["curated:same-district-30km", "link_reason"] == "same day, same district (Ar Raqqah district), sides Government of Syria / IS"
