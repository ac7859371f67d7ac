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

BOUNDARIES_ATTRIBUTION = (
    "Administrative boundaries: UN OCHA / UN Cartographic Section (UNCS), Syrian Arab Republic "
    "COD-AB via HDX, licensed CC BY 3.0 IGO."
)
BOUNDARIES_DISCLAIMER = (
    "The boundaries and names shown and the designations used on this map do not imply "
    "official endorsement or acceptance by the United Nations."
)


@dataclass(frozen=True)
class Areas:
    pcodes: tuple[str, ...]
    names: tuple[str, ...]
    parents: tuple[str, ...]
    geometries: tuple  # shapely geometries

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """P-code of the area containing each point ('' where none does or the point is NaN)."""
        result = np.full(len(lon), "", dtype=object)
        ok = ~(np.isnan(lon) | np.isnan(lat))
        points = shapely.points(lon[ok], lat[ok])
        found = np.full(ok.sum(), "", dtype=object)
        for pcode, geometry in zip(self.pcodes, self.geometries):
            shapely.prepare(geometry)
            inside = shapely.contains(geometry, points) | shapely.touches(geometry, points)
            found[inside & (found == "")] = pcode
        result[ok] = found
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
