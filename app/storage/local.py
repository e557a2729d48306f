"""The local backend: objects are files under one folder, keys are their relative paths.

This is the layout installs had before object storage existed, so a folder written by an
older release is read as it is. A file is written to a temp name beside its final one,
fsynced, then renamed, so a reader never sees half of it and a crash never leaves one.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import anyio

from app.storage.objects import ObjectStream, StoredObject

CHUNK_BYTES = 1024 * 1024


class LocalObjectStore:
    remote = False

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in {"", ".", ".."} for p in parts):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root.joinpath(*parts)

    def put_file(self, key: str, source: Path) -> None:
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            _fsync(source)
            os.replace(source, final)
        except OSError as error:
            if error.errno != errno.EXDEV:  # staged on another file system: copy instead
                raise
            temp = final.with_name(f".tmp-{uuid.uuid4().hex}{final.suffix}")
            shutil.copyfile(source, temp)
            _fsync(temp)
            os.replace(temp, final)
            source.unlink()
        _fsync_directory(final.parent)

    def local_copy(self, key: str) -> Path:
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def list(self, prefix: str) -> list[StoredObject]:
        folder = self.path(prefix) if prefix else self.root
        if not folder.is_dir():
            return []
        found = []
        for directory, _, names in os.walk(folder):
            for name in names:
                path = Path(directory) / name
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue  # removed while we walked
                found.append(
                    StoredObject(
                        path.relative_to(self.root).as_posix(),
                        stat.st_size,
                        datetime.fromtimestamp(stat.st_mtime, UTC),
                    )
                )
        return found

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)

    async def open(self, key: str) -> ObjectStream:
        path = self.path(key)
        # Opened before returning: a prune that removes the file meanwhile does not cut a
        # download short (the open handle keeps the bytes).
        handle = await anyio.to_thread.run_sync(_open_for_reading, path)
        stat = os.fstat(handle.fileno())
        return ObjectStream(
            stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC), _chunks_of(handle)
        )

    async def presigned_url(self, key: str, expires_in: timedelta) -> str | None:
        return None


def _open_for_reading(path: Path) -> BinaryIO:
    return open(path, "rb")


async def _chunks_of(handle: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await anyio.to_thread.run_sync(handle.read, CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_directory(folder: Path) -> None:
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
