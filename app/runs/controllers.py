"""Manual sync, history and runs: `/api/sync/schedules/{id}/sync|history`, `/api/sync/runs`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
from arq.connections import ArqRedis
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import File
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.middleware import Principal
from app.db.models import Schedule, SyncRun
from app.errors import ApiError, InvalidInput, envelope, not_found
from app.runs import service
from app.schema import Limit, Offset, fetch_page
from app.settings import Settings
from app.sync.change_sets import CHANGE_COLUMN, ChangeSetGone, change_set_csv
from app.sync.csv_store import CsvStore
from app.tenancy import owned

RunStatus = Annotated[str | None, QueryParameter(description="queued, running, success or error")]
Since = Annotated[
    datetime | None,
    QueryParameter(
        name="from", description="Runs created at or after (ISO 8601; UTC if no offset)"
    ),
]
Until = Annotated[
    datetime | None,
    QueryParameter(name="to", description="Runs created at or before (ISO 8601; UTC if no offset)"),
]
SourceType = Annotated[
    str | None, QueryParameter(name="dataSourceType", description="e.g. google-sheets")
]


def _in_utc(moment: datetime | None, parameter: str) -> datetime | None:
    """A `from`/`to` time in UTC, as the store compares them. A time without an offset is
    read as UTC, like every time the API shows; one that leaves years 1-9999 once in UTC
    (`0001-01-01T00:00:00+01:00`) is refused here rather than overflowing in the query."""
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        raise InvalidInput(
            [{"field": parameter, "message": "must fall within the years 1 to 9999 in UTC"}],
            f"Invalid `{parameter}` time: see details",
        ) from None


def _failure(request: Request[Any, Any, Any], run: SyncRun) -> Response[dict[str, Any]]:
    """The page's failure body, in the envelope every error shares (so with `requestId`)."""
    failed = ApiError(
        500,
        run.error or "Sync failed",
        title="Sync failed",
        run_id=str(run.id),
        retry_after=f"{run.retry_at:%Y-%m-%dT%H:%M:%SZ}" if run.retry_at else None,
    )
    return envelope(request, failed)


class ManualSyncController(Controller):
    path = "/api/sync/schedules"
    tags = ["Sync schedules"]

    @post("/{schedule_id:str}/sync", operation_id="manualSync", status_code=200)
    async def manual_sync(
        self,
        request: Request[Principal, Any, Any],
        schedule_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        session_maker: NamedDependency[async_sessionmaker[AsyncSession]],
        queue: NamedDependency[ArqRedis],
        app_settings: NamedDependency[Settings],
        wait: Annotated[
            float | None,
            QueryParameter(
                ge=0, le=600, description="Seconds to wait for the result; 0 returns at once"
            ),
        ] = None,
        force: Annotated[
            bool, QueryParameter(description="Write even when the safety hold would stop the run")
        ] = False,
    ) -> Response[dict[str, Any]]:
        schedule = await owned(db_session, Schedule, request.user.user_id, schedule_id, "Schedule")
        run = await service.start_manual_sync(db_session, queue, schedule, force)
        seconds = app_settings.manual_sync_wait_seconds if wait is None else wait
        run = await service.wait_for_run(session_maker, run.id, seconds)
        if run.status == "success":
            return Response(
                {
                    "success": True,
                    "syncResult": service.sync_result(run),
                    "message": "Manual sync completed successfully",
                }
            )
        if run.status == "error":
            return _failure(request, run)
        return Response(
            {
                "success": True,
                "syncResult": service.sync_result(run),
                "runId": str(run.id),
                "message": f"Sync is still running; follow it at /api/sync/runs/{run.id}",
            },
            status_code=202,
        )

    @get("/{schedule_id:str}/history", operation_id="getSyncHistory")
    async def history(
        self,
        request: Request[Principal, Any, Any],
        schedule_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        status: RunStatus = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        schedule = await owned(db_session, Schedule, request.user.user_id, schedule_id, "Schedule")
        query = service.runs_query(
            request.user.user_id,
            schedule.id,
            status,
            _in_utc(since, "from"),
            _in_utc(until, "to"),
            None,
        )
        return await _run_page(db_session, query, "history", limit, offset)


async def _run_page(
    db: AsyncSession, query: Any, key: str, limit: int, offset: int
) -> dict[str, Any]:
    rows, paging = await fetch_page(db, query, (SyncRun.created_at.desc(),), limit, offset)
    return {"success": True, key: [service.run_out(r) for r in rows], **paging}


class RunController(Controller):
    path = "/api/sync/runs"
    tags = ["Sync runs"]

    @get("/", operation_id="listRuns")
    async def list_runs(
        self,
        request: Request[Principal, Any, Any],
        db_session: NamedDependency[AsyncSession],
        status: RunStatus = None,
        since: Since = None,
        until: Until = None,
        data_source_type: SourceType = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        query = service.runs_query(
            request.user.user_id,
            None,
            status,
            _in_utc(since, "from"),
            _in_utc(until, "to"),
            data_source_type,
        )
        return await _run_page(db_session, query, "runs", limit, offset)

    @get("/{run_id:str}", operation_id="getRun")
    async def get_run(
        self,
        request: Request[Principal, Any, Any],
        run_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        run = await owned(db_session, SyncRun, request.user.user_id, run_id, "Run")
        return {"success": True, "run": service.run_out(run)}

    @get("/{run_id:str}/changes", operation_id="getRunChanges", media_type="text/csv")
    async def get_changes(
        self,
        request: Request[Principal, Any, Any],
        run_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        csv_store: NamedDependency[CsvStore],
    ) -> Response[Any]:
        run = await owned(db_session, SyncRun, request.user.user_id, run_id, "Run")
        if run.status != "success":
            raise ApiError(409, f"The run has no change set: its status is {run.status}")
        schedule = await db_session.get(Schedule, run.schedule_id)
        if schedule is None:
            raise not_found("Run")
        if not (run.added or run.updated or run.deleted):
            return Response(content=f"{CHANGE_COLUMN}\n".encode(), media_type="text/csv")
        file = schedule.target_file
        try:
            path = await anyio.to_thread.run_sync(
                change_set_csv, csv_store, file.id, run.id, file.delimiter
            )
        except ChangeSetGone:
            raise not_found(
                "The change set of this run (kept while its file versions are kept)"
            ) from None
        return File(path=path, media_type="text/csv", filename=f"changes-{run.id}.csv")
