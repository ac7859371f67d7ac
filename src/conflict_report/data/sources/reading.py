"""Reading source CSV files (plain, .gz or .zip) as text, and the row checks every adapter
shares. Structural problems raise InputError; an unusable row is quarantined with its reason.

A file is read in chunks of CHUNK_ROWS rows (read_csv_chunks), so that a file of millions of
events never sits in memory whole: the bytes are decompressed and parsed as a stream."""

from __future__ import annotations

import contextlib
import csv
import difflib
import gzip
import io
import os
import queue
import re
import threading
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from conflict_report.data.inputs import file_sha256
from conflict_report.errors import InputError, ParameterError

# A real field (a headline, ACLED's notes) is a few thousand characters at most; a longer one
# is almost always a quote left open that swallowed the rest of the file.
MAX_FIELD_CHARS = 100_000
# pyarrow parses a block at a time and holds a score of blocks read ahead: small blocks keep
# that small (and parse no slower). A row longer than a block needs a block that holds it: the
# file is then read again with large ones (a 10 MB field is quarantined, not fatal).
_BLOCK_SIZE = 1 << 20
_LONG_ROW_BLOCK_SIZE = 64 << 20
# Rows checked and converted at a time: large enough that pandas' per-call overhead is
# negligible, small enough that a chunk's copies stay a few hundred MB. The environment's
# CONFLICT_REPORT_CHUNK_ROWS overrides it (a machine with little memory; the tests' small chunks).
CHUNK_ROWS = 250_000
CHUNK_ROWS_VARIABLE = "CONFLICT_REPORT_CHUNK_ROWS"
# Counts are held as floats while checked: above 2**53 a float no longer holds every whole
# number, so such a value would be silently altered.
MAX_COUNT = 2**53
# The dates a datetime64[ns] column can hold; a date outside them is a typo (0001-01-01).
_FIRST_DATE, _LAST_DATE = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")
_BOM = b"\xef\xbb\xbf"
_DAMAGED = (EOFError, gzip.BadGzipFile, zlib.error, zipfile.BadZipFile)


def _damaged(name: str, exc: Exception) -> InputError:
    return InputError(name, f"the compressed file is damaged or truncated ({exc})",
                      "Download it again and compare its sha256 with the publisher's")


@contextlib.contextmanager
def _decompressed(path: Path) -> Iterator[BinaryIO]:
    """The CSV as a stream of bytes, with errors that say what to do."""
    name = path.name
    try:
        with contextlib.ExitStack() as stack:
            if name.endswith(".zip"):
                archive = stack.enter_context(zipfile.ZipFile(path))
                members = [m for m in archive.namelist() if m.lower().endswith(".csv") and not m.startswith("__MACOSX")]
                if not members:
                    raise InputError(name, f"the zip archive holds no .csv file (it holds: {', '.join(archive.namelist()) or 'nothing'})",
                                     "Pass the CSV itself, or the zip as downloaded from the publisher")
                stream = stack.enter_context(archive.open(members[0]))
            else:
                stream = stack.enter_context(open(path, "rb"))
                if name.endswith(".gz") or stream.peek(2)[:2] == b"\x1f\x8b":
                    stream = stack.enter_context(gzip.GzipFile(fileobj=stream))
            yield stream
    except FileNotFoundError:
        raise InputError(name, "the file does not exist", "Check the path you gave") from None
    except _DAMAGED as exc:
        raise _damaged(name, exc) from None


@contextlib.contextmanager
def _to_parse(path: Path) -> Iterator:
    """The CSV for pyarrow to parse. Arrow decompresses gzip itself, without the GIL: Python's
    gzip module would hold it for every block, slowing the caller's work in the other thread.
    A zip member goes through Python's zipfile."""
    if path.name.endswith(".zip"):
        with _decompressed(path) as stream:
            yield stream
        return
    with pa.OSFile(str(path)) as raw:
        gzipped = path.name.endswith(".gz") or raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        yield pa.CompressedInputStream(raw, "gzip") if gzipped else raw


