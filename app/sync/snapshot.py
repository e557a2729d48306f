"""Streams a fetched table into a new snapshot of a target file, then diffs it.

Runs in a worker thread, which keeps fetching while the batches flow through two more
threads, each a stage of a pipeline with a bounded queue in front (app/sync/prefetch.py):
the first renders a batch, makes its CSV text and hashes its rows and keys; the second
writes the CSV text (hashing it for the checksum) and the Parquet snapshot. A third thread
reads the previous snapshot's side of the diff meanwhile: it needs none of the new rows.
Rendering, CSV, Parquet, zstd and SHA-256 run in C with the GIL released, so the stages
overlap on separate cores; only the per-row calls of row hashing hold it. Each batch is
dropped once written, so a million-row table never sits in memory whole; only keys and
hashes stay, on disk. Nothing here is visible to readers until `publish` renames the
staged files into place.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from app.sync.csv_store import CsvStore
from app.sync.csv_text import csv_lines, header_bytes
from app.sync.diff import (
    ChangeSet,
    RepeatedKeys,
    check_repeats,
    empty_keys,
    empty_keys_problem,
    key_hashes,
    keyed_diff,
    keyed_records,
    ordered_diff,
    repeated_keys_problem,
    row_hashes,
)
from app.sync.formulas import escape_formulas
from app.sync.headers import normalise_headers
from app.sync.key_partitions import PartitionedRecords
from app.sync.prefetch import process_while_fetching
from app.sync.previous_snapshot import PreviousSnapshot
from app.sync.render import render_batch
from app.sync.row_hashes_file import RowHashesFile, StoredRowHashes
from connectors.base import ConfigError, Table

UTF8_BOM = b"\xef\xbb\xbf"

# Batches that may wait in front of each stage: enough to ride out a slow batch on either
# side, few enough that memory does not grow with the table (a batch is at most ~50k rows).
BATCHES_AHEAD = 2
# Rows per Parquet row group at most; change sets read one row group at a time.
ROW_GROUP_ROWS = 65_536
# Empty or repeated keys an error names at most.
KEY_EXAMPLES = 3

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
    thread that ran it. The steps run on four threads (each step on one of them only), so
    they add up to more than the wall time of the whole when they overlap."""

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

    previous: PreviousSnapshot
    shared: list[str]  # the columns both snapshots have
    keyed: PartitionedRecords | None  # None: rows are aligned in order instead
    _hashes: np.ndarray | None = None

    def hashes(self) -> np.ndarray:
        """A hash per old row over the shared columns, in row order."""
        if self._hashes is None:
            self._hashes = _old_hashes(self.previous, self.shared)
        return self._hashes


