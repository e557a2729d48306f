"""The scheduler tick: due schedules become queued runs, exactly once per slot.

Any number of workers may tick at once. Due schedules are claimed in batches, oldest slot
first, each batch one transaction of a few set-based statements, the same on SQLite and
PostgreSQL:

1. read the batch;
2. lock its users (`FOR KEY SHARE`), then its schedules (`FOR NO KEY UPDATE`), each in id
   order, re-reading which are still due and their slots. The order matters on PostgreSQL:
   a run's admission locks its user and then its schedule (app/sync/admission.py,
   app/sync/engine.py), and the runs inserted below need their user's key-share lock, so a
   tick that held schedules while waiting for a user would deadlock with a starting run.
   Ticks that overlap wait for each other's batch and find those slots claimed; the one that
   finds its whole batch claimed stops and leaves the rest to the other. (They do not split
   the work: `SKIP LOCKED` on the first read would lock schedules before users. Every
   worker ticks at the minute, so the first to lock a batch claims it and the rest stop.)
   SQLite has one writer and no row locks;
   there the conditional UPDATE below is what keeps ticks apart.
3. move every schedule from the slot it had to its next slot: one UPDATE per distinct next
   slot, matching the (id, slot) pairs read and RETURNING the ids it moved. A tick whose
   read was overtaken by another tick's claim moves nothing, so only one tick creates a
   slot's run;
4. insert one run per moved schedule; the unique (schedule, slot, attempt) constraint is
   the backstop, and a run that exists already is skipped, not an error.

Each committed batch is put on the queue at once, in one Redis round trip, while the next
batch is claimed. After downtime the next slot is computed from *now*, so a schedule runs
once, not once per missed slot.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import DataSource, RunStatus, Schedule, SyncRun, Trigger, User, utcnow
from app.scheduling import Cadence, next_slot_after, parse_cadence
from app.sync.queue import RUN_SYNC, job_id_for
from app.sync.run_context import EngineContext

log = logging.getLogger("datasync.scheduler")

# Rows claimed per transaction. Large enough that 10,000 schedules due at one minute take ten
# round trips; small enough that the first jobs are queued within a fraction of a second and
# that a batch's statements stay far below both stores' bound-parameter limits.
CLAIM_BATCH = 1000

# arq's `enqueue_job` for a whole batch, in one atomic script: a job is added unless a job or
# a result under its id exists, as arq does (one `enqueue_job` costs three round trips, which
# made enqueueing most of a 10,000-slot tick). KEYS: the queue, then each job's job key and
# result key; ARGV: the score and the expiry (ms) shared by the batch, then each job's id and
# serialized job.
ENQUEUE_JOBS = """
local queued = 0
for i = 0, (#KEYS - 1) / 2 - 1 do
  if redis.call('EXISTS', KEYS[2 + 2 * i], KEYS[3 + 2 * i]) == 0 then
    redis.call('PSETEX', KEYS[2 + 2 * i], ARGV[2], ARGV[4 + 2 * i])
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3 + 2 * i])
    queued = queued + 1
  end
