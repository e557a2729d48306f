"""Runs as the API shows them, and manual syncs: enqueue, then wait for the worker."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import anyio
from arq.connections import ArqRedis
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import RunStatus, Schedule, SyncRun, Trigger
from app.errors import ApiError, not_found
from app.runs.schemas import Changes, Progress, RunOut, SyncResult
from app.schema import Pagination, fetch_rows
from app.sync.change_sets import ChangeSetGone, change_set_csv
from app.sync.csv_store import CsvStore
from app.sync.queue import enqueue_run
from app.time_text import duration_text, isoformat

ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
# History is the record of executions: a run is in it once it has started. A queued run,
# such as a failed run's retry waiting for its backoff, shows on the schedule
# (`nextRetryAt`) and in /api/sync/runs instead.
STARTED = (RunStatus.RUNNING, RunStatus.SUCCESS, RunStatus.ERROR)


def changes_of(run: SyncRun) -> Changes | None:
    if run.status != RunStatus.SUCCESS or run.added is None:
        return None
    return Changes(
        added=run.added,
        updated=run.updated or 0,
        deleted=run.deleted or 0,
        columns_added=run.columns_added or None,
        columns_removed=run.columns_removed or None,
    )


def run_out(run: SyncRun) -> RunOut:
    return RunOut(
        id=str(run.id),
        schedule_id=str(run.schedule_id),
        status=RunStatus(run.status),
        trigger=Trigger(run.trigger),
        attempt=run.attempt,
        data_source_type=run.data_source_type,
        started_at=isoformat(run.started_at),
        completed_at=isoformat(run.completed_at),
        duration=duration_text(run.duration_ms),
        duration_ms=run.duration_ms,
        row_count=run.row_count,
        column_count=run.column_count,
        changes=changes_of(run),
        error=run.error,
        retry_after=isoformat(run.retry_at),
        file_version=run.file_version,
        bytes_written=run.bytes_written,
        created_at=isoformat(run.created_at) or "",
        ready_at=isoformat(run.ready_at) if run.status == RunStatus.QUEUED else None,
        progress=Progress(rows_fetched=run.rows_fetched, phase=run.phase)
        if run.status in ACTIVE
        else None,
        fetch_skipped=run.fetch_skipped,
        change_detection=run.change_detection,
    )


def sync_result(run: SyncRun) -> SyncResult:
    return SyncResult(
        schedule_id=str(run.schedule_id),
        run_id=str(run.id),
        # A manual sync answered with 202 is under way, whether or not a worker has picked
        # it up yet: the page's `syncResult` knows "running", not "queued".
        status=RunStatus.RUNNING if run.status in ACTIVE else RunStatus(run.status),
        row_count=run.row_count,
        column_count=run.column_count,
        duration=duration_text(run.duration_ms),
        duration_ms=run.duration_ms,
        synced_at=isoformat(run.completed_at),
        changes=changes_of(run),
        file_version=run.file_version,
        fetch_skipped=run.fetch_skipped,
    )


@dataclass(frozen=True)
class RunFilter:
    """What a list of runs is narrowed to; None leaves that out."""

    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    data_source_type: str | None = None


async def history_page(
    db: AsyncSession, schedule: Schedule, only: RunFilter, limit: int, offset: int
) -> tuple[Sequence[SyncRun], int, Pagination]:
    """A schedule's executions, newest first: the runs that started."""
    query = _runs_query(schedule.user_id, schedule.id, only)
    return await _newest_first(db, query.where(SyncRun.status.in_(STARTED)), limit, offset)


async def runs_page(
    db: AsyncSession, user_id: uuid.UUID, only: RunFilter, limit: int, offset: int
) -> tuple[Sequence[SyncRun], int, Pagination]:
    """Every run of the user's schedules, newest first, queued ones included."""
    return await _newest_first(db, _runs_query(user_id, None, only), limit, offset)


def _runs_query(
    user_id: uuid.UUID, schedule_id: uuid.UUID | None, only: RunFilter
) -> Select[SyncRun]:
    query = select(SyncRun).where(SyncRun.user_id == user_id)
    if schedule_id is not None:
        query = query.where(SyncRun.schedule_id == schedule_id)
    if only.status:
        query = query.where(SyncRun.status == only.status)
    if only.since is not None:
        query = query.where(SyncRun.created_at >= only.since)
    if only.until is not None:
        query = query.where(SyncRun.created_at <= only.until)
    if only.data_source_type:
        query = query.where(SyncRun.data_source_type == only.data_source_type)
    return query


async def _newest_first(
    db: AsyncSession, query: Select[SyncRun], limit: int, offset: int
) -> tuple[Sequence[SyncRun], int, Pagination]:
    return await fetch_rows(db, query, (SyncRun.created_at.desc(),), limit, offset)


async def change_set(db: AsyncSession, csv_store: CsvStore, run: SyncRun) -> str | None:
    """The key of the CSV of the rows the run added, updated or deleted in the file store;
    None when it changed none.
    409 for a run that did not succeed, 404 once the change set has gone with the file
    versions it was computed from."""
    if run.status != RunStatus.SUCCESS:
        raise ApiError(409, f"The run has no change set: its status is {run.status}")
    schedule = await db.get(Schedule, run.schedule_id)
    if schedule is None:
        raise not_found("Run")
    if not (run.added or run.updated or run.deleted):
        return None
    file = schedule.target_file
    try:
        return await anyio.to_thread.run_sync(
            change_set_csv, csv_store, file.id, run.id, file.delimiter
        )
    except ChangeSetGone:
        raise not_found(
            "The change set of this run (kept while its file versions are kept)"
        ) from None


async def start_manual_sync(
    db: AsyncSession, queue: ArqRedis, schedule: Schedule, force: bool
) -> SyncRun:
    # A retry waiting for its backoff does not block a person pressing "Sync now".
    active = await db.scalar(
        select(SyncRun.id).where(
            SyncRun.schedule_id == schedule.id,
            or_(
                SyncRun.status == RunStatus.RUNNING,
                (SyncRun.status == RunStatus.QUEUED) & (SyncRun.trigger != Trigger.RETRY),
            ),
        )
    )
    if active is not None:
        raise ApiError(
            409,
            f"A sync is already running for this schedule (run {active}); wait for it to finish",
            title="Sync already running",
            run_id=str(active),
        )
    run = SyncRun(
        schedule_id=schedule.id,
        user_id=schedule.user_id,
        trigger=Trigger.MANUAL,
        force=force,
        data_source_type=schedule.data_source.type,
    )
    db.add(run)
    await db.commit()
    try:
        await enqueue_run(queue, run)
    except Exception:
        await db.delete(run)
        await db.commit()
        raise
    return run


async def wait_for_run(
    sessions: async_sessionmaker[AsyncSession], run_id: uuid.UUID, seconds: float
) -> SyncRun:
    """Polls the store until the run ends or `seconds` pass; returns its latest state."""
    deadline = anyio.current_time() + seconds
    pause = 0.05
    while True:
        async with sessions() as db:
            run = await db.get(SyncRun, run_id)
        if run is None:
            raise ApiError(404, "The run disappeared: its schedule was deleted")
        if run.status not in ACTIVE or anyio.current_time() >= deadline:
            return run
        await anyio.sleep(min(pause, max(0.0, deadline - anyio.current_time())))
        pause = min(pause * 1.5, 0.5)
