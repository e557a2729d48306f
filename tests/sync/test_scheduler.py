"""Scheduled runs across real worker processes: once per slot, whatever races or dies.

These tests get a store and a Redis database of their own, so that no other worker of the
session claims their schedules.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from arq.jobs import Job, JobStatus
from sqlalchemy import insert, select, update

from app.db.engine import create_engine, session_factory
from app.db.models import DataSource, Schedule, SyncRun, User
from app.settings import Settings
from app.sync.csv_store import CsvStore
from app.sync.engine import EngineContext
from app.sync.queue import job_id_for, queue_client
from app.sync.scheduler import CLAIM_BATCH, enqueue_due_runs
from tests.conftest import IsolatedService, start_process, stop_process
from tests.observability.test_metrics_and_logs import scrape
from tests.sync.tables import read_csv, write_table


@pytest.fixture
def isolated(isolated_service: Callable[..., IsolatedService]) -> IsolatedService:
    return isolated_service()


def run_in_store(settings: Settings, statement: Any) -> None:
    async def execute() -> None:
        engine = create_engine(settings)
        async with session_factory(engine)() as db:
            await db.execute(statement)
            await db.commit()
        await engine.dispose()

    asyncio.run(execute())


def runs_of(settings: Settings, schedule_id: str) -> list[SyncRun]:
    async def fetch() -> list[SyncRun]:
        engine = create_engine(settings)
        async with session_factory(engine)() as db:
            query = select(SyncRun).where(SyncRun.schedule_id == uuid.UUID(schedule_id))
            rows = (await db.scalars(query.order_by(SyncRun.created_at))).all()
        await engine.dispose()
        return list(rows)

    return asyncio.run(fetch())


def make_due(settings: Settings, schedule_id: str, ago: timedelta) -> datetime:
    slot = (datetime.now(UTC) - ago).replace(microsecond=0)
    run_in_store(
        settings,
        update(Schedule).where(Schedule.id == uuid.UUID(schedule_id)).values(next_sync_at=slot),
    )
    return slot


@asynccontextmanager
async def engine_context(settings: Settings) -> AsyncIterator[EngineContext]:
    """What a worker's scheduler tick gets: its own store connections and queue client."""
    engine = create_engine(settings)
    queue = queue_client(settings)
    try:
        yield EngineContext(settings, session_factory(engine), queue, CsvStore(settings.files_dir))
    finally:
        await queue.aclose()
        await engine.dispose()


def minutes_ago(minutes: int) -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes)


def insert_schedules(
    iso: IsolatedService, table: Path, slots: list[datetime], **config: Any
) -> list[uuid.UUID]:
    """One hourly schedule of the isolated user per slot, due then, written straight into the
    store (creating hundreds through the API would take most of the test's time)."""
    source_id = uuid.UUID(iso.user.data_source())
    file_id = uuid.UUID(iso.user.target_file())
    ids = [uuid.uuid4() for _ in slots]

    async def write() -> None:
        engine = create_engine(iso.settings)
        async with session_factory(engine)() as db:
            user_id = await db.scalar(select(DataSource.user_id).where(DataSource.id == source_id))
            rows = [
                {
                    "id": schedule_id,
                    "user_id": user_id,
                    "name": f"schedule {n}",
                    "data_source_id": source_id,
                    "target_file_id": file_id,
                    "frequency": "hourly",
                    "enabled": True,
                    "config": {"path": str(table), **config},
                    "next_sync_at": slot,
                }
                for n, (schedule_id, slot) in enumerate(zip(ids, slots, strict=True))
            ]
            await db.execute(insert(Schedule), rows)
            await db.commit()
        await engine.dispose()

    asyncio.run(write())
    return ids


def store_state(settings: Settings) -> tuple[list[SyncRun], dict[uuid.UUID, datetime | None]]:
    """Every run, and every schedule's next slot."""

    async def read() -> tuple[list[SyncRun], dict[uuid.UUID, datetime | None]]:
        engine = create_engine(settings)
        async with session_factory(engine)() as db:
            runs = list((await db.scalars(select(SyncRun))).all())
            next_slots = dict((await db.execute(select(Schedule.id, Schedule.next_sync_at))).all())
        await engine.dispose()
        return runs, next_slots

    return asyncio.run(read())