def _records(path: Path) -> Iterator[list[str]]:
    """The data records as Python's csv module splits them (header skipped; blank lines dropped,
    as pyarrow drops them), read as a stream. Slower than pyarrow: used only to number rows
    pyarrow cannot, and to find the row it would not read."""
    limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)
    try:
        with _decompressed(path) as stream:
            # Undecodable bytes become surrogates, so that the row holding them can be found.
            records = csv.reader(io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline=""))
            next(records, None)
            yield from (record for record in records if record)
    finally:
        csv.field_size_limit(limit)


def _first_bad_utf8_row(path: Path, column: int) -> int | None:
    """The data row whose field `column` holds bytes that are not UTF-8 (a quoted field may
    span lines, so a line number would not do)."""
    for number, record in enumerate(_records(path), start=1):
        if len(record) > column and any("\udc80" <= ch <= "\udcff" for ch in record[column]):
            return number
    return None


def _row_numbers(path: Path, columns: int) -> tuple[list[int], list[int]]:
    """(numbers of the rows with the header's number of fields, numbers of the others), as
    Python's csv module reads the file: without them every row after a skipped one would be
    numbered one too low."""
    counts = np.fromiter((len(record) for record in _records(path)), dtype=np.int64)
    numbers = np.arange(1, len(counts) + 1)
    return numbers[counts == columns].tolist(), numbers[counts != columns].tolist()


@dataclass
class RawTable:
    """A source file, or a chunk of it, as text columns, with data rows numbered from 1 in the index."""

    name: str
    frame: pd.DataFrame
    sha256: str  # of the file as given (what the manifest records)
    ragged_rows: list[tuple[int | None, str]] = field(default_factory=list)


def chunk_rows() -> int:
    """CHUNK_ROWS, or the environment's CONFLICT_REPORT_CHUNK_ROWS when set."""
    value = os.environ.get(CHUNK_ROWS_VARIABLE, "").strip()
    if not value:
        return CHUNK_ROWS
    if not value.isdigit() or int(value) < 1:
        raise ParameterError(CHUNK_ROWS_VARIABLE, value, "not a whole number of rows of at least 1",
                             f"a whole number such as {CHUNK_ROWS} (the default); fewer rows hold less in memory")
    return int(value)


def read_csv_text(path: Path, required: list[str], display_name: str | None = None, allow_empty: bool = False) -> RawTable:
    """The whole file as one table (for files small enough to hold: curated, ACLED exports)."""
    [whole] = read_csv_chunks(path, required, display_name, allow_empty, chunk_rows=None)
    return whole


def read_csv_chunks(path: Path, required: list[str], display_name: str | None = None, allow_empty: bool = False,
                    chunk_rows: int | None = CHUNK_ROWS) -> Iterator[RawTable]:
    """Every column as text (values are kept as the source gives them; typing happens in the
    adapter, row by row, so that one bad cell quarantines one row, not the file), chunk_rows
    rows at a time (None: all at once). Reading starts at once, in a thread, and stays a
    chunk ahead of the caller: decompressing and parsing (pyarrow, without the GIL) take a
    core of their own while the caller checks the previous chunk."""
    return iter(_ReadAhead(_read_chunks(path, required, display_name, allow_empty, chunk_rows)))


_DONE = object()


class _ReadAhead:
    """items, produced from now on in a thread, at most one ahead of the caller: the next is
    read while the caller works on this one, and no further (each holds a chunk of a file)."""

    def __init__(self, items: Iterator):
        self._items = items
        self._ready: queue.Queue = queue.Queue(maxsize=1)
        self._wanted = threading.Semaphore(1)  # one permit per item the producer may make
        self._stop = threading.Event()
        self._producer = threading.Thread(target=self._produce, name="csv-read-ahead", daemon=True)
        self._producer.start()

    def _produce(self) -> None:
        try:
            while self._wanted.acquire() and not self._stop.is_set():
                item = next(self._items, _DONE)
                self._ready.put((item, None))
                if item is _DONE:
                    return
        except BaseException as exc:  # handed to the caller, who sees it as its own
            self._ready.put((None, exc))
        finally:
            self._items.close()  # the file, also when the caller stopped early

    def __iter__(self) -> Iterator:
        try:
            while True:
                item, error = self._ready.get()
                if error is not None:
                    raise error
                if item is _DONE:
                    return
                self._wanted.release()  # the caller has this one: read the next meanwhile
                yield item
        finally:
            self._stop.set()
            self._wanted.release()
            self._producer.join()


