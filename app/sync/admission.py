"""Per-user admission: at most MAX_CONCURRENT_RUNS_PER_USER runs of one user execute at once
across all workers; the user's other runs start one after another in the order they became
ready, holding no worker job slot while they wait and delaying no other user.

How, and why this way rather than another:
- **Waiting holds nothing.** A run that finds its user at the limit is stamped
  `waiting_since` and its job ends at once. When one of the user's runs ends, or starts with
  slots to spare, the next runs of the user's queue get a fresh job each ("wake-up"). No
  polling, and no arq `Retry`: re-checks would count against `run_sync`'s `max_tries`, and a
  worker dying during one would leave the job marked in progress for an hour.
- **The store decides, inside the claim's transaction.** The claim first writes the run's own
  row (on SQLite that takes the database's one write lock) and then locks the user's row
  (`SELECT … FOR UPDATE` on PostgreSQL; SQLite needs nothing more), so the claims of one
  user take turns across processes and machines: two workers cannot both take the last
  slot. Unlike a Redis lock with a TTL it cannot expire mid-decision, and it ends with its
  connection if the worker dies.
- **Running means alive**: `running` with a heartbeat younger than STALE_AFTER. A dead
  worker's runs stop taking their user's slots after that, even before the scheduler tick
  fails them.
- **Order is `ready_at`**: the run's creation, or for a retry the end of its backoff. A run
  starts only when no ready run of its user is queued ahead of it, so a user's runs start in
  that order; a retry still in its backoff is not ready and blocks nobody; a deleted run is
  simply no longer in the queue.
- **Nothing strands a waiting run.** Wake-ups are best effort: a worker may die between
  ending a run and waking the next, Redis may lose a job, a worker may die mid-claim with its
  job marked in progress. So each scheduler tick also wakes the head of every user's queue
  that has a free slot and has been ready for SWEEP_AFTER. A needless wake-up costs one
  UPDATE: the claim is a compare-and-set, and a second job finds nothing to claim.
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from arq.connections import ArqRedis
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import RunStatus, SyncRun, User, utcnow
from app.sync.queue import enqueue_wake

log = logging.getLogger("datasync.admission")

# A running run's heartbeat comes every 2 s (engine.HEARTBEAT_SECONDS); one older than this
# lost its worker. Ten missed heartbeats ride out a slow store, and with the recovery tick
# every 5 s (app/worker.py) a killed worker's runs are failed within 20 + 5 = 25 s of the
# kill, their retries enqueued at once: inside the 30 s the service promises.
STALE_AFTER = timedelta(seconds=20)
# A run ready this long and not started while its user has a free slot lost its job or its
# wake-up; a fresh run's own job normally starts it well within this.
SWEEP_AFTER = timedelta(seconds=5)


class Outcome(enum.Enum):
    STARTED = "started"
    WAITING = "waiting"
    GONE = "gone"  # claimed by another delivery, finished, or deleted


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: Outcome
    user_id: uuid.UUID | None = None
    schedule_id: uuid.UUID | None = None


def _live_runs_of(user_id: uuid.UUID, now: datetime) -> ColumnElement[bool]:
    return and_(
        SyncRun.user_id == user_id,
        SyncRun.status == RunStatus.RUNNING,
        SyncRun.heartbeat_at >= now - STALE_AFTER,
    )


def _ready_runs_of(user_id: uuid.UUID, ready_by: datetime) -> ColumnElement[bool]:
    return and_(
        SyncRun.user_id == user_id, SyncRun.status == RunStatus.QUEUED, SyncRun.ready_at <= ready_by
    )


async def _count(db: AsyncSession, condition: ColumnElement[bool]) -> int:
    return int(await db.scalar(select(func.count()).select_from(SyncRun).where(condition)) or 0)


async def claim_run(db: AsyncSession, run_id: uuid.UUID, limit: int) -> Claim:
    """queued → running if the run's user has a free slot and no ready run queued ahead of
    it; otherwise the run stays queued and waits. The caller commits."""
    own = (
        await db.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.status == RunStatus.QUEUED)
            .values(waiting_since=SyncRun.waiting_since)  # a write first: see above
            .returning(
                SyncRun.user_id, SyncRun.schedule_id, SyncRun.ready_at, SyncRun.waiting_since
            )
            .execution_options(synchronize_session=False)
        )
    ).first()
    if own is None:
        return Claim(Outcome.GONE)
    user_id, schedule_id, ready_at, waiting_since = own
    await db.execute(select(User.id).where(User.id == user_id).with_for_update())
    now = utcnow()
    live = await _count(db, _live_runs_of(user_id, now))
    ahead = await _count(
        db,
        and_(
            _ready_runs_of(user_id, now),
            or_(
                SyncRun.ready_at < ready_at,
                and_(SyncRun.ready_at == ready_at, SyncRun.id < run_id),
            ),
        ),
    )
    mine = update(SyncRun).where(SyncRun.id == run_id).execution_options(synchronize_session=False)
    if live < limit and ahead == 0:
        await db.execute(
            mine.values(
                status=RunStatus.RUNNING, phase="fetching", started_at=now, heartbeat_at=now
            )
        )
        return Claim(Outcome.STARTED, user_id, schedule_id)
    if waiting_since is None:
        await db.execute(mine.values(waiting_since=now))
        log.info(
            "run waits for its user's turn",
            extra={
                "run_id": str(run_id),
                "user_id": str(user_id),
                "position": ahead + 1,
                "running": live,
                "limit": limit,
            },
        )
    return Claim(Outcome.WAITING, user_id, schedule_id)


async def wake_next_runs(
    sessions: async_sessionmaker[AsyncSession],
    queue: ArqRedis,
    limit: int,
    user_id: uuid.UUID,
    reason: str,
    ready_by: datetime | None = None,
    only_waiting: bool = False,
) -> int:
    """Gives the first runs of the user's queue, as many as the user has free slots, a job
    each (see `wake_job_id`); returns how many jobs were enqueued.

    `only_waiting` leaves out runs that have not been refused yet: their own job is on the
    way. Only a caller that holds its turn in the claim order may pass it: after a claim,
    every run refused because of that claim has committed its `waiting_since`. A run that
    ends cannot know that, and wakes the heads whatever their state."""
    now = utcnow()
    async with sessions() as db:
        free = limit - await _count(db, _live_runs_of(user_id, now))
        if free <= 0:
            return 0
        heads = (
            await db.execute(
                select(SyncRun.id, SyncRun.waiting_since)
                .where(_ready_runs_of(user_id, ready_by or now))
                .order_by(SyncRun.ready_at, SyncRun.id)
                .limit(free)
            )
        ).all()
    woken = 0
    for run_id, waiting_since in heads:
        if waiting_since is not None or not only_waiting:
            woken += await enqueue_wake(queue, run_id, reason)
    return woken


async def wake_stranded_runs(
    sessions: async_sessionmaker[AsyncSession],
    queue: ArqRedis,
    limit: int,
    now: datetime | None = None,
) -> int:
    """The scheduler tick's safety net: wakes the head of every user's queue that has been
    ready for SWEEP_AFTER while the user has a free slot."""
    now = now or utcnow()
    ready_by = now - SWEEP_AFTER
    async with sessions() as db:
        users = (
            await db.scalars(
                select(SyncRun.user_id)
                .where(SyncRun.status == RunStatus.QUEUED, SyncRun.ready_at <= ready_by)
                .distinct()
            )
        ).all()
    # One job id per run and minute: ticks within a minute do not pile up jobs for a run
    # whose wake-up is merely waiting for a busy worker.
    reason = f"tick-{now:%Y%m%dT%H%M}"
    woken = 0
    for user_id in users:
        woken += await wake_next_runs(sessions, queue, limit, user_id, reason, ready_by)
    if woken:
        log.info("woke ready runs that had not started", extra={"count": woken})
    return woken
