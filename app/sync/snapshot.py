"""Streams a fetched table into a new snapshot of a target file, then diffs it.

Runs in a worker thread, which keeps fetching while a second thread processes what was
fetched (app/sync/prefetch.py). Each batch goes normalise → (CSV, Parquet, row hashes, key
hashes) and is dropped, so a million-row table never sits in memory whole; only keys and
hashes stay. The previous snapshot's side of the diff is read while the first batches are
on their way. Nothing here is visible to readers until `publish` renames the staged files
into place.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from app.sync.csv_store import CsvStore
from app.sync.csv_text import csv_lines, header_bytes
from app.sync.diff import (
    ChangeSet,
    KeyedRows,
    KeyProblem,
    check_keys,
    keyed_diff,
    ordered_diff,
    row_hashes,
)
from app.sync.formulas import escape_formulas
from app.sync.headers import normalise_headers
from app.sync.prefetch import process_while_fetching
from app.sync.previous_snapshot import PreviousSnapshot
from app.sync.render import render_batch
from connectors.base import ConfigError, Table

UTF8_BOM = b"\xef\xbb\xbf"

# Fetched batches that may wait for processing: enough to ride out a slow batch on either
# side, few enough that memory does not grow with the table (a batch is at most ~50k rows).
BATCHES_AHEAD = 2
# Rows per Parquet row group at most; change sets read one row group at a time.
ROW_GROUP_ROWS = 65_536

log = logging.getLogger("datasync.sync.steps")


@dataclass(frozen=True, slots=True)
class CsvFormat:
    delimiter: str = ","
    encoding: str = "utf-8"  # or utf-8-sig: with a BOM, for Excel
    header: bool = True
    escape_formulas: bool = False  # see app/sync/formulas.py


@dataclass(slots=True)
class StagedSnapshot:
    columns: list[str]
    row_count: int
    checksum: str
    size_bytes: int
    csv: Path
    parquet: Path
    hashes: Path
    changes: ChangeSet

    def discard(self) -> None:
        for path in (self.csv, self.parquet, self.hashes):
            path.unlink(missing_ok=True)


class _HashingSink:
    """Writes to a file and hashes what it writes, to avoid reading the file again."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | pa.Buffer) -> None:
        self.sha256.update(data)
        self.size += len(memoryview(data))
        self.handle.write(data)


def _key_columns(primary_key: object) -> list[str]:
    if isinstance(primary_key, str):
        return [primary_key]
    if isinstance(primary_key, list):
        return [str(k) for k in primary_key]
    return []