class _SnapshotWriter:
    """Turns fetched batches, in order, into the staged CSV, Parquet and row hashes files
    and what the diff needs of the new rows: with a key, their keyed records on disk;
    without one, their hashes. `rendered` runs on one thread and `write_files` on another."""

    def __init__(
        self,
        columns: list[str],
        fmt: CsvFormat,
        csv: _HashingSink,
        parquet: pq.ParquetWriter,
        stored_hashes: RowHashesFile,
        compared: list[list[str]],
        keyed: PartitionedRecords | None,
        key_columns: list[str],
        steps: StepTimes,
    ) -> None:
        self.columns = columns
        self.fmt = fmt
        self.csv = csv
        self.parquet = parquet
        self.stored_hashes = stored_hashes
        self.compared = compared  # column sets to hash rows over: shared, then all if other
        self.keyed = keyed
        self.key_columns = key_columns
        self.steps = steps
        self.hashes: list[np.ndarray] = []  # over the shared columns, without a key only
        self.empty_keys = 0
        self.first_empty_keys: list[int] = []
        self.row_count = 0

    def rendered(
        self, batches: Iterator[pa.RecordBatch]
    ) -> Iterator[tuple[pa.RecordBatch, pa.Buffer]]:
        """Each fetched batch rendered, with its CSV lines, for `write_files`; its rows and
        keys are hashed while the files are written."""
        steps = self.steps
        for raw in _timed(batches, steps, "waiting for the fetch"):
            if raw.num_columns != len(self.columns):
                raise ConfigError(
                    f"the source returned {raw.num_columns} columns in a row block, expected {len(self.columns)}"
                )
            with steps.timing("render"):
                batch = render_batch(raw, self.columns)
                if self.fmt.escape_formulas:
                    batch = pa.RecordBatch.from_arrays(
                        [escape_formulas(column) for column in batch.columns], schema=batch.schema
                    )
            with steps.timing("csv"):
                lines = csv_lines(batch, self.fmt.delimiter)
            yield batch, lines
            with steps.timing("row hashes"):
                self._hash(batch)
            self.row_count += batch.num_rows

    def _hash(self, batch: pa.RecordBatch) -> None:
        shared = row_hashes(batch, self.compared[0])
        self.stored_hashes.write(
            row_hashes(batch, self.compared[1]) if len(self.compared) > 1 else shared
        )
        if self.keyed is None:
            self.hashes.append(shared)
        else:
            self._check_keys(batch)
            keys = key_hashes(batch, self.key_columns)
            self.keyed.append(keyed_records(keys, shared, self.row_count))

    def write_files(self, rendered: Iterator[tuple[pa.RecordBatch, pa.Buffer]]) -> None:
        steps = self.steps
        for batch, lines in _timed(rendered, steps, "waiting for rendering"):
            with steps.timing("write csv"):
                self.csv.write(lines)
            with steps.timing("parquet"):
                self.parquet.write_batch(batch, row_group_size=ROW_GROUP_ROWS)

    def _check_keys(self, batch: pa.RecordBatch) -> None:
        empty = np.flatnonzero(empty_keys(batch, self.key_columns))
        self.empty_keys += len(empty)
        wanted = KEY_EXAMPLES - len(self.first_empty_keys)
        self.first_empty_keys += (empty[:wanted] + self.row_count).tolist()

    def new_hashes(self) -> np.ndarray:
        """A hash per new row over the shared columns, in row order."""
        if self.keyed is not None:
            return self.keyed.value_hashes()
        return np.concatenate(self.hashes) if self.hashes else np.empty(0, np.uint64)


Item = TypeVar("Item")


def _timed(items: Iterator[Item], steps: StepTimes, step: str) -> Iterator[Item]:
    """`items`, the wait for each one timed as `step`. Closing this closes `items` too,
    which is what makes a connector release its connection when the run stops early."""
    try:
        while True:
            with steps.timing(step):
                item = next(items, None)
            if item is None:
                return
            yield item
    finally:
        close = getattr(items, "close", None)
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
    # The keyed records of each side, while staging; never published.
    new_keyed = PartitionedRecords(store.temp_path(file_id, ".keys")) if key_columns else None
    old_keyed = (
        PartitionedRecords(store.temp_path(file_id, ".previous-keys"))
        if key_columns and previous is not None and set(key_columns) <= set(previous.columns)
        else None
    )
    stored_hashes = RowHashesFile(hashes_path)
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
                    stored_hashes,
                    [shared] if every == shared else [shared, every],
                    new_keyed,
                    key_columns,
                    steps,
                )

                stop_reading = threading.Event()

                def read_previous() -> _PreviousSide | None:
                    with steps.timing("previous snapshot"):
                        return _previous_side(
                            previous, shared, key_columns, old_keyed, stop_reading
                        )

                def process(batches: Iterator[pa.RecordBatch]) -> _PreviousSide | None:
                    with ThreadPoolExecutor(1, thread_name_prefix="sync-previous") as pool:
                        side = pool.submit(contextvars.copy_context().run, read_previous)
                        try:
                            process_while_fetching(
                                writer.rendered(_until_failed(batches, side)),
                                writer.write_files,
                                BATCHES_AHEAD,
                                thread_name="sync-writing",
                            )
                        except BaseException:
                            stop_reading.set()  # leaving the pool waits for the reading
                            raise
                        with steps.timing("waiting for the previous snapshot"):
                            return side.result()

                previous_side = process_while_fetching(
                    _timed(table.batches, steps, "fetch"), process, BATCHES_AHEAD
                )
        checksum, size = sink.sha256.hexdigest(), sink.size
        stored_hashes.finish()
        on_phase("diffing")
        with steps.timing("diff"):
            changes = _diff(previous, previous_side, columns, writer, parquet_path)
    except BaseException:
        stored_hashes.close()
        for path in (csv_path, parquet_path, hashes_path):
            path.unlink(missing_ok=True)
        raise
    finally:
        for records in (new_keyed, old_keyed):
            if records is not None:
                records.close()
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


