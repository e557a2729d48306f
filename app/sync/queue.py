"""Putting runs on the arq queue. Jobs carry a run id, never data."""

from __future__ import annotations

from datetime import datetime

from arq.connections import ArqRedis

from app.db.models import SyncRun

RUN_SYNC = "run_sync"


def job_id_for(run: SyncRun) -> str:
    """Scheduled runs are keyed by (schedule, slot, attempt) so that every scheduler that
    races to enqueue the same slot produces the same job id, which arq enqueues once."""
    if run.slot_at is not None:
        return f"sync:{run.schedule_id}:{run.slot_at:%Y%m%dT%H%M%SZ}:{run.attempt}"
    return f"sync:run:{run.id}"


async def enqueue_run(pool: ArqRedis, run: SyncRun, defer_until: datetime | None = None) -> None:
    await pool.enqueue_job(RUN_SYNC, str(run.id), _job_id=job_id_for(run), _defer_until=defer_until)
