"""`/api/sync/schedules`: exactly the reference page's create/list/get/update/delete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body, FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.middleware import Principal
from app.auth.scopes import Scope
from app.db.models import Schedule
from app.schedules import examples, service
from app.schedules.schemas import (
    ScheduleCreate,
    ScheduleDetail,
    ScheduleList,
    ScheduleOut,
    ScheduleSaved,
    ScheduleUpdate,
)
from app.schema import Done, Limit, Offset
from app.settings import Settings
from app.tenancy import owned_by_caller
from app.time_text import duration_text, isoformat


def _example(body: type[Any], example: Example, description: str) -> dict[int, ResponseSpec]:
    """The success answer documented with the reference page's example."""
    return {200: ResponseSpec(data_container=body, description=description, examples=[example])}


def schedule_out(schedule: Schedule, next_retry_at: datetime | None = None) -> ScheduleOut:
    return ScheduleOut(
        id=str(schedule.id),
        name=schedule.name,
        data_source_id=str(schedule.data_source_id),
        data_source_type=schedule.data_source.type,
        data_source_name=schedule.data_source.name,
        target_file_id=str(schedule.target_file_id),
        target_file_name=schedule.target_file.name,
        frequency=schedule.frequency,
        enabled=schedule.enabled,
        config=schedule.config,
        last_sync_at=isoformat(schedule.last_sync_at),
        next_sync_at=isoformat(schedule.next_sync_at),
        last_sync_status=schedule.last_sync_status,
        last_sync_row_count=schedule.last_sync_row_count,
        last_sync_error=schedule.last_sync_error,
        last_sync_duration=duration_text(schedule.last_sync_duration_ms),
        last_sync_duration_ms=schedule.last_sync_duration_ms,
        next_retry_at=isoformat(next_retry_at),
        created_at=isoformat(schedule.created_at) or "",
        updated_at=isoformat(schedule.updated_at) or "",
    )


class ScheduleController(Controller):
    path = "/api/sync/schedules"
    tags = ["Sync schedules"]
    dependencies = {"schedule": owned_by_caller(Schedule, "Schedule", "schedule_id")}

    @post(
        "/",
        operation_id="createSchedule",
        opt={"scope": Scope.SCHEDULES_WRITE},
        status_code=200,
        responses=_example(ScheduleSaved, examples.CREATED, "The schedule as stored"),
    )
    async def create_schedule(
        self,
        request: Request[Principal, Any, Any],
        data: Annotated[ScheduleCreate, Body(examples=examples.CREATE_REQUESTS)],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> ScheduleSaved:
        schedule = await service.create(db_session, app_settings, request.user.user_id, data)
        return ScheduleSaved(
            success=True,
            schedule=schedule_out(schedule),
            message="Sync schedule created successfully",
        )

    @get(
        "/",
        operation_id="listSchedules",
        opt={"scope": Scope.SCHEDULES_READ},
        responses=_example(ScheduleList, examples.LISTED, "One page of the caller's schedules"),
    )
    async def list_schedule(
        self,
        request: Request[Principal, Any, Any],
        db_session: NamedDependency[AsyncSession],
        enabled: FromQuery[bool | None] = None,
        data_source_type: Annotated[str | None, QueryParameter(name="dataSourceType")] = None,
        status: Annotated[
            Literal["success", "error", "running", "never"] | None,
            QueryParameter(description="Last sync status; `never` for schedules not yet run"),
        ] = None,
        search: Annotated[
            str | None, QueryParameter(description="Name contains (case-insensitive)")
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ScheduleList:
        rows, total, pagination = await service.schedules_page(
            db_session,
            request.user.user_id,
            enabled,
            data_source_type,
            status,
            search,
            limit,
            offset,
        )
        retries = await service.next_retries(db_session, [s.id for s in rows])
        return ScheduleList(
            success=True,
            schedules=[schedule_out(s, retries.get(s.id)) for s in rows],
            total_count=total,
            pagination=pagination,
        )

    @get(
        "/{schedule_id:str}",
        operation_id="getSchedule",
        opt={"scope": Scope.SCHEDULES_READ},
        responses=_example(ScheduleDetail, examples.DETAIL, "The schedule"),
    )
    async def get_schedule(
        self,
        schedule: NamedDependency[Schedule],
        db_session: NamedDependency[AsyncSession],
    ) -> ScheduleDetail:
        return ScheduleDetail(success=True, schedule=await _with_retry(db_session, schedule))

    @put(
        "/{schedule_id:str}",
        operation_id="updateSchedule",
        opt={"scope": Scope.SCHEDULES_WRITE},
        responses=_example(ScheduleSaved, examples.UPDATED, "The schedule as stored"),
    )
    async def update_schedule(
        self,
        schedule: NamedDependency[Schedule],
        data: Annotated[ScheduleUpdate, Body(examples=[examples.UPDATE_REQUEST])],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> ScheduleSaved:
        schedule = await service.update(db_session, app_settings, schedule, data)
        return ScheduleSaved(
            success=True,
            schedule=await _with_retry(db_session, schedule),
            message="Sync schedule updated successfully",
        )

    @delete(
        "/{schedule_id:str}",
        operation_id="deleteSchedule",
        opt={"scope": Scope.SCHEDULES_WRITE},
        status_code=200,
        responses=_example(Done, examples.DELETED, "Deleted; the target file stays"),
    )
    async def delete_schedule(
        self,
        schedule: NamedDependency[Schedule],
        db_session: NamedDependency[AsyncSession],
    ) -> Done:
        await service.delete(db_session, schedule)
        return Done(success=True, message="Sync schedule deleted successfully")


async def _with_retry(db: AsyncSession, schedule: Schedule) -> ScheduleOut:
    retries = await service.next_retries(db, [schedule.id])
    return schedule_out(schedule, retries.get(schedule.id))
