"""`/api/files`: target CSV files, their content and kept versions."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import ETag, ResponseHeader
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, JSONBody, PathParameter
from litestar.response import File
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.middleware import Principal
from app.db.models import FileVersion, TargetFile
from app.files import service
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
from app.schema import Done, Limit, Offset, fetch_rows
from app.sync.csv_store import EMPTY_SHA256, CsvStore
from app.tenancy import owned_by_caller
from app.time_text import isoformat

_IN_USE = error_response(
    "A schedule writes to this file: delete the schedule or point it at another file first",
    title="Conflict",
    example="The file is the target of 1 schedule(s): delete or repoint them first",
)
# What the two content routes document besides their CSV body. Litestar types a header by
# its `value`; with documentation_only the value is never sent.
_CSV_HEADERS = [
    ResponseHeader(
        name="ETag",
        value=f'"{EMPTY_SHA256}"',
        documentation_only=True,
        required=True,
        description="The content's SHA-256 (the file's `checksum`), quoted; send it back as "
        "If-None-Match to get a 304 while it is unchanged",
    ),
    ResponseHeader(
        name="Content-Disposition",
        value="attachment; filename=\"sales-data.csv\"; filename*=UTF-8''sales-data.csv",
        documentation_only=True,
        required=True,
        description="attachment, with the file's name (`filename*` in UTF-8)",
    ),
]
_NOT_MODIFIED = {
    304: ResponseSpec(
        data_container=None,
        description="Not modified: If-None-Match names the current ETag; no body",
    )
}
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        description="An ETag from an earlier download: 304 without a body if it is current",
    ),
]


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


def attachment_disposition(name: str) -> str:
    """`Content-Disposition` for a download named `name` (RFC 6266): the exact name as UTF-8
    in `filename*` (RFC 5987), and an ASCII `filename` for clients that only read that one.
    Header values are Latin-1 on the wire, so `日本語.csv` cannot go in `filename` as is.

    Litestar's `File(filename=...)` is not used for this: for a non-ASCII name it sends
    `filename*` alone, and it leaves `"` unescaped in `filename`."""
    name = name.replace("\r", "").replace("\n", "")
    # "données €.csv" -> "donnees _.csv": accents dropped, the rest replaced.
    ascii_name = "".join(
        unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode() or "_"
        for char in name
    )
    fallback = "".join(c if c.isprintable() else "_" for c in ascii_name)
    fallback = fallback.replace("\\", "\\\\").replace('"', '\\"')
    # RFC 5987 attr-chars stay as they are; everything else is percent-encoded UTF-8.
    encoded = quote(name, safe="!#$&+^`|")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _csv_response(
    if_none_match: str | None, path: Path | None, checksum: str, name: str
) -> Response[bytes]:
    etag = f'"{checksum}"'
    if (if_none_match or "").strip() in {etag, checksum, f"W/{etag}"}:
        return Response(content=b"", status_code=304, headers={"ETag": etag})
    headers = {"Content-Disposition": attachment_disposition(name)}
    if path is None:
        return Response(content=b"", media_type="text/csv", headers={**headers, "ETag": etag})
    return File(path=path, media_type="text/csv", etag=ETag(value=checksum), headers=headers)


class TargetFileController(Controller):
    path = "/api/files"
    tags = ["Target files"]
    dependencies = {"file": owned_by_caller(TargetFile, "File", "file_id")}

    @post("/", operation_id="createFile", status_code=200)
    async def create_file(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[TargetFileCreate],
        db_session: NamedDependency[AsyncSession],
    ) -> FileCreated:
        file = await service.create(db_session, request.user.user_id, data)
        return FileCreated(success=True, file=file_out(file), message="File created successfully")

    @get("/", operation_id="listFiles")
    async def list_file(
        self,
        request: Request[Principal, Any, Any],
        db_session: NamedDependency[AsyncSession],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> FileList:
        query = service.list_query(request.user.user_id)
        rows, total, pagination = await fetch_rows(
            db_session, query, (TargetFile.created_at,), limit, offset
        )
        return FileList(
            success=True,
            files=[file_out(f) for f in rows],
            total_count=total,
            pagination=pagination,
        )

    @get("/{file_id:str}", operation_id="getFile")
    async def get_file(
        self,
        file: NamedDependency[TargetFile],
        db_session: NamedDependency[AsyncSession],
    ) -> FileDetail:
        return FileDetail(success=True, file=file_out(file))

    @patch("/{file_id:str}", operation_id="updateFile")
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
        media_type="text/csv",
        response_headers=_CSV_HEADERS,
        responses=_NOT_MODIFIED,
        response_description="The current content as CSV (empty before the first sync)",
    )
    async def content(
        self,
        file: NamedDependency[TargetFile],
        db_session: NamedDependency[AsyncSession],
        csv_store: NamedDependency[CsvStore],
        if_none_match: IfNoneMatch = None,
    ) -> Response[bytes]:
        path = csv_store.csv_path(file.id, file.version) if file.version else None
        return _csv_response(if_none_match, path, file.checksum or EMPTY_SHA256, file.name)

    @get("/{file_id:str}/versions", operation_id="listFileVersions")
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
        media_type="text/csv",
        response_headers=_CSV_HEADERS,
        responses=_NOT_MODIFIED,
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
        if_none_match: IfNoneMatch = None,
    ) -> Response[bytes]:
        kept = await service.kept_version(db_session, file, version)
        return _csv_response(
            if_none_match, csv_store.csv_path(file.id, version), kept.checksum, file.name
        )
