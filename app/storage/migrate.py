"""`datasync migrate-storage --to URL`: copies what the database names (every kept version's
CSV, Parquet and hashes, and the change sets of successful runs) from the store STORAGE_URL
names now to another, verifies each copy, and leaves the switch to the operator: set
STORAGE_URL to the destination and restart the API and the workers.

Staying consistent with syncs: the command refuses to run while any worker is live (the
liveness entries workers keep in Redis, app/sync/worker_liveness.py), unless `--force`.
Workers are what publish and prune versions, and the switch needs them restarted anyway;
with them stopped, the database and the source stand still, so one pass copies everything
the database names and nothing can be published to the old store between the copy and the
restart. (Holding each file's sync lock while copying it would not give that: a sync could
still publish to the old store after its file was copied and before the workers restart
with the new STORAGE_URL, and that version would be lost.) The API may keep serving from the
old store meanwhile; it only reads it, and builds change-set CSVs, which are a cache.

`--force` copies while workers run, to move the bulk before the stop. That is still correct
object by object (a version's keys are never rewritten; a version pruned mid-copy is
skipped), but versions published meanwhile may be missed: the command says so, and running
it again once the workers are stopped copies only what is missing. Re-running is always
safe: an object already at the destination with the source's size (and, for a CSV, the
SHA-256 the database records) is left as it is.

Every pass ends by listing the destination again against a fresh read of the database, and
copies what appeared meanwhile, until a pass finds nothing new.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from obstore.exceptions import BaseError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.storage.location import StorageLocation, StorageUrlError, parse_storage_url
from app.storage.objects import ObjectStore, StorageUnavailable, StoredObject
from app.storage.references import named_objects
from app.sync.csv_store import CsvStore

# A pass copies what the database named at its start; the next catches what was published
# meanwhile (only with --force). Bounded, so that a busy service cannot keep it going.
MAX_PASSES = 5


class MigrationRefused(Exception):
    """The command cannot run as asked; the message says what to fix (exit code 2)."""


# What a store raises when it cannot be reached or refuses a request: the interface's
# StorageUnavailable, the object store client's own errors (uploads raise those as they
# are), and a local folder's OSError.
STORE_FAILURES = (StorageUnavailable, BaseError, OSError)


def failure_reason(error: Exception) -> str:
    """The first line of a store's error: what failed, without the client's debug dump
    (which follows it). Request URLs carry no credentials: those go in headers."""
    first = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
    return first or type(error).__name__


@dataclass(slots=True)
class MigrationReport:
    copied: list[StoredObject] = field(default_factory=list)
    already_there: int = 0
    # Objects the database names that the source does not hold: missing before the copy.
    missing_in_source: list[str] = field(default_factory=list)
    # Copies whose size or SHA-256 differs from the source's or the database's.
    mismatched: list[str] = field(default_factory=list)
    passes: int = 0

    @property
    def copied_bytes(self) -> int:
        return sum(found.size for found in self.copied)


def destination_location(value: str, source: StorageLocation, data_dir: Path) -> StorageLocation:
    """The store `--to` names; MigrationRefused if it names none, or the source's own."""
    if not value.strip():
        raise MigrationRefused("--to is empty: give the destination store, e.g. s3://bucket/prefix")
    try:
        destination = parse_storage_url(value, data_dir)
    except StorageUrlError as error:
        raise MigrationRefused(str(error).replace("STORAGE_URL", "--to", 1)) from None
    if _overlaps(source, destination):
        raise MigrationRefused(
            f"--to names {destination}, which is (or is inside, or holds) the current store "
            f"STORAGE_URL={source}: give another bucket, prefix or folder"
        )
    return destination


def _overlaps(one: StorageLocation, other: StorageLocation) -> bool:
    if one.folder is not None and other.folder is not None:
        a, b = one.folder.resolve(), other.folder.resolve()
        return a == b or a in b.parents or b in a.parents
    if one.url is not None and other.url is not None:
        a_url, b_url = one.url.rstrip("/") + "/", other.url.rstrip("/") + "/"
        return a_url.startswith(b_url) or b_url.startswith(a_url)
    return False


def check_writable(store: ObjectStore, scratch: Path, name: str) -> None:
    """Puts and deletes a probe object: the store is reachable and takes writes. Raises
    MigrationRefused naming `name` (which store) otherwise."""
    probe = scratch / f".tmp-probe-{uuid.uuid4().hex}"
    probe.write_bytes(b"datasync migrate-storage probe\n")
    key = f".datasync-probe-{uuid.uuid4().hex}"
    try:
        store.put_file(key, probe)
        store.delete([key])
    except STORE_FAILURES as error:
        raise MigrationRefused(
            f"{name} could not be written ({failure_reason(error)}): check that the bucket or folder exists "
            "and that the provider's environment variables (e.g. AWS_ENDPOINT_URL, "
            "AWS_ACCESS_KEY_ID) allow writing to it"
        ) from None
    finally:
        probe.unlink(missing_ok=True)


