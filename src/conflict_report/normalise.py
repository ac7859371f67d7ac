"""Normalisation tables, kept as CSV files in data/reference/ so a researcher can add a
spelling without touching code: governorates (OCHA names and P-codes) and actors."""

from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd

from conflict_report import paths
from conflict_report.errors import InputError
from conflict_report.schema import UNKNOWN_ADMIN1


def _key(text: str) -> str:
    """Spellings differ in case, spaces and apostrophe style (Dar'a, Dar’a): compare without them."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    return re.sub(r"\s+", " ", text.strip()).casefold()


@lru_cache(maxsize=1)
def governorates() -> pd.DataFrame:
    return pd.read_csv(paths.REFERENCE / "governorates.csv", dtype=str)


def governorate_names(country: str = "Syria") -> list[str]:
    table = governorates()
    return table.loc[table["country"] == country, "admin1"].tolist()


@lru_cache(maxsize=1)
def _spellings() -> dict[tuple[str, str], str]:
    table = pd.read_csv(paths.REFERENCE / "admin1_spellings.csv", dtype=str)
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
    crosswalk for stops the run: a silent new category would split a governorate's totals."""
    known = countries_with_crosswalk()
    pairs = pd.DataFrame({"country": country.astype("object"), "spelling": spelling.astype("object")}).drop_duplicates().dropna()
    lookup: dict[tuple[str, str], tuple[str, str | None]] = {}
    for item in pairs.itertuples():
        if item.country not in known:
            lookup[(item.country, item.spelling)] = (item.spelling, None)
            continue
        pcode = admin1_pcode(item.country, item.spelling)
        if pcode is None:
            first_row = spelling.index[(spelling == item.spelling) & (country == item.country)][0]
            raise InputError(file, f"unknown governorate spelling {item.spelling!r} for {item.country}", (
                f"Add it to data/reference/admin1_spellings.csv with its P-code (valid names: {', '.join(governorate_names(item.country))})"),
                row=int(first_row), column=column)
        lookup[(item.country, item.spelling)] = (admin1_name(pcode), pcode)
    keys = list(zip(country.astype("object"), spelling.astype("object")))
    names = pd.Series([lookup.get(k, (UNKNOWN_ADMIN1, None))[0] for k in keys], index=spelling.index, dtype="object")
    codes = pd.Series([lookup.get(k, (None, None))[1] for k in keys], index=spelling.index, dtype="object")
    return names, codes


@lru_cache(maxsize=1)
def _actor_aliases() -> dict[str, str]:
    table = pd.read_csv(paths.REFERENCE / "actors.csv", dtype=str)
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
    unique = {s: ", ".join(actor_members(s)) or None for s in sides.dropna().unique()}
    return sides.map(unique).astype("object")