def _read_chunks(path: Path, required: list[str], display_name: str | None, allow_empty: bool,
                 chunk_rows: int | None) -> Iterator[RawTable]:
    name = display_name or path.name
    with _decompressed(path) as stream:
        header_line = _header_line(stream, name)
    header = next(csv.reader([header_line]))  # unquoted as pyarrow unquotes ("id","year" from R)
    columns = [c.strip() for c in header]
    _check_header(name, header_line, columns, required)
    yield from _CsvStream(header, columns, name, path).read(chunk_rows or float("inf"), file_sha256(path), allow_empty)


def _header_line(stream: BinaryIO, name: str) -> str:
    """The first line, decoded; a file of nothing but blanks is empty."""
    first = stream.readline()
    if first.startswith(_BOM):
        first = first[len(_BOM):]
    if not first.strip():
        while block := stream.read(1 << 20):
            if block.strip():
                break
        else:
            raise InputError(name, "the file is empty", "Check that the download or export finished")
    try:
        return first.decode("utf-8").rstrip("\n").rstrip("\r")
    except UnicodeDecodeError:
        raise InputError(name, "the header is not UTF-8 text", "Re-save the file as UTF-8 CSV", row=0) from None


class _RowNumbers:
    """Data rows are numbered from 1 in the order pyarrow keeps them. A row pyarrow skips (a
    ragged one) shifts every later row: once one is met, the numbers come from a second
    reading of the whole file with Python's csv module (slower; bad files only). Where the
    two parsers disagree about the file, a row keeps its place in pyarrow's order and a
    ragged row goes unnumbered."""

    def __init__(self, path: Path, columns: int):
        self.path, self.columns = path, columns
        self.kept = 0  # rows pyarrow has kept so far
        self.ragged: list[str] = []  # texts of the rows pyarrow skipped (appended while it parses)
        self._handed_out = 0
        self._exact: tuple[list[int], list[int]] | None = None

    def next_chunk(self, count: int) -> tuple[pd.Index, list[tuple[int | None, str]]]:
        """Numbers of the next `count` kept rows, and the ragged rows met since the last chunk.
        Rows are numbered in sequence until a ragged row has been met: every ragged row
        before them would have been (pyarrow parses a row before any row after it)."""
        met = len(self.ragged)
        if met and self._exact is None:
            self._exact = _row_numbers(self.path, self.columns)
        first, self.kept = self.kept, self.kept + count
        kept, skipped = self._exact or ([], [])
        if self.kept <= len(kept):
            index = pd.Index(kept[first:self.kept], name="row_number")
        else:
            index = pd.RangeIndex(first + 1, self.kept + 1, name="row_number")
        ragged = [(skipped[i] if i < len(skipped) else None, self.ragged[i]) for i in range(self._handed_out, met)]
        self._handed_out = met
        return index, ragged

    @property
    def unreported(self) -> bool:
        return len(self.ragged) > self._handed_out


