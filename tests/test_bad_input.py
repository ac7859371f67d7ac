"""A corpus of bad UCDP GED files, each made from the real file's header and a few real rows
with one thing broken. Each gives either an error naming the file, row and column and what to
do, or one quarantined row with its reason; every time, rows read = kept + quarantined.
Suspicious but usable values are kept and flagged."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from conftest import ADMIN1_FILE
from ged_samples import (
    GedTable,
    build,
    plain_sample,
    processed,
    real_table,
    ucdp_entry,
    write_bytes,
)

from conflict_report.data import geo
from conflict_report.data.sources import ucdp_ged
from conflict_report.errors import InputError

BAD_FILE = "ged_bad.csv"
SAMPLE_ROWS = 6


@pytest.fixture
def table() -> GedTable:
    return plain_sample(SAMPLE_ROWS)


def read(path: Path, areas: geo.Areas | None = None) -> ucdp_ged.AdapterResult:
    result = ucdp_ged.read(path, admin1_areas=areas)
    assert result.rows_read == len(result.events) + len(result.rejected)
    return result


def quarantined(tmp_path: Path, table: GedTable) -> dict:
    """The one quarantined row of the table written as a file; every other row is kept."""
    result = read(table.write(tmp_path / BAD_FILE))
    assert (result.rows_read, len(result.events), len(result.rejected)) == (len(table.rows), len(table.rows) - 1, 1)
    return result.rejected.iloc[0].to_dict()


def assert_quarantined(tmp_path: Path, table: GedTable, row: int, column: str, *reason: str) -> dict:
    rejected = quarantined(tmp_path, table)
    assert (rejected["file"], rejected["row_number"], rejected["column"]) == (BAD_FILE, row, column)
    for text in reason:
        assert text in rejected["reason"], rejected["reason"]
    return rejected


def read_error(path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        ucdp_ged.read(path)
    return caught.value


def assert_error(path: Path, row: int | None, column: str | None, *text: str) -> None:
    error = read_error(path)
    assert (error.file, error.row, error.column) == (path.name, row, column)
    for part in text:
        assert part in str(error), str(error)


# --- the file as a whole ---------------------------------------------------------------------
def test_truncated_gzip(tmp_path, table) -> None:
    path = table.write(tmp_path / "ged_bad.csv.gz")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert_error(path, None, None, "damaged or truncated", "Download it again")


def test_zip_without_a_csv(tmp_path) -> None:
    path = tmp_path / "ged251-csv.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("codebook.txt", "not the data")
    assert_error(path, None, None, "holds no .csv file", "codebook.txt")


@pytest.mark.parametrize("separator, shown", [(";", "';'"), ("\t", "tab")])
def test_not_comma_separated(tmp_path, table, separator, shown) -> None:
    text = "\n".join(separator.join(row) for row in [table.header, *table.rows]) + "\n"
    assert_error(write_bytes(tmp_path / BAD_FILE, text.encode()), 0, None, f"looks {shown}-separated", "comma-separated")


def without_column(table: GedTable, column: str) -> GedTable:
    position = table.header.index(column)
    return GedTable([c for c in table.header if c != column], [[v for i, v in enumerate(r) if i != position] for r in table.rows])


def test_missing_required_column(tmp_path, table) -> None:
    path = without_column(table, "best").write(tmp_path / BAD_FILE)
    # The column is named in the message (the header, row 0, names no column to point at).
    assert_error(path, 0, None, "required column(s) missing: 'best'", "must have the columns")


def test_renamed_column_is_hinted(tmp_path, table) -> None:
    table.header[table.header.index("deaths_civilians")] = "deaths_civilian"
    assert_error(table.write(tmp_path / BAD_FILE), 0, None, "missing: 'deaths_civilians' (is 'deaths_civilian' the same column renamed?)")


def test_column_named_twice(tmp_path, table) -> None:
    table.header[table.header.index("deaths_unknown")] = "best"
    assert_error(table.write(tmp_path / BAD_FILE), 0, "best", "more than once: 'best'", "Rename or remove")


def test_bytes_that_are_not_utf8_are_located_by_row_and_column(tmp_path, table) -> None:
    # A real row whose headline spans two lines comes first: a line count would misplace the row.
    multiline = next(r for r in real_table().rows if "\n" in r[table.header.index("source_headline")])
    table.rows.insert(0, multiline)
    data = table.set(3, "source_headline", "Latin-1 here: MARKER").csv_bytes()
    data = data.replace("MARKER".encode(), "Hama \u00e9t\u00e9".encode("latin-1"))
    assert_error(write_bytes(tmp_path / BAD_FILE, data), 3, "source_headline", "not UTF-8", "Re-save the file as UTF-8")


@pytest.mark.parametrize("content", [b"", b" \n\n"])
def test_empty_file(tmp_path, content) -> None:
    assert_error(write_bytes(tmp_path / BAD_FILE, content), None, None, "the file is empty")


def test_header_only(tmp_path, table) -> None:
    table.rows = []
    assert_error(table.write(tmp_path / BAD_FILE), None, None, "header but no data rows")


def test_unknown_governorate_spelling_names_it_and_the_valid_names(tmp_path, table) -> None:
    path = table.set(2, "adm_1", "Aleppo Province").write(tmp_path / BAD_FILE)
    assert_error(path, 2, "adm_1", "'Aleppo Province'", "admin1_spellings.csv", "Aleppo, Rural Damascus", "Idleb", "Dar'a")


def test_a_stopping_error_reaches_the_user_as_one_clear_line(scratch_project, tmp_path, table) -> None:
    path = table.set(2, "adm_1", "Aleppo Province").write(tmp_path / BAD_FILE)
    result = build(scratch_project, path, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {BAD_FILE}, row 2, column 'adm_1': unknown governorate spelling 'Aleppo Province'")
    assert "Traceback" not in result.stderr


# --- one row quarantined ---------------------------------------------------------------------
@pytest.mark.parametrize("column, value, reason", [
    ("best", "twelve", "not a whole number: 'twelve'"),
    ("best", "2.5", "not a whole number: '2.5'"),
    ("best", "NA", "not a whole number: 'NA'"),  # text, not a silent gap
    ("best", "", "empty, but a number is required"),
    ("best", "99999999999999999999", "too large to be a count"),
    ("deaths_civilians", "-3", "negative: '-3'"),
    ("low", "inf", "not a whole number: 'inf'"),
    ("date_start", "2016-02-30", "not a real date in YYYY-MM-DD form: '2016-02-30'"),
    ("date_start", "30/01/2016", "not a real date in YYYY-MM-DD form: '30/01/2016'"),
    ("date_end", "0216-05-01", "outside 1677-09-22..2262-04-11"),
    ("latitude", "95.5", "outside -90..90"),
    ("longitude", "-190", "outside -180..180"),
    ("latitude", "north", "not a number"),
    ("where_prec", "9", "not one of the codebook values 1, 2, 3, 4, 5, 6, 7"),
    ("date_prec", "0", "not one of the codebook values 1, 2, 3, 4, 5"),
    ("type_of_violence", "4", "not one of the codebook values 1, 2, 3"),
    ("id", " ", "empty, but every row needs it"),
    ("country", "", "empty, but every row needs it"),
])
def test_bad_value_quarantines_its_row(tmp_path, table, column, value, reason) -> None:
    rejected = assert_quarantined(tmp_path, table.set(4, column, value), 4, column, reason)
    assert rejected["id"] == table.get(4, "id")  # the original values travel with the row


def test_end_before_start(tmp_path, table) -> None:
    table.set(4, "date_start", "2016-03-10").set(4, "date_end", "2016-03-09")
    assert_quarantined(tmp_path, table, 4, "date_end", "end date before start date")


def test_duplicate_id_keeps_the_first(tmp_path, table) -> None:
    table.set(5, "id", " " + table.get(2, "id"))  # padded: still the same event id
    assert_quarantined(tmp_path, table, 5, "id", f"duplicate id {table.get(2, 'id')}", "first seen at row 2")


def test_ten_megabyte_field(tmp_path, table) -> None:
    table.set(3, "source_original", "x" * 10_000_000)
    assert_quarantined(tmp_path, table, 3, "source_original", "longer than 100,000 characters")


@pytest.mark.parametrize("change", [lambda r: r + ["stray"], lambda r: r[:-2]], ids=["too many fields", "too few fields"])
def test_row_with_wrong_number_of_fields_keeps_every_row_number(tmp_path, table, change) -> None:
    table.rows[2] = change(table.rows[2])
    table.set(5, "best", "lots")
    result = read(table.write(tmp_path / BAD_FILE))
    by_row = dict(zip(result.rejected["row_number"], zip(result.rejected["file"], result.rejected["column"])))
    assert by_row == {3: (BAD_FILE, "(whole row)"), 5: (BAD_FILE, "best")}  # row 5 is still row 5 after the skipped row 3
    assert "different number of fields" in result.rejected.set_index("row_number").loc[3, "reason"]


# --- suspicious but usable: kept and flagged -------------------------------------------------
def flags_of(result: ucdp_ged.AdapterResult, event_id: str) -> set[str]:
    row = result.events.loc[result.events["source_event_id"] == event_id].iloc[0]
    return set(filter(None, row["quality_flags"].split(";")))


def test_estimates_out_of_order_are_kept_and_flagged(tmp_path, table) -> None:
    table.set(2, "low", "9").set(2, "best", "8").set(2, "high", "3")
    result = read(table.write(tmp_path / BAD_FILE))
    assert len(result.events) == SAMPLE_ROWS
    assert flags_of(result, table.get(2, "id")) >= {"deaths_low_above_best", "deaths_best_above_high"}


def test_point_outside_the_named_governorate_is_kept_and_flagged(tmp_path, table) -> None:
    # Damascus's Umayyad Mosque, given as an Aleppo event.
    table.set(2, "adm_1", "Aleppo Governorate").set(2, "latitude", "33.5115").set(2, "longitude", "36.3064")
    result = read(table.write(tmp_path / BAD_FILE), geo.load_areas(ADMIN1_FILE))
    assert len(result.events) == SAMPLE_ROWS
    assert "point_outside_admin1" in flags_of(result, table.get(2, "id"))
    assert result.events.set_index("source_event_id").loc[table.get(2, "id"), "admin1"] == "Aleppo"  # the source's word stands


# --- unusual but valid -----------------------------------------------------------------------
def test_quoted_header_bom_and_crlf_read_as_the_plain_file(tmp_path, table) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows([table.header, *table.rows])
    spreadsheet = read(write_bytes(tmp_path / "ged_spreadsheet.csv", b"\xef\xbb\xbf" + buffer.getvalue().encode()))
    plain = read(table.write(tmp_path / "ged_plain.csv"))
    assert spreadsheet.events.equals(plain.events)


def test_padded_values_read_as_plain_ones(tmp_path, table) -> None:
    plain = read(table.write(tmp_path / "ged_plain.csv"))
    for column in ("country", "best", "date_start", "where_prec", "id"):
        table.set(2, column, f" {table.get(2, column)} ")
    padded = read(table.write(tmp_path / "ged_padded.csv"))
    assert padded.events.equals(plain.events)


def test_padded_country_still_checks_the_governorate_spelling(tmp_path, table) -> None:
    path = table.set(2, "country", " Syria").set(2, "adm_1", "Aleppo Province").write(tmp_path / BAD_FILE)
    assert_error(path, 2, "adm_1", "unknown governorate spelling 'Aleppo Province' for Syria")


# --- what reaches rejected.csv ---------------------------------------------------------------
FORMULAS = ["=HYPERLINK(\"http://example.org\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A2)"]


def test_formulas_are_neutralised_in_rejected_csv(scratch_project, tmp_path, table) -> None:
    for row, formula in enumerate(FORMULAS, start=1):
        table.set(row, "best", "-5").set(row, "source_headline", formula)  # negative best: quarantined
    build(scratch_project, table.write(tmp_path / BAD_FILE))
    with open(processed(scratch_project, "rejected.csv"), newline="", encoding="utf-8") as fh:
        rejected = [r for r in csv.DictReader(fh) if r["source"] == "ucdp_ged"]
    assert {(r["file"], r["column"]) for r in rejected} == {(BAD_FILE, "best")}
    assert sorted(r["source_headline"] for r in rejected) == sorted("'" + f for f in FORMULAS)
    assert {r["best"] for r in rejected} == {"-5"}  # a plain negative number is left as it is
    entry = ucdp_entry(scratch_project)
    assert (entry["rows_read"], entry["rows_kept"], entry["rows_rejected"]) == (SAMPLE_ROWS, SAMPLE_ROWS - len(FORMULAS), len(FORMULAS))
