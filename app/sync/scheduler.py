"""The scheduler tick: due schedules become queued runs, exactly once per slot.

Any number of workers may tick at once. A schedule is claimed by moving its `nextSyncAt`
from the slot it had to the next future slot in one conditional UPDATE; only the tick whose
UPDATE matched creates the run. After downtime the next slot is computed from *now*, so a
schedule runs once, not once per missed slot.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.db.models import Schedule, SyncRun, utcnow
from app.scheduling import next_slot_after, parse_cadence
from app.sync.engine import EngineContext
from app.sync.queue import enqueue_run

log = logging.getLogger("datasync.scheduler")


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