def list_source(store: ObjectStore, location: StorageLocation) -> list[StoredObject]:
    if location.folder is not None and not location.folder.is_dir():
        raise MigrationRefused(
            f"the current store STORAGE_URL={location} is no folder: STORAGE_URL (or "
            "DATA_DIR) must name the store the service uses now"
        )
    try:
        return store.list("")
    except STORE_FAILURES as error:
        raise MigrationRefused(
            f"the current store STORAGE_URL={location} could not be listed "
            f"({failure_reason(error)}): check "
            "STORAGE_URL and the provider's environment variables"
        ) from None


async def migrate_storage(
    sessions: async_sessionmaker[AsyncSession],
    source: ObjectStore,
    source_location: StorageLocation,
    destination: ObjectStore,
    scratch: Path,
    say: Callable[[str], None],
) -> MigrationReport:
    """Copies what the database names from `source` to `destination` (see the module
    docstring), through local files in `scratch`. `say` is told each copy as it is made."""
    report = MigrationReport()
    verified: set[str] = set()  # in this run: not read back again by a later pass
    layout = CsvStore(source, scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    while report.passes < MAX_PASSES:
        report.passes += 1
        listed = await anyio.to_thread.run_sync(list_source, source, source_location)
        async with sessions() as db:
            in_database = await named_objects(db, layout, (found.key for found in listed))
        versions, change_sets = in_database.versions, in_database.change_sets
        in_source = {found.key: found for found in listed}
        if versions and not any(key in in_source for key in versions):
            raise MigrationRefused(
                f"the current store STORAGE_URL={source_location} holds none of the "
                f"{len(versions)} objects the database names: STORAGE_URL must name the "
                "store the service uses now"
            )
        report.missing_in_source = sorted(key for key in versions if key not in in_source)
        # Oldest first: the copies' times then keep the originals' order, which pruning keeps
        # the newest change sets by.
        wanted = sorted(
            (in_source[key] for key in {*versions, *change_sets} if key in in_source),
            key=lambda found: (found.last_modified, found.key),
        )
        at_destination = {
            found.key: found.size for found in await anyio.to_thread.run_sync(destination.list, "")
        }
        copied_now = 0
        for found in wanted:
            if found.key in verified:
                continue
            named = versions.get(found.key)
            sha256 = named.sha256 if named else None
            if at_destination.get(found.key) == found.size and (
                sha256 is None or await _sha256_of(destination, found.key) == sha256
            ):
                report.already_there += 1
                verified.add(found.key)
                continue
            if not await _copy(source, destination, found.key, scratch):
                continue  # pruned since it was listed (only while workers run)
            problem = await _verification_problem(destination, found, sha256)
            if problem:
                report.mismatched.append(f"{found.key}: {problem}")
            else:
                say(f"copied {found.key} ({found.size} bytes)")
                report.copied.append(found)
            verified.add(found.key)
            copied_now += 1
        if not copied_now:
            break
    return report


async def _copy(source: ObjectStore, destination: ObjectStore, key: str, scratch: Path) -> bool:
    """False if the source no longer holds `key`."""
    temp = scratch / f".tmp-{uuid.uuid4().hex}"
    try:
        try:
            stream = await source.open(key)
        except FileNotFoundError:
            return False
        # put_file consumes its source, so the copy goes through a file of our own.
        async with await anyio.open_file(temp, "wb") as handle:
            async for chunk in stream.chunks:
                await handle.write(chunk)
        await anyio.to_thread.run_sync(destination.put_file, key, temp)
    except FileNotFoundError:
        raise
    except STORE_FAILURES as error:
        raise MigrationRefused(
            f"copying {key} failed ({failure_reason(error)}): check that both stores are "
            "reachable and run the command again (it copies only what is missing)"
        ) from None
    finally:
        temp.unlink(missing_ok=True)
    return True


async def _sha256_of(store: ObjectStore, key: str) -> str | None:
    try:
        stream = await store.open(key)
    except FileNotFoundError:
        return None
    digest = hashlib.sha256()
    async for chunk in stream.chunks:
        digest.update(chunk)
    return digest.hexdigest()


async def _verification_problem(
    destination: ObjectStore, original: StoredObject, sha256: str | None
) -> str | None:
    """Reads the copy back: its size must be the source's, and a CSV's SHA-256 the one the
    database records (its ETag)."""
    try:
        stream = await destination.open(original.key)
    except FileNotFoundError:
        return "the destination does not hold it after the copy"
    digest, size = hashlib.sha256(), 0
    async for chunk in stream.chunks:
        digest.update(chunk)
        size += len(chunk)
    if size != original.size:
        return f"{size} bytes at the destination, {original.size} at the source"
    if sha256 is not None and digest.hexdigest() != sha256:
        return "its SHA-256 is not the one the database records for this version"
    return None
