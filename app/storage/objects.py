"""The storage interface: whole objects put from local files, read back as local files or
as a stream, listed under a prefix, deleted, and (where the backend can) handed out as a
short-lived URL.

A missing key raises `FileNotFoundError` on every backend; a backend that cannot be reached
or refuses the request raises `StorageUnavailable`. `put_file` is atomic: a reader sees the
old object, no object, or the whole new one, never part of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol


class StorageUnavailable(Exception):
    """The object store failed a request (unreachable, refused, throttled): worth retrying
    later. The message says what failed, without credentials."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    last_modified: datetime  # timezone-aware, UTC


@dataclass(frozen=True, slots=True)
class ObjectStream:
    """An object being read: its metadata first, then its bytes in chunks."""

    size: int
    last_modified: datetime
    chunks: AsyncIterator[bytes]


class ObjectStore(Protocol):
    @property
    def remote(self) -> bool:
        """True when the bytes live off this machine (local copies are then downloads)."""

    def put_file(self, key: str, source: Path) -> None:
        """Stores the local file `source` under `key`, streamed, and consumes `source` (it is
        moved into place or uploaded, then removed)."""

    def local_copy(self, key: str) -> Path:
        """A local file holding the object's bytes, to read and not to change: the object
        itself on a local store, a download kept in this machine's cache otherwise."""

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[StoredObject]:
        """Every object whose key starts with the folder `prefix` (`a/b` lists `a/b/...`,
        not `a/bc`), at any depth; `""` lists the whole store."""

    def delete(self, keys: Iterable[str]) -> None:
        """Deletes these objects; keys that do not exist are not an error."""

    def delete_prefix(self, prefix: str) -> None:
        """Deletes every object under the folder `prefix`."""

    async def open(self, key: str) -> ObjectStream:
        """The object's metadata and a stream of its bytes, for serving it over HTTP."""

    async def presigned_url(self, key: str, expires_in: timedelta) -> str | None:
        """A URL anyone may GET the object from until `expires_in` has passed, or None when
        the backend cannot sign one (a local folder)."""
