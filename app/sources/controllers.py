"""`/api/data-sources`: connections and credentials that schedules refer to."""

from __future__ import annotations

from typing import Annotated, Any

from arq.connections import ArqRedis
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.middleware import Principal
from app.auth.scopes import Scope
from app.db.models import DataSource
from app.openapi import error_response
from app.schema import Done, Limit, Offset
from app.settings import Settings
from app.sources import credential_checks, service
from app.sources.schemas import (
    ConnectionTested,
    CredentialsChecked,
    CredentialStatus,
    DataSourceCreate,
    DataSourceCreated,
    DataSourceDetail,
    DataSourceList,
    DataSourceOut,
    DataSourceUpdate,
    DataSourceUpdated,
)
from app.tenancy import owned_by_caller
from app.time_text import isoformat
from connectors.registry import source_types

SourceType = Annotated[
    str | None,
    QueryParameter(
        description="Only sources of this type",
        schema_extra={"enum": source_types()},
    ),
]
_IN_USE = error_response(
    "A schedule reads from this data source: delete the schedule or point it at another "
    "source first",
    title="Conflict",
    example="The data source is used by 1 schedule(s): delete or repoint them first",
)
_NO_WORKER = error_response(
    "No worker is running to check the credentials",
    title="Service Unavailable",
    example="No worker is running to check the credentials; try again shortly",
)
_CHECK_TIMED_OUT = error_response(
    "The check did not finish in time; the status is unchanged",
    title="Check timed out",
    example="The credentials check did not finish within 75 s; try again later",
)
_CONNECTION_FAILED = error_response(
    "The source refused the connection or did not answer in time; `message` gives its reason "
    "(bad password, unknown spreadsheet, missing permission), or its type is not available "
    "on this server",
    title="Connection failed",
    example="Token expired - re-authentication required",
)


def source_out(source: DataSource) -> DataSourceOut:
    return DataSourceOut(
        id=str(source.id),
        name=source.name,
        type=source.type,
        settings=source.settings,
        has_credentials=bool(source.credentials_encrypted),
        credential_status=credential_status_out(source),
        created_at=isoformat(source.created_at) or "",
        updated_at=isoformat(source.updated_at) or "",
    )


def credential_status_out(source: DataSource) -> CredentialStatus:
    status = source.credential_status
    return CredentialStatus(
        status=status if status in ("ok", "expiring", "failed") else None,  # type: ignore[arg-type]
        checked_at=isoformat(source.credential_checked_at),
        message=source.credential_message,
    )


class DataSourceController(Controller):
    path = "/api/data-sources"
    tags = ["Data sources"]
    dependencies = {"source": owned_by_caller(DataSource, "Data source", "source_id")}

    @post("/", operation_id="createDataSource", opt={"scope": Scope.SOURCES_WRITE}, status_code=200)
    async def create_source(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[DataSourceCreate],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> DataSourceCreated:
        source = await service.create(
            db_session,
            app_settings,
            request.user.user_id,
            data.name,
            data.type,
            data.credentials,
            data.settings,
        )
        return DataSourceCreated(
            success=True, data_source=source_out(source), message="Data source created successfully"
        )

    @get("/", operation_id="listDataSources", opt={"scope": Scope.SOURCES_READ})
    async def list_source(
        self,
        request: Request[Principal, Any, Any],
        db_session: NamedDependency[AsyncSession],
        type: SourceType = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> DataSourceList:
        rows, total, pagination = await service.sources_page(
            db_session, request.user.user_id, type, limit, offset
        )
        return DataSourceList(
            success=True,
            data_sources=[source_out(s) for s in rows],
            total_count=total,
            pagination=pagination,
        )

    @get("/{source_id:str}", operation_id="getDataSource", opt={"scope": Scope.SOURCES_READ})
    async def get_source(
        self,
        source: NamedDependency[DataSource],
        db_session: NamedDependency[AsyncSession],
    ) -> DataSourceDetail:
        return DataSourceDetail(success=True, data_source=source_out(source))

    @patch("/{source_id:str}", operation_id="updateDataSource", opt={"scope": Scope.SOURCES_WRITE})
    async def update_source(
        self,
        source: NamedDependency[DataSource],
        data: JSONBody[DataSourceUpdate],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> DataSourceUpdated:
        source = await service.update(
            db_session, app_settings, source, data.name, data.credentials, data.settings
        )
        return DataSourceUpdated(
            success=True, data_source=source_out(source), message="Data source updated successfully"
        )

    @delete(
        "/{source_id:str}",
        operation_id="deleteDataSource",
        opt={"scope": Scope.SOURCES_WRITE},
        status_code=200,
        responses={409: _IN_USE},
    )
    async def delete_source(
        self,
        source: NamedDependency[DataSource],
        db_session: NamedDependency[AsyncSession],
    ) -> Done:
        await service.delete(db_session, source)
        return Done(success=True, message="Data source deleted successfully")

    @post(
        "/{source_id:str}/test",
        operation_id="testDataSource",
        opt={"scope": Scope.SOURCES_WRITE},
        status_code=200,
        responses={400: _CONNECTION_FAILED},
    )
    async def test_source(
        self,
        source: NamedDependency[DataSource],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> ConnectionTested:
        """Connects with the stored credentials, in a child process killed at
        CONNECTION_TEST_TIMEOUT_SECONDS."""
        details = await service.test_connection(db_session, app_settings, source)
        return ConnectionTested(success=True, message="Connection OK", details=details)

    @post(
        "/{source_id:str}/check-credentials",
        operation_id="checkDataSourceCredentials",
        opt={"scope": Scope.SOURCES_WRITE},
        status_code=200,
        responses={503: _NO_WORKER, 504: _CHECK_TIMED_OUT},
    )
    async def check_credentials(
        self,
        source: NamedDependency[DataSource],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
        queue: NamedDependency[ArqRedis],
    ) -> CredentialsChecked:
        """Checks the stored credentials now, on a worker (mints a token or logs in, reads no
        data) and records the result as the daily check does, `source.credentials_failed`
        included."""
        await credential_checks.check_now(queue, app_settings, source.id)
        await db_session.refresh(source)
        return CredentialsChecked(success=True, credential_status=credential_status_out(source))