def _until_failed(
    batches: Iterator[pa.RecordBatch], previous_side: Future[_PreviousSide | None]
) -> Iterator[pa.RecordBatch]:
    """`batches`, until the previous snapshot's side fails to read: then its error, rather
    than after the whole table has been fetched and written for nothing."""
    for batch in batches:
        if previous_side.done():
            previous_side.result()  # raises the reading's error, if any
        yield batch


def _previous_side(
    previous: PreviousSnapshot | None,
    shared: list[str],
    key_columns: list[str],
    keyed: PartitionedRecords | None,
    stop: threading.Event,
) -> _PreviousSide | None:
    if previous is None:
        return None
    side = _PreviousSide(previous, shared, keyed)
    if keyed is None:
        side.hashes()  # aligned in order: all of them are needed
    else:
        _write_old_records(previous, shared, key_columns, keyed, stop)
    return side


def _write_old_records(
    previous: PreviousSnapshot,
    shared: list[str],
    key_columns: list[str],
    records: PartitionedRecords,
    stop: threading.Event,
) -> None:
    """The previous snapshot's keyed records, from its key columns and its stored row
    hashes, or, when columns were added or removed, from its rows over the shared ones.
    Ends early once `stop` is set: the run has failed, and holds its source's connection
    open until this returns."""
    stored = StoredRowHashes(previous.hashes) if sorted(previous.columns) == shared else None
    wanted = key_columns if stored else sorted(set(key_columns) | set(shared))
    try:
        parquet = pq.ParquetFile(previous.parquet)
        for batch in parquet.iter_batches(batch_size=ROW_GROUP_ROWS, columns=wanted):
            if stop.is_set():
                return
            values = stored.read(batch.num_rows) if stored else row_hashes(batch, shared)
            keys = key_hashes(batch, key_columns)
            records.append(keyed_records(keys, values, records.count))
    finally:
        if stored is not None:
            stored.close()


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
    side: _PreviousSide | None,
    columns: list[str],
    writer: _SnapshotWriter,
    staged_parquet: Path,
) -> ChangeSet:
    keyed = _keyed_diff(side, writer, staged_parquet) if writer.keyed is not None else None
    if previous is None or side is None:
        return ChangeSet(
            added=np.arange(writer.row_count, dtype=np.int64),
            updated=np.empty(0, np.int64),
            deleted=np.empty(0, np.int64),
        )
    changes = keyed if keyed is not None else ordered_diff(side.hashes(), writer.new_hashes())
    changes.columns_added = [c for c in columns if c not in previous.columns]
    changes.columns_removed = [c for c in previous.columns if c not in columns]
    return changes


def _keyed_diff(
    side: _PreviousSide | None, writer: _SnapshotWriter, staged_parquet: Path
) -> ChangeSet | None:
    """The keyed diff, after the new keys are checked (empty, then repeated: also when
    there is nothing to diff against). None when rows are to be aligned in order: the old
    rows lack a key column or repeat a key."""
    assert writer.keyed is not None
    if writer.empty_keys:
        problem = empty_keys_problem(writer.key_columns, writer.empty_keys, writer.first_empty_keys)
        raise ConfigError(str(problem), field="config.primaryKey")
    old = side.keyed if side is not None else None
    try:
        if old is None:
            check_repeats(writer.keyed)
            return None
        return keyed_diff(zip(old, writer.keyed, strict=True))
    except RepeatedKeys as repeated:
        keys = pq.read_table(staged_parquet, columns=writer.key_columns)
        problem = repeated_keys_problem(
            keys.take(pa.array(repeated.rows, pa.int64())), repeated.distinct, KEY_EXAMPLES
        )
        raise ConfigError(str(problem), field="config.primaryKey") from None
