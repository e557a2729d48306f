"""The scheduler tick: due schedules become queued runs, exactly once per slot.

Any number of workers may tick at once. Due schedules are claimed in batches, oldest slot
first, each batch one transaction of a few set-based statements:

1. read the batch; on PostgreSQL `FOR UPDATE SKIP LOCKED`, so that ticks running at the same
   moment take different rows instead of waiting on each other's (SQLite has one writer and
   ignores it);
2. move every schedule of the batch from the slot it had to its next slot: one UPDATE per
   distinct next slot, matching the (id, slot) pairs that were read and RETURNING the ids
   it moved. A tick whose read was overtaken by another tick's claim moves nothing, so only
   one tick creates a slot's run (on SQLite the read happens before the write lock is taken,
   which is why the pairs are matched and not just the ids);
3. insert one run per moved schedule; the unique (schedule, slot, attempt) constraint is
   the backstop, and a run that exists already is skipped, not an error.

Each committed batch is put on the queue straight away (a bounded number of jobs at once)
while the next batch is claimed. After downtime the next slot is computed from *now*, so a
schedule runs once, not once per missed slot.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import DataSource, Schedule, SyncRun, utcnow
from app.scheduling import Cadence, next_slot_after, parse_cadence
from app.sync.engine import EngineContext
from app.sync.queue import enqueue_run

log = logging.getLogger("datasync.scheduler")

# Rows claimed per transaction. Large enough that 10,000 schedules due at one minute take a
# handful of round trips; small enough that the first jobs are queued within a fraction of
# a second and that a batch's statements stay far below both stores' bound-parameter limits.
CLAIM_BATCH = 1000
# Jobs put on the queue at once: arq enqueues a job in a few round trips of its own (a
# WATCH-guarded transaction), each on a pooled connection.
ENQUEUE_CONCURRENCY = 32


@dataclass
class NextSlots:
    """Next slots of one tick: every schedule with the same timing shares one computation."""

    now: datetime
    known: dict[Cadence, datetime] = field(default_factory=dict)

    def after_now(self, cadence: Cadence) -> datetime:
        slot = self.known.get(cadence)
        if slot is None:
            slot = self.known[cadence] = next_slot_after(cadence, self.now)
        return slot


async def enqueue_due_runs(
    ctx: EngineContext, now: datetime | None = None, batch_size: int = CLAIM_BATCH
) -> list[SyncRun]:
    """Claims every schedule due at `now` that no other tick claims first; returns the runs
    this tick created, all of them on the queue (or logged as not enqueued)."""
    next_slots = NextSlots(now or utcnow())
    created: list[SyncRun] = []
    enqueuing: asyncio.Task[None] | None = None
    try:
        while True:
            async with ctx.sessions() as db:
                due = await _read_due(db, next_slots.now, batch_size)
                moved, runs = await _claim(db, due, next_slots)
                await db.commit()
            if enqueuing is not None:
                await enqueuing  # at most one batch on its way to Redis at a time
            enqueuing = asyncio.create_task(_enqueue(ctx.queue, runs)) if runs else None
            created.extend(runs)
            # A short batch was the last; a full one that moved nothing had been claimed by
            # another tick, which goes on from there.
            if len(due) < batch_size or not moved:
                break
    finally:
        if enqueuing is not None:
            await enqueuing
    if created:
        log.info("enqueued due schedules", extra={"count": len(created)})
    return created


@dataclass(frozen=True, slots=True)
class DueSlot:
    schedule_id: uuid.UUID
    user_id: uuid.UUID
    frequency: str
    config: dict[str, Any]
    slot: datetime
    source_type: str


async def _read_due(db: AsyncSession, now: datetime, batch_size: int) -> list[DueSlot]:
    rows = (
        await db.execute(
            select(
                Schedule.id,
                Schedule.user_id,
                Schedule.frequency,
                Schedule.config,
                Schedule.next_sync_at,
                DataSource.type,
            )
            .join(DataSource, DataSource.id == Schedule.data_source_id)
            .where(Schedule.enabled.is_(True), Schedule.next_sync_at <= now)
            .order_by(Schedule.next_sync_at)
            .limit(batch_size)
            .with_for_update(of=Schedule, skip_locked=True)
        )
    ).all()
    return [DueSlot(*row) for row in rows]


async def _claim(
    db: AsyncSession, due: list[DueSlot], next_slots: NextSlots
) -> tuple[int, list[SyncRun]]:
    """Moves the batch to its next slots; returns how many rows this tick moved and the runs
    it created for them."""
    moves: dict[datetime | None, list[tuple[uuid.UUID, datetime]]] = {}
    for row in due:
        cadence, _ = parse_cadence(row.frequency, row.config)
        if cadence is None:
            # A timing that no longer parses (a time zone gone from tzdata, say) has no next
            # slot; left due, it would be read by every tick and count as scheduler lag.
            log.error(
                "schedule timing unreadable; it is not scheduled again until edited",
                extra={"schedule_id": str(row.schedule_id)},
            )
        target = next_slots.after_now(cadence) if cadence is not None else None
        moves.setdefault(target, []).append((row.schedule_id, row.slot))
    moved = 0
    to_run: set[uuid.UUID] = set()
    for target, pairs in moves.items():
        ids = (
            await db.scalars(
                update(Schedule)
                .where(
                    Schedule.enabled.is_(True),
                    tuple_(Schedule.id, Schedule.next_sync_at).in_(pairs),
                )
                .values(next_sync_at=target)
                .returning(Schedule.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
        moved += len(ids)
        if target is not None:
            to_run.update(ids)
    runs = [
        {
            "schedule_id": row.schedule_id,
            "user_id": row.user_id,
            "trigger": "schedule",
            "attempt": 1,
            "slot_at": row.slot,
            "data_source_type": row.source_type,
        }
        for row in due
        if row.schedule_id in to_run
    ]
    return moved, await _insert_new_runs(db, runs)


async def _insert_new_runs(db: AsyncSession, runs: list[dict[str, Any]]) -> list[SyncRun]:
    if not runs:
        return []
    # Both stores spell "unless this slot's run exists" ON CONFLICT DO NOTHING; SQLAlchemy
    # keeps the construct in each dialect's module.
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    inserted = await db.scalars(
        dialect.insert(SyncRun)
        .on_conflict_do_nothing(index_elements=["schedule_id", "slot_at", "attempt"])
        .returning(SyncRun),
        runs,
    )
    return list(inserted.all())


async def _enqueue(queue: ArqRedis, runs: Iterable[SyncRun]) -> None:
    """Queues the jobs of committed runs. One that fails stays a queued run in the store,
    which the tick's repairs (app/sync/recovery.py) enqueue again later."""
    pending = iter(runs)
    failed = 0

    async def enqueue_next() -> None:
        nonlocal failed
        for run in pending:  # shared: each run is taken by one of the loops
            try:
                await enqueue_run(queue, run)
            except Exception:
                failed += 1
                if failed == 1:
                    log.exception(
                        "could not enqueue a scheduled run", extra={"run_id": str(run.id)}
                    )

    await asyncio.gather(*(enqueue_next() for _ in range(ENQUEUE_CONCURRENCY)))
    if failed:
        log.warning("scheduled runs left for recovery to enqueue", extra={"count": failed})
