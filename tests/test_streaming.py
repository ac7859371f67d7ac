"""The data layer reads a source file in chunks (CONFLICT_REPORT_CHUNK_ROWS rows at a time) and
sorts the events on disk. Whatever the chunk size and whatever the order of the file's rows,
it must build the same events, quarantine the same rows with the same row numbers and reasons,
and count the same in the manifest. The real file is one chunk at the default size, so these
builds use chunks of 997 rows: 17 chunks, boundaries falling in no special place."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from conftest import UCDP_GED_FILE, make_scratch_project, run_cli
from ged_samples import build, manifest, processed, real_table

SMALL_CHUNKS = {"CONFLICT_REPORT_CHUNK_ROWS": "997"}
COUNTS = ("rows_read", "rows_kept", "rows_rejected", "rows_flagged")


def damaged_real_table():
    """The real rows with bad ones put in several chunks: (table, {row: column} expected in rejected.csv)."""
    table = real_table()
    table.set(20, "best", "twelve")                        # chunk 1
    table.set(12, "id", table.get(11, "id"))               # a repeat within chunk 1
    table.set(3000, "date_start", "2016-02-30")            # chunk 4
    table.set(9000, "id", table.get(10, "id"))             # a repeat of a row 8 chunks earlier
    table.set(14000, "source_headline", "a headline\nover two lines, with a comma")  # valid: a quoted newline
    table.rows[4999].append("a stray field")               # row 5000: the parser cannot split it
    expected = {12: "id", 20: "best", 3000: "date_start", 9000: "id", 5000: "(whole row)"}
    return table, expected


@pytest.fixture(scope="module")
def chunked_and_whole(tmp_path_factory):
    """The damaged file built in one chunk and in chunks of 997 rows, in two scratch projects."""
    base = tmp_path_factory.mktemp("streaming")
    table, expected = damaged_real_table()
    csv = table.write(base / "input" / "ged_damaged.csv.gz")
    whole, chunked = make_scratch_project(base / "whole"), make_scratch_project(base / "chunked")
    build(whole, csv)
    build(chunked, csv, env=SMALL_CHUNKS)
    return whole, chunked, expected


def test_chunked_build_quarantines_the_rows_a_test_damaged_and_no_other(chunked_and_whole) -> None:
    _, chunked, expected = chunked_and_whole
    rejected = pd.read_csv(processed(chunked, "rejected.csv"))
    assert dict(zip(rejected["row_number"], rejected["column"])) == expected
    repeat_of_row_10 = rejected.loc[rejected["row_number"] == 9000, "reason"].item()
    assert "first seen at row 10" in repeat_of_row_10  # found although 8 chunks apart


def test_chunked_build_equals_the_one_chunk_build(chunked_and_whole) -> None:
    whole, chunked, expected = chunked_and_whole
    pd.testing.assert_frame_equal(pd.read_parquet(processed(chunked, "events.parquet")),
                                  pd.read_parquet(processed(whole, "events.parquet")))
    assert processed(chunked, "rejected.csv").read_bytes() == processed(whole, "rejected.csv").read_bytes()
    counts = [[{k: item.get(k) for k in COUNTS} for item in manifest(root)["inputs"]] for root in (chunked, whole)]
    assert counts[0] == counts[1]
    rows = len(real_table().rows)  # the damage changed values, added no row
    ucdp = next(i for i in manifest(chunked)["inputs"] if i["name"] == "ucdp_ged")
    assert (ucdp["rows_read"], ucdp["rows_kept"], ucdp["rows_rejected"]) == (rows, rows - len(expected), len(expected))


def test_ids_that_are_not_plain_numbers_are_compared_as_text_across_chunks(tmp_path) -> None:
    """UCDP's ids are whole numbers, compared as numbers for speed; '0' + an earlier id is
    another id (kept), and a text id seen chunks before is a repeat (quarantined)."""
    table = real_table()
    table.set(2000, "id", "0" + table.get(10, "id"))
    table.set(4000, "id", "ged-a")
    table.set(8000, "id", "ged-a")
    root = make_scratch_project(tmp_path / "project")
    build(root, table.write(tmp_path / "input" / "ged_text_ids.csv"), env=SMALL_CHUNKS)
    rejected = pd.read_csv(processed(root, "rejected.csv"))
    assert rejected[["row_number", "column"]].values.tolist() == [[8000, "id"]]
    assert "first seen at row 4000" in rejected["reason"].item()


def test_rows_in_any_order_give_the_same_sorted_events(tmp_path, built_data) -> None:
    """UCDP's file is in date order; an export in no order must give the same events.parquet,
    in the same order, as the official file (built whole by the built_data fixture)."""
    table = real_table()
    random.Random(2016).shuffle(table.rows)
    csv = table.write(tmp_path / "input" / UCDP_GED_FILE.name)  # same name: the events record it
    root = make_scratch_project(tmp_path / "project")
    build(root, csv, env=SMALL_CHUNKS)
    pd.testing.assert_frame_equal(pd.read_parquet(processed(root, "events.parquet")),
                                  pd.read_parquet(processed(built_data, "events.parquet")))


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_a_bad_chunk_size_is_refused_naming_the_variable(scratch_project, value) -> None:
    result = run_cli(["data"], root=scratch_project, env=SMALL_CHUNKS | {"CONFLICT_REPORT_CHUNK_ROWS": value}, check=False)
    assert result.returncode != 0
    assert "CONFLICT_REPORT_CHUNK_ROWS" in result.stderr and repr(value) in result.stderr
