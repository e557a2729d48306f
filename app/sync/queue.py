"""Putting runs on the arq queue. Jobs carry a run id, never data."""

from __future__ import annotations

import uuid
from datetime import datetime

from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool

from app.db.models import SyncRun
from app.settings import Settings

RUN_SYNC = "run_sync"


def queue_client(settings: Settings) -> ArqRedis:
    """A lazy Redis client for the job queue: it connects on first use, so the API starts
    (and answers /ready with 503) while Redis is down."""
    pool = ConnectionPool.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    return ArqRedis(pool, default_queue_name=settings.queue_name)


def job_id_for(run: SyncRun) -> str:
    """Scheduled runs are keyed by (schedule, slot, attempt) so that every scheduler that
    races to enqueue the same slot produces the same job id, which arq enqueues once."""
    if run.slot_at is not None:
        return f"sync:{run.schedule_id}:{run.slot_at:%Y%m%dT%H%M%SZ}:{run.attempt}"
    return f"sync:run:{run.id}"


async def enqueue_run(pool: ArqRedis, run: SyncRun, defer_until: datetime | None = None) -> bool:
    """False if a job under the run's id exists already (arq enqueues each id once)."""
    job = await pool.enqueue_job(
        RUN_SYNC, str(run.id), _job_id=job_id_for(run), _defer_until=defer_until
    )
    return job is not None


def wake_job_id(run_id: uuid.UUID, reason: str) -> str:
    """A run that waited for its user's turn is started by a job of its own per wake-up:
    arq keeps a finished job's id for an hour, and would refuse a second job under it."""
    return f"sync:run:{run_id}:wake:{reason}"


async def enqueue_wake(pool: ArqRedis, run_id: uuid.UUID, reason: str) -> bool:
    """False if a job for this wake-up exists already."""
    job = await pool.enqueue_job(RUN_SYNC, str(run_id), _job_id=wake_job_id(run_id, reason))
    return job is not None
