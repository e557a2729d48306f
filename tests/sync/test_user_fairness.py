"""Fair shares between users: one user's backlog never delays another user's sync. At most
MAX_CONCURRENT_RUNS_PER_USER runs of one user execute at once, across worker processes; the
user's other runs wait without holding a worker and start in the order they became ready.

The start and end times compared here are the runs' own, as the API reports them.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import create_engine, session_factory
from app.db.models import SyncRun, utcnow
from app.settings import Settings
from app.sync.admission import SWEEP_AFTER, Outcome, claim_run
from tests.conftest import ApiUser, IsolatedService, register, start_process, stop_process
from tests.sync.tables import write_table

HEADER = ["id", "name"]
T = TypeVar("T")


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def seconds_between(earlier: str, later: str) -> float:
    return (moment(later) - moment(earlier)).total_seconds()


def make_schedules(user: ApiUser, directory: Path, count: int, **config: Any) -> list[str]:
    """Schedules of their own (disabled: only manual syncs run them), each on its own table
    and target file."""
    directory.mkdir(parents=True, exist_ok=True)
    schedules = []
    for i in range(count):
        name = f"{uuid.uuid4().hex[:8]}.csv"
        table = write_table(directory / name, HEADER, [[str(i), "row"]])
        source = user.data_source()
        schedules.append(
            user.schedule(source, user.target_file(name), enabled=False, path=str(table), **config)
        )
    return schedules


def sync_now(user: ApiUser, schedule_id: str) -> str:
    """A manual sync answered at once; returns its run id."""
    response = user.post(f"/api/sync/schedules/{schedule_id}/sync?wait=0")
    assert response.status_code == 202, response.text
    return str(response.json()["runId"])


def queue_syncs(user: ApiUser, directory: Path, count: int, **config: Any) -> list[str]:
    """`count` manual syncs queued back to back; their run ids in queue order."""
    return [sync_now(user, s) for s in make_schedules(user, directory, count, **config)]


@dataclass
class Observed:
    runs: list[dict[str, Any]]  # as the API shows them once ended, in queue order
    most_seen_running: int  # the most of the user's runs seen `running` by one poll

    @property
    def most_at_once(self) -> int:
        """The most runs whose [start, end) intervals overlap."""
        edges = sorted(
            [(moment(r["startedAt"]), 1) for r in self.runs]
            + [(moment(r["completedAt"]), -1) for r in self.runs]
        )
        running = most = 0
        for _, step in edges:
            running += step
            most = max(most, running)
        return most

    @property
    def start_order(self) -> list[str]:
        return [r["id"] for r in sorted(self.runs, key=lambda r: moment(r["startedAt"]))]

    def summary(self) -> str:
        start = min(moment(r["createdAt"]) for r in self.runs)
        return "; ".join(
            f"{r['id'][:8]} {r['status']} "
            f"{(moment(r['startedAt']) - start).total_seconds():.2f} to "
            f"{(moment(r['completedAt']) - start).total_seconds():.2f} s"
            for r in self.runs
        )


def follow(user: ApiUser, run_ids: list[str], timeout: float = 40) -> Observed:
    """Polls the user's runs until all of `run_ids` ended, counting the running ones."""
    most = 0
    deadline = time.monotonic() + timeout
    while True:
        runs = {r["id"]: r for r in user.ok("GET", "/api/sync/runs?limit=200")["runs"]}
        most = max(most, sum(r["status"] == "running" for r in runs.values()))
        if all(runs[i]["status"] in ("success", "error") for i in run_ids):
            return Observed([runs[i] for i in run_ids], most)
        if time.monotonic() > deadline:
            statuses = [runs[i]["status"] for i in run_ids]
            raise AssertionError(f"runs not done after {timeout} s: {statuses}")
        time.sleep(0.05)