@dataclass(slots=True)
class StepTimes:
    """Where staging's time goes: per step, seconds of wall time and of CPU time of the
    thread that ran it. Fetching runs on one thread and the other steps on another, so the
    steps add up to more than the wall time of the whole when they overlap."""

    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timing(self, step: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.wall[step] = self.wall.get(step, 0.0) + time.perf_counter() - wall
            self.cpu[step] = self.cpu.get(step, 0.0) + time.thread_time() - cpu


@dataclass(slots=True)
class _PreviousSide:
    """What the diff needs of the previous snapshot."""

    hashes: np.ndarray  # a hash per old row over the columns both snapshots share
    keyed: KeyedRows | None  # None: rows are aligned in order instead


class _SnapshotWriter:
    """Turns fetched batches, in order, into the staged CSV and Parquet files and the row
    hashes and keys the diff needs. Runs on the processing thread."""

    def __init__(
        self,
        columns: list[str],
        fmt: CsvFormat,
        csv: _HashingSink,
        parquet: pq.ParquetWriter,
        compared: list[list[str]],
        key_columns: list[str],
        steps: StepTimes,
    ) -> None:
        self.columns = columns
        self.fmt = fmt
        self.csv = csv
        self.parquet = parquet
        self.compared = compared  # column sets to hash rows over: shared, then all if other
        self.key_columns = key_columns
        self.steps = steps
        self.hashes: list[list[np.ndarray]] = [[] for _ in compared]
        self.keys: list[pa.RecordBatch] = []
        self.key_hashes: list[np.ndarray] = []
        self.row_count = 0

    def write_all(self, batches: Iterator[pa.RecordBatch]) -> None:
        while True:
            with self.steps.timing("waiting for the fetch"):
                raw = next(batches, None)
            if raw is None:
                return
            self.write(raw)

    def write(self, raw: pa.RecordBatch) -> None:
        if raw.num_columns != len(self.columns):
            raise ConfigError(
                f"the source returned {raw.num_columns} columns in a row block, expected {len(self.columns)}"
            )
        steps = self.steps
        with steps.timing("render"):
            batch = render_batch(raw, self.columns)
            if self.fmt.escape_formulas:
                batch = pa.RecordBatch.from_arrays(
                    [escape_formulas(column) for column in batch.columns], schema=batch.schema
                )
        with steps.timing("csv"):
            self.csv.write(csv_lines(batch, self.fmt.delimiter))
        with steps.timing("parquet"):
            self.parquet.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
        with steps.timing("row hashes"):
            for hashes, columns in zip(self.hashes, self.compared, strict=True):
                hashes.append(row_hashes(batch, columns))
            if self.key_columns:
                self.keys.append(batch.select(self.key_columns))
                self.key_hashes.append(row_hashes(batch, self.key_columns))
        self.row_count += batch.num_rows

    def concatenated(self, which: int) -> np.ndarray:
        parts = self.hashes[which]
        return np.concatenate(parts) if parts else np.empty(0, np.uint64)

    def keyed_rows(self, value_hashes: np.ndarray) -> KeyedRows:
        keys = (
            pa.Table.from_batches(self.keys)
            if self.keys
            else pa.table({k: pa.array([], pa.string()) for k in self.key_columns})
        )
        key_hashes = np.concatenate(self.key_hashes) if self.key_hashes else np.empty(0, np.uint64)
        return KeyedRows(keys, key_hashes, value_hashes)


def _timed(batches: Iterator[pa.RecordBatch], steps: StepTimes) -> Iterator[pa.RecordBatch]:
    """`batches`, each fetch timed. Closing this closes `batches` too, which is what makes a
    connector release its connection when the run stops early."""
    try:
        while True:
            with steps.timing("fetch"):
                batch = next(batches, None)
            if batch is None:
                return
            yield batch
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def stage_snapshot(
    table: Table,
    fmt: CsvFormat,
    previous: PreviousSnapshot | None,
    primary_key: object,
    store: CsvStore,
    file_id: uuid.UUID,
    on_phase: Callable[[str], None],
) -> StagedSnapshot:
    """Writes temp CSV/Parquet/hash files for `table` and diffs it against `previous`."""
    started = time.perf_counter()
    columns = normalise_headers(list(table.columns))
    key_columns = _key_columns(primary_key)
    missing = [k for k in key_columns if k not in columns]
    if missing:
        raise ConfigError(
            f"primaryKey column(s) {', '.join(missing)} not in the table; columns are: {', '.join(columns)}",
            field="config.primaryKey",
        )
    shared = sorted(set(columns) & set(previous.columns)) if previous else sorted(columns)
    every = sorted(columns)
    csv_path = store.temp_path(file_id, ".csv")
    parquet_path = store.temp_path(file_id, ".parquet")
    hashes_path = parquet_path.with_suffix(".hashes.npy")
    schema = pa.schema([(name, pa.string()) for name in columns])
    steps = StepTimes()
    try:
        with open(csv_path, "wb") as handle:
            sink = _HashingSink(handle)
            if fmt.encoding == "utf-8-sig":
                sink.write(UTF8_BOM)
            if fmt.header and columns:
                sink.write(header_bytes(columns, fmt.delimiter))
            with pq.ParquetWriter(
                parquet_path,
                schema,
                # Dictionary pages do not pay off for mostly-unique text: without them the
                # file is smaller and twice as fast to write and read. zstd's fastest level
                # gives the same size here as its default, in less time; nothing reads the
                # column statistics (change sets find rows by row group sizes).
                compression="zstd",
                compression_level=1,
                use_dictionary=False,
                write_statistics=False,
            ) as parquet_writer:
                writer = _SnapshotWriter(
                    columns,
                    fmt,
                    sink,
                    parquet_writer,
                    [shared] if every == shared else [shared, every],
                    key_columns,
                    steps,
                )

                def process(batches: Iterator[pa.RecordBatch]) -> _PreviousSide | None:
                    # Read while the first batches are on their way: it needs none of them.
                    with steps.timing("previous snapshot"):
                        side = _previous_side(previous, shared, key_columns)
                    writer.write_all(batches)
                    return side

                previous_side = process_while_fetching(
                    _timed(table.batches, steps), process, BATCHES_AHEAD
                )
        checksum, size = sink.sha256.hexdigest(), sink.size
        new_hashes = writer.concatenated(0)
        np.save(
            hashes_path,
            writer.concatenated(1) if every != shared else new_hashes,
            allow_pickle=False,
        )
        on_phase("diffing")
        with steps.timing("diff"):
            new_rows = _checked_keys(writer.keyed_rows(new_hashes)) if key_columns else None
            changes = _diff(previous, previous_side, columns, new_hashes, new_rows)
    except BaseException:
        for path in (csv_path, parquet_path, hashes_path):
            path.unlink(missing_ok=True)
        raise
    seconds = time.perf_counter() - started
    log.debug(
        "staged %d rows in %.2f s",
        writer.row_count,
        seconds,
        extra={
            "rows": writer.row_count,
            "seconds": seconds,
            "step_wall": steps.wall,
            "step_cpu": steps.cpu,
        },
    )
    return StagedSnapshot(
        columns, writer.row_count, checksum, size, csv_path, parquet_path, hashes_path, changes
    )


def _previous_side(
    previous: PreviousSnapshot | None, shared: list[str], key_columns: list[str]
) -> _PreviousSide | None:
    if previous is None:
        return None
    hashes = _old_hashes(previous, shared)
    return _PreviousSide(hashes, _old_keys(previous, key_columns, hashes) if key_columns else None)


def _old_hashes(previous: PreviousSnapshot, shared: list[str]) -> np.ndarray:
    if sorted(previous.columns) == shared:
        stored: np.ndarray = np.load(previous.hashes, allow_pickle=False)
        return stored
    # Columns were added or removed: rows are compared on the columns both sides have.
    parts = [
        row_hashes(b, shared)
        for b in pq.ParquetFile(previous.parquet).iter_batches(
            batch_size=ROW_GROUP_ROWS, columns=shared
        )
    ]
    return np.concatenate(parts) if parts else np.empty(0, np.uint64)


def _diff(
    previous: PreviousSnapshot | None,
    previous_side: _PreviousSide | None,
    columns: list[str],
    new_hashes: np.ndarray,
    new_rows: KeyedRows | None,
) -> ChangeSet:
    if previous is None or previous_side is None:
        return ChangeSet(
            added=np.arange(len(new_hashes), dtype=np.int64),
            updated=np.empty(0, np.int64),
            deleted=np.empty(0, np.int64),
        )
    old_rows = previous_side.keyed if new_rows is not None else None
    if new_rows is not None and old_rows is not None:
        changes = keyed_diff(old_rows, new_rows)
    else:
        changes = ordered_diff(previous_side.hashes, new_hashes)
    changes.columns_added = [c for c in columns if c not in previous.columns]
    changes.columns_removed = [c for c in previous.columns if c not in columns]
    return changes


def _checked_keys(rows: KeyedRows) -> KeyedRows:
    try:
        check_keys(rows)
    except KeyProblem as problem:
        raise ConfigError(str(problem), field="config.primaryKey") from None
    return rows


def _old_keys(
    previous: PreviousSnapshot, key_columns: list[str], hashes: np.ndarray
) -> KeyedRows | None:
    """The previous snapshot's keys, or None when they cannot serve (the key column is new,
    or the user switched to a key the old rows do not hold uniquely): then rows are aligned
    in order instead."""
    if not set(key_columns) <= set(previous.columns):
        return None
    rows = KeyedRows.of(pq.read_table(previous.parquet, columns=key_columns), hashes)
    # Built here, while the first batches are on their way, the index the diff looks new
    # keys up in also tells at once that the old keys are unique.
    if rows.index.is_unique or not rows.duplicated().any():
        return rows
    return None