def wait_for(condition: Any, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_due_schedule_runs_once_and_moves_to_its_next_slot(
    isolated: IsolatedService, tmp_path: Path
) -> None:
    settings, env, user = isolated.settings, isolated.env, isolated.user
    table = write_table(tmp_path / "t.csv", ["id"], [["1"], ["2"]])
    schedule_id = user.schedule(user.data_source(), user.target_file(), "hourly", path=str(table))
    slot = make_due(settings, schedule_id, timedelta(seconds=5))
    worker = start_process(["worker"], env, tmp_path / "worker.log")
    try:
        wait_for(
            lambda: [r.status for r in runs_of(settings, schedule_id)] == ["success"],
            what="the scheduled run",
        )
        time.sleep(2.5)  # two more ticks
    finally:
        stop_process(worker)

    (run,) = runs_of(settings, schedule_id)
    assert (run.trigger, run.slot_at, run.attempt) == ("schedule", slot, 1)
    schedule = user.ok("GET", f"/api/sync/schedules/{schedule_id}")["schedule"]
    next_sync = datetime.fromisoformat(schedule["nextSyncAt"].replace("Z", "+00:00"))
    assert datetime.now(UTC) < next_sync <= datetime.now(UTC) + timedelta(hours=1)
    assert next_sync.minute == 0 and next_sync.second == 0
    assert schedule["lastSyncStatus"] == "success" and schedule["lastSyncRowCount"] == 2


def test_three_workers_and_two_extra_ticks_never_run_a_slot_twice(
    isolated: IsolatedService, tmp_path: Path
) -> None:
    settings, env, user = isolated.settings, isolated.env, isolated.user
    schedules = []
    for i in range(6):
        table = write_table(tmp_path / f"t{i}.csv", ["id"], [[str(i)]])
        schedules.append(
            user.schedule(
                user.data_source(), user.target_file(f"f{i}.csv"), "daily", path=str(table)
            )
        )
        make_due(settings, schedules[-1], timedelta(minutes=1))

    async def two_ticks() -> None:
        engine = create_engine(settings)
        queue = queue_client(settings)
        context = EngineContext(
            settings, session_factory(engine), queue, CsvStore(settings.files_dir)
        )
        await asyncio.gather(enqueue_due_runs(context), enqueue_due_runs(context))
        await queue.aclose()
        await engine.dispose()

    workers = [start_process(["worker"], env, tmp_path / f"worker{i}.log") for i in range(3)]
    try:
        asyncio.run(two_ticks())
        wait_for(
            lambda: all([r.status for r in runs_of(settings, s)] == ["success"] for s in schedules),
            what="one successful run per schedule",
        )
        time.sleep(3)
    finally:
        for worker in workers:
            stop_process(worker)

    assert [len(runs_of(settings, s)) for s in schedules] == [1] * 6


def test_after_downtime_a_schedule_runs_once_not_once_per_missed_slot(
    isolated: IsolatedService, tmp_path: Path
) -> None:
    settings, env, user = isolated.settings, isolated.env, isolated.user
    table = write_table(tmp_path / "t.csv", ["id"], [["1"]])
    schedule_id = user.schedule(user.data_source(), user.target_file(), "hourly", path=str(table))
    make_due(settings, schedule_id, timedelta(hours=10, minutes=30))  # ten missed slots
    worker = start_process(["worker"], env, tmp_path / "worker.log")
    try:
        wait_for(
            lambda: [r.status for r in runs_of(settings, schedule_id)] == ["success"],
            what="the catch-up run",
        )
        time.sleep(3)
    finally:
        stop_process(worker)
    assert len(runs_of(settings, schedule_id)) == 1


def test_a_killed_worker_leaves_no_half_written_csv_and_no_run_stuck_running(
    isolated: IsolatedService, tmp_path: Path
) -> None:
    settings, env, user = isolated.settings, isolated.env, isolated.user
    table = write_table(tmp_path / "t.csv", ["id", "name"], [[str(i), "first"] for i in range(3)])
    file_id = user.target_file()
    schedule_id = user.schedule(
        user.data_source(), file_id, "daily", path=str(table), maxRowDropPercent=100
    )
    first_worker = start_process(["worker"], env, tmp_path / "worker1.log")
    try:
        user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
        before = user.get(f"/api/files/{file_id}/content").content
        # A big table in small batches: the kill lands while the new CSV is being written.
        write_table(table, ["id", "name"], [[str(i), "second"] for i in range(400_000)])
        user.ok(
            "PUT",
            f"/api/sync/schedules/{schedule_id}",
            json={"config": {"batchRows": 1000, "batchDelaySeconds": 0.02}},
        )
        run_id = user.post(f"/api/sync/schedules/{schedule_id}/sync?wait=0").json()["runId"]
        wait_for(
            lambda: (
                (user.ok("GET", f"/api/sync/runs/{run_id}")["run"]["progress"] or {}).get(
                    "rowsFetched", 0
                )
                > 0
            ),
            what="the run to start writing",
        )
        first_worker.send_signal(signal.SIGKILL)
        first_worker.wait()
        temp_files = list((settings.files_dir / file_id).glob(".tmp-*"))
        assert (
            user.get(f"/api/files/{file_id}/content").content == before
        )  # readers never see half a file
        second_worker = start_process(["worker"], env, tmp_path / "worker2.log")
        try:
            wait_for(
                lambda: user.ok("GET", f"/api/sync/runs/{run_id}")["run"]["status"] == "error",
                timeout=60,
                what="the orphaned run to be marked failed",
            )
            wait_for(
                lambda: (
                    user.ok("GET", f"/api/sync/schedules/{schedule_id}")["schedule"][
                        "lastSyncStatus"
                    ]
                    == "success"
                ),
                timeout=60,
                what="the retry to succeed",
            )
        finally:
            stop_process(second_worker)
    finally:
        stop_process(first_worker)

    orphan = user.ok("GET", f"/api/sync/runs/{run_id}")["run"]
    assert "stopped unexpectedly" in orphan["error"]
    assert temp_files, "the kill should have interrupted a write in progress"
    assert not list((settings.files_dir / file_id).glob(".tmp-*"))
    content = read_csv(user.get(f"/api/files/{file_id}/content").text)
    assert len(content) == 400_001 and content[-1] == ["399999", "second"]
    statuses = [r.status for r in runs_of(settings, schedule_id)]
    assert "running" not in statuses and "queued" not in statuses


def test_three_ticks_at_once_claim_each_of_300_due_slots_exactly_once(
    isolated: IsolatedService, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", ["id"], [["1"]])
    slot = minutes_ago(1)
    schedules = insert_schedules(isolated, table, [slot] * 300)

    async def three_ticks() -> list[list[SyncRun]]:
        # Small batches, so that each tick claims many; each tick has its own connections and
        # queue client, like ticks in three worker processes. Ticks that read the same batch
        # wait for one another, and one that finds its batch claimed leaves the rest to the
        # tick that claimed it.
        async def tick() -> list[SyncRun]:
            async with engine_context(isolated.settings) as ctx:
                return await enqueue_due_runs(ctx, batch_size=20)

        return list(await asyncio.gather(tick(), tick(), tick()))

    ticked_at = datetime.now(UTC)
    created = asyncio.run(three_ticks())

    claimed = Counter(run.schedule_id for runs in created for run in runs)
    assert claimed == Counter(schedules)  # each slot claimed by exactly one of the ticks
    runs, next_slots = store_state(isolated.settings)
    assert Counter(run.schedule_id for run in runs) == Counter(schedules)
    assert {(run.trigger, run.slot_at, run.attempt, run.status) for run in runs} == {
        ("schedule", slot, 1, "queued")
    }
    (next_slot,) = {next_slots[s] for s in schedules}  # hourly at :00, the next hour
    assert next_slot is not None and next_slot.minute == 0
    assert ticked_at < next_slot <= ticked_at + timedelta(hours=1)


def test_one_tick_claims_every_due_slot_and_queues_a_job_for_each_run(
    isolated: IsolatedService, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", ["id"], [["1"]])
    # More than the 500 a tick once stopped at, and more than one claim batch.
    count = CLAIM_BATCH + 200
    schedules = insert_schedules(isolated, table, [minutes_ago(1)] * count)

    async def tick_then_read_the_queue() -> tuple[list[SyncRun], list[tuple[JobStatus, Any]]]:
        async with engine_context(isolated.settings) as ctx:
            created = await enqueue_due_runs(ctx)
            async with ctx.sessions() as db:
                runs = (await db.scalars(select(SyncRun))).all()
            jobs = [
                Job(job_id_for(run), ctx.queue, _queue_name=ctx.queue.default_queue_name)
                for run in runs
            ]
            statuses = await asyncio.gather(*(job.status() for job in jobs))
            infos = await asyncio.gather(*(job.info() for job in jobs))
            return created, [
                (status, (info.function, info.args) if info else None)
                for status, info in zip(statuses, infos, strict=True)
            ]

    created, jobs = asyncio.run(tick_then_read_the_queue())

    assert Counter(run.schedule_id for run in created) == Counter(schedules)
    assert Counter(status for status, _ in jobs) == {JobStatus.queued: count}
    assert {job for _, job in jobs} == {("run_sync", (str(run.id),)) for run in created}


def test_scheduler_lag_is_the_wait_of_the_oldest_unclaimed_slot_and_0_once_caught_up(
    isolated: IsolatedService, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", ["id"], [["1"]])
    missed = minutes_ago(5 * 60)  # the slot of a schedule that waited out five hours of downtime
    insert_schedules(isolated, table, [missed, minutes_ago(2), minutes_ago(-30)])
    five_hours = 5 * 3600.0

    before = scrape(isolated.user.client)  # tests render metrics afresh (METRICS_CACHE_SECONDS=0)
    assert five_hours <= before["datasync_scheduler_lag_seconds"] < five_hours + 60

    async def tick() -> None:
        async with engine_context(isolated.settings) as ctx:
            await enqueue_due_runs(ctx)

    asyncio.run(tick())
    after = scrape(isolated.user.client)

    assert after["datasync_scheduler_lag_seconds"] == 0
    assert after["datasync_schedules_overdue_seconds"] == 0
    # The catch-up run stays in the history of the last hour: it was created five hours late.
    assert five_hours <= after["datasync_scheduler_lag_max_seconds"] < five_hours + 60


def test_a_schedule_whose_timing_cannot_be_read_loses_its_next_slot_and_holds_up_no_other(
    isolated: IsolatedService, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", ["id"], [["1"]])
    slot = minutes_ago(1)
    (good,) = insert_schedules(isolated, table, [slot])
    # A zone the store accepted once and tzdata no longer knows.
    (unreadable,) = insert_schedules(isolated, table, [slot], timezone="Mars/Olympus_Mons")

    async def tick() -> list[SyncRun]:
        async with engine_context(isolated.settings) as ctx:
            return await enqueue_due_runs(ctx)

    created = asyncio.run(tick())

    runs, next_slots = store_state(isolated.settings)
    assert [run.schedule_id for run in created] == [run.schedule_id for run in runs] == [good]
    assert next_slots[unreadable] is None
    assert scrape(isolated.user.client)["datasync_scheduler_lag_seconds"] == 0


def test_a_tick_waits_for_a_starting_run_of_a_due_schedule_instead_of_deadlocking(
    isolated: IsolatedService, tmp_path: Path
) -> None:
    # A run's admission locks its user and then updates its schedule (app/sync/admission.py,
    # app/sync/engine.py). A tick that locked the schedule and then waited for the user (its
    # new run needs the user's key-share lock) would close a cycle; PostgreSQL would abort one
    # of the two. On SQLite, with one writer, the two simply take turns.
    table = write_table(tmp_path / "t.csv", ["id"], [["1"]])
    (schedule,) = insert_schedules(isolated, table, [minutes_ago(1)])

    async def start_a_run_while_ticking() -> list[SyncRun]:
        async with (
            engine_context(isolated.settings) as starting,
            engine_context(isolated.settings) as ticking,
        ):
            async with starting.sessions() as db:
                user_id = await db.scalar(select(Schedule.user_id).where(Schedule.id == schedule))
                await db.execute(select(User.id).where(User.id == user_id).with_for_update())
                tick = asyncio.create_task(enqueue_due_runs(ticking))
                await asyncio.sleep(0.5)  # the tick reaches the user's lock and waits there
                await db.execute(
                    update(Schedule)
                    .where(Schedule.id == schedule)
                    .values(last_sync_status="running")
                )
                await db.commit()
            return await asyncio.wait_for(tick, timeout=30)

    created = asyncio.run(start_a_run_while_ticking())

    assert [run.schedule_id for run in created] == [schedule]
