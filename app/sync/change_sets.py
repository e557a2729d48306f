"""A run's change set: which rows were added, updated or deleted, as CSV on request.

A run stores only the row positions (`changes/{run_id}.npz`), which costs nothing next to
the run itself. The CSV — `_change` (added|updated|deleted), then the new snapshot's
columns, then removed ones — is built from the two kept snapshot versions the first time
it is asked for, and cached beside them. Once either version is pruned it is gone.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from app.sync.csv_store import CsvStore
from app.sync.csv_text import csv_lines, header_bytes
from app.sync.diff import ChangeSet

CHANGE_COLUMN = "_change"


class ChangeSetGone(LookupError):
    """The snapshots a change set is read from were pruned."""


def positions_path(store: CsvStore, file_id: uuid.UUID, run_id: uuid.UUID) -> Path:
    return store.folder(file_id) / "changes" / f"{run_id}.npz"


def csv_path(store: CsvStore, file_id: uuid.UUID, run_id: uuid.UUID) -> Path:
    return store.folder(file_id) / "changes" / f"{run_id}.csv"


def save_positions(
    store: CsvStore,
    file_id: uuid.UUID,
    run_id: uuid.UUID,
    changes: ChangeSet,
    new_version: int,
    old_version: int,
) -> None:
    path = positions_path(store, file_id, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".tmp-{uuid.uuid4().hex}.npz")
    with open(temp, "wb") as handle:
        np.savez(
            handle,
            added=changes.added,
            updated=changes.updated,
            deleted=changes.deleted,
            versions=np.array([new_version, old_version], dtype=np.int64),
        )
    temp.replace(path)


def change_set_csv(store: CsvStore, file_id: uuid.UUID, run_id: uuid.UUID, delimiter: str) -> Path:
    """The change set as a CSV file, built on first request. Raises ChangeSetGone."""
    cached = csv_path(store, file_id, run_id)
    if cached.exists():
        return cached
    source = positions_path(store, file_id, run_id)
    if not source.exists():
        raise ChangeSetGone(run_id)
    with np.load(source) as saved:
        added, updated, deleted = saved["added"], saved["updated"], saved["deleted"]
        new_version, old_version = (int(v) for v in saved["versions"])
    new_snapshot = store.snapshot_path(file_id, new_version)
    old_snapshot = store.snapshot_path(file_id, old_version) if old_version else None
    if not new_snapshot.exists() or (
        len(deleted) and (old_snapshot is None or not old_snapshot.exists())
    ):
        raise ChangeSetGone(run_id)
    new_columns = pq.read_schema(new_snapshot).names
    old_columns = (
        pq.read_schema(old_snapshot).names if old_snapshot and old_snapshot.exists() else []
    )
    columns = new_columns + [c for c in old_columns if c not in new_columns]
    schema = pa.schema([(CHANGE_COLUMN, pa.string())] + [(c, pa.string()) for c in columns])
    temp = cached.with_name(f".tmp-{uuid.uuid4().hex}.csv")
    with open(temp, "wb") as writer:
        writer.write(header_bytes(schema.names, delimiter))
        for label, positions, snapshot in (
            ("added", added, new_snapshot),
            ("updated", updated, new_snapshot),
            ("deleted", deleted, old_snapshot),
        ):
            if snapshot is None or len(positions) == 0:
                continue
            for batch in _rows_at(snapshot, positions):
                arrays = [pa.array([label] * batch.num_rows, pa.string())]
                for name in columns:
                    index = batch.schema.get_field_index(name)
                    arrays.append(
                        batch.column(index) if index >= 0 else pa.nulls(batch.num_rows, pa.string())
                    )
                writer.write(
                    csv_lines(pa.RecordBatch.from_arrays(arrays, schema=schema), delimiter)
                )
    temp.replace(cached)
    return cached


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
