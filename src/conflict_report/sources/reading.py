"""Reading source CSV files (plain, .gz or .zip) as text, and the row checks every adapter
shares. Structural problems raise InputError; an unusable row is quarantined with its reason."""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from conflict_report.errors import InputError

# A real field (a headline, ACLED's notes) is a few thousand characters at most; a longer one
# is almost always a quote left open that swallowed the rest of the file.
MAX_FIELD_CHARS = 100_000
_BLOCK_SIZE = 64 << 20  # pyarrow cannot split a field across blocks: allow very long ones
# Counts are held as floats while checked: above 2**53 a float no longer holds every whole
# number, so such a value would be silently altered.
MAX_COUNT = 2**53
# The dates a datetime64[ns] column can hold; a date outside them is a typo (0001-01-01).
_FIRST_DATE, _LAST_DATE = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")


def _open_bytes(path: Path) -> bytes:
    """The CSV's bytes, decompressed, with errors that say what to do."""
    name = path.name
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.namelist() if m.lower().endswith(".csv") and not m.startswith("__MACOSX")]
                if not members:
                    raise InputError(name, f"the zip archive holds no .csv file (it holds: {', '.join(archive.namelist()) or 'nothing'})",
                                     "Pass the CSV itself, or the zip as downloaded from the publisher")
                return archive.read(members[0])
        data = path.read_bytes()
        if name.endswith(".gz") or data[:2] == b"\x1f\x8b":
            return gzip.decompress(data)
        return data
    except FileNotFoundError:
        raise InputError(name, "the file does not exist", "Check the path you gave") from None
    except (EOFError, gzip.BadGzipFile, zlib.error, zipfile.BadZipFile) as exc:
        raise InputError(name, f"the compressed file is damaged or truncated ({exc})",
                         "Download it again and compare its sha256 with the publisher's") from None


def _records(data: bytes) -> list[list[str]]:
    """The data records as Python's csv module splits them (header skipped; blank lines dropped,
    as pyarrow drops them). Slower than pyarrow: used only to number rows pyarrow cannot."""
    text = data.decode("utf-8", errors="surrogateescape")  # undecodable bytes become surrogates
    limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)
    try:
        return [record for record in list(csv.reader(io.StringIO(text, newline="")))[1:] if record]
    finally:
        csv.field_size_limit(limit)


def _first_bad_utf8_row(data: bytes, column: int) -> int | None:
    """The data row whose field `column` holds bytes that are not UTF-8 (a quoted field may
    span lines, so a line number would not do)."""
    for number, record in enumerate(_records(data), start=1):
        if len(record) > column and any("\udc80" <= ch <= "\udcff" for ch in record[column]):
            return number
    return None


def _row_numbers(data: bytes, columns: int, rows: int, ragged: int) -> tuple[list[int], list[int]] | None:
    """(numbers of the rows pyarrow kept, numbers of the rows it skipped as ragged): without
    them every row after a skipped one would be numbered one too low. None if the two parsers
    disagree about the file (then the rows keep pyarrow's order, unnumbered ragged rows)."""
    counts = [len(record) for record in _records(data)]
    kept = [n for n, count in enumerate(counts, start=1) if count == columns]
    skipped = [n for n, count in enumerate(counts, start=1) if count != columns]
    return (kept, skipped) if (len(kept), len(skipped)) == (rows, ragged) else None


@dataclass
class RawTable:
    """A source file as text columns, with data rows numbered from 1 in the index."""

    name: str
    frame: pd.DataFrame
    sha256: str
    ragged_rows: list[tuple[int | None, str]] = field(default_factory=list)


