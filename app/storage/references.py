"""Which stored objects the database names, for the sweep and `datasync migrate-storage`.

A key is referenced when it is:
- an object of a kept version of a target file: `{file_id}/{stem}.csv|.parquet|.hashes.npy`
  for every FileVersion row (its stem is `object_stem`, or `v{version}` for older rows);
- a change set of a run that succeeded, under a file that exists:
  `{file_id}/changes/{run_id}.npz|.csv`.

Everything else under a file's folder is no row's: the upload of a run that crashed, was
killed or lost the race for its version before its transaction committed, a change set of a
run that never succeeded, staged `.tmp-*` files (the local backend stages in the store's own
folder), and whatever is left of a deleted file. Keys outside a `{uuid}/` folder were not
written by the service and are not its to judge.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import FileVersion, RunStatus, SyncRun, TargetFile
from app.sync.csv_store import CsvStore, stored_stem

_CHANGE_SET_KEY = re.compile(r"(?P<file>[0-9a-f-]{36})/changes/(?P<run>[0-9a-f-]{36})\.(?:npz|csv)")
# Runs looked up per query: well below SQLite's limit on bound parameters.
RUN_BATCH = 500


@dataclass(frozen=True, slots=True)
class VersionObject:
    """An object of a kept version. `sha256` and `size` are what the database records of a
    version's CSV (what clients download and its ETag); None for its Parquet and hashes."""

    key: str
    file_id: uuid.UUID
    sha256: str | None = None
    size: int | None = None


def file_id_of(key: str) -> uuid.UUID | None:
    """The target file a key is under, or None for a key the service did not write."""
    folder, _, rest = key.partition("/")
    return canonical_uuid(folder) if rest else None


def change_set_run_of(key: str) -> uuid.UUID | None:
    """The run whose change set `key` is, or None when it is no change set's key."""
    matched = _CHANGE_SET_KEY.fullmatch(key)
    return canonical_uuid(matched["run"]) if matched else None


def canonical_uuid(text: str) -> uuid.UUID | None:
    """The UUID `text` spells as the service writes one (lower case, hyphenated), else None.
    uuid.UUID also reads 32 bare hex digits, upper case, `{...}` and `urn:uuid:...`: a store
    shared with other tools may hold folders so named, and those are not the service's."""
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return None
    return parsed if str(parsed) == text else None


async def target_file_ids(db: AsyncSession) -> set[uuid.UUID]:
    return set((await db.scalars(select(TargetFile.id))).all())


async def kept_version_objects(db: AsyncSession, store: CsvStore) -> dict[str, VersionObject]:
    """Every object of every kept version of every target file, by key."""
    rows = await db.execute(
        select(
            FileVersion.file_id,
            FileVersion.version,
            FileVersion.object_stem,
            FileVersion.checksum,
            FileVersion.size_bytes,
        )
    )
    found: dict[str, VersionObject] = {}
    for file_id, version, object_stem, checksum, size in rows:
        keys = store.version_keys(file_id, stored_stem(version, object_stem))
        found[keys.csv] = VersionObject(keys.csv, file_id, checksum, size)
        found[keys.parquet] = VersionObject(keys.parquet, file_id)
        found[keys.hashes] = VersionObject(keys.hashes, file_id)
    return found


async def succeeded_runs(db: AsyncSession, run_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `run_ids` whose run succeeded (the only ones whose change set is served).
    Asked about the runs the store holds change sets of, not all runs: those are few."""
    wanted = sorted(set(run_ids))
    found: set[uuid.UUID] = set()
    for start in range(0, len(wanted), RUN_BATCH):
        batch = wanted[start : start + RUN_BATCH]
        found.update(
            (
                await db.scalars(
                    select(SyncRun.id).where(
                        SyncRun.id.in_(batch), SyncRun.status == RunStatus.SUCCESS
                    )
                )
            ).all()
        )
    return found


@dataclass(frozen=True, slots=True)
class NamedObjects:
    """What the database names: every kept version's objects of files that exist (whether
    the store holds them or not), and the change sets among the listed keys."""

    versions: dict[str, VersionObject]
    change_sets: set[str]

    def __contains__(self, key: object) -> bool:
        return key in self.versions or key in self.change_sets


async def named_objects(db: AsyncSession, store: CsvStore, listed: Iterable[str]) -> NamedObjects:
    """The objects the database names (see the module docstring); change sets are looked
    for among the `listed` keys, since no row records whether a run saved one."""
    files = await target_file_ids(db)
    versions = {
        key: found
        for key, found in (await kept_version_objects(db, store)).items()
        if found.file_id in files
    }
    change_sets = {
        key: run
        for key in listed
        if (run := change_set_run_of(key)) is not None and file_id_of(key) in files
    }
    runs = await succeeded_runs(db, change_sets.values())
    return NamedObjects(versions, {key for key, run in change_sets.items() if run in runs})


async def referenced_keys(db: AsyncSession, store: CsvStore, listed: Iterable[str]) -> set[str]:
    """Those of the `listed` keys the database names."""
    listed = list(listed)
    named = await named_objects(db, store, listed)
    return {key for key in listed if key in named}
