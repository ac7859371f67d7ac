"""Linking a curated event to the source event (UCDP GED, ACLED) it describes, so that an
event reported by both is shown but counted once (schema.countable drops linked rows).

The rule: a curated event is linked to a source event when all three hold.
1. Dates within a day: the two date ranges are at most one day apart (overlapping ranges are
   0 days apart). Only events dated to within a few days (date_precision 1-2) are compared: a
   date known only to the week, month or year cannot show that two reports are of one day.
2. Places: within 25 km (great-circle distance; both events coded to a point, geo_precision
   1-2), or in the same district (admin2; both coded at district level or finer, geo_precision
   1-3). The district is located from the coordinates when admin2 boundaries are given
   (BOUNDARIES_ADMIN2); otherwise the admin2 names are compared within the same governorate,
   ignoring case, punctuation and a trailing "district".
3. Sides compatible: the same canonical actors on the two sides, in either order, where an
   unknown (empty) side matches any actor; the two events must share at least one known actor.
When several source events qualify, the nearest one is taken (then the closest in time, then
the smallest event_id), so the result never depends on row order. The curated row keeps its
own figures; `duplicate_of` names the source event and `link_reason` says why, in a sentence
such as "same day, 3.2 km apart, sides Government of Syria / IS".
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from conflict_report.data import geo, normalise

LINKABLE_SOURCES = ("ucdp_ged", "acled")
MAX_DAYS = 1
MAX_KM = 25.0
EARTH_RADIUS_KM = 6371.0088


def link_events(events: pd.DataFrame, admin2_areas: geo.Areas | None = None) -> pd.DataFrame:
    """The event table with each curated event that describes a source event linked to it
    (duplicate_of, link_reason). admin2_areas default: BOUNDARIES_ADMIN2 when set."""
    events = events.copy()
    curated = to_link(events)
    candidates = events[linkable(events) & within_reach(events[curated], events)]
    if not curated.any() or candidates.empty:
        return events
    if admin2_areas is None and geo.boundaries_file(2):
        admin2_areas = geo.load_areas(geo.boundaries_file(2))
    districts = district_keys(events[curated | events.index.isin(candidates.index)], admin2_areas)
    for index in events.index[curated]:
        link = nearest_match(events.loc[index], candidates, districts)
        if link is not None:
            events.loc[index, ["duplicate_of", "link_reason"]] = link
    return events


def to_link(events: pd.DataFrame) -> pd.Series:
    """Curated events dated to within a few days: the ones that may describe a source event."""
    return events["source"].eq("curated") & (events["date_precision"] <= 2)


def linkable(events: pd.DataFrame) -> pd.Series:
    return events["source"].isin(LINKABLE_SOURCES) & (events["date_precision"] <= 2)


def within_reach(curated: pd.DataFrame, events: pd.DataFrame) -> pd.Series:
    """Whether each event is at most MAX_DAYS (as day_gap counts them) from the dates of at
    least one curated event: no other event can be linked, so a table of millions of events
    need not be searched (or located in the districts) beyond these."""
    if curated.empty:
        return pd.Series(False, index=events.index)
    # day_gap <= MAX_DAYS exactly when each range starts less than MAX_DAYS + 1 days after the other ends.
    reach = np.timedelta64(MAX_DAYS + 1, "D")
    order = np.argsort(curated["date_start"].to_numpy(), kind="stable")
    starts = curated["date_start"].to_numpy()[order]
    latest_end = np.maximum.accumulate(curated["date_end"].to_numpy()[order])
    # Curated events starting less than `reach` after each event ends; of those, the latest end.
    count = np.searchsorted(starts, events["date_end"].to_numpy() + reach, side="left")
    ends = latest_end[np.maximum(count - 1, 0)]
    return pd.Series((count > 0) & (events["date_start"].to_numpy() - ends < reach), index=events.index)


def district_keys(events: pd.DataFrame, areas: geo.Areas | None) -> pd.DataFrame:
    """Per event coded at district level or finer: a key for its district (the admin2 P-code
    located from the coordinates, else governorate and loose admin2 name) and a label."""
    fine = events["geo_precision"] <= 3
    names = events["admin2"].map(_name_key)
    key = (events["admin1"].astype("object") + "|" + names).where(names.notna() & fine)
    label = events["admin2"].astype("object").where(key.notna())
    if areas is not None:
        located = pd.Series(areas.locate(events["longitude"].to_numpy(float), events["latitude"].to_numpy(float)), index=events.index)
        found = fine & (located != "")
        key, label = key.mask(found, located), label.mask(found, located.map(lambda p: areas.names[areas.pcodes.index(p)] if p else ""))
    return pd.DataFrame({"key": key, "label": label})


def _name_key(name) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return None
    return re.sub(r"[^0-9a-z]", "", re.sub(r"\s+district$", "", name.strip().casefold()))


def nearest_match(event: pd.Series, candidates: pd.DataFrame, districts: pd.DataFrame) -> tuple[str, str] | None:
    """(source event_id, reason) of the nearest source event matching `event`, or None."""
    gap = day_gap(event, candidates)
    near = candidates[gap <= MAX_DAYS]
    if near.empty:
        return None
    km = pd.Series(np.nan, index=near.index)
    if event["geo_precision"] <= 2:
        pointed = near["geo_precision"] <= 2
        km[pointed] = distance_km(event["latitude"], event["longitude"], near.loc[pointed, "latitude"], near.loc[pointed, "longitude"])
    own_district = districts.at[event.name, "key"]
    same_district = districts.loc[near.index, "key"].eq(own_district).fillna(False) if isinstance(own_district, str) else False
    sides = near.apply(lambda s: sides_compatible(event["side_a"], event["side_b"], s["side_a"], s["side_b"]), axis=1).astype(bool)
    matches = near[((km <= MAX_KM) | same_district) & sides]
    if matches.empty:
        return None
    order = pd.DataFrame({"km": km[matches.index].fillna(np.inf), "gap": gap[matches.index], "event_id": matches["event_id"]})
    chosen = order.sort_values(["km", "gap", "event_id"], kind="stable").index[0]
    reason = link_reason(event, candidates.loc[chosen], km[chosen], gap[chosen], districts.at[chosen, "label"])
    if len(matches) > 1:
        reason += f" (the nearest of {len(matches)} matching source events)"
    return candidates.at[chosen, "event_id"], reason


def day_gap(event: pd.Series, candidates: pd.DataFrame) -> pd.Series:
    """Days between the event's date range and each candidate's (0 when they overlap)."""
    later_start = candidates["date_start"].where(candidates["date_start"] > event["date_start"], event["date_start"])
    earlier_end = candidates["date_end"].where(candidates["date_end"] < event["date_end"], event["date_end"])
    return (later_start - earlier_end).dt.days.clip(lower=0)


def distance_km(lat: float, lon: float, lats: pd.Series, lons: pd.Series) -> np.ndarray:
    """Great-circle (haversine) distance from one point to many."""
    lat1, lon1 = np.radians(lat), np.radians(lon)
    lat2, lon2 = np.radians(lats.to_numpy(float)), np.radians(lons.to_numpy(float))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


def known_actors(side) -> set[str]:
    return {m for m in normalise.actor_members(side) if m.casefold() != "unknown"}


def sides_compatible(side_a, side_b, other_a, other_b) -> bool:
    """The same actors on the two sides, in either order; an unknown side matches anything,
    but at least one known actor must be shared."""
    a, b, x, y = (known_actors(s) for s in (side_a, side_b, other_a, other_b))
    if not (a | b) & (x | y):
        return False

    def match(one: set[str], other: set[str]) -> bool:
        return not one or not other or bool(one & other)

    return (match(a, x) and match(b, y)) or (match(a, y) and match(b, x))


def link_reason(event: pd.Series, source: pd.Series, km: float, gap: int, district: str | None) -> str:
    one_day = event["date_start"] == event["date_end"] and source["date_start"] == source["date_end"]
    when = ("same day" if one_day else "dates overlap") if gap == 0 else f"{gap} day apart"
    where = f"{km:.1f} km apart" if km <= MAX_KM else f"same district ({district})"
    sides = " / ".join(s for s in (source["side_a"], source["side_b"]) if isinstance(s, str) and s)
    return f"{when}, {where}, sides {sides or 'unknown'}"