def read_csv_text(path: Path, required: list[str], display_name: str | None = None, allow_empty: bool = False) -> RawTable:
    """Read every column as text (values are kept as the source gives them; typing happens in
    the adapter, row by row, so that one bad cell quarantines one row, not the file)."""
    import hashlib

    name = display_name or path.name
    data = _open_bytes(path)
    if not data.strip():
        raise InputError(name, "the file is empty", "Check that the download or export finished")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        header_line = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise InputError(name, "the header is not UTF-8 text", "Re-save the file as UTF-8 CSV", row=0) from None
    header = next(csv.reader([header_line]))  # unquoted as pyarrow unquotes ("id","year" from R)
    columns = [c.strip() for c in header]
    _check_header(name, header_line, columns, required)

    ragged: list[tuple[int | None, str]] = []

    def on_ragged_row(row) -> str:
        ragged.append((None, row.text[:200]))
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(block_size=_BLOCK_SIZE, use_threads=True),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_ragged_row),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                # Only an empty field is missing: text such as "NA" or "null" stays as given
                # (pyarrow's default would turn it into a gap, and "nan" deaths into "empty").
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "utf8" in str(exc) or "UTF-8" in str(exc):
            raise _not_utf8_error(name, data, columns, str(exc)) from None
        raise InputError(name, f"the CSV cannot be parsed ({exc})", "Check that it is a comma-separated export") from None
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    frame.columns = columns
    if len(frame) == 0 and not ragged and not allow_empty:
        raise InputError(name, "the file has a header but no data rows", "Check that the export or download finished")
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row_number")
    numbers = _row_numbers(data, len(columns), len(frame), len(ragged)) if ragged else None
    if numbers:
        frame.index = pd.Index(numbers[0], name="row_number")
        ragged = [(number, text) for number, (_, text) in zip(numbers[1], ragged)]
    return RawTable(name=name, frame=frame, sha256=hashlib.sha256(data).hexdigest(), ragged_rows=ragged)


def _not_utf8_error(name: str, data: bytes, columns: list[str], message: str) -> InputError:
    """Name the row and column that hold the bytes (pyarrow says 'In CSV column #3: ...')."""
    found = re.search(r"column #(\d+)", message)
    column = columns[int(found.group(1))] if found and int(found.group(1)) < len(columns) else None
    row = _first_bad_utf8_row(data, columns.index(column)) if column else None
    return InputError(name, "the field holds bytes that are not UTF-8 text (a file saved as Latin-1 or Windows-1252?)",
                      "Re-save the file as UTF-8 CSV (in a spreadsheet: 'CSV UTF-8')", row=row, column=column)


def _check_header(name: str, header_line: str, columns: list[str], required: list[str]) -> None:
    if len(columns) == 1 and any(sep in header_line for sep in (";", "\t", "|")):
        sep = next(s for s in (";", "\t", "|") if s in header_line)
        raise InputError(name, f"the header has one column; the file looks {'tab' if sep == chr(9) else repr(sep)}-separated",
                         "Export it as comma-separated CSV", row=0)
    missing = [c for c in required if c not in columns]
    if missing:
        hints = []
        for column in missing:
            close = difflib.get_close_matches(column, columns, n=1, cutoff=0.6)
            hints.append(f"'{column}'" + (f" (is '{close[0]}' the same column renamed?)" if close else ""))
        raise InputError(name, f"required column(s) missing: {', '.join(hints)}",
                         f"The file must have the columns {', '.join(required)}", row=0)
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise InputError(name, f"the header names column(s) more than once: {', '.join(map(repr, repeated))}",
                         "Rename or remove the repeated column so each name appears once", row=0, column=repeated[0])


def _append_by_position(rows: pd.DataFrame, more: pd.DataFrame, shared: int) -> pd.DataFrame:
    """rows, then more (whose first `shared` columns are rows' first ones, then raw_text): matched
    by position, because rows may hold two columns named `source` and concat needs unique names."""
    names = [*rows.columns, *(c for c in more.columns[shared:] if c not in rows.columns)]
    positions = [*range(shared), *(names.index(c) for c in more.columns[shared:])]
    joined = pd.concat([rows.set_axis(range(len(rows.columns)), axis=1), more.set_axis(positions, axis=1)], ignore_index=True)
    joined.columns = names
    return joined


