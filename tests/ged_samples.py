"""Test inputs made from the real UCDP GED Syria file (../shared/data): its header and rows,
written back out plain, gzipped or zipped, in the 19.1 layout or the GED 20.1+ one, with a
value changed where a test needs a bad one; and the scratch builds the data tests share.

Imports nothing from src/: what the tests expect is computed here, in DuckDB or with shapely,
independently of the code under test."""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from conftest import UCDP_GED_FILE, run_cli

# From ../shared/data/ucdp_ged_syria_2016_2019/README.md.
PUBLISHED_SHA256 = "53a4f69b2a7d64155832d477a7db999b25dd3ac74c1f93c7d5a3ed40b3a9b7b5"
EVENT_COUNT = 16_566

# GED 20.1+ (Global 23.1-25.1): 49 columns in this order, seven of them absent from 19.1 files
# (and where_description, which the Syria extract also lacks).
GED20_COLUMNS = (
    "id,relid,year,active_year,code_status,type_of_violence,conflict_dset_id,conflict_new_id,"
    "conflict_name,dyad_dset_id,dyad_new_id,dyad_name,side_a_dset_id,side_a_new_id,side_a,"
    "side_b_dset_id,side_b_new_id,side_b,number_of_sources,source_article,source_office,"
    "source_date,source_headline,source_original,where_prec,where_coordinates,"
    "where_description,adm_1,adm_2,latitude,longitude,geom_wkt,priogrid_gid,country,"
    "country_id,region,event_clarity,date_prec,date_start,date_end,deaths_a,deaths_b,"
    "deaths_civilians,deaths_unknown,best,high,low,gwnoa,gwnob"
).split(",")


@dataclass
class GedTable:
    """A header and rows of text, as a CSV file holds them."""

    header: list[str]
    rows: list[list[str]]

    def set(self, row: int, column: str, value: str) -> GedTable:
        """Change one cell (row 1 = the first data row, as error messages count)."""
        self.rows[row - 1][self.header.index(column)] = value
        return self

    def get(self, row: int, column: str) -> str:
        return self.rows[row - 1][self.header.index(column)]

    def column(self, name: str) -> list[str]:
        return [r[self.header.index(name)] for r in self.rows]

    def csv_bytes(self) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return buffer.getvalue().encode("utf-8")

    def write(self, path: Path) -> Path:
        """Plain, .gz or .zip (one CSV member) by the file name's ending."""
        return write_bytes(path, self.csv_bytes())


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(data, mtime=0))
    elif path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(path.name.removesuffix(".zip").removesuffix("-csv") + ".csv", data)
    else:
        path.write_bytes(data)
    return path


@functools.lru_cache(maxsize=1)
def _real_table() -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    text = gzip.decompress(UCDP_GED_FILE.read_bytes()).decode("utf-8")
    header, *rows = csv.reader(io.StringIO(text, newline=""))
    return tuple(header), tuple(tuple(r) for r in rows)


def real_table() -> GedTable:
    """The whole real file (a fresh copy each call: tests change it)."""
    header, rows = _real_table()
    return GedTable(list(header), [list(r) for r in rows])


def _is_plain(row: dict[str, str]) -> bool:
    """A row no check or flag should object to: named governorate, exact place, ordered
    estimates, one-day event."""
    low, best, high = int(row["low"]), int(row["best"]), int(row["high"])
    return (row["adm_1"] != "" and row["where_prec"] == "1" and low <= best <= high
            and int(row["deaths_civilians"]) <= best and row["date_start"] == row["date_end"])


def plain_sample(n: int = 8) -> GedTable:
    """The first n real rows that are unremarkable, to which a test adds one bad value."""
    table = real_table()
    rows = [r for r in table.rows if _is_plain(dict(zip(table.header, r)))][:n]
    return GedTable(table.header, rows)


def repeated(table: GedTable, times: int) -> GedTable:
    """The rows `times` over, each copy with new ids (id + copy * 10,000,000): a bigger input."""
    position = table.header.index("id")
    rows = []
    for copy in range(times):
        for row in table.rows:
            rows.append([str(int(v) + copy * 10_000_000) if i == position else v for i, v in enumerate(row)])
    return GedTable(table.header, rows)


def ged20_layout(table: GedTable) -> GedTable:
    """The same events as a GED 20.1+ file would give them: the extra identifiers filled in
    the way UCDP fills them, columns in the 20.1+ order."""
    rows = []
    for row in table.rows:
        values = dict(zip(table.header, row))
        values.update({
            "relid": f"SYR-{values['year']}-1-{values['id']}-0", "code_status": "Clear",
            "conflict_dset_id": values["conflict_new_id"], "dyad_dset_id": values["dyad_new_id"],
            "side_a_dset_id": values["side_a_new_id"], "side_b_dset_id": values["side_b_new_id"],
            "gwnoa": "652", "where_description": values["where_coordinates"],
        })
        rows.append([values[c] for c in GED20_COLUMNS])
    return GedTable(list(GED20_COLUMNS), rows)


# --- scratch builds ------------------------------------------------------------------------
def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def processed(root: Path, name: str) -> Path:
    return root / "data" / "processed" / name


def build(root: Path, ucdp_ged: Path | str, force: bool = False, check: bool = True, env: dict | None = None, timeout: int = 900):
    """`make data` (or `make data --force`) in a scratch project with UCDP_GED pointed at a file."""
    args = ["data", "--force"] if force else ["data"]
    return run_cli(args, root=root, env={"UCDP_GED": str(ucdp_ged), **(env or {})}, check=check, timeout=timeout)


def manifest(root: Path) -> dict:
    return json.loads(processed(root, "manifest.json").read_text(encoding="utf-8"))


def ucdp_entry(root: Path) -> dict:
    return next(i for i in manifest(root)["inputs"] if i["name"] == "ucdp_ged")


def ucdp_events(root: Path) -> pd.DataFrame:
    events = pd.read_parquet(processed(root, "events.parquet"))
    return events[events["source"] == "ucdp_ged"]


# The processed death columns and the UCDP columns they come from.
DEATH_COLUMNS = {"deaths_low": "low", "deaths_best": "best", "deaths_high": "high", "deaths_civilians": "deaths_civilians"}


def event_totals(events: pd.DataFrame) -> dict[str, int]:
    """What a rebuild must reproduce: how many events, and their deaths."""
    return {"events": len(events), **{c: int(events[c].sum()) for c in DEATH_COLUMNS}}


def raw_totals(table: GedTable) -> dict[str, int]:
    """event_totals computed from the CSV's own text."""
    return {"events": len(table.rows), **{c: sum(map(int, table.column(raw))) for c, raw in DEATH_COLUMNS.items()}}
