"""Boundaries and point-in-polygon checks (OCHA COD-AB governorates, districts).

Used only where a source gives no governorate and locates the event more finely than a
governorate, and to flag coordinates that fall outside the governorate a source names."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

from conflict_report.errors import InputError

BOUNDARIES_DISCLAIMER = (
    "The boundaries and names shown and the designations used on this map do not imply "
    "official endorsement or acceptance by the United Nations."
)


def attribution(credit: str) -> str:
    """The boundaries' line under a map, from BOUNDARIES_CREDIT; OCHA's terms ask for the UN's
    disclaimer beside its boundaries, so an OCHA credit brings it."""
    line = f"Administrative boundaries: {credit}."
    return line + ("\n" + BOUNDARIES_DISCLAIMER if "OCHA" in credit else "")


@dataclass(frozen=True)
class Areas:
    pcodes: tuple[str, ...]
    names: tuple[str, ...]
    parents: tuple[str, ...]
    geometries: tuple  # shapely geometries

    @property
    def mean_latitude(self) -> float:
        """The middle latitude of the areas' extent, for a map's lon/lat aspect."""
        miny = min(g.bounds[1] for g in self.geometries)
        maxy = max(g.bounds[3] for g in self.geometries)
        return (miny + maxy) / 2

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """P-code of the area containing each point ('' where none does or the point is NaN)."""
        result = np.full(len(lon), "", dtype=object)
        # A point is in an area or on its edge exactly when it intersects it; the first area
        # in the file's order wins, so a point once placed is not tested again.
        unplaced = np.flatnonzero(~(np.isnan(lon) | np.isnan(lat)))
        for pcode, geometry in zip(self.pcodes, self.geometries):
            shapely.prepare(geometry)
            minx, miny, maxx, maxy = geometry.bounds  # only points in the box can be in the area
            near = unplaced[(lon[unplaced] >= minx) & (lon[unplaced] <= maxx) & (lat[unplaced] >= miny) & (lat[unplaced] <= maxy)]
            inside = near[shapely.intersects_xy(geometry, lon[near], lat[near])]
            result[inside] = pcode
            unplaced = np.setdiff1d(unplaced, inside, assume_unique=True)
        return result


def boundaries_file(level: int) -> Path | None:
    """The boundaries for admin level 1 or 2, from BOUNDARIES_ADMIN1 / BOUNDARIES_ADMIN2."""
    value = os.environ.get(f"BOUNDARIES_ADMIN{level}")
    return Path(value) if value else None


@lru_cache(maxsize=4)
def load_areas(path: Path) -> Areas:
    try:
        features = json.loads(Path(path).read_text(encoding="utf-8"))["features"]
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(Path(path).name, f"cannot read the boundaries as GeoJSON ({exc})",
                         "Point BOUNDARIES_ADMIN1/2 at OCHA's COD-AB GeoJSON (see README)") from None
    props = [f["properties"] for f in features]
    return Areas(
        pcodes=tuple(p["PCODE"] for p in props),
        names=tuple(p["NAME_EN"] for p in props),
        parents=tuple(p.get("ADM1_PCODE", "") for p in props),
        geometries=tuple(shape(f["geometry"]) for f in features),
    )
