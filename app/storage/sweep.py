"""The sweep: removes stored objects no database row names, once they are old enough that no
run can still be about to name them.

A run puts a new version's objects in the store before the transaction that names them
commits (app/sync/engine.py). A worker killed in between, or whose commit fails, leaves
objects nothing refers to (app/storage/references.py says what is referenced), and staged
`.tmp-*` files in its machine's staging folder. They cannot be told apart from an upload
still under way except by age: an object is referenced, if ever, before the run that wrote
it ends, and a run ends within JOB_TIMEOUT_SECONDS (arq cancels it then; a cancelled run
finishes the upload it is in but commits nothing). So the sweep leaves alone anything
younger than `grace_for(settings)`: the job timeout plus GRACE_MARGIN, which covers

- the store's clock against this machine's (an object's time is the store's; S3 refuses
  requests signed more than 15 minutes off, so a working client is within that),
- the upload a cancelled run finishes after its timeout, and the 20 s shutdown wait.

On S3 an object put in parts may carry the time its upload began rather than ended: either
is inside its run's lifetime, which is what the grace period is measured against.

Parts of a multipart upload that never completed are not objects: no listing shows them
and the storage client cannot list or abort another process's. The bucket's lifecycle rule
(AbortIncompleteMultipartUpload, e.g. after 1 day) removes them; Azure drops uncommitted
blocks after 7 days by itself.

The same age bounds this machine's cache of downloaded objects (`DATA_DIR/cache`, remote
backends only): a copy is removed once nothing has read it for the grace period (each read
refreshes its time), so no run can still be reading it; emptied folders go with it.

Every worker calls `sweep_storage` every SWEEP_TICK_SECONDS: it sweeps its machine's
staging folder and cache, and the first to claim the interval in Redis sweeps the store, so the fleet
lists the store once per SWEEP_INTERVAL_SECONDS. An API process ages its machine's cache
too (`keep_cache_aged`): it reads snapshots into it to build change sets, and its machine
may run no worker. `datasync sweep-storage` sweeps both at
once and prints what it removed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.settings import Settings
from app.storage.local import LocalObjectStore
from app.storage.objects import StorageUnavailable, StoredObject
from app.storage.references import file_id_of, referenced_keys
from app.storage.remote import RemoteObjectStore
from app.sync.csv_store import CsvStore
from app.sync.run_context import EngineContext

log = logging.getLogger("datasync.storage")

GRACE_MARGIN = timedelta(hours=1)
# How often the workers sweep between them: leftovers cost only storage, hourly is plenty.
SWEEP_INTERVAL_SECONDS = 3600
# How often each worker tries to claim the sweep: much shorter than the interval, so that a
# fleet whose workers restart more often than hourly (deploys) still sweeps.
SWEEP_TICK_SECONDS = 300
STAGED_PREFIX = ".tmp-"


def grace_for(settings: Settings) -> timedelta:
    """How old an unreferenced object must be before it is swept (see the module docstring)."""
    return timedelta(seconds=settings.job_timeout_seconds) + GRACE_MARGIN


@dataclass(slots=True)
class SweepReport:
    removed: list[StoredObject] = field(default_factory=list)
    removed_staged: list[Path] = field(default_factory=list)
    removed_cached: list[Path] = field(default_factory=list)
    referenced: int = 0
    too_recent: int = 0  # unreferenced but younger than the grace period: maybe in flight
    not_ours: int = 0  # outside any file's folder: not written by the service, left alone
    # False when another worker had claimed this interval's sweep of the store: only this
    # machine's staging folder and cache were swept.
    store_swept: bool = True

    @property
    def removed_bytes(self) -> int:
        return sum(found.size for found in self.removed)


def unreferenced_before(
    listed: Iterable[StoredObject], referenced: set[str], cutoff: datetime, report: SweepReport
) -> list[StoredObject]:
    """The listed objects to sweep: under a file's folder, named by no row, older than
    `cutoff`. Counts the others into `report`."""
    sweep = []
    for found in listed:
        if found.key in referenced:
            report.referenced += 1
        elif file_id_of(found.key) is None:
            report.not_ours += 1
        elif found.last_modified >= cutoff:
            report.too_recent += 1
        else:
            sweep.append(found)
    return sweep


async def sweep_unreferenced(
    sessions: async_sessionmaker[AsyncSession],
    store: CsvStore,
    grace: timedelta,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> SweepReport:
    """Removes (unless `dry_run`) the store's unreferenced objects older than `grace`,
    staged files as old in this machine's staging folder, and cached copies unread for as
    long. Raises StorageUnavailable."""
    cutoff = (now or datetime.now(UTC)) - grace
    # Listed before the database is read: an object uploaded after the listing is not
    # judged, and one whose row commits after the read is younger than the cutoff.
    listed = await anyio.to_thread.run_sync(store.objects.list, "")
    async with sessions() as db:
        referenced = await referenced_keys(db, store, (found.key for found in listed))
    report = SweepReport()
    report.removed = unreferenced_before(listed, referenced, cutoff, report)
    if not dry_run and report.removed:
        await anyio.to_thread.run_sync(store.objects.delete, [f.key for f in report.removed])
    report.removed_staged = await sweep_staging(store, cutoff, dry_run=dry_run)
    report.removed_cached = await sweep_cache(store, cutoff, dry_run=dry_run)
    return report


async def sweep_staging(store: CsvStore, cutoff: datetime, *, dry_run: bool = False) -> list[Path]:
    """Removes staged files older than `cutoff` from this machine's staging folder, when it
    is apart from the store (a remote backend's); the paths removed."""
    if _stages_in_store(store):
        return []  # the local backend stages in its own folder: the store's listing has them
    return await anyio.to_thread.run_sync(_staged_files_before, store.staging, cutoff, dry_run)


async def sweep_cache(store: CsvStore, cutoff: datetime, *, dry_run: bool = False) -> list[Path]:
    """Removes this machine's cached copies of remote objects unread since `cutoff`, and the
    folders that leaves empty; the copies removed."""
    objects = store.objects
    if not isinstance(objects, RemoteObjectStore):
        return []  # a local store reads its objects in place
    return await anyio.to_thread.run_sync(_cached_files_unread, objects.cache, cutoff, dry_run)


def _cached_files_unread(cache: Path, cutoff: datetime, dry_run: bool) -> list[Path]:
    removed = []
    threshold = cutoff.timestamp()
    # Bottom up, so that a folder is looked at once its subfolders have gone.
    for directory, _, names in os.walk(cache, topdown=False):
        for name in names:
            path = Path(directory) / name
            if _removed_if_older(path, threshold, dry_run):
                removed.append(path)
        if not dry_run and Path(directory) != cache:
            try:
                # Only an empty folder goes; a download that finds its folder gone makes it
                # again (app/storage/remote.py).
                os.rmdir(directory)
            except OSError:
                continue  # not empty: still in use
    return removed


def _stages_in_store(store: CsvStore) -> bool:
    """With the local backend, runs stage in the store's own folder: the listing saw them."""
    objects = store.objects
    return isinstance(objects, LocalObjectStore) and _same_folder(objects.root, store.staging)


def _same_folder(one: Path, other: Path) -> bool:
    return one.resolve() == other.resolve()


def _staged_files_before(staging: Path, cutoff: datetime, dry_run: bool) -> list[Path]:
    removed = []
    threshold = cutoff.timestamp()
    for directory, _, names in os.walk(staging):
        for name in names:
            if not name.startswith(STAGED_PREFIX):
                continue
            path = Path(directory) / name
            if _removed_if_older(path, threshold, dry_run):
                removed.append(path)
    return removed


def _removed_if_older(path: Path, threshold: float, dry_run: bool) -> bool:
    """Removes `path` if it was last written (or read, for a cached copy) before
    `threshold`; whether it was, or with `dry_run` would have been."""
    try:
        if path.stat().st_mtime >= threshold:
            return False
        if not dry_run:
            path.unlink()
    except FileNotFoundError:
        return False  # its run or another sweep removed it meanwhile
    return True


def _claim_key(settings: Settings) -> str:
    return f"{settings.queue_name}:storage-sweep"


async def sweep_storage(engine: EngineContext) -> SweepReport | None:
    """The workers' periodic sweep. The store is swept by whichever worker claims the
    interval in Redis (each would list the whole store); every worker sweeps its machine's
    staging folder and cache, which no other machine sees. None when the store was unreachable."""
    grace = grace_for(engine.settings)
    claimed = await engine.queue.set(
        _claim_key(engine.settings), b"1", nx=True, ex=SWEEP_INTERVAL_SECONDS
    )
    try:
        if claimed:
            report = await sweep_unreferenced(engine.sessions, engine.store, grace)
        else:
            cutoff = datetime.now(UTC) - grace
            report = SweepReport(store_swept=False)
            report.removed_staged = await sweep_staging(engine.store, cutoff)
            report.removed_cached = await sweep_cache(engine.store, cutoff)
    except StorageUnavailable as error:
        log.warning("the storage sweep could not reach the store", extra={"error": str(error)})
        return None
    if report.removed or report.removed_staged or report.removed_cached:
        log.info(
            "swept unreferenced objects",
            extra={
                "objects": len(report.removed),
                "bytes": report.removed_bytes,
                "staged_files": len(report.removed_staged),
                "cached_files": len(report.removed_cached),
            },
        )
    return report


async def keep_cache_aged(
    store: CsvStore, settings: Settings, tick: float = SWEEP_TICK_SECONDS
) -> None:
    """An API process's share of the sweep, until cancelled: this machine's cached copies."""
    while True:
        await asyncio.sleep(tick)
        try:
            removed = await sweep_cache(store, datetime.now(UTC) - grace_for(settings))
        except OSError as error:
            log.warning("the cache could not be aged", extra={"error": str(error)})
            continue
        if removed:
            log.info("aged out cached copies", extra={"cached_files": len(removed)})
