"""A Parquet file sorted by date, written from tables that arrive in any order and that
together need not fit in memory (the event table of millions of rows).

Each added table is split by the calendar month of its first sort key and spilled to a
temporary Arrow file; finish() then reads the months back one at a time, sorts each by the
keys and appends it to the Parquet file. Memory holds one month's rows (and one row group),
not the table; the spill files sit in a hidden folder (beside the target, when the caller says
so, where atomic.remove_leftovers finds it after a run that was killed) until the writer closes."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from conflict_report import atomic

ROW_GROUP_ROWS = 128 * 1024  # rows per Parquet row group: about 100 MB of events at most


class SortedParquetWriter:
    def __init__(self, schema: pa.Schema, sort_keys: list[str], unique: str | None = None, spill_in: Path | None = None):
        """sort_keys[0] is a timestamp column; `unique` names a column whose values must differ;
        spill_in: the folder for the spill folder (default: the system's temporary folder)."""
        self.schema, self.sort_keys, self.unique = schema, sort_keys, unique
        if spill_in is not None:
            spill_in.mkdir(parents=True, exist_ok=True)
        self._spill = tempfile.TemporaryDirectory(prefix=".spill-", suffix=".tmp", dir=spill_in)
        self._parts: dict[int, list[tuple[Path, range]]] = defaultdict(list)  # month -> (spill file, its batches)
        self._unique_values: list[pa.ChunkedArray] = []
        self._spilled = 0  # spill files written
        self.rows = 0
        # Spilling (Arrow, mostly without the GIL) runs beside the caller's work on the next table.
        self._spiller = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spill")
        self._spilling: Future | None = None

    def __enter__(self) -> SortedParquetWriter:
        return self

    def __exit__(self, *exc) -> None:
        self._spiller.shutdown()
        self._spill.cleanup()

    def add(self, frame: pd.DataFrame) -> None:
        """Spill the frame's rows, grouped by month; nothing is kept in memory (but the frame,
        until it is spilled: the next add waits for that)."""
        if frame.empty:
            return
        self._wait_for_spill()
        self._spilling = self._spiller.submit(self._spill_frame, frame)
        self.rows += len(frame)

    def _wait_for_spill(self) -> None:
        if self._spilling is not None:
            self._spilling.result()  # raises what the spill raised

    def _spill_frame(self, frame: pd.DataFrame) -> None:
        months = frame[self.sort_keys[0]].to_numpy().astype("datetime64[M]").astype(np.int64)
        table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        if np.any(np.diff(months) < 0):  # sources usually come in date order: then nothing moves
            order = np.argsort(months, kind="stable")
            table, months = table.take(order), months[order]
        if self.unique:
            self._unique_values.append(table[self.unique])
        self._spilled += 1
        path = Path(self._spill.name) / f"{self._spilled}.arrow"
        starts = np.flatnonzero(np.diff(months, prepend=months[0] - 1))
        written = 0
        with ipc.new_file(path, self.schema) as spill:
            for start, end in zip(starts, [*starts[1:], len(months)]):
                batches = table.slice(start, end - start).to_batches()
                for batch in batches:
                    spill.write_batch(batch)
                self._parts[int(months[start])].append((path, range(written, written + len(batches))))
                written += len(batches)

    def finish(self, target: Path) -> None:
        """Write every row added, sorted, to target (atomically). Parquet's encoding of one row
        group (a thread, without the GIL) overlaps the reading and sorting of the next; the ids
        are checked meanwhile, and a repeated one stops the write before target is replaced."""
        self._wait_for_spill()
        with ThreadPoolExecutor(max_workers=2) as pool:
            unique = pool.submit(self._check_unique)
            with atomic.atomic_path(target) as partial, pq.ParquetWriter(partial, self.schema, compression="zstd") as parquet:
                writing = None
                for group in self._row_groups():
                    if writing:
                        writing.result()  # one group waits at most: memory holds two
                    writing = pool.submit(parquet.write_table, group, row_group_size=ROW_GROUP_ROWS)
                if writing:
                    writing.result()
                unique.result()

    def _row_groups(self) -> Iterator[pa.Table]:
        """The rows, sorted, in tables of at least ROW_GROUP_ROWS (the last may hold fewer; a
        table of nothing at all still carries the schema)."""
        readers: dict[Path, ipc.RecordBatchFileReader] = {}
        waiting: list[pa.Table] = []
        for month in sorted(self._parts):
            waiting.append(self._sorted_month(month, readers))
            if sum(t.num_rows for t in waiting) >= ROW_GROUP_ROWS:
                yield pa.concat_tables(waiting)
                waiting = []
        if waiting or not self._parts:
            yield pa.concat_tables(waiting) if waiting else self.schema.empty_table()

    def _sorted_month(self, month: int, readers: dict) -> pa.Table:
        batches = []
        for path, numbers in self._parts.pop(month):
            if path not in readers:
                readers[path] = ipc.open_file(pa.OSFile(str(path)))  # read, not mapped: memory freed per month
            batches += [readers[path].get_batch(number) for number in numbers]
        table = pa.Table.from_batches(batches, self.schema)
        order = pc.sort_indices(table, [(key, "ascending") for key in self.sort_keys])
        # Sources usually come in date order: then most months need no reordering.
        return table if pc.all(pc.equal(order, pa.array(np.arange(len(order), dtype=np.uint64)))).as_py() else table.take(order)

    def _check_unique(self) -> None:
        if not self.unique or not self._unique_values:
            return
        values = pa.chunked_array([chunk for column in self._unique_values for chunk in column.chunks], self.schema.field(self.unique).type)
        if len(pc.unique(values)) != len(values):
            counts = pc.value_counts(values)
            repeated = counts.filter(pc.greater(counts.field("counts"), 1)).field("values")[:5].to_pylist()
            raise ValueError(f"{self.unique} is not unique: {', '.join(map(repr, repeated))} appear more than once")