class _CsvStream:
    """pyarrow's streaming CSV reader over the file, its batches gathered into chunks."""

    def __init__(self, header: list[str], columns: list[str], name: str, path: Path):
        self.header, self.columns, self.name, self.path = header, columns, name, path
        self.rows = _RowNumbers(path, len(columns))

    def read(self, chunk_rows: float, sha256: str, allow_empty: bool) -> Iterator[RawTable]:
        pending: list[pa.RecordBatch] = []
        parsed = 0
        # Small chunks first, then larger: the caller starts work sooner, and each chunk is
        # read in the time the caller takes over the previous one.
        wanted = chunk_rows / 4
        for batch in self._batches():
            pending.append(batch)
            parsed += batch.num_rows
            if sum(b.num_rows for b in pending) >= wanted:
                yield self._chunk(pending, sha256)
                pending, wanted = [], min(2 * wanted, chunk_rows)
        nothing = parsed == 0 and not self.rows.ragged
        if nothing and not allow_empty:
            raise InputError(self.name, "the file has a header but no data rows", "Check that the export or download finished")
        if pending or self.rows.unreported or nothing:
            yield self._chunk(pending, sha256)

    def _batches(self) -> Iterator[pa.RecordBatch]:
        """The file's rows as pyarrow parses them. Read again with large blocks if a row is
        longer than a block, skipping the rows (and ragged rows) already handed out."""
        handed_out = 0
        for block_size in (_BLOCK_SIZE, _LONG_ROW_BLOCK_SIZE):
            passed = 0
            try:
                for batch in self._parsed(block_size):
                    fresh = batch.slice(min(max(handed_out - passed, 0), batch.num_rows))
                    passed += batch.num_rows
                    handed_out += fresh.num_rows
                    if fresh.num_rows:
                        yield fresh
                return
            except pa.ArrowInvalid as exc:
                if "straddling" in str(exc) and block_size < _LONG_ROW_BLOCK_SIZE:
                    continue
                if "Empty CSV file" not in str(exc):  # nothing after the header: no rows, not a parse error
                    raise self._parse_error(exc) from None
                return

    def _parsed(self, block_size: int) -> Iterator[pa.RecordBatch]:
        known = len(self.rows.ragged)  # ragged rows met on an earlier reading
        met = 0

        def on_ragged_row(row) -> str:
            nonlocal met
            met += 1
            if met > known:
                self.rows.ragged.append(row.text[:200])
            return "skip"

        try:
            with _to_parse(self.path) as stream:
                yield from pacsv.open_csv(stream, **self._options(on_ragged_row, block_size))
        except (*_DAMAGED, OSError) as exc:  # pyarrow's gzip says OSError: Truncated compressed stream
            raise _damaged(self.path.name, exc) from None

    def _options(self, on_ragged_row, block_size: int) -> dict:
        return {
            # Not pyarrow's own threads: they read ahead without limit, and this reading has a thread
            # of its own (see _ReadAhead), which waits while the caller is a chunk behind.
            # skip_rows: the header, read and checked already.
            "read_options": pacsv.ReadOptions(column_names=self.header, skip_rows=1, block_size=block_size, use_threads=False),
            "parse_options": pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_ragged_row),
            "convert_options": pacsv.ConvertOptions(
                # pandas holds text as large_string: parsed as such, nothing is copied to hand it over.
                column_types={c: pa.large_string() for c in self.header},
                # Only an empty field is missing: text such as "NA" or "null" stays as given
                # (pyarrow's default would turn it into a gap, and "nan" deaths into "empty").
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        }

    def _parse_error(self, exc: pa.ArrowInvalid) -> InputError:
        message = str(exc)
        if "UTF8" in message or "utf8" in message or "UTF-8" in message:
            return _not_utf8_error(self.name, self.path, self.columns, message)
        return InputError(self.name, f"the CSV cannot be parsed ({exc})", "Check that it is a comma-separated export")

    def _chunk(self, batches: list[pa.RecordBatch], sha256: str) -> RawTable:
        table = pa.Table.from_batches(batches, schema=pa.schema([(c, pa.large_string()) for c in self.header]))
        frame = table.to_pandas(types_mapper={pa.large_string(): pd.StringDtype("pyarrow")}.get)
        frame.columns = self.columns
        frame.index, ragged = self.rows.next_chunk(len(frame))
        return RawTable(self.name, frame, sha256, ragged)


def _not_utf8_error(name: str, path: Path, columns: list[str], message: str) -> InputError:
    """Name the row and column that hold the bytes (pyarrow says 'In CSV column #3: ...')."""
    found = re.search(r"column #(\d+)", message)
    column = columns[int(found.group(1))] if found and int(found.group(1)) < len(columns) else None
    row = _first_bad_utf8_row(path, columns.index(column)) if column else None
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


def _shown(text: pd.Series, mask: pd.Series) -> pd.Series:
    """The masked rows' values as a reason quotes them ('twelve'); only those rows are
    formatted (a handful, where formatting every row would cost seconds per million)."""
    return text[mask.fillna(False).astype(bool)].astype("object").fillna("").map(repr)


