"""A run's change set: which rows were added, updated or deleted, as CSV on request.

A run stores only the row positions (`changes/{run_id}.npz` under the file's keys, with the
two versions and their object stems), which costs nothing next to the run itself. The CSV —
`_change` (added|updated|deleted), then the new snapshot's columns, then removed ones — is
built from the two kept snapshot versions the first time it is asked for, and stored beside
them. Once either version is pruned it is gone.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from app.sync.csv_store import CsvStore, stored_stem
from app.sync.csv_text import csv_lines, header_bytes
from app.sync.diff import ChangeSet

CHANGE_COLUMN = "_change"


class ChangeSetGone(LookupError):
    """The snapshots a change set is read from were pruned."""


def save_positions(
    store: CsvStore,
    file_id: uuid.UUID,
    run_id: uuid.UUID,
    changes: ChangeSet,
    new: tuple[int, str | None],
    old: tuple[int, str | None],
) -> None:
    """`new` and `old` are the versions diffed, each with its object stem (None: `v{n}`)."""
    (new_version, new_stem), (old_version, old_stem) = new, old
    temp = store.temp_path(file_id, ".npz")
    try:
        with open(temp, "wb") as handle:
            np.savez(
                handle,
                added=changes.added,
                updated=changes.updated,
                deleted=changes.deleted,
                versions=np.array([new_version, old_version], dtype=np.int64),
                stems=np.array(
                    [stored_stem(new_version, new_stem), stored_stem(old_version, old_stem)]
                ),
            )
        store.objects.put_file(store.change_positions_key(file_id, run_id), temp)
    finally:
        temp.unlink(missing_ok=True)  # left only when writing or storing it failed


def change_set_csv(store: CsvStore, file_id: uuid.UUID, run_id: uuid.UUID, delimiter: str) -> str:
    """The key of the change set as a CSV object, built on first request. Raises
    ChangeSetGone."""
    cached = store.change_csv_key(file_id, run_id)
    if store.objects.exists(cached):
        return cached
    try:
        source = store.objects.local_copy(store.change_positions_key(file_id, run_id))
    except FileNotFoundError:
        raise ChangeSetGone(run_id) from None
    with np.load(source) as saved:
        added, updated, deleted = saved["added"], saved["updated"], saved["deleted"]
        new_version, old_version = (int(v) for v in saved["versions"])
        # Change sets saved before stems existed name versions of that time: `v{n}`.
        new_stem, old_stem = (
            (str(s) for s in saved["stems"])
            if "stems" in saved.files
            else (f"v{new_version}", f"v{old_version}")
        )
    new_snapshot = _snapshot(store, file_id, new_stem)
    old_snapshot = _snapshot(store, file_id, old_stem) if old_version else None
    if new_snapshot is None or (len(deleted) and old_snapshot is None):
        raise ChangeSetGone(run_id)
    new_columns = pq.read_schema(new_snapshot).names
    old_columns = pq.read_schema(old_snapshot).names if old_snapshot else []
    columns = new_columns + [c for c in old_columns if c not in new_columns]
    schema = pa.schema([(CHANGE_COLUMN, pa.string())] + [(c, pa.string()) for c in columns])
    temp = store.scratch_path(file_id, ".csv")
    try:
        with open(temp, "wb") as writer:
            writer.write(header_bytes(schema.names, delimiter))
            for label, positions, snapshot in (
                ("added", added, new_snapshot),
                ("updated", updated, new_snapshot),
                ("deleted", deleted, old_snapshot),
            ):
                if snapshot is not None and len(positions):
                    for batch in _rows_at(snapshot, positions):
                        writer.write(_labelled_lines(batch, label, columns, schema, delimiter))
        store.objects.put_file(cached, temp)
    finally:
        temp.unlink(missing_ok=True)  # left only when building or storing it failed
    return cached


def _labelled_lines(
    batch: pa.RecordBatch, label: str, columns: list[str], schema: pa.Schema, delimiter: str
) -> pa.Buffer:
    arrays = [pa.array([label] * batch.num_rows, pa.string())]
    for name in columns:
        index = batch.schema.get_field_index(name)
        arrays.append(batch.column(index) if index >= 0 else pa.nulls(batch.num_rows, pa.string()))
    return csv_lines(pa.RecordBatch.from_arrays(arrays, schema=schema), delimiter)


def _snapshot(store: CsvStore, file_id: uuid.UUID, stem: str) -> Path | None:
    try:
        return store.objects.local_copy(store.version_keys(file_id, stem).parquet)
    except FileNotFoundError:
        return None


def _rows_at(parquet: Path, positions: np.ndarray) -> list[pa.RecordBatch]:
    """Rows at sorted `positions`, reading only the row groups that hold them."""
    file = pq.ParquetFile(parquet)
    selected: list[pa.RecordBatch] = []
    offset = 0
    for group in range(file.num_row_groups):
        size = file.metadata.row_group(group).num_rows
        lo, hi = np.searchsorted(positions, [offset, offset + size])
        if hi > lo:
            table = file.read_row_group(group)
            selected.extend(table.take(pa.array(positions[lo:hi] - offset)).to_batches())
        offset += size
    return selected
