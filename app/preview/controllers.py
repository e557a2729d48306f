"""`POST /api/sync/preview` (a schedule not yet saved) and
`POST /api/sync/schedules/{id}/preview` (a saved one): a dry run, nothing written."""

from __future__ import annotations

from typing import Annotated, Any

from arq.connections import ArqRedis
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.middleware import Principal
from app.auth.scopes import Scope
from app.db.models import Schedule
from app.openapi import error_response
from app.preview import service
from app.preview.schemas import PreviewAnswer, PreviewBody
from app.schema import ErrorBody
from app.settings import Settings
from app.sync.preview import DEFAULT_ROWS, MAX_ROWS
from app.tenancy import owned_by_caller

RowLimit = Annotated[
    int,
    QueryParameter(ge=1, le=MAX_ROWS, description=f"Sample rows to return, 1 to {MAX_ROWS}"),
]

_PREVIEWED = Example(
    summary="A preview",
    value={
        "success": True,
        "preview": {
            "columns": ["id", "name", "amount"],
            "rows": [["1", "Ann", "10.50"], ["2", "Bob", ""]],
            "rowCount": 2,
            "changes": {"added": 1, "updated": 1, "deleted": 0},
            "columnsAdded": ["amount"],
            "columnsRemoved": [],
            "warnings": [
                {
                    "code": "blank_header",
                    "message": "Column 4 has no header; the CSV names it 'column_4'.",
                }
            ],
        },
    },
)

_RESPONSES: dict[int, ResponseSpec] = {
    200: ResponseSpec(
        data_container=PreviewAnswer,
        description="What a sync would write now: the first rows, the counts against the "
        "target file's current version, and what a run would trip over. Nothing is written.",
        generate_examples=False,
        examples=[_PREVIEWED],
    ),
    500: ResponseSpec(
        data_container=ErrorBody,
        description="The source failed as a sync would: `message` says why",
        generate_examples=False,
    ),
    503: error_response(
        "No worker is running, or Redis is unreachable: retry after `Retry-After` seconds",
        title="Service unavailable",
    ),
    504: error_response("The preview did not finish in time", title="Preview timed out"),
}


class PreviewController(Controller):
    path = "/api/sync"
    tags = ["Sync schedules"]

    @post(
        "/preview",
        operation_id="previewSync",
        opt={"scope": Scope.SYNC_RUN},
        status_code=200,
        responses=_RESPONSES,
    )
    async def preview_unsaved(
        self,
        request: Request[Principal, Any, Any],
        data: Annotated[PreviewBody, Body(description="A schedule not yet saved")],
        db_session: NamedDependency[AsyncSession],
        queue: NamedDependency[ArqRedis],
        app_settings: NamedDependency[Settings],
        limit: RowLimit = DEFAULT_ROWS,
    ) -> PreviewAnswer:
        job = await service.unsaved_request(
            db_session, app_settings, request.user.user_id, data, limit
        )
        return PreviewAnswer(True, await service.run_on_worker(queue, app_settings, job))

    @post(
        "/schedules/{schedule_id:str}/preview",
        operation_id="previewScheduleSync",
        opt={"scope": Scope.SYNC_RUN},
        status_code=200,
        dependencies={"schedule": owned_by_caller(Schedule, "Schedule", "schedule_id")},
        responses=_RESPONSES,
    )
    async def preview_saved(
        self,
        schedule: NamedDependency[Schedule],
        queue: NamedDependency[ArqRedis],
        app_settings: NamedDependency[Settings],
        limit: RowLimit = DEFAULT_ROWS,
    ) -> PreviewAnswer:
        job = service.saved_request(schedule, limit)
        return PreviewAnswer(True, await service.run_on_worker(queue, app_settings, job))
