"""The previous version of a target file, as the next run diffs against it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from app.sync.csv_store import CsvStore


@dataclass(frozen=True, slots=True)
class PreviousSnapshot:
    version: int
    checksum: str
    row_count: int
    columns: list[str]
    parquet: Path
    hashes: Path


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
