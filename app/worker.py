"""arq worker settings: the `run_sync` job and the scheduler tick.

Clients are built once in `on_startup` and live in `ctx`; jobs carry run ids only.
"""

from __future__ import annotations

import uuid
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker, func

from app.db.engine import create_engine, session_factory
from app.logs import configure_logging
from app.settings import Settings
from app.sync.csv_store import CsvStore
from app.sync.engine import EngineContext, execute_run
from app.sync.queue import RUN_SYNC
from app.sync.recovery import recover_stalled_runs
from app.sync.scheduler import enqueue_due_runs
from app.webhooks.delivery import deliver
from app.webhooks.events import DELIVER_WEBHOOK


async def run_sync(ctx: dict[str, Any], run_id: str) -> None:
    await execute_run(ctx["engine"], uuid.UUID(run_id))


async def deliver_webhook(ctx: dict[str, Any], delivery_id: str) -> None:
    engine: EngineContext = ctx["engine"]
    await deliver(engine.settings, engine.sessions, engine.queue, uuid.UUID(delivery_id))


async def scheduler_tick(ctx: dict[str, Any]) -> None:
    engine: EngineContext = ctx["engine"]
    await recover_stalled_runs(engine)
    await enqueue_due_runs(engine)


def build_worker(settings: Settings, *, burst: bool = False) -> Worker:
    async def startup(ctx: dict[str, Any]) -> None:
        db_engine = create_engine(settings)
        ctx["db_engine"] = db_engine
        ctx["engine"] = EngineContext(
            settings=settings,
            sessions=session_factory(db_engine),
            queue=ctx["redis"],
            store=CsvStore(settings.files_dir),
        )

    async def shutdown(ctx: dict[str, Any]) -> None:
        await ctx["db_engine"].dispose()

    interval = max(1, min(settings.scheduler_interval_seconds, 60))
    return Worker(
        functions=[
            # A run waiting for its user's turn ends its job (app/sync/admission.py), so tries
            # count only re-deliveries after a worker stopped or died mid-job.
            func(run_sync, name=RUN_SYNC, timeout=settings.job_timeout_seconds, max_tries=3),
            func(
                deliver_webhook,
                name=DELIVER_WEBHOOK,
                timeout=settings.webhook_timeout_seconds + 30,
                max_tries=3,
            ),
        ],
        cron_jobs=[
            # Named per queue: arq de-duplicates cron ticks by name across a Redis database.
            cron(
                scheduler_tick,
                name=f"scheduler_tick:{settings.queue_name}",
                second=set(range(0, 60, interval)),
                run_at_startup=True,
                unique=True,
                timeout=120,
            )
        ],
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        queue_name=settings.queue_name,
        on_startup=startup,
        on_shutdown=shutdown,
        burst=burst,
        max_jobs=8,
        job_timeout=settings.job_timeout_seconds,
        # On SIGTERM, runs get this long to finish before they are cancelled (and retried).
        job_completion_wait=25,
        keep_result=3600,
        poll_delay=0.2,
    )


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    configure_logging(settings)
    build_worker(settings, burst=burst).run()