def _as_float(text: pd.Series) -> pd.Series:
    """pd.to_numeric(text, errors="coerce") as float64. Arrow's cast gives the same numbers
    (it is what pandas calls, with more overhead) but stops at the first text that is not one:
    a column holding such text goes to pandas, which makes it missing."""
    try:
        values = pc.cast(pa.array(text, from_pandas=True), pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return pd.to_numeric(text, errors="coerce").astype("float64")
    return pd.Series(values, index=text.index)


def _as_dates(text: pd.Series) -> pd.Series:
    """pd.to_datetime(text, format="%Y-%m-%d", errors="coerce"). Where every text is such a
    date (or empty) and within the range of datetime64[ns], Arrow's strict parse gives the
    same dates at a fraction of the cost; any other column goes to pandas."""
    values = pa.array(text, from_pandas=True)
    try:
        days = pc.cast(pc.if_else(pc.equal(values, ""), None, values), pa.date32()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        days = None
    if days is not None and _within_ns_range(days):
        return pd.Series(days.astype("datetime64[ns]"), index=text.index)
    return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")


def _within_ns_range(days: np.ndarray) -> bool:
    """Compared as days: in nanoseconds a date such as 0216-05-01 would overflow."""
    known = days[~np.isnat(days)]
    first, last = (np.datetime64(d.date(), "D") for d in (_FIRST_DATE, _LAST_DATE))
    return not ((known < first).any() or (known > last).any())


def _is_empty(text: pd.Series) -> np.ndarray:
    """Missing or blank, as a numpy mask."""
    return text.isna().to_numpy() | (text == "").fillna(False).to_numpy(dtype=bool)


def _strings(values: pd.Series) -> pa.Array:
    array = pa.array(values, type=pa.string(), from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


class SeenIds:
    """The ids met in the earlier chunks of a file, with the row where each was first seen,
    so that a duplicate is found wherever its first copy was. Held as Arrow arrays: a few
    bytes per id, where a Python dict would take a hundred.

    While every id is a whole number written plainly (UCDP's are), they are also held as a
    sorted array of numbers, searched by bisection: Arrow's lookup would hash every id seen so
    far again at each chunk (most of the data step's time at 2.5 million events)."""

    def __init__(self):
        self._ids: list[pa.Array] = []
        self._rows: list[np.ndarray] = []
        self._numbers: np.ndarray | None = np.empty(0, np.int64)  # sorted; None once an id is not a plain number
        self._number_rows = np.empty(0, np.int64)  # the row of each of _numbers

    def first_rows(self, ids: pd.Series) -> pd.Series:
        """For each id the row where an earlier chunk had it (missing if none did)."""
        rows = np.full(len(ids), np.nan)
        present = ids.notna().to_numpy()
        if self._ids and present.any():
            rows[present] = self._first_rows(_strings(ids[present]))
        return pd.Series(rows, index=ids.index)

    def _first_rows(self, ids: pa.Array) -> np.ndarray:
        numbers = _plain_numbers(ids) if self._numbers is not None else None
        if numbers is not None:
            at = np.minimum(np.searchsorted(self._numbers, numbers), max(len(self._numbers) - 1, 0))
            found = (self._numbers[at] == numbers) if len(self._numbers) else np.zeros(len(numbers), dtype=bool)
            return np.where(found, self._number_rows[at] if len(self._numbers) else 0, np.nan)
        known = pa.concat_arrays(self._ids)
        self._ids = [known]  # concatenated once, not at every chunk
        self._rows = [np.concatenate(self._rows)]
        position = pc.index_in(ids, value_set=known).to_numpy(zero_copy_only=False)
        found = ~np.isnan(position)
        rows = np.full(len(ids), np.nan)
        rows[found] = self._rows[0][position[found].astype(np.int64)]
        return rows

    def add(self, ids: pd.Series) -> None:
        """Ids first met in this chunk (each once, with its row)."""
        text, rows = _strings(ids), ids.index.to_numpy(np.int64)
        self._ids.append(text)
        self._rows.append(rows)
        numbers = _plain_numbers(text) if self._numbers is not None else None
        if numbers is None:
            self._numbers = None
            return
        # A stable sort of the sorted numbers followed by the new ones: numpy's timsort merges the runs.
        merged = np.concatenate([self._numbers, numbers])
        order = np.argsort(merged, kind="stable")
        self._numbers, self._number_rows = merged[order], np.concatenate([self._number_rows, rows])[order]


def _plain_numbers(ids: pa.Array) -> np.ndarray | None:
    """The ids as int64 when each is a whole number written plainly (so two ids are the same
    text exactly when they are the same number: not '05' beside '5'); None otherwise."""
    try:
        numbers = pc.cast(ids, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if numbers.null_count or not pc.all(pc.equal(pc.cast(numbers, pa.string()), ids)).as_py():
        return None
    return numbers.to_numpy()


def _longest_in_bytes(values: pd.Series) -> int:
    lengths = pc.binary_length(pa.array(values, from_pandas=True))
    return pc.max(lengths).as_py() or 0


WHOLE_ROW = "(whole row)"  # the column of a quarantined row the parser could not split


def quarantined_in_file_order(chunks: list[pd.DataFrame]) -> pd.DataFrame:
    """A file's quarantined rows from its chunks' rejected frames, ordered as one frame of the
    whole file lists them: the rows with a bad value, then the rows the parser could not split.
    Chunks with no such row are left out, unless none has one: an empty frame still carries
    the file's columns."""
    chunks = [c for c in chunks if len(c)] or chunks[:1]
    if len(chunks) == 1:
        return chunks[0]
    rows = pd.concat(chunks, ignore_index=True)
    unsplit = rows["column"].eq(WHOLE_ROW).to_numpy()
    return pd.concat([rows[~unsplit], rows[unsplit]], ignore_index=True)


class RowChecks:
    """Collects, per row, the first reason it is unusable. Vectorised: one mask per check."""

    def __init__(self, raw: RawTable, source: str):
        self.raw, self.source = raw, source
        self.reject_column = pd.Series(pd.NA, index=raw.frame.index, dtype="object")
        self.reject_reason = pd.Series(pd.NA, index=raw.frame.index, dtype="object")
        self._open = np.ones(len(raw.frame), dtype=bool)  # rows with no reason yet

    def reject(self, mask: pd.Series, column: str, reason: str | pd.Series) -> None:
        mask = mask.fillna(False).to_numpy(dtype=bool) & self._open
        if not mask.any():
            return
        self._open &= ~mask
        self.reject_column[mask] = column
        # A reason Series may hold only the rows it is for (see _shown).
        self.reject_reason[mask] = reason.reindex(self.reject_reason.index[mask]).to_numpy() if isinstance(reason, pd.Series) else reason

    @property
    def kept(self) -> pd.Series:
        return pd.Series(self._open, index=self.raw.frame.index)

    def rejected_frame(self) -> pd.DataFrame:
        bad = ~self.kept
        head = pd.DataFrame({
            "source": self.source,
            "file": self.raw.name,  # several files can feed one source (curated, ACLED exports)
            "row_number": self.raw.frame.index[bad],
            "column": self.reject_column[bad].to_numpy(),
            "reason": self.reject_reason[bad].to_numpy(),
        })
        originals = (self.raw.frame[bad] if bad.any() else self.raw.frame.iloc[:0]).reset_index(drop=True).astype("object")
        # A source column named like one of ours (ACLED has `source`) stays as it is here: its
        # adapter renames it (acled.rejected_rows), so the two columns may share a name for now.
        rows = pd.concat([head, originals], axis=1)
        # Rows the CSV parser could not even split into the header's columns.
        if self.raw.ragged_rows:
            ragged = pd.DataFrame({
                "source": self.source,
                "file": self.raw.name,
                "row_number": [n if n is not None else pd.NA for n, _ in self.raw.ragged_rows],
                "column": WHOLE_ROW,
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
            if _longest_in_bytes(self.raw.frame[column]) <= MAX_FIELD_CHARS:
                continue  # no more characters than bytes: nothing to count
            lengths = self.raw.frame[column].str.len()
            self.reject(lengths > MAX_FIELD_CHARS, column, f"field longer than {MAX_FIELD_CHARS:,} characters (an unclosed quote?)")

    def count(self, column: str, required: bool = True) -> pd.Series:
        """Whole numbers >= 0 (deaths, strikes). Text or negatives quarantine the row."""
        text = self.raw.frame[column].str.strip()
        number = _as_float(text).to_numpy()  # the masks in numpy: a tenth of pandas' cost per step
        empty = _is_empty(text)
        finite = np.isfinite(number)
        rows = partial(pd.Series, index=text.index)
        not_whole = rows(~empty & (~finite | (number != np.floor(number))))  # inf, nan, 2.5
        negative, too_large = rows(~empty & (number < 0)), rows(~empty & (number >= MAX_COUNT))
        self.reject(not_whole, column, "not a whole number: " + _shown(text, not_whole))
        self.reject(negative, column, "negative: " + _shown(text, negative))
        self.reject(too_large, column, f"too large to be a count (at least {MAX_COUNT:,}): " + _shown(text, too_large))
        if required:
            self.reject(rows(empty), column, "empty, but a number is required")
        usable = finite & (np.abs(number) < MAX_COUNT)
        # What number.where(usable).astype("Float64").round().astype("Int64") gives, in one step.
        return rows(pd.arrays.IntegerArray(np.where(usable, np.round(number), 0).astype(np.int64), ~usable))

    def code(self, column: str, valid: tuple[int, ...]) -> pd.Series:
        number = self.count(column)
        self.reject(~number.isin(valid), column, f"not one of the codebook values {', '.join(map(str, valid))}")
        return number

    def coordinate(self, column: str, limit: float, required: bool) -> pd.Series:
        text = self.raw.frame[column].str.strip()
        number = _as_float(text)
        empty = text.isna() | (text == "")
        self.reject(~empty & number.isna(), column, "not a number")
        self.reject(number.abs() > limit, column, f"outside -{limit:g}..{limit:g}")
        if required:
            self.reject(empty, column, "empty, but coordinates are required")
        return number

    def date(self, column: str, required: bool = True) -> pd.Series:
        """ISO dates only (YYYY-MM-DD); an impossible date such as 2016-02-30 quarantines the row."""
        text = self.raw.frame[column].str.strip()
        parsed = _as_dates(text)
        empty = text.isna() | (text == "")
        unreal = ~empty & parsed.isna()
        self.reject(unreal, column, "not a real date in YYYY-MM-DD form: " + _shown(text, unreal))
        outside = parsed.notna() & ~parsed.between(_FIRST_DATE, _LAST_DATE)
        self.reject(outside, column, f"outside {_FIRST_DATE:%Y-%m-%d}..{_LAST_DATE:%Y-%m-%d} (a typo in the year?): " + _shown(text, outside))
        if required:
            self.reject(empty, column, "empty, but a date is required")
        return parsed.where(~outside).astype("datetime64[ns]")

    def unique_ids(self, column: str, seen: SeenIds | None = None) -> None:
        """An id met before (in this chunk, or in an earlier one `seen` remembers) quarantines the row."""
        ids = self.raw.frame[column].str.strip()  # ' 5' and '5' become the same event id
        earlier = seen.first_rows(ids) if seen is not None else pd.Series(np.nan, index=ids.index)
        again = ids.duplicated(keep="first") & ids.notna()
        if seen is not None:
            seen.add(ids[~again & earlier.isna() & ids.notna()])
        duplicated = again | earlier.notna()
        if duplicated.any():
            first_here = pd.Series(ids.index, index=ids.index).groupby(ids).transform("min")
            first_row = earlier.fillna(first_here)[duplicated].astype("int64")
            self.reject(duplicated, column, "duplicate id " + ids[duplicated].astype("object").map(str) + " (first seen at row " + first_row.astype(str) + ")")

    def date_order(self, start: pd.Series, end: pd.Series, end_column: str) -> None:
        self.reject(end < start, end_column, "end date before start date")
