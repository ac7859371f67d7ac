"""Scaled real data: the shared UCDP GED Syria rows resampled to any number of events, written
as the same gzipped CSV (all 41 codebook columns, values as text as UCDP writes them).

Each resampled event gets a new unique id; its dates move together by up to MAX_DAY_SHIFT
days but stay within the event's year (so `year` stays right and date_start <= date_end);
its point moves by up to MAX_SHIFT_DEGREES but stays inside the governorate polygon that
held the original (re-drawn until it does; kept where it never does or where the original
lies in no polygon). `geom_wkt` and `priogrid_gid` follow the moved point. Country-level
events (where_prec 6-7) keep UCDP's country centroid."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import shapely

from conflict_report.data import geo

MAX_DAY_SHIFT = 15
MAX_SHIFT_DEGREES = 0.05  # about 5 km
REDRAWS = 20
FIRST_COUNTRY_LEVEL_PRECISION = 6
PRIOGRID_CELL_DEGREES = 0.5


def read_text_table(path: Path) -> pa.Table:
    """Every column as text, an empty field as missing (as the pipeline reads it)."""
    header = pacsv.read_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 20)).column_names
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in header}, null_values=[""], strings_can_be_null=True))


def governorate_of(areas: geo.Areas, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Index of the governorate polygon holding each point, -1 where none does."""
    owner = np.full(len(lon), -1)
    for index, geometry in enumerate(areas.geometries):
        shapely.prepare(geometry)
        owner[(owner == -1) & shapely.contains_xy(geometry, lon, lat)] = index
    return owner


def still_inside(areas: geo.Areas, owner: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    inside = np.zeros(len(lon), dtype=bool)
    for index, geometry in enumerate(areas.geometries):
        mine = owner == index
        inside[mine] = shapely.contains_xy(geometry, lon[mine], lat[mine])
    return inside


def jitter_points(rng: np.random.Generator, areas: geo.Areas, lon: np.ndarray, lat: np.ndarray,
                  movable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each movable point moved uniformly within a disc, re-drawn until inside its governorate."""
    owner = np.where(movable, governorate_of(areas, lon, lat), -1)
    new_lon, new_lat = lon.copy(), lat.copy()
    pending = np.flatnonzero(owner >= 0)
    for _ in range(REDRAWS):
        radius = MAX_SHIFT_DEGREES * np.sqrt(rng.random(len(pending)))
        angle = rng.random(len(pending)) * 2 * np.pi
        try_lon = lon[pending] + radius * np.cos(angle)
        try_lat = lat[pending] + radius * np.sin(angle)
        inside = still_inside(areas, owner[pending], try_lon, try_lat)
        new_lon[pending[inside]], new_lat[pending[inside]] = try_lon[inside], try_lat[inside]
        pending = pending[~inside]
    return np.round(new_lon, 6), np.round(new_lat, 6)


def jitter_dates(rng: np.random.Generator, start: pd.Series, end: pd.Series, year: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Both dates shifted by one draw, clipped so that both stay within the event's year."""
    first_day = pd.to_datetime(year.astype(str) + "-01-01")
    last_day = pd.to_datetime(year.astype(str) + "-12-31")
    earliest = (first_day - start).dt.days.clip(upper=0)
    latest = (last_day - end).dt.days.clip(lower=0)
    shift = np.clip(rng.integers(-MAX_DAY_SHIFT, MAX_DAY_SHIFT + 1, len(start)), earliest, latest)
    offset = pd.to_timedelta(shift, unit="D")
    return start + offset, end + offset


def priogrid_cell(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """PRIO-GRID's cell id: 0.5-degree cells numbered row by row from (-180, -90), from 1."""
    row = np.floor((lat + 90) / PRIOGRID_CELL_DEGREES).astype(int)
    column = np.floor((lon + 180) / PRIOGRID_CELL_DEGREES).astype(int)
    return row * int(360 / PRIOGRID_CELL_DEGREES) + column + 1


def resample(source: pa.Table, events: int, areas: geo.Areas, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    table = source.take(pa.array(rng.integers(0, source.num_rows, events)))
    columns = table.select(["year", "date_start", "date_end", "latitude", "longitude", "where_prec"]).to_pandas()
    start, end = jitter_dates(rng, pd.to_datetime(columns["date_start"]), pd.to_datetime(columns["date_end"]),
                              columns["year"].astype(int))
    lon, lat = columns["longitude"].astype(float).to_numpy(), columns["latitude"].astype(float).to_numpy()
    movable = columns["where_prec"].astype(int).to_numpy() < FIRST_COUNTRY_LEVEL_PRECISION
    lon, lat = jitter_points(rng, areas, lon, lat, movable)
    replaced = {
        "date_start": start.dt.strftime("%Y-%m-%d"), "date_end": end.dt.strftime("%Y-%m-%d"),
        "longitude": pd.Series(lon).map(repr), "latitude": pd.Series(lat).map(repr),
        "geom_wkt": "POINT (" + pd.Series(lon).map(repr) + " " + pd.Series(lat).map(repr) + ")",
        "priogrid_gid": pd.Series(priogrid_cell(lon, lat)).astype(str),
    }
    for name, values in replaced.items():
        table = table.set_column(table.column_names.index(name), name, pa.array(values.to_numpy(), pa.string()))
    return renumber(table)


def renumber(table: pa.Table) -> pa.Table:
    """Sorted by (date_start, original id) like UCDP's file, then given new ids in that order."""
    order = pc.sort_indices(table, [("date_start", "ascending"), ("id", "ascending")])
    table = table.take(order)
    ids = pa.array(np.arange(1, table.num_rows + 1).astype(str), pa.string())
    return table.set_column(table.column_names.index("id"), "id", ids)


def write_csv_gz(table: pa.Table, target: Path) -> None:
    """Comma-separated, quoted only where needed, empty for missing: UCDP's own format."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.tmp")
    connection = duckdb.connect()
    connection.register("scaled", table)
    connection.execute(f"COPY scaled TO '{partial}' (FORMAT csv, HEADER, COMPRESSION gzip)")
    partial.replace(target)


def make_scaled_file(source: Path, boundaries: Path, events: int, target: Path, shuffled: bool = False, seed: int = 2016) -> Path:
    """Write `events` resampled events to target (a .csv.gz) unless it is already there; in
    date order as UCDP writes its file, or `shuffled` (a file in no useful order)."""
    if not target.exists():
        table = resample(read_text_table(source), events, geo.load_areas(boundaries), seed)
        if shuffled:
            table = table.take(np.random.default_rng(seed).permutation(table.num_rows))
        write_csv_gz(table, target)
    return target
