"""Objects that a transaction stops referencing are removed only after it commits: a commit
that fails (SQLite busy, a dropped PostgreSQL connection) leaves the rows it would have
deleted, and every one of them still finds its objects. Here the commit fails for real: the
database engine raises as it is about to commit, and the transaction rolls back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from app.db.engine import create_engine, session_factory
from app.db.models import TargetFile
from app.files import service as files_service
from app.sync import engine as sync_engine
from app.sync import run_records
from app.sync.csv_store import CsvStore, csv_store_for
from app.sync.queue import queue_client
from app.sync.run_context import EngineContext, Progress
from tests.conftest import IsolatedService
from tests.object_store_server import S3Server
from tests.sync.tables import read_csv, write_table

HEADER = ["id", "name"]


class CommitRefused(Exception):
    pass


class FailingCommits:
    """While armed, every commit of a session on the engine fails before it reaches the
    database, and the session rolls back."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.armed = False
        self.engine = engine.sync_engine

    def _before_commit(self, session: Session) -> None:
        if self.armed and session.get_bind() is self.engine:
            raise CommitRefused("the database refused the commit")

    def __enter__(self) -> FailingCommits:
        event.listen(Session, "before_commit", self._before_commit)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(Session, "before_commit", self._before_commit)


@asynccontextmanager
async def engine_context(settings: Any) -> AsyncIterator[tuple[EngineContext, FailingCommits]]:
    db_engine = create_engine(settings)
    queue = queue_client(settings)
    try:
        ctx = EngineContext(settings, session_factory(db_engine), queue, csv_store_for(settings))
        with FailingCommits(db_engine) as commits:
            yield ctx, commits
    finally:
        await queue.aclose()
        await db_engine.dispose()


def keys_of(store: CsvStore, file_id: str) -> set[str]:
    return {found.key.removeprefix(f"{file_id}/") for found in store.objects.list(file_id)}


def version_keys(stem: str) -> set[str]:
    return {f"{stem}.csv", f"{stem}.parquet", f"{stem}.hashes.npy"}


def queue_runs(
    service: IsolatedService, file_id: str, tmp_path: Path, names: list[str]
) -> list[uuid.UUID]:
    """A run per name, each writing a one-row table with that name to the file (by a schedule
    of its own); queued with a job no worker serves: the test runs them itself."""
    user = service.user
    runs = []
    for name in names:
        table = write_table(tmp_path / f"{name}.csv", HEADER, [["1", name]])
        schedule_id = user.schedule(user.data_source(), file_id, enabled=False, path=str(table))
        answered = user.post(f"/api/sync/schedules/{schedule_id}/sync?wait=0")
        assert answered.status_code == 202, answered.text
        runs.append(uuid.UUID(answered.json()["runId"]))
    return runs


async def run(ctx: EngineContext, run_id: uuid.UUID) -> None:
    assert await run_records.claim(ctx, run_id) is not None
    inputs = await run_records.load_inputs(ctx, run_id)
    await sync_engine._sync(ctx, inputs, Progress(), time.monotonic())


def test_a_run_whose_commit_fails_after_pruning_leaves_the_pruned_versions_objects_and_the_next_run_prunes_them(
    isolated_service: Callable[..., IsolatedService], s3_server: S3Server, tmp_path: Path
) -> None:
    service = isolated_service(STORAGE_URL=s3_server.new_url(), FILE_VERSIONS_KEPT="1")
    user, settings = service.user, service.settings
    file_id = user.target_file()
    first, failing, second = queue_runs(service, file_id, tmp_path, ["first", "failing", "second"])
    store = csv_store_for(settings)

    async def runs() -> None:
        async with engine_context(settings) as (ctx, commits):
            await run(ctx, first)
            assert await run_records.claim(ctx, failing) is not None
            inputs = await run_records.load_inputs(ctx, failing)
            commits.armed = True
            with pytest.raises(CommitRefused):
                await sync_engine._sync(ctx, inputs, Progress(), time.monotonic())
            commits.armed = False

            # Version 1 is still the file's only version, and all its objects are there.
            assert version_keys(f"v1-{first.hex}") <= keys_of(store, file_id)
            content = user.get(f"/api/files/{file_id}/versions/1/content")
            assert content.status_code == 200 and read_csv(content.text) == [HEADER, ["1", "first"]]
            snapshot = await run_records.load_inputs(ctx, second)
            assert snapshot.file_version == 1

            await run(ctx, second)

    asyncio.run(runs())

    # The run that committed pruned version 1; what the failed run uploaded is left to the
    # sweep (its outcome was unknown to it, so it could not tell its objects were unused).
    left = keys_of(store, file_id)
    assert not version_keys(f"v1-{first.hex}") & left
    assert version_keys(f"v2-{second.hex}") <= left
    assert read_csv(user.get(f"/api/files/{file_id}/content").text) == [HEADER, ["1", "second"]]


def test_a_file_deletion_whose_commit_fails_leaves_the_file_and_its_objects(
    isolated_service: Callable[..., IsolatedService], s3_server: S3Server, tmp_path: Path
) -> None:
    service = isolated_service(STORAGE_URL=s3_server.new_url())
    user, settings = service.user, service.settings
    file_id = user.target_file()
    table = write_table(tmp_path / "only.csv", HEADER, [["1", "only"]])
    schedule_id = user.schedule(user.data_source(), file_id, enabled=False, path=str(table))
    answered = user.post(f"/api/sync/schedules/{schedule_id}/sync?wait=0")
    assert answered.status_code == 202, answered.text
    only = uuid.UUID(answered.json()["runId"])
    store = csv_store_for(settings)

    async def delete_failing_then_succeeding() -> None:
        async with engine_context(settings) as (ctx, commits):
            await run(ctx, only)
            user.ok("DELETE", f"/api/sync/schedules/{schedule_id}")
            for armed in (True, False):
                commits.armed = armed
                async with ctx.sessions() as db:
                    file = await db.get(TargetFile, uuid.UUID(file_id))
                    assert file is not None
                    if armed:
                        with pytest.raises(CommitRefused):
                            await files_service.delete(db, store, file)
                        assert version_keys(f"v1-{only.hex}") <= keys_of(store, file_id)
                        content = user.get(f"/api/files/{file_id}/content")
                        assert content.status_code == 200
                        assert read_csv(content.text) == [HEADER, ["1", "only"]]
                    else:
                        await files_service.delete(db, store, file)

    asyncio.run(delete_failing_then_succeeding())

    assert keys_of(store, file_id) == set()
    assert user.get(f"/api/files/{file_id}").status_code == 404
