"""The scheduler tick: due schedules become queued runs, exactly once per slot.

Any number of workers may tick at once. A schedule is claimed by moving its `nextSyncAt`
from the slot it had to the next future slot in one conditional UPDATE; only the tick whose
UPDATE matched creates the run. After downtime the next slot is computed from *now*, so a
schedule runs once, not once per missed slot.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from arq.jobs import Job, JobStatus
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.db.models import Schedule, SyncRun, utcnow
from app.scheduling import next_slot_after, parse_cadence
from app.sync.admission import STALE_AFTER, wake_stranded_runs
from app.sync.engine import EngineContext, record_failure
from app.sync.queue import enqueue_run, job_id_for
from connectors.base import TransientError

log = logging.getLogger("datasync.scheduler")

# A queued run not yet picked up after this long may have lost its job (Redis flushed).
REQUEUE_AFTER = timedelta(minutes=2)


async def enqueue_due_runs(ctx: EngineContext, now: datetime | None = None) -> list[SyncRun]:
    now = now or utcnow()
    created: list[SyncRun] = []
    async with ctx.sessions() as db:
        due = (
            await db.scalars(
                select(Schedule)
                .where(Schedule.enabled.is_(True), Schedule.next_sync_at <= now)
                .limit(500)
            )
        ).all()
        for schedule in due:
            slot = schedule.next_sync_at
            cadence, _ = parse_cadence(schedule.frequency, schedule.config)
            if cadence is None or slot is None:
                continue
            claimed = await db.execute(
                update(Schedule)
                .where(Schedule.id == schedule.id, Schedule.next_sync_at == slot)
                .values(next_sync_at=next_slot_after(cadence, now))
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue  # another tick claimed this slot
            run = SyncRun(
                schedule_id=schedule.id,
                user_id=schedule.user_id,
                trigger="schedule",
                slot_at=slot,
                data_source_type=schedule.data_source.type,
            )
            db.add(run)
            try:
                await db.commit()
            except IntegrityError:
                await db.rollback()  # the slot's run exists already
                continue
            created.append(run)
    for run in created:
        await enqueue_run(ctx.queue, run)
    if created:
        log.info("enqueued due schedules", extra={"count": len(created)})
    return created


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
