"""Manual sync, history and runs: `/api/sync/schedules/{id}/sync|history`, `/api/sync/runs`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from arq.connections import ArqRedis
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.middleware import Principal
from app.auth.scopes import Scope
from app.db.models import RunStatus, Schedule, SyncRun
from app.errors import ApiError, InvalidInput, not_found
from app.openapi import error_response
from app.runs import service
from app.runs.schemas import History, RunDetail, RunList, SyncCompleted
from app.schedules import examples
from app.schema import ErrorBody, Limit, Offset
from app.settings import Settings
from app.sync.change_sets import CHANGE_COLUMN
from app.sync.csv_store import CsvStore
from app.tenancy import owned_by_caller

StatusFilter = Annotated[
    Literal["queued", "running", "success", "error"] | None,
    QueryParameter(description="Only runs with this status"),
]
StartedFilter = Annotated[
    Literal["running", "success", "error"] | None,
    QueryParameter(description="Only runs with this status"),
]
# A time as the API writes them (ISO 8601, `Z` or an offset; without one it is UTC). Parsed
# here rather than by the framework, which would also take `0.5` as a Unix timestamp and
# would name the parameter by its Python name (`until`) rather than as sent (`to`).
_MOMENT = (
    r"^(?!0000)\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?"
    r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$"
)
Since = Annotated[
    str | None,
    QueryParameter(
        name="from",
        schema_extra={"pattern": _MOMENT},
        description="Runs created at or after, e.g. 2026-02-12T10:00:00Z (UTC if no offset)",
    ),
]
Until = Annotated[
    str | None,
    QueryParameter(
        name="to",
        schema_extra={"pattern": _MOMENT},
        description="Runs created at or before, e.g. 2026-02-12T11:00:00Z (UTC if no offset)",
    ),
]
SourceType = Annotated[
    str | None, QueryParameter(name="dataSourceType", description="e.g. google-sheets")
]


def _in_utc(text: str | None, parameter: str) -> datetime | None:
    """A `from`/`to` time in UTC, as the store compares them. A time without an offset is
    read as UTC, like every time the API shows; one that leaves years 1-9999 once in UTC
    (`0001-01-01T00:00:00+01:00`) is the first or last moment there is, rather than an
    overflow in the query."""
    if text is None:
        return None

    def refused(message: str) -> InvalidInput:
        return InvalidInput(
            [{"field": parameter, "message": message}], f"Invalid `{parameter}` time: see details"
        )

    if not re.match(_MOMENT, text):
        raise refused("must be an ISO 8601 time such as 2026-02-12T10:00:00Z")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise refused("must be a real date and time, e.g. 2026-02-12T10:00:00Z") from None
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        edge = datetime.min if moment.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC)


def _failure(run: SyncRun) -> ApiError:
    """The page's failure body, in the envelope every error shares (so with `requestId`)."""
    return ApiError(
        500,
        run.error or "Sync failed",
        title="Sync failed",
        run_id=str(run.id),
        retry_after=f"{run.retry_at:%Y-%m-%dT%H:%M:%SZ}" if run.retry_at else None,
    )


