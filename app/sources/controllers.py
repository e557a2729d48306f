"""`/api/data-sources`: connections and credentials that schedules refer to."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.middleware import Principal
from app.db.models import DataSource
from app.schema import Limit, Offset, fetch_page, isoformat
from app.settings import Settings
from app.sources import service
from app.sources.schemas import DataSourceCreate, DataSourceOut, DataSourceUpdate
from app.tenancy import owned


def source_out(source: DataSource) -> DataSourceOut:
    return DataSourceOut(
        id=str(source.id),
        name=source.name,
        type=source.type,
        settings=source.settings,
        has_credentials=bool(source.credentials_encrypted),
        created_at=isoformat(source.created_at) or "",
        updated_at=isoformat(source.updated_at) or "",
    )


class DataSourceController(Controller):
    path = "/api/data-sources"
    tags = ["Data sources"]

    @post("/", operation_id="createDataSource", status_code=200)
    async def create_source(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[DataSourceCreate],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        source = await service.create(
            db_session,
            app_settings,
            request.user.user_id,
            data.name,
            data.type,
            data.credentials,
            data.settings,
        )
        return {
            "success": True,
            "dataSource": source_out(source),
            "message": "Data source created successfully",
        }

    @get("/", operation_id="listDataSources")
    async def list_source(
        self,
        request: Request[Principal, Any, Any],
        db_session: NamedDependency[AsyncSession],
        type: FromQuery[str | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        query = select(DataSource).where(DataSource.user_id == request.user.user_id)
        if type:
            query = query.where(DataSource.type == type)
        rows, paging = await fetch_page(db_session, query, (DataSource.created_at,), limit, offset)
        return {
            "success": True,
            "dataSources": [source_out(s) for s in rows],
            **paging,
        }

    @get("/{source_id:str}", operation_id="getDataSource")
    async def get_source(
        self,
        request: Request[Principal, Any, Any],
        source_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        source = await owned(db_session, DataSource, request.user.user_id, source_id, "Data source")
        return {"success": True, "dataSource": source_out(source)}

    @patch("/{source_id:str}", operation_id="updateDataSource")
    async def update_source(
        self,
        request: Request[Principal, Any, Any],
        source_id: FromPath[str],
        data: JSONBody[DataSourceUpdate],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        source = await owned(db_session, DataSource, request.user.user_id, source_id, "Data source")
        source = await service.update(
            db_session, app_settings, source, data.name, data.credentials, data.settings
        )
        return {
            "success": True,
            "dataSource": source_out(source),
            "message": "Data source updated successfully",
        }

    @delete("/{source_id:str}", operation_id="deleteDataSource", status_code=200)
    async def delete_source(
        self,
        request: Request[Principal, Any, Any],
        source_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        source = await owned(db_session, DataSource, request.user.user_id, source_id, "Data source")
        await service.delete(db_session, source)
        return {"success": True, "message": "Data source deleted successfully"}

    @post("/{source_id:str}/test", operation_id="testDataSource", status_code=200)
    async def test_source(
        self,
        request: Request[Principal, Any, Any],
        source_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        source = await owned(db_session, DataSource, request.user.user_id, source_id, "Data source")
        details = await service.test_connection(db_session, app_settings, source)
        return {"success": True, "message": "Connection OK", "details": details}
