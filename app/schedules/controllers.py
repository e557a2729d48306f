"""`/api/sync/schedules`: exactly the reference page's create/list/get/update/delete."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.middleware import Principal
from app.db.models import Schedule
from app.schedules import service
from app.schedules.schemas import ScheduleCreate, ScheduleOut, ScheduleUpdate
from app.schema import Limit, Offset, duration_text, fetch_page, isoformat
from app.settings import Settings
from app.tenancy import owned


def schedule_out(schedule: Schedule) -> ScheduleOut:
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
        created_at=isoformat(schedule.created_at) or "",
        updated_at=isoformat(schedule.updated_at) or "",
    )


class ScheduleController(Controller):
    path = "/api/sync/schedules"
    tags = ["Sync schedules"]

    @post("/", operation_id="createSchedule", status_code=200)
    async def create_schedule(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[ScheduleCreate],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        schedule = await service.create(db_session, app_settings, request.user.user_id, data)
        return {
            "success": True,
            "schedule": schedule_out(schedule),
            "message": "Sync schedule created successfully",
        }

    @get("/", operation_id="listSchedules")
    async def list_schedule(
        self,
        request: Request[Principal, Any, Any],
        db_session: NamedDependency[AsyncSession],
        enabled: FromQuery[bool | None] = None,
        data_source_type: Annotated[str | None, QueryParameter(name="dataSourceType")] = None,
        status: Annotated[
            str | None,
            QueryParameter(description="Last sync status: success, error, running or never"),
        ] = None,
        search: Annotated[
            str | None, QueryParameter(description="Name contains (case-insensitive)")
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        query = service.list_query(request.user.user_id, enabled, data_source_type, status, search)
        rows, paging = await fetch_page(db_session, query, (Schedule.created_at,), limit, offset)
        return {
            "success": True,
            "schedules": [schedule_out(s) for s in rows],
            **paging,
        }

    @get("/{schedule_id:str}", operation_id="getSchedule")
    async def get_schedule(
        self,
        request: Request[Principal, Any, Any],
        schedule_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        schedule = await owned(db_session, Schedule, request.user.user_id, schedule_id, "Schedule")
        return {"success": True, "schedule": schedule_out(schedule)}

    @put("/{schedule_id:str}", operation_id="updateSchedule")
    async def update_schedule(
        self,
        request: Request[Principal, Any, Any],
        schedule_id: FromPath[str],
        data: JSONBody[ScheduleUpdate],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        schedule = await owned(db_session, Schedule, request.user.user_id, schedule_id, "Schedule")
        schedule = await service.update(db_session, app_settings, schedule, data)
        return {
            "success": True,
            "schedule": schedule_out(schedule),
            "message": "Sync schedule updated successfully",
        }

    @delete("/{schedule_id:str}", operation_id="deleteSchedule", status_code=200)
    async def delete_schedule(
        self,
        request: Request[Principal, Any, Any],
        schedule_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        schedule = await owned(db_session, Schedule, request.user.user_id, schedule_id, "Schedule")
        await service.delete(db_session, schedule)
        return {"success": True, "message": "Sync schedule deleted successfully"}
