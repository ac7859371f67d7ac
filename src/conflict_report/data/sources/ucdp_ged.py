"""UCDP Georeferenced Event Dataset (GED) adapter: codebook 19.1 and 20.1+ (GED Global 23.1-25.1).

Known quirks, handled where they are met:
- 19.1 files lack `relid`, `code_status`, `*_dset_id` and `gwnoa`; 20.1+ have them. Both share
  every column we map, so one adapter reads both; the codebook is recorded in the version.
- UCDP's own file has events whose low > best or best > high (101 in the 2016-2019 Syria file):
  kept as given, flagged.
- `where_prec` 6-7 events sit at the country centroid (inside Hama for Syria): never given a
  governorate nor drawn as a point. `date_prec` 4-5 events span a month or a year.
- Coalitions are written as comma-separated member lists in `side_a` / `side_b`.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from conflict_report.data import geo, normalise
from conflict_report.data.schema import UNKNOWN_ADMIN1, conform
from conflict_report.data.sources.flags import Flags
from conflict_report.data.sources.reading import (
    RawTable,
    RowChecks,
    SeenIds,
    chunk_rows,
    quarantined_in_file_order,
    read_csv_chunks,
)

SOURCE = "ucdp_ged"
REQUIRED = [
    "id", "year", "type_of_violence", "side_a", "side_b", "source_article", "source_headline",
    "where_prec", "where_coordinates", "adm_1", "adm_2", "latitude", "longitude", "country",
    "date_prec", "date_start", "date_end", "deaths_civilians", "low", "best", "high",
]
VIOLENCE = {1: "state-based", 2: "non-state", 3: "one-sided"}
CODEBOOK_20_COLUMNS = ("relid", "code_status")
_LOCATING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="locate")


@dataclass
class AdapterResult:
    """What every adapter returns: kept events in the schema, quarantined rows, counts."""

    source: str
    events: pd.DataFrame
    rejected: pd.DataFrame
    rows_read: int
    dataset_version: str
    sha256: str

    @property
    def rows_flagged(self) -> int:
        return int((self.events["quality_flags"] != "").sum())


def dataset_version(file_name: str, columns: list[str]) -> str:
    """'GED 25.1' from the official file name (ged251-csv.zip), else the codebook the columns
    match ('GED 19.1' for the 2016-2019 Syria extract); UCDP_GED_VERSION overrides both."""
    if os.environ.get("UCDP_GED_VERSION"):
        return "GED " + os.environ["UCDP_GED_VERSION"]
    codebook = "20.1+" if all(c in columns for c in CODEBOOK_20_COLUMNS) else "19.1"
    match = re.search(r"ged(\d\d)(\d)", file_name, re.IGNORECASE)
    if match:
        return f"GED {int(match.group(1))}.{match.group(2)}"
    return f"GED {codebook}"


def read(path: Path, display_name: str | None = None, admin1_areas: geo.Areas | None = None) -> AdapterResult:
    """The whole file's events and quarantined rows (read_chunks' chunks joined)."""
    return joined(list(read_chunks(path, display_name, admin1_areas)))


def read_chunks(path: Path, display_name: str | None = None, admin1_areas: geo.Areas | None = None) -> Iterator[AdapterResult]:
    """The file a chunk of rows at a time (reading.chunk_rows()), each chunk checked and mapped
    to the schema; an id is a duplicate wherever in the file its first copy was. The file is
    read from this call on (see reading.read_csv_chunks); chunks are checked as taken."""
    return checked_chunks(read_csv_chunks(path, REQUIRED, display_name, chunk_rows=chunk_rows()), admin1_areas)


def checked_chunks(raws: Iterator[RawTable], admin1_areas: geo.Areas | None) -> Iterator[AdapterResult]:
    seen = SeenIds()
    version = None
    for raw in raws:
        version = version or dataset_version(raw.name, list(raw.frame.columns))
        yield read_chunk(raw, version, seen, admin1_areas)


def joined(chunks: list[AdapterResult]) -> AdapterResult:
    """One result from a file's chunks."""
    first = chunks[0]
    rejected = quarantined_in_file_order([c.rejected for c in chunks])
    return AdapterResult(first.source, pd.concat([c.events for c in chunks], ignore_index=True),
                         rejected, sum(c.rows_read for c in chunks), first.dataset_version, first.sha256)


