"""Where target files live on disk: one folder per file, one CSV per kept version.

`{root}/{file_id}/v{version}.csv` is what clients download; beside it the engine keeps
`v{version}.parquet` (the same rows as canonical text) and `v{version}.hashes.npy` (a hash
per row): the next run diffs against them and change sets are read from them. Writes go to
a temp file in the same folder, are fsynced, then renamed, so a reader never sees half a
file and a crash never leaves one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class CsvStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, file_id: uuid.UUID) -> Path:
        return self.root / str(file_id)

    def csv_path(self, file_id: uuid.UUID, version: int) -> Path:
        return self.folder(file_id) / f"v{version}.csv"

    def snapshot_path(self, file_id: uuid.UUID, version: int) -> Path:
        return self.folder(file_id) / f"v{version}.parquet"

    def hashes_path(self, file_id: uuid.UUID, version: int) -> Path:
        return self.folder(file_id) / f"v{version}.hashes.npy"

    def temp_path(self, file_id: uuid.UUID, suffix: str) -> Path:
        folder = self.folder(file_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f".tmp-{uuid.uuid4().hex}{suffix}"

    def publish(self, temp: Path, final: Path) -> None:
        """Atomically moves a fully written temp file into place."""
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, final)
        directory = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def prune(
        self, file_id: uuid.UUID, keep_versions: Iterable[int], keep_change_sets: int = 100
    ) -> None:
        """Deletes version files not in `keep_versions` and all but the newest change sets
        (they are readable only while their snapshot versions are kept anyway)."""
        keep = {
            f"v{v}{suffix}" for v in keep_versions for suffix in (".csv", ".parquet", ".hashes.npy")
        }
        folder = self.folder(file_id)
        if not folder.is_dir():
            return
        for path in folder.iterdir():
            if path.is_file() and path.name.startswith("v") and path.name not in keep:
                path.unlink(missing_ok=True)
        change_sets = sorted(
            (folder / "changes").glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for stale in change_sets[keep_change_sets:]:
            stale.unlink(missing_ok=True)
            stale.with_suffix(".csv").unlink(missing_ok=True)

    def remove_temp_files(self, file_id: uuid.UUID) -> None:
        folder = self.folder(file_id)
        if folder.is_dir():
            for path in folder.glob(".tmp-*"):
                path.unlink(missing_ok=True)

    def delete(self, file_id: uuid.UUID) -> None:
        shutil.rmtree(self.folder(file_id), ignore_errors=True)
