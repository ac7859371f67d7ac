"""The one event table every source is mapped to, defined once.

Precision codes follow UCDP GED's codebook so that every source speaks one scale:
- `date_precision` (UCDP `date_prec`): 1 exact day, 2 within 2-6 days, 3 within a week,
  4 within a month, 5 within more than a month (a year). Codes 4-5 must never be read as
  happening on `date_start`.
- `geo_precision` (UCDP `where_prec`): 1 exact place, 2 within 25 km, 3 district (admin2),
  4 governorate (admin1), 5 a larger region or linear feature, 6 country, 7 international
  waters or airspace. Codes 6-7 are never given to a governorate nor drawn as a point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
from pandera.engines import pandas_engine

SOURCES = ("ucdp_ged", "acled", "curated")
EVENT_SOURCES = ("ucdp_ged", "acled")  # the sources that record every event of their span
VIOLENCE_TYPES = ("state-based", "non-state", "one-sided", "other")
UNKNOWN_ADMIN1 = "Unknown"

# Flags for rows that are kept but suspicious (never silently repaired). Their meaning is
# shown in the report's methods page, so each has a sentence here.
QUALITY_FLAGS = {
    "deaths_low_above_best": "the low estimate is larger than the best estimate",
    "deaths_best_above_high": "the best estimate is larger than the high estimate",
    "point_outside_admin1": "the coordinates fall outside the governorate the source names",
    "admin1_inferred": "the source gives no governorate; it was inferred from the coordinates",
    "admin1_of_coarse_event_dropped": "the source names a governorate but codes the place at country level or wider",
    "civilians_above_best": "civilian deaths exceed the best estimate of all deaths",
    "deaths_lower_bound": "the source gives the figure as a lower bound ('at least', 'more than')",
}

_DATE = pa.Column("datetime64[ns]", nullable=False)
_TEXT = pa.Column(str, nullable=True)
_COUNT = pa.Column("Int64", pa.Check.ge(0), nullable=True)

EVENT_SCHEMA = pa.DataFrameSchema(
    {
        "event_id": pa.Column(str, unique=True, nullable=False),
        "source": pa.Column(str, pa.Check.isin(SOURCES)),
        "source_event_id": pa.Column(str, nullable=False),
        "dataset_version": pa.Column(str, nullable=False),
        "date_start": _DATE,
        "date_end": _DATE,
        "date_precision": pa.Column("Int64", pa.Check.isin([1, 2, 3, 4, 5]), nullable=False),
        "year": pa.Column("Int64", nullable=False),
        "country": pa.Column(str, nullable=False),
        "admin1": pa.Column(str, nullable=False),
        "admin1_pcode": _TEXT,
        "admin1_original": _TEXT,
        "admin2": _TEXT,
        "place": _TEXT,
        "latitude": pa.Column(float, pa.Check.in_range(-90, 90), nullable=True),
        "longitude": pa.Column(float, pa.Check.in_range(-180, 180), nullable=True),
        "geo_precision": pa.Column("Int64", pa.Check.isin([1, 2, 3, 4, 5, 6, 7]), nullable=False),
        "violence_type": pa.Column(str, pa.Check.isin(VIOLENCE_TYPES)),
        "event_type_original": _TEXT,
        "side_a": _TEXT,
        "side_b": _TEXT,
        "side_a_original": _TEXT,
        "side_b_original": _TEXT,
        # Deaths: low/best/high as the source gives them. `deaths_high` may be empty only where
        # the source gives a lower bound ("at least 95"); see `deaths_is_lower_bound`.
        "deaths_low": _COUNT,
        "deaths_best": _COUNT,
        "deaths_high": _COUNT,
        "deaths_civilians": _COUNT,
        "deaths_is_lower_bound": pa.Column(bool),
        # Counts of strikes (air strikes, shelling rounds) are not deaths: their own column.
        "strikes": _COUNT,
        "headline": _TEXT,
        "citation": _TEXT,
        "quality_flags": pa.Column(str, nullable=False),
        "confidential": pa.Column(bool),
        # Cross-source links: a curated event describing a source event is linked, not counted twice.
        "duplicate_of": _TEXT,
        "link_reason": _TEXT,
    },
    strict=True,
    ordered=True,
    coerce=True,
    checks=[
        pa.Check(lambda df: (df["date_end"] >= df["date_start"]), error="date_end before date_start"),
    ],
)

COLUMNS = list(EVENT_SCHEMA.columns)


def empty_events() -> pd.DataFrame:
    return EVENT_SCHEMA.coerce_dtype(pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS}))


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Put an adapter's output in schema order with schema types, and validate it all at once
    (lazy=True: every failing check is reported, not just the first)."""
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = _missing(column, frame.index)
    frame = frame[COLUMNS]
    coerced = _coerced(frame)
    if coerced is not None and _passes(coerced):
        return coerced
    return EVENT_SCHEMA.validate(frame, lazy=True)  # fails, reporting every failure


def _missing(column: str, index: pd.Index) -> pd.Series:
    """A column of missing values as EVENT_SCHEMA coerces one (coerced once, then repeated:
    coercing a million missing values one by one takes a noticeable time)."""
    one = EVENT_SCHEMA.columns[column].dtype.coerce(pd.Series([pd.NA], dtype="object"))
    return pd.Series(one.array.take(np.zeros(len(index), dtype=np.intp)), index=index)


def _coerced(frame: pd.DataFrame) -> pd.DataFrame | None:
    """The frame with each column coerced as EVENT_SCHEMA coerces it, or None if one will not."""
    try:
        return pd.DataFrame({name: column.dtype.coerce(frame[name]) for name, column in EVENT_SCHEMA.columns.items()})
    except Exception:  # pandera's own run reports it
        return None


def _passes(frame: pd.DataFrame) -> bool:
    """EVENT_SCHEMA's checks, run with pandera's own dtype and Check objects but without its
    bookkeeping (copies, error reports), which costs several times the checks themselves on
    a large table. A False sends the frame through pandera, which says what failed."""
    for name, column in EVENT_SCHEMA.columns.items():
        values = frame[name]
        if not column.dtype.check(pandas_engine.Engine.dtype(values.dtype)):
            return False
        if (not column.nullable and values.isna().any()) or (column.unique and _repeats(values)):
            return False
        if not all(bool(check(values).check_passed) for check in column.checks):
            return False
    return all(bool(check(frame).check_passed) for check in EVENT_SCHEMA.checks)


def _repeats(values: pd.Series) -> bool:
    """values.duplicated().any(), by Arrow's hash (pandas' takes ten times as long on text)."""
    return len(pc.unique(pyarrow.array(values, from_pandas=True))) != len(values)


def countable(events: pd.DataFrame) -> pd.DataFrame:
    """Events that count in totals: a curated event linked to a source event is shown but not
    counted twice."""
    return events[events["duplicate_of"].isna()]
