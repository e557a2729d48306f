"""Streams a fetched table into a new snapshot of a target file, then diffs it.

Runs in a worker thread. Each batch goes fetch → normalise → (CSV, Parquet, row hashes) and
is dropped, so a million-row table never sits in memory whole; only keys and hashes stay.
Nothing here is visible to readers until `publish` renames the staged files into place.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
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
from app.sync.render import render_batch
from connectors.base import ConfigError, Table

UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class CsvFormat:
    delimiter: str = ","
    encoding: str = "utf-8"  # or utf-8-sig: with a BOM, for Excel
    header: bool = True
    escape_formulas: bool = False  # see app/sync/formulas.py


@dataclass(frozen=True, slots=True)
class PreviousSnapshot:
    version: int
    checksum: str
    row_count: int
    columns: list[str]
    parquet: Path
    hashes: Path


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


def previous_snapshot_of(
    store: CsvStore, file_id: uuid.UUID, version: int, checksum: str, row_count: int
) -> PreviousSnapshot | None:
    parquet = store.snapshot_path(file_id, version)
    hashes = store.hashes_path(file_id, version)
    if version == 0 or not parquet.exists() or not hashes.exists():
        return None
    return PreviousSnapshot(
        version, checksum, row_count, pq.read_schema(parquet).names, parquet, hashes
    )


def _key_columns(primary_key: object) -> list[str]:
    if isinstance(primary_key, str):
        return [primary_key]
    if isinstance(primary_key, list):
        return [str(k) for k in primary_key]
    return []


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
    hashes_shared: list[np.ndarray] = []
    hashes_every: list[np.ndarray] = []
    keys: list[pa.RecordBatch] = []
    row_count = 0
    try:
        with open(csv_path, "wb") as handle:
            sink = _HashingSink(handle)
            if fmt.encoding == "utf-8-sig":
                sink.write(UTF8_BOM)
            if fmt.header and columns:
                sink.write(header_bytes(columns, fmt.delimiter))
            with pq.ParquetWriter(
                # Dictionary pages do not pay off for mostly-unique text: without them the
                # file is smaller and twice as fast to write and read.
                parquet_path,
                schema,
                compression="zstd",
                use_dictionary=False,
            ) as parquet_writer:
                for raw in table.batches:
                    if raw.num_columns != len(columns):
                        raise ConfigError(
                            f"the source returned {raw.num_columns} columns in a row block, expected {len(columns)}"
                        )
                    batch = render_batch(raw, columns)
                    if fmt.escape_formulas:
                        batch = pa.RecordBatch.from_arrays(
                            [escape_formulas(column) for column in batch.columns],
                            schema=batch.schema,
                        )
                    sink.write(csv_lines(batch, fmt.delimiter))
                    parquet_writer.write_batch(batch, row_group_size=65_536)
                    hashes_shared.append(row_hashes(batch, shared))
                    if every != shared:
                        hashes_every.append(row_hashes(batch, every))
                    if key_columns:
                        keys.append(batch.select(key_columns))
                    row_count += batch.num_rows
        checksum, size = sink.sha256.hexdigest(), sink.size
        new_hashes = np.concatenate(hashes_shared) if hashes_shared else np.empty(0, np.uint64)
        np.save(
            hashes_path,
            np.concatenate(hashes_every) if hashes_every else new_hashes,
            allow_pickle=False,
        )
        on_phase("diffing")
        changes = _diff(previous, columns, shared, new_hashes, key_columns, keys)
    except BaseException:
        for path in (csv_path, parquet_path, hashes_path):
            path.unlink(missing_ok=True)
        raise
    return StagedSnapshot(
        columns, row_count, checksum, size, csv_path, parquet_path, hashes_path, changes
    )


def _old_hashes(previous: PreviousSnapshot, shared: list[str]) -> np.ndarray:
    if sorted(previous.columns) == shared:
        stored: np.ndarray = np.load(previous.hashes, allow_pickle=False)
        return stored
    # Columns were added or removed: rows are compared on the columns both sides have.
    parts = [
        row_hashes(b, shared)
        for b in pq.ParquetFile(previous.parquet).iter_batches(batch_size=65_536, columns=shared)
    ]
    return np.concatenate(parts) if parts else np.empty(0, np.uint64)


def _diff(
    previous: PreviousSnapshot | None,
    columns: list[str],
    shared: list[str],
    new_hashes: np.ndarray,
    key_columns: list[str],
    keys: list[pa.RecordBatch],
) -> ChangeSet:
    new_rows = _checked_keys(keys, key_columns, new_hashes) if key_columns else None
    if previous is None:
        return ChangeSet(
            added=np.arange(len(new_hashes), dtype=np.int64),
            updated=np.empty(0, np.int64),
            deleted=np.empty(0, np.int64),
        )
    old_hashes = _old_hashes(previous, shared)
    old_rows = _old_keys(previous, key_columns, old_hashes) if new_rows is not None else None
    if new_rows is not None and old_rows is not None:
        changes = keyed_diff(old_rows, new_rows)
    else:
        changes = ordered_diff(old_hashes, new_hashes)
    changes.columns_added = [c for c in columns if c not in previous.columns]
    changes.columns_removed = [c for c in previous.columns if c not in columns]
    return changes


def _checked_keys(
    keys: list[pa.RecordBatch], key_columns: list[str], hashes: np.ndarray
) -> KeyedRows:
    table = (
        pa.Table.from_batches(keys)
        if keys
        else pa.table({k: pa.array([], pa.string()) for k in key_columns})
    )
    rows = KeyedRows.of(table, hashes)
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
    return None if rows.duplicated().any() else rows