class ManualSyncController(Controller):
    path = "/api/sync/schedules"
    tags = ["Sync schedules"]
    dependencies = {"schedule": owned_by_caller(Schedule, "Schedule", "schedule_id")}

    @post(
        "/{schedule_id:str}/sync",
        operation_id="manualSync",
        opt={"scope": Scope.SYNC_RUN},
        status_code=200,
        responses={
            200: ResponseSpec(
                data_container=SyncCompleted,
                description="The sync finished within the wait",
                examples=[examples.SYNCED],
            ),
            202: ResponseSpec(
                data_container=SyncCompleted,
                generate_examples=False,
                description="Still running after the wait: `runId` names the run to follow at "
                "/api/sync/runs/{runId}",
            ),
            409: error_response(
                "A sync of this schedule is already queued or running (`runId` names it)",
                title="Sync already running",
                example="A sync is already running for this schedule (run "
                "5b0c1f7e-2f44-4f5e-9a51-0c8a4a8f3b7d); wait for it to finish",
            ),
            500: ResponseSpec(
                data_container=ErrorBody,
                description="The sync failed: `message` says why, `retryAfter` when the "
                "automatic retry is due (if one is), `runId` the failed run",
                generate_examples=False,
                examples=[examples.SYNC_FAILED],
            ),
        },
    )
    async def manual_sync(
        self,
        schedule: NamedDependency[Schedule],
        db_session: NamedDependency[AsyncSession],
        session_maker: NamedDependency[async_sessionmaker[AsyncSession]],
        queue: NamedDependency[ArqRedis],
        app_settings: NamedDependency[Settings],
        wait: Annotated[
            float | None,
            QueryParameter(
                ge=0,
                le=600,
                # Litestar leaves a bound of 0 out of the document; it is there all the same.
                schema_extra={"minimum": 0},
                description="Seconds to wait for the result; 0 returns at once",
            ),
        ] = None,
        force: Annotated[
            bool, QueryParameter(description="Write even when the safety hold would stop the run")
        ] = False,
    ) -> Response[SyncCompleted]:
        run = await service.start_manual_sync(db_session, queue, schedule, force)
        seconds = app_settings.manual_sync_wait_seconds if wait is None else wait
        run = await service.wait_for_run(session_maker, run.id, seconds)
        if run.status == RunStatus.SUCCESS:
            return Response(
                SyncCompleted(
                    success=True,
                    sync_result=service.sync_result(run),
                    message="Manual sync completed successfully",
                )
            )
        if run.status == RunStatus.ERROR:
            raise _failure(run)
        return Response(
            SyncCompleted(
                success=True,
                sync_result=service.sync_result(run),
                run_id=str(run.id),
                message=f"Sync is still running; follow it at /api/sync/runs/{run.id}",
            ),
            status_code=202,
        )

    @get(
        "/{schedule_id:str}/history",
        operation_id="getSyncHistory",
        opt={"scope": Scope.SCHEDULES_READ},
        responses={
            200: ResponseSpec(
                data_container=History,
                description="The schedule's executions, newest first: runs that started "
                "(running, success, error). A pending retry is the schedule's `nextRetryAt`.",
                examples=[examples.HISTORY],
            )
        },
    )
    async def history(
        self,
        schedule: NamedDependency[Schedule],
        db_session: NamedDependency[AsyncSession],
        status: StartedFilter = None,
        since: Since = None,
        until: Until = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> History:
        only = service.RunFilter(status, _in_utc(since, "from"), _in_utc(until, "to"))
        rows, total, pagination = await service.history_page(
            db_session, schedule, only, limit, offset
        )
        runs = [service.run_out(r) for r in rows]
        return History(success=True, history=runs, total_count=total, pagination=pagination)


class RunController(Controller):
    path = "/api/sync/runs"
    tags = ["Sync runs"]
    dependencies = {"run": owned_by_caller(SyncRun, "Run", "run_id")}

    @get(
        "/",
        operation_id="listRuns",
        opt={"scope": Scope.SCHEDULES_READ},
        description="Every run of the caller's schedules, "
        "newest first, queued ones included (a retry waiting for its backoff has `readyAt`)",
    )
    async def list_runs(
        self,
        request: Request[Principal, Any, Any],
        db_session: NamedDependency[AsyncSession],
        status: StatusFilter = None,
        since: Since = None,
        until: Until = None,
        data_source_type: SourceType = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> RunList:
        only = service.RunFilter(
            status, _in_utc(since, "from"), _in_utc(until, "to"), data_source_type
        )
        rows, total, pagination = await service.runs_page(
            db_session, request.user.user_id, only, limit, offset
        )
        runs = [service.run_out(r) for r in rows]
        return RunList(success=True, runs=runs, total_count=total, pagination=pagination)

    @get("/{run_id:str}", operation_id="getRun", opt={"scope": Scope.SCHEDULES_READ})
    async def get_run(
        self,
        run: NamedDependency[SyncRun],
        db_session: NamedDependency[AsyncSession],
    ) -> RunDetail:
        return RunDetail(success=True, run=service.run_out(run))

    @get(
        "/{run_id:str}/changes",
        operation_id="getRunChanges",
        opt={"scope": Scope.FILES_READ},
        media_type="text/csv",
        response_description="The run's changed rows as CSV, with a first column saying "
        "added, updated or deleted",
        responses={
            409: error_response(
                "The run did not succeed, so it has no change set",
                title="Conflict",
                example="The run has no change set: its status is error",
            )
        },
    )
    async def get_changes(
        self,
        run: NamedDependency[SyncRun],
        db_session: NamedDependency[AsyncSession],
        csv_store: NamedDependency[CsvStore],
    ) -> Response[Any]:
        key = await service.change_set(db_session, csv_store, run)
        if key is None:
            return Response(content=f"{CHANGE_COLUMN}\n".encode(), media_type="text/csv")
        try:
            stored = await csv_store.objects.open(key)
        except FileNotFoundError:
            raise not_found("The change set of this run (pruned meanwhile)") from None
        return Stream(
            stored.chunks,
            media_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="changes-{run.id}.csv"',
                "Content-Length": str(stored.size),
            },
        )
