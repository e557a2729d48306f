"""Schedules: create, update (partial, config merged), delete, list with filters."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connector_environment import connector_environment
from app.db.models import DataSource, RunStatus, Schedule, SyncRun, TargetFile, Trigger
from app.errors import InvalidInput
from app.schedules.schemas import NAME_MAX, ScheduleCreate, ScheduleUpdate
from app.schedules.validation import check_config
from app.scheduling import next_slot_after, parse_cadence
from app.schema import Pagination, fetch_rows
from app.settings import Settings

Problems = list[dict[str, str]]


async def owned_reference(
    db: AsyncSession,
    model: type[DataSource] | type[TargetFile],
    user_id: uuid.UUID,
    raw: str,
    field: str,
    problems: Problems,
) -> Any:
    what = "data source" if model is DataSource else "target file"
    row: DataSource | TargetFile | None
    try:
        row = await db.get(model, uuid.UUID(raw))
    except ValueError:
        row = None
    # Another user's object is reported exactly like a missing one.
    if row is None or row.user_id != user_id:
        problems.append(
            {"field": field, "message": f"no {what} with this id; create one first or check the id"}
        )
        return None
    return row


def _name_problems(name: str) -> Problems:
    if not name.strip() or len(name) > NAME_MAX:
        return [{"field": "name", "message": f"must be 1 to {NAME_MAX} characters"}]
    return []


def _apply_cadence(
    settings: Settings,
    schedule: Schedule,
    frequency: str,
    config: dict[str, Any],
    source: DataSource,
) -> None:
    cadence = check_config(
        frequency, config, source.type, source.settings, connector_environment(settings)
    )
    schedule.next_sync_at = (
        next_slot_after(cadence, datetime.now(UTC)) if schedule.enabled else None
    )


def _normalised(config: dict[str, Any]) -> dict[str, Any]:
    if isinstance(config.get("dayOfWeek"), str):
        config = {**config, "dayOfWeek": config["dayOfWeek"].lower()}
    return config


async def create(
    db: AsyncSession, settings: Settings, user_id: uuid.UUID, data: ScheduleCreate
) -> Schedule:
    problems = _name_problems(data.name)
    source = await owned_reference(
        db, DataSource, user_id, data.data_source_id, "dataSourceId", problems
    )
    target = await owned_reference(
        db, TargetFile, user_id, data.target_file_id, "targetFileId", problems
    )
    if source is None or problems:
        _, cadence_problems = parse_cadence(data.frequency, data.config)
        raise InvalidInput(problems + cadence_problems)
    config = _normalised(data.config)
    schedule = Schedule(
        user_id=user_id,
        name=data.name.strip(),
        data_source=source,
        target_file=target,
        frequency=data.frequency,
        enabled=data.enabled,
        config=config,
    )
    _apply_cadence(settings, schedule, data.frequency, config, source)
    db.add(schedule)
    await db.flush()
    return schedule


async def update(
    db: AsyncSession, settings: Settings, schedule: Schedule, data: ScheduleUpdate
) -> Schedule:
    problems: Problems = _name_problems(data.name) if data.name is not None else []
    source = schedule.data_source
    target = schedule.target_file
    if data.data_source_id is not None:
        source = await owned_reference(
            db, DataSource, schedule.user_id, data.data_source_id, "dataSourceId", problems
        )
    if data.target_file_id is not None:
        target = await owned_reference(
            db, TargetFile, schedule.user_id, data.target_file_id, "targetFileId", problems
        )
    config = dict(schedule.config)
    for key, value in (data.config or {}).items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    config = _normalised(config)
    frequency = data.frequency if data.frequency is not None else schedule.frequency
    if problems or source is None:
        raise InvalidInput(problems)
    if data.name is not None:
        schedule.name = data.name.strip()
    if data.enabled is not None:
        schedule.enabled = data.enabled
    _apply_cadence(settings, schedule, frequency, config, source)
    schedule.data_source = source
    schedule.target_file = target
    schedule.frequency = frequency
    schedule.config = config
    schedule.updated_at = datetime.now(UTC)
    await db.flush()
    return schedule


async def schedules_page(
    db: AsyncSession,
    user_id: uuid.UUID,
    enabled: bool | None,
    data_source_type: str | None,
    status: str | None,
    search: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Schedule], int, Pagination]:
    """The user's schedules that pass every filter given, oldest first; `status` is the last
    sync's, `never` for schedules not yet run; `search` a part of the name, in any case."""
    query = select(Schedule).join(Schedule.data_source).where(Schedule.user_id == user_id)
    if enabled is not None:
        query = query.where(Schedule.enabled == enabled)
    if data_source_type:
        query = query.where(DataSource.type == data_source_type)
    if status == "never":
        query = query.where(Schedule.last_sync_status.is_(None))
    elif status:
        query = query.where(Schedule.last_sync_status == status)
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(Schedule.name).like(f"%{escaped.lower()}%", escape="\\"))
    return await fetch_rows(db, query, (Schedule.created_at,), limit, offset)


async def delete(db: AsyncSession, schedule: Schedule) -> None:
    """Removes the schedule with its runs; the target file stays."""
    runs = await db.scalars(select(SyncRun).where(SyncRun.schedule_id == schedule.id))
    for run in runs:
        await db.delete(run)
    await db.delete(schedule)


async def next_retries(
    db: AsyncSession, schedule_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    """When each schedule's pending automatic retry is due: a failed run's retry waits in
    the queue (status queued, trigger retry) until its `ready_at`."""
    if not schedule_ids:
        return {}
    rows = await db.execute(
        select(SyncRun.schedule_id, func.min(SyncRun.ready_at))
        .where(
            SyncRun.schedule_id.in_(schedule_ids),
            SyncRun.status == RunStatus.QUEUED,
            SyncRun.trigger == Trigger.RETRY,
        )
        .group_by(SyncRun.schedule_id)
    )
    return {schedule_id: ready_at for schedule_id, ready_at in rows}
