"""Normalisation tables, kept as CSV files in data/reference/ so a researcher can add a
spelling without touching code: governorates (OCHA names and P-codes) and actors."""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa

from conflict_report import paths
from conflict_report.data.schema import UNKNOWN_ADMIN1
from conflict_report.errors import InputError


def _key(text: str) -> str:
    """Spellings differ in case, spaces and apostrophe style (Dar'a, Dar’a): compare without them."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    return re.sub(r"\s+", " ", text.strip()).casefold()


def reference_table(name: str, columns: list[str]) -> pd.DataFrame:
    """A table of data/reference/, or an empty one when the project has none: a country
    without a crosswalk keeps its sources' own names (governorates as the events spell them,
    actors as the sources write them)."""
    path = paths.REFERENCE / name
    return pd.read_csv(path, dtype=str) if path.exists() else pd.DataFrame(columns=columns, dtype=str)


@lru_cache(maxsize=1)
def governorates() -> pd.DataFrame:
    return reference_table("governorates.csv", ["country", "admin1_pcode", "admin1", "admin1_ar"])


def governorate_names(country: str = "Syria") -> list[str]:
    table = governorates()
    return table.loc[table["country"] == country, "admin1"].tolist()


@lru_cache(maxsize=1)
def _spellings() -> dict[tuple[str, str], str]:
    table = reference_table("admin1_spellings.csv", ["country", "spelling", "admin1_pcode", "seen_in"])
    names = governorates()
    # The canonical names and P-codes themselves always match.
    extra = pd.DataFrame({"country": names["country"], "spelling": names["admin1"], "admin1_pcode": names["admin1_pcode"]})
    codes = pd.DataFrame({"country": names["country"], "spelling": names["admin1_pcode"], "admin1_pcode": names["admin1_pcode"]})
    table = pd.concat([table, extra, codes])
    return {(row.country, _key(row.spelling)): row.admin1_pcode for row in table.itertuples()}


def countries_with_crosswalk() -> set[str]:
    return set(governorates()["country"])


def admin1_pcode(country: str, spelling: str) -> str | None:
    return _spellings().get((country, _key(spelling)))


def admin1_name(pcode: str) -> str:
    table = governorates()
    return table.loc[table["admin1_pcode"] == pcode, "admin1"].iloc[0]


def normalise_admin1(country: pd.Series, spelling: pd.Series, file: str, column: str) -> tuple[pd.Series, pd.Series]:
    """(canonical name, P-code) for each row. An unknown spelling for a country we have a
    crosswalk for stops the run: a silent new category would split a governorate's totals.
    Each distinct (country, spelling) pair is looked up once, then spread to its rows."""
    group, firsts = _pairs(country, spelling)
    found = [_admin1_of(country.iloc[i], spelling.iloc[i], country, spelling, file, column) for i in firsts]
    names = spread([name for name, _ in found], group, spelling.index, missing=UNKNOWN_ADMIN1)
    return names, spread([code for _, code in found], group, spelling.index)


def _pairs(first: pd.Series, second: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per row the number of its (first, second) pair, in order of first appearance, and -1
    where either is missing; and the position of each pair's first row."""
    codes_1, uniques_1 = pd.factorize(first)
    codes_2, _ = pd.factorize(second)
    both = (codes_1 >= 0) & (codes_2 >= 0)
    pair, _ = pd.factorize(codes_2[both].astype(np.int64) * (len(uniques_1) + 1) + codes_1[both])
    group = np.full(len(first), -1, dtype=np.int64)
    group[both] = pair
    firsts = np.flatnonzero(both)[np.unique(pair, return_index=True)[1]]
    return group, firsts


def _admin1_of(country: str, spelling: str, countries: pd.Series, spellings: pd.Series, file: str, column: str) -> tuple[str, str | None]:
    if country not in countries_with_crosswalk():
        return spelling, None
    pcode = admin1_pcode(country, spelling)
    if pcode is None:
        first_row = spellings.index[(spellings == spelling) & (countries == country)][0]
        raise InputError(file, f"unknown governorate spelling {spelling!r} for {country}", (
            f"Add it to data/reference/admin1_spellings.csv with its P-code (valid names: {', '.join(governorate_names(country))})"),
            row=int(first_row), column=column)
    return admin1_name(pcode), pcode


@lru_cache(maxsize=1)
def _actor_aliases() -> dict[str, str]:
    table = reference_table("actors.csv", ["spelling", "actor", "note"])
    return {_key(row.spelling): row.actor for row in table.itertuples()}


def actor_members(side: str | None) -> list[str]:
    """UCDP names a coalition as a comma-separated list of its members; an actor is a side of
    an event when it is one of them. Each member is mapped to its canonical name."""
    if side is None or (isinstance(side, float)) or side is pd.NA or not str(side).strip():
        return []
    aliases = _actor_aliases()
    return [aliases.get(_key(member), member.strip()) for member in str(side).split(",") if member.strip()]


def canonical_actor(name: str) -> str | None:
    """The canonical name of an actor spelling, or None when the name is not in the table."""
    return _actor_aliases().get(_key(name))


def normalise_side(sides: pd.Series) -> pd.Series:
    """Each side's members by their canonical names; each distinct side is mapped once."""
    codes, distinct = pd.factorize(sides)
    return spread([", ".join(actor_members(side)) or None for side in distinct], codes, sides.index)


def spread(values: list[str | None], codes: np.ndarray, index: pd.Index, missing: str | None = None) -> pd.Series:
    """values[code] for each row (`missing` where the code is -1), as text. Taken by Arrow from
    the few distinct values rather than made row by row: a million rows of Python strings
    take a noticeable time to make and then to convert to the table's text type."""
    taken = pa.array([*values, missing], pa.large_string()).take(np.where(codes < 0, len(values), codes))
    return taken.to_pandas(types_mapper={pa.large_string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get).set_axis(index)
