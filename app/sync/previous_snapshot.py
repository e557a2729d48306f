"""The previous version of a target file, as the next run diffs against it: its row in the
store says which objects hold it, and the storage backend gives them as local files (a
download into this machine's cache when the objects live elsewhere), so any worker on any
machine diffs against the version another one wrote."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import FileVersion
from app.sync.csv_store import CsvStore, stored_stem


@dataclass(frozen=True, slots=True)
class PreviousSnapshot:
    version: int
    checksum: str
    row_count: int
    columns: list[str]
    parquet: Path
    hashes: Path


async def published_stem(
    sessions: async_sessionmaker[AsyncSession], file_id: uuid.UUID, version: int
) -> str | None:
    """The stem of `version`'s objects; None for version 0 or a version no longer kept."""
    if version == 0:
        return None
    async with sessions() as db:
        found = (
            await db.execute(
                select(FileVersion.object_stem).where(
                    FileVersion.file_id == file_id, FileVersion.version == version
                )
            )
        ).one_or_none()
    return None if found is None else stored_stem(version, found.object_stem)


def previous_snapshot_of(
    store: CsvStore,
    file_id: uuid.UUID,
    version: int,
    checksum: str,
    row_count: int,
    stem: str | None,
) -> PreviousSnapshot | None:
    """None when there is nothing to diff against: no version yet, or its objects are gone
    (the run then diffs against nothing, as for a first run).

    `stem` is the version's as its row names it (`published_stem`): a second writer that
    lost the race for the version may have left objects under another stem."""
    if version == 0 or stem is None:
        return None
    keys = store.version_keys(file_id, stem)
    try:
        parquet = store.objects.local_copy(keys.parquet)
        hashes = store.objects.local_copy(keys.hashes)
    except FileNotFoundError:
        return None
    return PreviousSnapshot(
        version, checksum, row_count, pq.read_schema(parquet).names, parquet, hashes
    )