end
return queued
"""


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


@dataclass(frozen=True, slots=True)
class DueSlot:
    schedule_id: uuid.UUID
    user_id: uuid.UUID
    frequency: str
    config: dict[str, Any]
    slot: datetime
    source_type: str


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
                read, moved, runs = await _claim_batch(db, next_slots, batch_size)
                await db.commit()
            if enqueuing is not None:
                await enqueuing  # at most one batch on its way to Redis at a time
            enqueuing = asyncio.create_task(_enqueue(ctx.queue, runs)) if runs else None
            created.extend(runs)
            # A short batch was the last; a full one that moved nothing had been claimed by
            # another tick, which goes on from there.
            if read < batch_size or not moved:
                break
    finally:
        if enqueuing is not None:
            await enqueuing
    if created:
        log.info("enqueued due schedules", extra={"count": len(created)})
    return created


async def _claim_batch(
    db: AsyncSession, next_slots: NextSlots, batch_size: int
) -> tuple[int, int, list[SyncRun]]:
    """Claims up to `batch_size` due slots; returns how many were read, how many schedules
    this tick moved on, and the runs it created."""
    due_now = (Schedule.enabled.is_(True), Schedule.next_sync_at <= next_slots.now)
    seen = (
        await db.execute(
            select(Schedule.id, Schedule.user_id)
            .where(*due_now)
            .order_by(Schedule.next_sync_at, Schedule.id)
            .limit(batch_size)
        )
    ).all()
    if not seen:
        return 0, 0, []
    await db.execute(
        select(User.id)
        .where(User.id.in_({user_id for _, user_id in seen}))
        .order_by(User.id)
        .with_for_update(read=True, key_share=True)
    )
    rows = await db.execute(
        select(
            Schedule.id,
            Schedule.user_id,
            Schedule.frequency,
            Schedule.config,
            Schedule.next_sync_at,
            DataSource.type,
        )
        .join(DataSource, DataSource.id == Schedule.data_source_id)
        .where(Schedule.id.in_([schedule_id for schedule_id, _ in seen]), *due_now)
        .order_by(Schedule.id)
        .with_for_update(of=Schedule, key_share=True)
    )
    due = [DueSlot(*row) for row in rows]
    moved = await _move_to_next_slots(db, due, next_slots)
    claimed_at = utcnow()
    runs = [
        {
            "id": uuid.uuid4(),
            "schedule_id": row.schedule_id,
            "user_id": row.user_id,
            "trigger": Trigger.SCHEDULE,
            "attempt": 1,
            "slot_at": row.slot,
            "force": False,
            "status": RunStatus.QUEUED,
            "phase": "queued",
            "rows_fetched": 0,
            "created_at": claimed_at,
            "ready_at": claimed_at,
            "data_source_type": row.source_type,
        }
        for row in due
        if moved.get(row.schedule_id) is not None
    ]
    return len(seen), len(moved), await _insert_new_runs(db, runs)


async def _move_to_next_slots(
    db: AsyncSession, due: list[DueSlot], next_slots: NextSlots
) -> dict[uuid.UUID, datetime | None]:
    """Moves each schedule still at the slot read to its next slot; returns the moved ones
    with their next slot (None: no next slot)."""
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
    moved: dict[uuid.UUID, datetime | None] = {}
    for target, pairs in moves.items():
        ids = await db.scalars(
            update(Schedule)
            .where(
                Schedule.enabled.is_(True),
                # The ids alone first: PostgreSQL checks a long row-value IN list as one OR
                # arm per pair against every due row.
                Schedule.id.in_([schedule_id for schedule_id, _ in pairs]),
                tuple_(Schedule.id, Schedule.next_sync_at).in_(pairs),
            )
            .values(next_sync_at=target)
            .returning(Schedule.id)
            .execution_options(synchronize_session=False)
        )
        moved.update((schedule_id, target) for schedule_id in ids)
    return moved


async def _insert_new_runs(db: AsyncSession, runs: list[dict[str, Any]]) -> list[SyncRun]:
    """Inserts the runs in one multi-row statement; returns those inserted, as (detached)
    objects built from the values written. Every column that has a default is given here,
    so they are the rows, without loading them back."""
    if not runs:
        return []
    table = SyncRun.__table__
    # Both stores spell "unless this slot's run exists" ON CONFLICT DO NOTHING; SQLAlchemy
    # keeps the construct in each dialect's module.
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    inserted = await db.scalars(
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=["schedule_id", "slot_at", "attempt"])
        .returning(table.c.id),
        runs,
    )
    new = set(inserted.all())
    return [SyncRun(**run) for run in runs if run["id"] in new]


async def _enqueue(queue: ArqRedis, runs: list[SyncRun]) -> None:
    """Queues the jobs of committed runs under their deterministic ids. If Redis fails here,
    the runs stay queued in the store and the tick's repairs (app/sync/recovery.py) enqueue
    them again later."""
    enqueued_at = timestamp_ms()
    job_ids = [job_id_for(run) for run in runs]
    keys = [queue.default_queue_name]
    args: list[str | bytes | int] = [enqueued_at, queue.expires_extra_ms]
    for run, job_id in zip(runs, job_ids, strict=True):
        keys += [job_key_prefix + job_id, result_key_prefix + job_id]
        job = serialize_job(
            RUN_SYNC, (str(run.id),), {}, None, enqueued_at, serializer=queue.job_serializer
        )
        args += [job_id, job]
    try:
        await queue.register_script(ENQUEUE_JOBS)(keys=keys, args=args)
    except Exception:
        log.exception("could not enqueue scheduled runs", extra={"count": len(runs)})
