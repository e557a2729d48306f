"""What a run's upload makes of "not found": only a staged file gone (removed by another sync
of the same file, after Redis forgot its lock) means "try again"; the store's own "not found"
(a bucket that does not exist) is the error it is, not a retry that can never succeed."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import numpy as np
import pytest

from app.db.engine import create_engine, session_factory
from app.settings import Settings
from app.storage.location import open_object_store, parse_storage_url
from app.sync import engine as sync_engine
from app.sync.csv_store import CsvStore
from app.sync.diff import ChangeSet
from app.sync.queue import queue_client
from app.sync.run_context import EngineContext
from app.sync.snapshot import StagedSnapshot
from connectors.base import TransientError
from tests.object_store_server import S3Server


def upload(settings: Settings, store: CsvStore, file_id: uuid.UUID, staged: StagedSnapshot) -> None:
    async def run() -> None:
        db_engine = create_engine(settings)
        queue = queue_client(settings)
        try:
            ctx = EngineContext(settings, session_factory(db_engine), queue, store)
            sync_engine._upload(ctx, file_id, uuid.uuid4(), "v1-" + uuid.uuid4().hex, staged)
        finally:
            await queue.aclose()
            await db_engine.dispose()

    asyncio.run(run())


def store_at(url: str, tmp_path: Path) -> CsvStore:
    return CsvStore(
        open_object_store(parse_storage_url(url, tmp_path), tmp_path / "cache"),
        tmp_path / "staging",
    )


def staged_in(store: CsvStore, file_id: uuid.UUID) -> StagedSnapshot:
    paths = [store.temp_path(file_id, suffix) for suffix in (".csv", ".parquet", ".npy")]
    for path in paths:
        path.write_bytes(b"staged")
    csv, parquet, hashes = paths
    return StagedSnapshot(
        ["id"], 1, "0" * 64, 6, csv, parquet, hashes, ChangeSet(*[np.empty(0, np.int64)] * 3)
    )


def test_the_stores_not_found_is_raised_as_it_is(
    settings: Settings, s3_server: S3Server, tmp_path: Path
) -> None:
    store = store_at(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/files", tmp_path)
    file_id = uuid.uuid4()
    staged = staged_in(store, file_id)

    with pytest.raises(FileNotFoundError, match="performing PUT"):
        upload(settings, store, file_id, staged)


def test_a_staged_file_removed_meanwhile_means_try_again_and_leaves_no_object(
    settings: Settings, s3_server: S3Server, tmp_path: Path
) -> None:
    store = store_at(s3_server.new_url(), tmp_path)
    file_id = uuid.uuid4()
    staged = staged_in(store, file_id)
    staged.csv.unlink()  # put last: the other objects are put before it is found missing

    with pytest.raises(TransientError, match="removed this run's staged files"):
        upload(settings, store, file_id, staged)
    assert store.objects.list(str(file_id)) == []
