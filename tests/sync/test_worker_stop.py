"""Stopping a worker never leaves a run `running`. On SIGTERM (as supervisors stop processes)
runs that end within the grace period finish, the others are recorded as failed and retried
at once by another worker; a killed worker's runs are failed and retried within 30 s."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from app.db.models import SyncRun
from tests.conftest import ApiUser, IsolatedService, start_process, stop_process
from tests.sync.test_run_outcomes import wait_for_attempt
from tests.sync.test_user_fairness import (
    follow,
    make_schedules,
    store_of,
    sync_now,
    wait_for,
    workers,
)


def holds_its_file_lock(service: IsolatedService, user: ApiUser, schedule_id: str) -> bool:
    """True once the schedule's run has read its inputs and taken its target file's lock."""
    file_id = user.ok("GET", f"/api/sync/schedules/{schedule_id}")["schedule"]["targetFileId"]

    async def exists() -> bool:
        client = Redis.from_url(service.settings.redis_url)
        try:
            return bool(await client.exists(f"datasync:file-lock:{file_id}"))
        finally:
            await client.aclose()

    return asyncio.run(exists())


def test_sigterm_lets_short_runs_finish_and_retries_the_others_leaving_none_running(
    isolated_service: Callable[..., IsolatedService], tmp_path: Path
) -> None:
    service = isolated_service()
    user = service.user
    (short,) = make_schedules(user, tmp_path / "short", 1, sleepSeconds=2)
    (long,) = make_schedules(user, tmp_path / "long", 1, sleepSeconds=120)
    log = tmp_path / "stopped-worker.log"
    stopped = start_process(["worker"], service.env, log)
    try:
        with store_of(service.settings) as store:
            wait_for(lambda: "Starting worker" in log.read_text(), "the worker to start", 60)
            short_run, long_run = sync_now(user, short), sync_now(user, long)
            wait_for(
                lambda: (
                    (store.run(short_run) or SyncRun()).status == "running"
                    and holds_its_file_lock(service, user, long)
                ),
                "both runs to start, the long one to read its schedule",
            )
            # The retry reads the schedule afresh: it will not take two minutes.
            user.ok("PUT", f"/api/sync/schedules/{long}", json={"config": {"sleepSeconds": 0}})
            stopping = time.monotonic()
            stopped.send_signal(signal.SIGTERM)
            with workers(service, tmp_path):  # another worker, there to take the retry
                stopped.wait(timeout=60)
                stopped_after = time.monotonic() - stopping
                retry = wait_for_attempt(user, long, 2)
                retried = follow(user, [retry["id"]]).runs[0]
            short_ended, cancelled = store.run(short_run), store.run(long_run)
    finally:
        stop_process(stopped)

    assert short_ended is not None and short_ended.status == "success"
    assert cancelled is not None and cancelled.status == "error"
    assert (cancelled.error or "").startswith("the worker was stopped during the sync")
    assert retried["status"] == "success"
    # 20 s for the runs to finish, then the others are recorded as failed and the worker
    # exits: inside the 30 s supervisors commonly allow before SIGKILL.
    assert stopped_after < 30, stopped_after
    assert stopped.returncode == 0, log.read_text()


def test_a_killed_workers_run_is_failed_within_30_seconds_and_retried_at_once(
    isolated_service: Callable[..., IsolatedService], tmp_path: Path
) -> None:
    service = isolated_service()
    user = service.user
    (schedule,) = make_schedules(user, tmp_path / "table", 1, sleepSeconds=120)
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    with workers(service, tmp_path, 2) as processes:
        first_run = sync_now(user, schedule)
        wait_for(lambda: holds_its_file_lock(service, user, schedule), "the run to fetch")
        user.ok("PUT", f"/api/sync/schedules/{schedule}", json={"config": {"sleepSeconds": 0}})
        running_it = next(i for i, log in enumerate(logs) if first_run in log.read_text())
        killed_at = datetime.now(UTC)
        processes[running_it].kill()
        retry = wait_for_attempt(user, schedule, 2, timeout=60)
        retried = follow(user, [retry["id"]], timeout=60).runs[0]
        failed = user.ok("GET", f"/api/sync/runs/{first_run}")["run"]

    assert failed["status"] == "error"
    assert failed["error"].startswith("the worker running this sync stopped unexpectedly")
    assert retried["status"] == "success"
    detected = datetime.fromisoformat(failed["completedAt"])
    assert (detected - killed_at).total_seconds() < 30
    # The run lasted from its start until it was found dead, whoever recorded it.
    started = datetime.fromisoformat(failed["startedAt"])
    assert failed["durationMs"] == pytest.approx((detected - started).total_seconds() * 1000, abs=1)
    # The retry starts with the next tick at the latest (the tests tick every second).
    assert (datetime.fromisoformat(retried["startedAt"]) - detected).total_seconds() < 5