class Store:
    """The service's store, read and written directly from the test's thread."""

    def __init__(self, settings: Settings) -> None:
        self._loop = asyncio.Runner()
        self._engine = create_engine(settings)
        self._sessions = session_factory(self._engine)

    def __call__(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async def in_session() -> T:
            async with self._sessions() as db:
                return await work(db)

        return self._loop.run(in_session())

    def run(self, run_id: str) -> SyncRun | None:
        return self(lambda db: db.get(SyncRun, uuid.UUID(run_id)))

    def close(self) -> None:
        self._loop.run(self._engine.dispose())
        self._loop.close()


@contextmanager
def store_of(settings: Settings) -> Iterator[Store]:
    store = Store(settings)
    try:
        yield store
    finally:
        store.close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def workers(
    service: IsolatedService, directory: Path, count: int = 1
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker processes of the service's own, started and polling the queue; each logs to
    `directory / f"worker{i}.log"`."""
    logs = [directory / f"worker{i}.log" for i in range(count)]
    processes = [start_process(["worker"], service.env, log) for log in logs]
    try:
        wait_for(
            lambda: all("Starting worker" in log.read_text() for log in logs),
            "the workers to start",
            timeout=60,
        )
        yield processes
    finally:
        for process in processes:
            stop_process(process)


@pytest.mark.usefixtures("worker")
def test_a_backlog_of_slow_runs_does_not_delay_another_users_quick_sync(
    user: ApiUser, other_user: ApiUser, settings: Settings, tmp_path: Path
) -> None:
    assert settings.max_concurrent_runs_per_user == 2
    quick_schedule, warm_up = make_schedules(other_user, tmp_path / "b", 2)
    other_user.ok("POST", f"/api/sync/schedules/{warm_up}/sync")  # the worker is up
    backlog = queue_syncs(user, tmp_path / "a", 10, sleepSeconds=2)
    quick = sync_now(other_user, quick_schedule)

    seen = follow(user, backlog)

    other = follow(other_user, [quick]).runs[0]
    delay = seconds_between(other["createdAt"], other["startedAt"])
    assert other["status"] == "success"
    assert delay < 5, f"the other user's sync started {delay:.2f} s after it was requested"
    assert [r["status"] for r in seen.runs] == ["success"] * 10, seen.summary()
    assert (seen.most_at_once, seen.most_seen_running) == (2, 2), seen.summary()
    assert seen.start_order == backlog, seen.summary()


def test_the_limit_holds_across_two_worker_processes(
    isolated_service: Callable[..., IsolatedService], tmp_path: Path
) -> None:
    service = isolated_service()
    with workers(service, tmp_path, count=2):
        backlog = queue_syncs(service.user, tmp_path, 12, sleepSeconds=0.5)
        seen = follow(service.user, backlog)

    # Which worker runs what is up to arq; six rounds of hand-overs nearly always use both.
    ran = [(tmp_path / f"worker{i}.log").read_text().count('"sync succeeded"') for i in range(2)]
    assert [r["status"] for r in seen.runs] == ["success"] * 12, seen.summary()
    assert sum(ran) == 12, ran
    assert (seen.most_at_once, seen.most_seen_running) == (2, 2), f"{ran=} {seen.summary()}"
    assert seen.start_order == backlog, seen.summary()


def test_with_a_limit_of_one_a_users_runs_go_strictly_one_at_a_time(
    isolated_service: Callable[..., IsolatedService], tmp_path: Path
) -> None:
    service = isolated_service(MAX_CONCURRENT_RUNS_PER_USER="1")
    with workers(service, tmp_path):
        backlog = queue_syncs(service.user, tmp_path, 4, sleepSeconds=0.5)
        seen = follow(service.user, backlog)

    assert [r["status"] for r in seen.runs] == ["success"] * 4, seen.summary()
    assert (seen.most_at_once, seen.most_seen_running) == (1, 1), seen.summary()
    assert seen.start_order == backlog, seen.summary()
    for earlier, later in zip(seen.runs, seen.runs[1:], strict=False):
        assert moment(later["startedAt"]) >= moment(earlier["completedAt"]), seen.summary()


def test_a_waiting_run_whose_schedule_is_deleted_does_not_hold_up_the_next(
    isolated_service: Callable[..., IsolatedService], tmp_path: Path
) -> None:
    service = isolated_service(MAX_CONCURRENT_RUNS_PER_USER="1")
    user = service.user
    with store_of(service.settings) as store, workers(service, tmp_path):
        first, doomed, last = queue_syncs(user, tmp_path, 3, sleepSeconds=1)
        wait_for(
            lambda: all((store.run(r) or SyncRun()).waiting_since for r in (doomed, last)),
            "both later runs to wait for the first",
        )
        doomed_schedule = user.ok("GET", f"/api/sync/runs/{doomed}")["run"]["scheduleId"]
        user.ok("DELETE", f"/api/sync/schedules/{doomed_schedule}")
        seen = follow(user, [first, last])

    ended, started = seen.runs[0]["completedAt"], seen.runs[1]["startedAt"]
    assert [r["status"] for r in seen.runs] == ["success", "success"], seen.summary()
    assert 0 <= seconds_between(ended, started) < 2, seen.summary()
    assert user.get(f"/api/sync/runs/{doomed}").status_code == 404


def test_a_retry_waiting_out_its_backoff_does_not_hold_up_the_users_next_runs(
    isolated_service: Callable[..., IsolatedService], tmp_path: Path
) -> None:
    service = isolated_service(MAX_CONCURRENT_RUNS_PER_USER="1")
    user = service.user
    flaky, steady = make_schedules(user, tmp_path, 2)
    user.ok(
        "PUT", f"/api/sync/schedules/{flaky}", json={"config": {"failTimes": 1, "retryAfter": 60}}
    )
    with workers(service, tmp_path):
        failed = user.post(f"/api/sync/schedules/{flaky}/sync")
        assert failed.status_code == 500, failed.text
        run_id = sync_now(user, steady)
        run = follow(user, [run_id]).runs[0]

    # History holds executions only: the failure, while its retry waits out the backoff.
    history = user.ok("GET", f"/api/sync/schedules/{flaky}/history")["history"]
    assert [(h["trigger"], h["status"]) for h in history] == [("manual", "error")]
    assert history[0]["startedAt"] and history[0]["completedAt"]
    pending = user.ok("GET", "/api/sync/runs", params={"status": "queued"})["runs"]
    assert [(r["trigger"], r["scheduleId"]) for r in pending] == [("retry", flaky)]
    schedule = user.ok("GET", f"/api/sync/schedules/{flaky}")["schedule"]
    assert schedule["nextRetryAt"] == pending[0]["readyAt"] == history[0]["retryAfter"]
    assert run["status"] == "success"
    assert seconds_between(run["createdAt"], run["startedAt"]) < 3


def test_a_ready_run_whose_job_was_lost_is_started_by_the_scheduler_tick(
    isolated_service: Callable[..., IsolatedService], tmp_path: Path
) -> None:
    service = isolated_service()
    user = service.user
    # The orphan's owner has no other run: the end of `user`'s run wakes only `user`'s queue,
    # so nothing but the tick can start the orphan.
    owner = register(user.client)
    (schedule_id,) = make_schedules(user, tmp_path / "user", 1)
    (orphans_schedule,) = make_schedules(owner, tmp_path / "owner", 1)
    orphan = SyncRun(
        schedule_id=uuid.UUID(orphans_schedule),
        user_id=uuid.UUID(owner.ok("GET", "/api/auth/me")["user"]["id"]),
        trigger="manual",
        data_source_type="test-table",
    )

    async def insert(db: AsyncSession) -> None:
        db.add(orphan)  # as if Redis lost its job: nothing was enqueued
        await db.commit()

    with store_of(service.settings) as store, workers(service, tmp_path):
        user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")  # the worker is up
        store(insert)
        run = follow(owner, [str(orphan.id)], timeout=30).runs[0]

    delay = seconds_between(run["createdAt"], run["startedAt"])
    assert run["status"] == "success"
    # The tick's wake-up (SWEEP_AFTER plus a tick), long before lost jobs are re-enqueued.
    assert SWEEP_AFTER.total_seconds() <= delay < SWEEP_AFTER.total_seconds() + 10, delay


@pytest.mark.parametrize("limit", [1, 2])
def test_claims_racing_for_a_users_slots_start_only_the_first_ready_runs(
    isolated_service: Callable[..., IsolatedService], tmp_path: Path, limit: int
) -> None:
    service = isolated_service()
    user = service.user
    (schedule_id,) = make_schedules(user, tmp_path, 1)
    user_id = uuid.UUID(user.ok("GET", "/api/auth/me")["user"]["id"])
    now = utcnow()
    runs = [
        SyncRun(
            schedule_id=uuid.UUID(schedule_id),
            user_id=user_id,
            trigger="manual",
            data_source_type="test-table",
            ready_at=now - timedelta(seconds=60 - i),
        )
        for i in range(12)
    ]
    sessions = session_factory(engine := create_engine(service.settings))

    async def insert() -> None:
        async with sessions() as db:
            db.add_all(runs)
            await db.commit()

    async def claim(run: SyncRun) -> Outcome:
        async with sessions() as db:
            outcome = (await claim_run(db, run.id, limit)).outcome
            await db.commit()
            return outcome

    async def race() -> list[Outcome]:
        # Every queued run claimed at once, from its own connection, in a shuffled order.
        contenders = random.sample(runs, len(runs))
        outcomes = await asyncio.gather(*(claim(run) for run in contenders))
        return [outcomes[contenders.index(run)] for run in runs]

    async def scenario() -> tuple[list[Outcome], list[Outcome]]:
        await insert()
        first = await race()
        # A wake-up round: the runs that lost to an earlier one now find their turn.
        second = await race()
        await engine.dispose()
        return first, second

    first, second = asyncio.run(scenario())

    assert first[0] is Outcome.STARTED
    assert first.count(Outcome.STARTED) <= limit
    assert all(o is not Outcome.STARTED for o in first[limit:])
    started = [
        a is Outcome.STARTED or b is Outcome.STARTED for a, b in zip(first, second, strict=True)
    ]
    assert started == [True] * limit + [False] * (12 - limit)
