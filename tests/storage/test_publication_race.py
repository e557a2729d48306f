"""Two runs of one file that both read version 0 (as when Redis forgot the file's lock), on
an object store. The test runs them one after the other, not at once: what it checks is the
store's compare-and-set, which refuses the second its version 1, and the second's cleanup,
which removes its own objects (keyed by its run) and leaves the first's alone."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from app.db.engine import create_engine, session_factory
from app.sync import engine as sync_engine
from app.sync import run_records
from app.sync.csv_store import csv_store_for
from app.sync.queue import queue_client
from app.sync.run_context import EngineContext, Progress
from connectors.base import TransientError
from tests.conftest import IsolatedService
from tests.object_store_server import S3Server
from tests.sync.tables import read_csv, write_table

HEADER = ["id", "name"]


def test_a_second_run_from_the_same_version_is_refused_by_the_compare_and_set_and_removes_only_its_own_objects(
    isolated_service: Callable[..., IsolatedService], s3_server: S3Server, tmp_path: Path
) -> None:
    service = isolated_service(STORAGE_URL=s3_server.new_url())
    user, settings = service.user, service.settings
    file_id = user.target_file()
    runs = []
    for name in ("winner", "loser"):
        table = write_table(tmp_path / f"{name}.csv", HEADER, [["1", name]])
        schedule_id = user.schedule(user.data_source(), file_id, enabled=False, path=str(table))
        # Queued with a job no worker serves: this test runs them itself.
        answered = user.post(f"/api/sync/schedules/{schedule_id}/sync?wait=0")
        assert answered.status_code == 202, answered.text
        runs.append(uuid.UUID(answered.json()["runId"]))

    async def race() -> None:
        db_engine = create_engine(settings)
        queue = queue_client(settings)
        ctx = EngineContext(settings, session_factory(db_engine), queue, csv_store_for(settings))
        try:
            for run_id in runs:
                assert await run_records.claim(ctx, run_id) is not None
            # Both read the file at version 0 before either publishes, as two workers do
            # when Redis forgot that one of them held the file's lock.
            winner, loser = [await run_records.load_inputs(ctx, run_id) for run_id in runs]
            await sync_engine._sync(ctx, winner, Progress(), time.monotonic())
            with pytest.raises(TransientError, match="published the same target file"):
                await sync_engine._sync(ctx, loser, Progress(), time.monotonic())
        finally:
            await queue.aclose()
            await db_engine.dispose()

    asyncio.run(race())

    store = csv_store_for(settings)
    stem = f"v1-{runs[0].hex}"
    assert {found.key.removeprefix(f"{file_id}/") for found in store.objects.list(file_id)} == {
        f"{stem}.csv",
        f"{stem}.parquet",
        f"{stem}.hashes.npy",
        f"changes/{runs[0]}.npz",
    }
    assert read_csv(user.get(f"/api/files/{file_id}/content").text) == [HEADER, ["1", "winner"]]
