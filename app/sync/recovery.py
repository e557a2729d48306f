"""Repairs: runs whose worker died, queued runs whose job Redis lost, and waiting runs whose
wake-up was lost.

`recover_stalled_runs` runs every few seconds in every worker (app/worker.py): each repair is
a compare-and-set or an idempotent enqueue, so workers repairing at once repair once.
`requeue_lost_jobs`, which looks for single lost jobs after REQUEUE_AFTER, runs with the
scheduler tick.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, result_key_prefix
from sqlalchemy import select, update

from app.db.models import RunStatus, SyncRun, utcnow
from app.sync.admission import STALE_AFTER, wake_stranded_runs
from app.sync.engine import record_failure
from app.sync.queue import enqueue_run, job_id_for
from app.sync.run_context import EngineContext, RunInterrupted

log = logging.getLogger("datasync.recovery")

# A queued run not yet picked up after this long may have lost its job (Redis restored an
# old snapshot, or evicted the job); Redis losing all its data is noticed at once instead.
REQUEUE_AFTER = timedelta(minutes=2)


def queue_intact_key(queue_name: str) -> str:
    """Set once every queued run has a job in this Redis; Redis losing its data (restarted
    without persistence, flushed) loses this key with the jobs."""
    return f"{queue_name}:holds-every-queued-run"


async def recover_stalled_runs(ctx: EngineContext, now: datetime | None = None) -> int:
    """Fails runs whose worker died (their retries start at once), gives every queued run its
    job back if Redis lost its data, and wakes ready runs that have not started; returns how
    many runs were failed.

    A running run whose heartbeat is older than STALE_AFTER lost its worker (killed, machine
    gone). The store part comes first: it needs no Redis, and runs even while Redis is away
    (the retries' jobs then come with Redis)."""
    now = now or utcnow()
    async with ctx.sessions() as db:
        stalled = (
            await db.scalars(
                select(SyncRun.id).where(
                    SyncRun.status == RunStatus.RUNNING, SyncRun.heartbeat_at < now - STALE_AFTER
                )
            )
        ).all()
    failed = 0
    for run_id in stalled:
        async with ctx.sessions() as db:
            # Only if still stale: a slow heartbeat must not race a live run.
            result = await db.execute(
                update(SyncRun)
                .where(
                    SyncRun.id == run_id,
                    SyncRun.status == RunStatus.RUNNING,
                    SyncRun.heartbeat_at < now - STALE_AFTER,
                )
                .values(heartbeat_at=now)
            )
            await db.commit()
        if result.rowcount == 1:  # type: ignore[attr-defined]
            failed += 1
            await record_failure(
                ctx, run_id, RunInterrupted("the worker running this sync stopped unexpectedly")
            )
    await _requeue_if_redis_lost_its_data(ctx, now)
    await wake_stranded_runs(
        ctx.sessions, ctx.queue, ctx.settings.max_concurrent_runs_per_user, now
    )
    return failed


async def _requeue_if_redis_lost_its_data(ctx: EngineContext, now: datetime) -> int:
    """Every queued run that should have a job in the queue gets it again, deferred ones until
    they are ready; enqueueing by the run's job id makes this a no-op for jobs that exist.
    Runs waiting for their user's turn have no job by design; `wake_stranded_runs` wakes
    them. The key is set only once every run was enqueued: a tick interrupted half-way leaves
    the next one to finish the work."""
    marker = queue_intact_key(ctx.queue.default_queue_name)
    if await ctx.queue.exists(marker):
        return 0
    async with ctx.sessions() as db:
        queued = (
            await db.scalars(
                select(SyncRun).where(
                    SyncRun.status == RunStatus.QUEUED, SyncRun.waiting_since.is_(None)
                )
            )
        ).all()
    for run in queued:
        await enqueue_run(ctx.queue, run, defer_until=run.ready_at if run.ready_at > now else None)
    await ctx.queue.set(marker, b"1")
    if queued:
        log.warning(
            "the queue did not hold every queued run (Redis lost its data, or this queue is "
            "new): enqueued them again from the store",
            extra={"count": len(queued)},
        )
    return len(queued)


async def requeue_lost_jobs(ctx: EngineContext, now: datetime | None = None) -> int:
    """Re-enqueues queued runs whose job is gone though Redis kept its other data; returns
    how many. Runs that waited for their user's turn had their job; `wake_stranded_runs`
    sees to them."""
    now = now or utcnow()
    async with ctx.sessions() as db:
        old = (
            await db.scalars(
                select(SyncRun).where(
                    SyncRun.status == RunStatus.QUEUED,
                    SyncRun.created_at < now - REQUEUE_AFTER,
                    SyncRun.waiting_since.is_(None),
                )
            )
        ).all()
    candidates = [run for run in old if run.retry_at is None]
    lost = await _jobs_not_found(ctx.queue, [job_id_for(run) for run in candidates])
    requeued = 0
    for run in (run for run, gone in zip(candidates, lost, strict=True) if gone):
        requeued += await enqueue_run(ctx.queue, run)
    return requeued


async def _jobs_not_found(queue: ArqRedis, job_ids: list[str]) -> list[bool]:
    """arq's `Job.status() == not_found` for many jobs in one round trip (a backlog holds
    thousands): no result, not in progress, not in the queue."""
    async with queue.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.exists(result_key_prefix + job_id, in_progress_key_prefix + job_id)
            pipe.zscore(queue.default_queue_name, job_id)
        answers = await pipe.execute()
    return [
        not found and score is None
        for found, score in zip(answers[::2], answers[1::2], strict=True)
    ]
