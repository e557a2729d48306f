"""`/api/files`: target CSV files, their content and kept versions."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.middleware import Principal
from app.auth.scopes import Scope
from app.db.models import FileVersion, TargetFile
from app.files import service
from app.files.downloads import (
    CSV_HEADERS,
    DOWNLOAD_ANSWERS,
    IfNoneMatch,
    Redirected,
    csv_response,
)
from app.files.schemas import (
    FileCreated,
    FileDetail,
    FileList,
    FileUpdated,
    FileVersionList,
    FileVersionOut,
    TargetFileCreate,
    TargetFileOut,
    TargetFileUpdate,
)
from app.openapi import error_response
from app.schema import Done, Limit, Offset
from app.settings import Settings
from app.sync.csv_store import EMPTY_SHA256, CsvStore, stored_stem
from app.tenancy import owned_by_caller
from app.time_text import isoformat

_IN_USE = error_response(
    "A schedule writes to this file: delete the schedule or point it at another file first",
    title="Conflict",
    example="The file is the target of 1 schedule(s): delete or repoint them first",
)


def file_out(file: TargetFile) -> TargetFileOut:
    return TargetFileOut(
        id=str(file.id),
        name=file.name,
        delimiter=file.delimiter,
        encoding=file.encoding,
        header=file.header,
        escape_formulas=file.escape_formulas,
        size_bytes=file.size_bytes,
        row_count=file.row_count,
        column_count=file.column_count,
        checksum=file.checksum or EMPTY_SHA256,
        version=file.version,
        created_at=isoformat(file.created_at) or "",
        updated_at=isoformat(file.updated_at) or "",
    )


def version_out(version: FileVersion) -> FileVersionOut:
    return FileVersionOut(
        version=version.version,
        size_bytes=version.size_bytes,
        row_count=version.row_count,
        column_count=version.column_count,
        checksum=version.checksum,
        run_id=str(version.run_id) if version.run_id else None,
        created_at=isoformat(version.created_at) or "",
    )


class TargetFileController(Controller):
    path = "/api/files"
    tags = ["Target files"]
    dependencies = {"file": owned_by_caller(TargetFile, "File", "file_id")}

    @post("/", operation_id="createFile", opt={"scope": Scope.SCHEDULES_WRITE}, status_code=200)
    async def create_file(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[TargetFileCreate],
        db_session: NamedDependency[AsyncSession],
    ) -> FileCreated:
        file = await service.create(db_session, request.user.user_id, data)
        return FileCreated(success=True, file=file_out(file), message="File created successfully")

    @get("/", operation_id="listFiles", opt={"scope": Scope.FILES_READ})
    async def list_file(
        self,
        request: Request[Principal, Any, Any],
        db_session: NamedDependency[AsyncSession],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> FileList:
        rows, total, pagination = await service.files_page(
            db_session, request.user.user_id, limit, offset
        )
        return FileList(
            success=True,
            files=[file_out(f) for f in rows],
            total_count=total,
            pagination=pagination,
        )

    @get("/{file_id:str}", operation_id="getFile", opt={"scope": Scope.FILES_READ})
    async def get_file(
        self,
        file: NamedDependency[TargetFile],
        db_session: NamedDependency[AsyncSession],
    ) -> FileDetail:
        return FileDetail(success=True, file=file_out(file))

    @patch("/{file_id:str}", operation_id="updateFile", opt={"scope": Scope.SCHEDULES_WRITE})
    async def update_file(
        self,
        file: NamedDependency[TargetFile],
        data: JSONBody[TargetFileUpdate],
        db_session: NamedDependency[AsyncSession],
    ) -> FileUpdated:
        """Renames the file or changes formula escaping; the next sync writes it so."""
        file = await service.update(db_session, file, data)
        return FileUpdated(success=True, file=file_out(file), message="File updated successfully")

    @delete(
        "/{file_id:str}",
        operation_id="deleteFile",
        opt={"scope": Scope.SCHEDULES_WRITE},
        status_code=200,
        responses={409: _IN_USE},
    )
    async def delete_file(
        self,
        file: NamedDependency[TargetFile],
        db_session: NamedDependency[AsyncSession],
        csv_store: NamedDependency[CsvStore],
    ) -> Done:
        await service.delete(db_session, csv_store, file)
        return Done(success=True, message="File deleted successfully")

    @get(
        "/{file_id:str}/content",
        operation_id="getFileContent",
        opt={"scope": Scope.FILES_READ},
        media_type="text/csv",
        response_headers=CSV_HEADERS,
        responses=DOWNLOAD_ANSWERS,
        response_description="The current content as CSV (empty before the first sync)",
    )
    async def content(
        self,
        file: NamedDependency[TargetFile],
        db_session: NamedDependency[AsyncSession],
        csv_store: NamedDependency[CsvStore],
        app_settings: NamedDependency[Settings],
        if_none_match: IfNoneMatch = None,
        redirect: Redirected = False,
    ) -> Response[bytes]:
        key = None
        if file.version:
            current = await service.kept_version(db_session, file, file.version)
            key = csv_store.version_keys(
                file.id, stored_stem(current.version, current.object_stem)
            ).csv
        return await csv_response(
            csv_store.objects,
            if_none_match,
            key,
            file.checksum or EMPTY_SHA256,
            file.name,
            _presigned_for(app_settings, redirect),
        )

    @get(
        "/{file_id:str}/versions", operation_id="listFileVersions", opt={"scope": Scope.FILES_READ}
    )
    async def versions(
        self,
        file: NamedDependency[TargetFile],
        db_session: NamedDependency[AsyncSession],
    ) -> FileVersionList:
        rows = await service.versions(db_session, file)
        return FileVersionList(
            success=True, versions=[version_out(v) for v in rows], total_count=len(rows)
        )

    @get(
        "/{file_id:str}/versions/{version:int}/content",
        operation_id="getFileVersionContent",
        opt={"scope": Scope.FILES_READ},
        media_type="text/csv",
        response_headers=CSV_HEADERS,
        responses=DOWNLOAD_ANSWERS,
        response_description="That version's content as CSV",
    )
    async def version_content(
        self,
        file: NamedDependency[TargetFile],
        version: Annotated[
            int,
            PathParameter(
                description="A kept version's number (listFileVersions); any other is a 404"
            ),
        ],
        db_session: NamedDependency[AsyncSession],
        csv_store: NamedDependency[CsvStore],
        app_settings: NamedDependency[Settings],
        if_none_match: IfNoneMatch = None,
        redirect: Redirected = False,
    ) -> Response[bytes]:
        kept = await service.kept_version(db_session, file, version)
        key = csv_store.version_keys(file.id, stored_stem(kept.version, kept.object_stem)).csv
        return await csv_response(
            csv_store.objects,
            if_none_match,
            key,
            kept.checksum,
            file.name,
            _presigned_for(app_settings, redirect),
        )


def _presigned_for(settings: Settings, redirect: bool) -> timedelta | None:
    return timedelta(seconds=settings.storage_presign_seconds) if redirect else None
