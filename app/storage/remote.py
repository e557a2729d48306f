"""The object-store backend (S3 and what speaks its protocol, GCS, Azure Blob), through
obstore: one client for all of them that streams both ways and uploads large files in
parts, so memory stays flat whatever the file's size.

Objects are never changed once written (each version has keys of its own), so a local copy
of one, once downloaded into this machine's cache, stays valid for as long as it is kept;
the per-machine sweep removes copies nothing has read for a while.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import obstore
from obstore.exceptions import BaseError
from obstore.store import AzureStore, GCSStore, S3Store

from app.storage.objects import ObjectStream, StorageUnavailable, StoredObject

if TYPE_CHECKING:
    from obstore import BytesStream
    from obstore.store import ObjectStore as ObstoreStore

# Parts of a multipart upload, and how many are in flight at once: at most 4 x 8 MiB of a
# file is in memory while it uploads.
PART_BYTES = 8 * 1024 * 1024
PARTS_IN_FLIGHT = 4
CHUNK_BYTES = 1024 * 1024


class RemoteObjectStore:
    remote = True

    def __init__(self, store: ObstoreStore, cache: Path) -> None:
        self.store = store
        self.cache = cache

    def put_file(self, key: str, source: Path) -> None:
        if not source.is_file():
            raise FileNotFoundError(source)
        with _failures_named("upload", key):
            obstore.put(
                self.store, key, source, chunk_size=PART_BYTES, max_concurrency=PARTS_IN_FLIGHT
            )
        source.unlink(missing_ok=True)

    def local_copy(self, key: str) -> Path:
        cached = self.cache.joinpath(*key.split("/"))
        try:
            # Read now: the per-machine sweep (app/storage/sweep.py) removes copies by the
            # time they were last read, once no run can still be reading them.
            os.utime(cached)
            return cached
        except FileNotFoundError:
            pass
        temp = cached.with_name(f".tmp-{uuid.uuid4().hex}")
        try:
            with _failures_named("download", key):
                found = obstore.get(self.store, key)  # FileNotFoundError: no such object
            with _new_file(temp) as handle, _failures_named("download", key):
                for chunk in found.stream(min_chunk_size=CHUNK_BYTES):
                    handle.write(chunk)
            # Workers on one machine share the cache: the rename makes a copy appear whole.
            os.replace(temp, cached)
        finally:
            temp.unlink(missing_ok=True)
        return cached

    def exists(self, key: str) -> bool:
        try:
            with _failures_named("look up", key):
                obstore.head(self.store, key)
        except FileNotFoundError:
            return False
        return True

    def list(self, prefix: str) -> list[StoredObject]:
        with _failures_named("list", prefix or "/"):
            return [
                StoredObject(meta["path"], meta["size"], meta["last_modified"])
                for batch in obstore.list(self.store, prefix or None, chunk_size=1000)
                for meta in batch
            ]

    def delete(self, keys: Iterable[str]) -> None:
        batch = list(keys)
        if not batch:
            return
        with _failures_named("delete", batch[0]):
            try:
                obstore.delete(self.store, batch)
            except FileNotFoundError:
                # S3 answers a bulk delete of a missing key with success; GCS, Azure and a
                # local folder fail the whole call on it, maybe before deleting the others.
                # Pruning and discarding name keys that may never have been written, so
                # those are deleted one by one, and missing ones are what was asked.
                for key in batch:
                    try:
                        obstore.delete(self.store, key)
                    except FileNotFoundError:
                        continue

    def delete_prefix(self, prefix: str) -> None:
        self.delete(found.key for found in self.list(prefix))

    async def open(self, key: str) -> ObjectStream:
        with _failures_named("download", key):
            result = await obstore.get_async(self.store, key)
        meta = result.meta
        return ObjectStream(
            meta["size"], meta["last_modified"], _chunks_of(result.stream(CHUNK_BYTES))
        )

    async def presigned_url(self, key: str, expires_in: timedelta) -> str | None:
        if not isinstance(self.store, S3Store | GCSStore | AzureStore):
            return None
        with _failures_named("sign a URL for", key):
            return await obstore.sign_async(self.store, "GET", key, expires_in)


@contextmanager
def _failures_named(action: str, key: str) -> Iterator[None]:
    """obstore's errors, but for a missing object, as StorageUnavailable. Its messages can
    quote a whole signed request, so only the error's kind is kept, and the error itself is
    not chained: a logged traceback would print it."""
    try:
        yield
    except FileNotFoundError:
        raise
    except (BaseError, OSError) as error:
        raise StorageUnavailable(
            f"the object store failed to {action} {key} ({type(error).__name__})"
        ) from None


async def _chunks_of(stream: BytesStream) -> AsyncIterator[bytes]:
    with _failures_named("download", "an object"):
        async for chunk in stream:
            yield bytes(chunk)


def _new_file(path: Path) -> BinaryIO:
    """`path` opened for writing, its folder made first. The sweep removes empty cache
    folders, maybe between the two: then the folder is made again."""
    for _ in range(5):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return open(path, "xb")
        except FileNotFoundError:
            continue
    return open(path, "xb")
