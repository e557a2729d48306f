"""The scheduler tick's repairs: runs whose worker died, queued runs whose job is gone, and
waiting runs whose wake-up was lost."""

from __future__ import annotations

from datetime import datetime, timedelta

from arq.jobs import Job, JobStatus
from sqlalchemy import select, update

from app.db.models import SyncRun, utcnow
from app.sync.admission import STALE_AFTER, wake_stranded_runs
from app.sync.engine import EngineContext, record_failure
from app.sync.queue import enqueue_run, job_id_for
from connectors.base import TransientError

# A queued run not yet picked up after this long may have lost its job (Redis flushed).
REQUEUE_AFTER = timedelta(minutes=2)


async def recover_stalled_runs(ctx: EngineContext, now: datetime | None = None) -> int:
    """Fails runs whose worker died (a retry follows, as for any transient error),
    re-enqueues queued runs whose job is gone, and wakes waiting runs whose wake-up was lost.

    A running run whose heartbeat is older than STALE_AFTER lost its worker (killed, machine
    gone)."""
    now = now or utcnow()
    async with ctx.sessions() as db:
        stalled = (
            await db.scalars(
                select(SyncRun.id).where(
                    SyncRun.status == "running", SyncRun.heartbeat_at < now - STALE_AFTER
                )
            )
        ).all()
        # Runs that waited for their user's turn had their job; wake_stranded_runs sees to them.
        waiting = (
            await db.scalars(
                select(SyncRun).where(
                    SyncRun.status == "queued",
                    SyncRun.created_at < now - REQUEUE_AFTER,
                    SyncRun.waiting_since.is_(None),
                )
            )
        ).all()
    for run_id in stalled:
        async with ctx.sessions() as db:
            # Only if still stale: a slow heartbeat must not race a live run.
            result = await db.execute(
                update(SyncRun)
                .where(
                    SyncRun.id == run_id,
                    SyncRun.status == "running",
                    SyncRun.heartbeat_at < now - STALE_AFTER,
                )
                .values(heartbeat_at=now)
            )
            await db.commit()
        if result.rowcount == 1:  # type: ignore[attr-defined]
            await record_failure(
                ctx, run_id, TransientError("the worker running this sync stopped unexpectedly"), 0
            )
    for run in waiting:
        if (
            run.retry_at is None
            and await Job(
                job_id_for(run), ctx.queue, _queue_name=ctx.queue.default_queue_name
            ).status()
            == JobStatus.not_found
        ):
            await enqueue_run(ctx.queue, run)
    await wake_stranded_runs(
        ctx.sessions, ctx.queue, ctx.settings.max_concurrent_runs_per_user, now
    )
    return len(stalled)
