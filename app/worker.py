"""arq worker settings: the `run_sync` job, the scheduler tick and the recovery loop.

Clients are built once in `on_startup` and live in `ctx`; jobs carry run ids only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from arq.worker import Worker, func
from redis.exceptions import RedisError

from app.db.engine import create_engine, session_factory
from app.logs import configure_logging
from app.settings import Settings
from app.sources.credential_health import (
    CHECK_CREDENTIALS_JOB,
    CLAIM_TICK_SECONDS,
    check_source,
    claim_and_enqueue,
)
from app.storage.sweep import SWEEP_TICK_SECONDS, sweep_storage
from app.sync.csv_store import csv_store_for
from app.sync.engine import execute_run
from app.sync.preview import PREVIEW_JOB_TIMEOUT_SECONDS, PREVIEW_SYNC, run_preview
from app.sync.process_tuning import tune_for_syncing
from app.sync.queue import RUN_SYNC, queue_client
from app.sync.recovery import recover_stalled_runs, requeue_lost_jobs
from app.sync.run_context import EngineContext
from app.sync.scheduler import enqueue_due_runs
from app.sync.worker_runtime import OutageTolerantWorker
from app.webhooks.delivery import deliver
from app.webhooks.events import DELIVER_WEBHOOK

log = logging.getLogger("datasync.worker")

# How often each worker runs the recovery (app/sync/recovery.py); see admission.STALE_AFTER
# for the dead-worker deadline it serves.
RECOVERY_INTERVAL_SECONDS = 5


async def run_sync(ctx: dict[str, Any], run_id: str) -> None:
    await execute_run(ctx["engine"], uuid.UUID(run_id))


async def preview_sync(ctx: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    return await run_preview(ctx["engine"], request)


async def deliver_webhook(ctx: dict[str, Any], delivery_id: str) -> None:
    engine: EngineContext = ctx["engine"]
    await deliver(engine.settings, engine.sessions, engine.queue, uuid.UUID(delivery_id))


async def check_credentials(ctx: dict[str, Any], source_id: str) -> str | None:
    engine: EngineContext = ctx["engine"]
    return await check_source(engine.settings, engine.sessions, engine.queue, uuid.UUID(source_id))


async def credential_tick(engine: EngineContext) -> None:
    await claim_and_enqueue(engine.settings, engine.sessions, engine.queue)


async def scheduler_tick(engine: EngineContext) -> None:
    # Due slots first: with a backlog, looking for lost jobs takes a while.
    await enqueue_due_runs(engine)
    await requeue_lost_jobs(engine)


def seconds_to_next_tick(now: float, interval: int) -> float:
    """Until the next multiple of `interval` or of a whole minute, whichever is first: slots
    are at whole minutes, so a tick meets each one at its boundary. A little after it, as
    timers may wake a hair early and a slot not yet due would wait a whole interval."""
    return min(interval - now % interval, 60 - now % 60) + 0.1


async def _logged(
    work: Callable[[EngineContext], Awaitable[object]], engine: EngineContext
) -> None:
    try:
        await work(engine)
    except RedisError:
        pass  # the store-side work is done; the poll loop reports the outage, once
    except Exception:
        log.exception("a worker loop failed", extra={"loop": work.__name__})


async def keep_doing(
    work: Callable[[EngineContext], Awaitable[object]],
    engine: EngineContext,
    delay: Callable[[], float],
) -> None:
    """The scheduler tick and the recovery run in every worker, not as arq cron jobs, which
    wait for a free job slot (every slot may be busy with long syncs, and a backlog of
    thousands of runs comes first) and for Redis: due slots must be claimed at their minute
    and dead workers found within their deadline. Claims and repairs are compare-and-sets and
    idempotent enqueues, so workers doing them at once do them once."""
    while True:
        await asyncio.sleep(delay())
        await _logged(work, engine)


def build_worker(settings: Settings, *, burst: bool = False) -> Worker:
    async def startup(ctx: dict[str, Any]) -> None:
        db_engine = create_engine(settings)
        ctx["db_engine"] = db_engine
        engine = ctx["engine"] = EngineContext(
            settings=settings,
            sessions=session_factory(db_engine),
            queue=ctx["redis"],
            store=csv_store_for(settings),
        )
        # Once before polling: a worker started after Redis lost its data gives the lost runs
        # their jobs back first, and one started after downtime claims what fell due.
        await _logged(recover_stalled_runs, engine)
        await _logged(scheduler_tick, engine)
        interval = max(1, min(settings.scheduler_interval_seconds, 60))
        recovery = max(1, min(RECOVERY_INTERVAL_SECONDS, interval))
        ctx["loops"] = [
            asyncio.create_task(keep_doing(recover_stalled_runs, engine, lambda: recovery)),
            asyncio.create_task(
                keep_doing(
                    scheduler_tick, engine, lambda: seconds_to_next_tick(time.time(), interval)
                )
            ),
            # Claims due credentials checks, a batch a tick, and queues them as jobs.
            asyncio.create_task(keep_doing(credential_tick, engine, lambda: CLAIM_TICK_SECONDS)),
            # Removes what crashed uploads left, once older than any run can live; one worker
            # sweeps the store per interval, each sweeps its machine's staging folder
            # (app/storage/sweep.py).
            asyncio.create_task(keep_doing(sweep_storage, engine, lambda: SWEEP_TICK_SECONDS)),
        ]
        tune_for_syncing()

    async def shutdown(ctx: dict[str, Any]) -> None:
        for loop in ctx["loops"]:
            loop.cancel()
        await ctx["db_engine"].dispose()

    return OutageTolerantWorker(
        functions=[
            # A run waiting for its user's turn ends its job (app/sync/admission.py), so tries
            # count only re-deliveries after a worker stopped or died mid-job.
            func(run_sync, name=RUN_SYNC, timeout=settings.job_timeout_seconds, max_tries=3),
            # The API waits for the result and answers 504 once it stops waiting: never retried,
            # and kept only as long as anyone could still read it.
            func(
                preview_sync,
                name=PREVIEW_SYNC,
                timeout=PREVIEW_JOB_TIMEOUT_SECONDS,
                max_tries=1,
                keep_result=PREVIEW_JOB_TIMEOUT_SECONDS,
            ),
            # A check the API waits for, or a daily one: a missed one is claimed again later.
            func(
                check_credentials,
                name=CHECK_CREDENTIALS_JOB,
                timeout=settings.connection_test_timeout_seconds + 30,
                max_tries=1,
            ),
            func(
                deliver_webhook,
                name=DELIVER_WEBHOOK,
                timeout=settings.webhook_timeout_seconds + 30,
                max_tries=3,
            ),
        ],
        # The API's client: unlike arq's own, its commands time out (5 s), so a Redis that
        # stops answering without closing connections is an outage too, not a hang.
        redis_pool=queue_client(settings),
        queue_name=settings.queue_name,
        on_startup=startup,
        on_shutdown=shutdown,
        burst=burst,
        max_jobs=8,
        job_timeout=settings.job_timeout_seconds,
        # On SIGTERM, runs get this long to finish; the others are then cancelled, recorded as
        # failed and retried at once by another worker. 20 s leaves the run's failure time to
        # be recorded inside the 30 s that supervisors commonly wait before SIGKILL.
        job_completion_wait=20,
        keep_result=3600,
        poll_delay=0.2,
    )


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    configure_logging(settings)
    build_worker(settings, burst=burst).run()
    # A run cancelled at shutdown leaves its connector's thread fetching (threads cannot be
    # cancelled), and Python would wait for it before exiting: until the supervisor's
    # SIGKILL. Its run is already recorded as failed and retried elsewhere: exit now.
    lingering = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if any(t.is_alive() and not t.daemon for t in lingering):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
