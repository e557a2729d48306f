"""Where target files live: the keys of a file's versions and change sets in the storage
backend (app/storage/), and the local folder runs stage them in first.

Keys, relative to the store's root (`STORAGE_URL`):

    {file_id}/{stem}.csv              what clients download
    {file_id}/{stem}.parquet          the same rows as canonical text: the next run diffs
                                      against it, change sets are read from it
    {file_id}/{stem}.hashes.npy       a hash per row
    {file_id}/changes/{run_id}.npz    a run's change positions (app/sync/change_sets.py)
    {file_id}/changes/{run_id}.csv    its change set as CSV, built on first request

A version's stem is `v{version}-{run id in hex}`, recorded in its FileVersion row
(`object_stem`): the run that staged it is the only writer of those keys, so a run that
loses the race to publish a version (two writers after Redis forgot the file's lock) can
never overwrite the objects of the one that won. Versions published before that column
existed are `v{version}` (`object_stem` NULL), as older releases named them.

Objects are put under their version's keys before the transaction that names the version
commits; until then nothing refers to them, and a crash leaves only objects no row names.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.settings import Settings, SettingsError
from app.storage.local import LocalObjectStore
from app.storage.location import StorageUrlError, open_object_store
from app.storage.objects import ObjectStore

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_VERSION_KEY = re.compile(r"v(\d+)(?:-[0-9a-f]{32})?(?:\.csv|\.parquet|\.hashes\.npy)")


def csv_store_for(settings: Settings) -> CsvStore:
    """The store `STORAGE_URL` names. Runs stage in its own folder when it is local (so
    publishing is a rename), else in `DATA_DIR/staging`; remote objects read as local files
    are cached in `DATA_DIR/cache`. Raises SettingsError."""
    location = settings.storage_location
    try:
        objects = open_object_store(location, settings.data_dir / "cache")
    except StorageUrlError as error:
        raise SettingsError(str(error)) from None
    return CsvStore(objects, location.folder or settings.data_dir / "staging")


def version_stem(version: int, run_id: uuid.UUID | None) -> str:
    """The stem of the objects of `version` as published by run `run_id` (None: a version
    published before stems carried the run)."""
    return f"v{version}" if run_id is None else f"v{version}-{run_id.hex}"


def stored_stem(version: int, object_stem: str | None) -> str:
    """The stem a FileVersion row names (`object_stem`, NULL for older rows)."""
    return object_stem or f"v{version}"


@dataclass(frozen=True, slots=True)
class VersionKeys:
    csv: str
    parquet: str
    hashes: str

    def all(self) -> tuple[str, str, str]:
        return (self.csv, self.parquet, self.hashes)


class CsvStore:
    """A file's objects in `objects`, and `staging`, the local folder runs write to first.
    With the local backend, staging is the store's own folder (publishing is a rename);
    `CsvStore(path)` is that case."""

    def __init__(self, objects: ObjectStore | Path, staging: Path | None = None) -> None:
        if isinstance(objects, Path):
            staging = staging or objects
            objects = LocalObjectStore(objects)
        if staging is None:
            raise ValueError("a CsvStore needs a local staging folder")
        self.objects: ObjectStore = objects
        self.staging = staging

    def version_keys(self, file_id: uuid.UUID, stem: str) -> VersionKeys:
        prefix = f"{file_id}/{stem}"
        return VersionKeys(f"{prefix}.csv", f"{prefix}.parquet", f"{prefix}.hashes.npy")

    def change_positions_key(self, file_id: uuid.UUID, run_id: uuid.UUID) -> str:
        return f"{file_id}/changes/{run_id}.npz"

    def change_csv_key(self, file_id: uuid.UUID, run_id: uuid.UUID) -> str:
        return f"{file_id}/changes/{run_id}.csv"

    def temp_path(self, file_id: uuid.UUID, suffix: str) -> Path:
        """A new local file name to stage an object of `file_id` in."""
        folder = self.staging / str(file_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f".tmp-{uuid.uuid4().hex}{suffix}"

    def scratch_path(self, file_id: uuid.UUID, suffix: str) -> Path:
        """A new local file name for work on `file_id` outside runs (building a change set):
        apart from the staged files a starting run removes."""
        folder = self.staging / str(file_id) / "changes"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f".tmp-{uuid.uuid4().hex}{suffix}"

    def remove_temp_files(self, file_id: uuid.UUID) -> None:
        """Removes what runs of `file_id` left staged; only for the holder of its lock."""
        folder = self.staging / str(file_id)
        if folder.is_dir():
            for path in folder.glob(".tmp-*"):
                path.unlink(missing_ok=True)

    def remove_staging(self, staging_id: uuid.UUID) -> None:
        """Removes a staging folder that is no target file's (a preview's)."""
        shutil.rmtree(self.staging / str(staging_id), ignore_errors=True)

    def publish(
        self, file_id: uuid.UUID, stem: str, *, csv: Path, parquet: Path, hashes: Path
    ) -> VersionKeys:
        """Puts a staged version's files under its keys (consuming them); raises
        FileNotFoundError if a staged file is gone."""
        keys = self.version_keys(file_id, stem)
        self.objects.put_file(keys.parquet, parquet)
        self.objects.put_file(keys.hashes, hashes)
        # The CSV goes last: once it exists under its version's key, everything it needs does.
        self.objects.put_file(keys.csv, csv)
        return keys

    def stale_change_sets(self, file_id: uuid.UUID, keep: int) -> list[str]:
        """The keys of all but the newest `keep` change sets of a file, with their CSVs
        (a change set reads only while its snapshot versions are kept anyway)."""
        change_sets = [
            found for found in self.objects.list(f"{file_id}/changes") if found.key.endswith(".npz")
        ]
        change_sets.sort(key=lambda found: found.last_modified, reverse=True)
        return [
            key
            for old in change_sets[keep:]
            for key in (old.key, old.key.removesuffix(".npz") + ".csv")
        ]

    def delete(self, file_id: uuid.UUID) -> None:
        self.objects.delete_prefix(str(file_id))
        shutil.rmtree(self.staging / str(file_id), ignore_errors=True)