def read_chunk(raw: RawTable, version: str, seen: SeenIds, admin1_areas: geo.Areas | None) -> AdapterResult:
    checks = RowChecks(raw, SOURCE)
    frame = raw.frame
    checks.long_fields()
    checks.required_text("id")
    checks.unique_ids("id", seen)
    start, end = checks.date("date_start"), checks.date("date_end")
    checks.date_order(start, end, "date_end")
    violence = checks.code("type_of_violence", tuple(VIOLENCE))
    where_prec = checks.code("where_prec", (1, 2, 3, 4, 5, 6, 7))
    date_prec = checks.code("date_prec", (1, 2, 3, 4, 5))
    lat, lon = checks.coordinate("latitude", 90, required=False), checks.coordinate("longitude", 180, required=False)
    # Locating the points (shapely, without the GIL) runs beside the remaining checks.
    located = _LOCATING.submit(admin1_areas.locate, lon.to_numpy(float), lat.to_numpy(float)) if admin1_areas else None
    low, best, high = checks.count("low"), checks.count("best"), checks.count("high")
    civilians = checks.count("deaths_civilians")
    checks.required_text("country")

    kept = checks.kept
    k = frame if kept.all() else frame[kept]  # a copy of every column only when a row goes
    events = pd.DataFrame({
        "event_id": SOURCE + ":" + k["id"].str.strip(),
        "source": SOURCE,
        "source_event_id": k["id"].str.strip(),
        "dataset_version": version,
        "date_start": start[kept], "date_end": end[kept], "date_precision": date_prec[kept],
        "year": start[kept].dt.year,
        "country": k["country"].str.strip(),  # " Syria" would miss the governorate crosswalk
        "admin1_original": k["adm_1"], "admin2": k["adm_2"], "place": k["where_coordinates"],
        "latitude": lat[kept], "longitude": lon[kept], "geo_precision": where_prec[kept],
        "violence_type": violence[kept].map(VIOLENCE),
        "event_type_original": "type_of_violence=" + k["type_of_violence"].str.strip(),
        "side_a": normalise.normalise_side(k["side_a"]), "side_b": normalise.normalise_side(k["side_b"]),
        "side_a_original": k["side_a"], "side_b_original": k["side_b"],
        "deaths_low": low[kept], "deaths_best": best[kept], "deaths_high": high[kept],
        "deaths_civilians": civilians[kept], "deaths_is_lower_bound": False,
        "headline": k["source_headline"], "citation": k["source_article"],
        "confidential": False,
    })
    flags = Flags(events.index)
    flags.deaths_range(events["deaths_low"], events["deaths_best"], events["deaths_high"], events["deaths_civilians"])
    assign_admin1(events, flags, raw.name, admin1_areas, located=located.result()[kept.to_numpy()] if located else None)
    events["quality_flags"] = flags.joined()
    return AdapterResult(SOURCE, conform(events.reset_index(drop=True)), checks.rejected_frame(), checks.rows_read, version, raw.sha256)


def assign_admin1(events: pd.DataFrame, flags: Flags, file_name: str, areas: geo.Areas | None, column: str = "adm_1",
                  located: np.ndarray | None = None) -> None:
    """The governorate comes from the source's own field through the crosswalk. Only where the
    source gives none and places the event more finely than a governorate (precision 1-3) is it
    inferred from the coordinates, and flagged. Country-level events (6-7) get none.
    `located`: areas.locate of the events' points, when already known."""
    named = events["admin1_original"].notna() & (events["admin1_original"].str.strip() != "")
    coarse = events["geo_precision"] >= 6
    names, codes = normalise.normalise_admin1(events["country"], events["admin1_original"].where(named & ~coarse), file_name, column)
    events["admin1"], events["admin1_pcode"] = names.fillna(UNKNOWN_ADMIN1), codes
    flags.add(named & coarse, "admin1_of_coarse_event_dropped")
    if areas is None:
        return
    if located is None:
        located = areas.locate(events["longitude"].to_numpy(float), events["latitude"].to_numpy(float))
    located = pd.Series(located, index=events.index)
    fine = events["geo_precision"] <= 3
    infer = ~named & fine & (located != "")
    events.loc[infer, "admin1_pcode"] = located[infer]
    events.loc[infer, "admin1"] = located[infer].map({pcode: normalise.admin1_name(pcode) for pcode in located[infer].unique()})
    flags.add(infer, "admin1_inferred")
    checkable = named & ~coarse & (events["geo_precision"] <= 4) & events["admin1_pcode"].notna() & (located != "")
    flags.add(checkable & (located != events["admin1_pcode"]), "point_outside_admin1")