class RowChecks:
    """Collects, per row, the first reason it is unusable. Vectorised: one mask per check."""

    def __init__(self, raw: RawTable, source: str):
        self.raw, self.source = raw, source
        self.reject_column = pd.Series(pd.NA, index=raw.frame.index, dtype="object")
        self.reject_reason = pd.Series(pd.NA, index=raw.frame.index, dtype="object")

    def reject(self, mask: pd.Series, column: str, reason: str | pd.Series) -> None:
        mask = mask.fillna(False).astype(bool) & self.reject_reason.isna()
        if not mask.any():
            return
        self.reject_column[mask] = column
        self.reject_reason[mask] = reason[mask] if isinstance(reason, pd.Series) else reason

    @property
    def kept(self) -> pd.Series:
        return self.reject_reason.isna()

    def rejected_frame(self) -> pd.DataFrame:
        bad = ~self.kept
        head = pd.DataFrame({
            "source": self.source,
            "file": self.raw.name,  # several files can feed one source (curated, ACLED exports)
            "row_number": self.raw.frame.index[bad],
            "column": self.reject_column[bad].to_numpy(),
            "reason": self.reject_reason[bad].to_numpy(),
        })
        originals = self.raw.frame[bad].reset_index(drop=True).astype("object")
        # A source column named like one of ours (ACLED has `source`) stays as it is here: its
        # adapter renames it (acled.rejected_rows), so the two columns may share a name for now.
        rows = pd.concat([head, originals], axis=1)
        # Rows the CSV parser could not even split into the header's columns.
        if self.raw.ragged_rows:
            ragged = pd.DataFrame({
                "source": self.source,
                "file": self.raw.name,
                "row_number": [n if n is not None else pd.NA for n, _ in self.raw.ragged_rows],
                "column": "(whole row)",
                "reason": "the row has a different number of fields than the header (a stray comma or quote?)",
                "raw_text": [t for _, t in self.raw.ragged_rows],
            })
            rows = _append_by_position(rows, ragged, shared=len(head.columns))
        return rows

    @property
    def rows_read(self) -> int:
        return len(self.raw.frame) + len(self.raw.ragged_rows)

    # --- the shared checks -------------------------------------------------------------
    def required_text(self, column: str) -> pd.Series:
        values = self.raw.frame[column]
        self.reject(values.isna() | (values.str.strip() == ""), column, "empty, but every row needs it")
        return values

    def long_fields(self) -> None:
        for column in self.raw.frame.columns:
            lengths = self.raw.frame[column].str.len()
            self.reject(lengths > MAX_FIELD_CHARS, column, f"field longer than {MAX_FIELD_CHARS:,} characters (an unclosed quote?)")

    def count(self, column: str, required: bool = True) -> pd.Series:
        """Whole numbers >= 0 (deaths, strikes). Text or negatives quarantine the row."""
        text = self.raw.frame[column].str.strip()
        number = pd.to_numeric(text, errors="coerce").astype("float64")
        empty = text.isna() | (text == "")
        shown = text.astype("object").fillna("").map(repr)
        not_whole = ~empty & (~np.isfinite(number) | (number != np.floor(number)))  # inf, nan, 2.5
        self.reject(not_whole, column, "not a whole number: " + shown)
        self.reject(~empty & (number < 0), column, "negative: " + shown)
        self.reject(~empty & (number >= MAX_COUNT), column, f"too large to be a count (at least {MAX_COUNT:,}): " + shown)
        if required:
            self.reject(empty, column, "empty, but a number is required")
        usable = np.isfinite(number) & (number.abs() < MAX_COUNT)
        return number.where(usable).astype("Float64").round().astype("Int64")

    def code(self, column: str, valid: tuple[int, ...]) -> pd.Series:
        number = self.count(column)
        self.reject(~number.isin(valid), column, f"not one of the codebook values {', '.join(map(str, valid))}")
        return number

    def coordinate(self, column: str, limit: float, required: bool) -> pd.Series:
        text = self.raw.frame[column].str.strip()
        number = pd.to_numeric(text, errors="coerce").astype("float64")
        empty = text.isna() | (text == "")
        self.reject(~empty & number.isna(), column, "not a number")
        self.reject(number.abs() > limit, column, f"outside -{limit:g}..{limit:g}")
        if required:
            self.reject(empty, column, "empty, but coordinates are required")
        return number

    def date(self, column: str, required: bool = True) -> pd.Series:
        """ISO dates only (YYYY-MM-DD); an impossible date such as 2016-02-30 quarantines the row."""
        text = self.raw.frame[column].str.strip()
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        empty = text.isna() | (text == "")
        shown = text.astype("object").fillna("").map(repr)
        self.reject(~empty & parsed.isna(), column, "not a real date in YYYY-MM-DD form: " + shown)
        outside = parsed.notna() & ~parsed.between(_FIRST_DATE, _LAST_DATE)
        self.reject(outside, column, f"outside {_FIRST_DATE:%Y-%m-%d}..{_LAST_DATE:%Y-%m-%d} (a typo in the year?): " + shown)
        if required:
            self.reject(empty, column, "empty, but a date is required")
        return parsed.where(~outside).astype("datetime64[ns]")

    def unique_ids(self, column: str) -> None:
        ids = self.raw.frame[column].str.strip()  # ' 5' and '5' become the same event id
        duplicated = ids.duplicated(keep="first") & ids.notna()
        if duplicated.any():
            first_row = pd.Series(ids.index, index=ids.index).groupby(ids).transform("min")
            self.reject(duplicated, column, "duplicate id " + ids.astype("object").map(str) + " (first seen at row " + first_row.astype(str) + ")")

    def date_order(self, start: pd.Series, end: pd.Series, end_column: str) -> None:
        self.reject(end < start, end_column, "end date before start date")
