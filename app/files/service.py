"""Target files: their settings, their kept versions, and deleting one no schedule writes to."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

import anyio
from msgspec import UnsetType
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import FileVersion, Schedule, TargetFile
from app.errors import ApiError, InvalidInput, not_found
from app.files.schemas import (
    DELIMITERS,
    ENCODINGS,
    FILE_NAME,
    FILE_NAME_MAX,
    TargetFileCreate,
    TargetFileUpdate,
)
from app.schema import Pagination, fetch_rows
from app.sync.csv_store import CsvStore

log = logging.getLogger("datasync.files")

# file_versions.version is a 32-bit INTEGER: a larger number names no version, so it is a
# 404 like any unknown version (as a malformed id is).
LAST_POSSIBLE_VERSION = 2**31 - 1

Problems = list[dict[str, str]]


def _name_problems(name: str) -> Problems:
    # The limits of TargetFileCreate.name's schema, on the name as sent; it is stored stripped.
    if not 1 <= len(name) <= FILE_NAME_MAX or not FILE_NAME.search(name):
        return [
            {
                "field": "name",
                "message": f'must be 1 to {FILE_NAME_MAX} characters, not only spaces, without / \\ " or line breaks',
            }
        ]
    return []


def _refused(problems: Problems) -> InvalidInput:
    return InvalidInput(problems, "Invalid file settings: see details")


async def create(db: AsyncSession, user_id: uuid.UUID, data: TargetFileCreate) -> TargetFile:
    problems = _name_problems(data.name)
    if data.delimiter not in DELIMITERS:
        problems.append({"field": "delimiter", "message": "must be one of , ; | or a tab"})
    if data.encoding not in ENCODINGS:
        problems.append(
            {
                "field": "encoding",
                "message": "must be utf-8 or utf-8-sig (UTF-8 with BOM, for Excel)",
            }
        )
    if problems:
        raise _refused(problems)
    file = TargetFile(
        user_id=user_id,
        name=data.name.strip(),
        delimiter=data.delimiter,
        encoding=data.encoding,
        header=data.header,
        escape_formulas=data.escape_formulas,
    )
    db.add(file)
    await db.flush()
    return file


async def files_page(
    db: AsyncSession, user_id: uuid.UUID, limit: int, offset: int
) -> tuple[Sequence[TargetFile], int, Pagination]:
    """The user's files, oldest first."""
    query = select(TargetFile).where(TargetFile.user_id == user_id)
    return await fetch_rows(db, query, (TargetFile.created_at,), limit, offset)


async def update(db: AsyncSession, file: TargetFile, data: TargetFileUpdate) -> TargetFile:
    """The name (checked as on creation) and formula escaping; the rest is fixed at creation."""
    if data.name is not None:
        problems = _name_problems(data.name)
        if problems:
            raise _refused(problems)
        file.name = data.name.strip()
    if not isinstance(data.escape_formulas, UnsetType):
        file.escape_formulas = data.escape_formulas
    await db.flush()
    return file


async def delete(db: AsyncSession, csv_store: CsvStore, file: TargetFile) -> None:
    """Removes the file with its content and versions; 409 while a schedule writes to it."""
    writing_schedules = await db.scalar(
        select(func.count()).where(Schedule.target_file_id == file.id)
    )
    if writing_schedules:
        raise ApiError(
            409,
            f"The file is the target of {writing_schedules} schedule(s): delete or repoint them first",
        )
    file_id = file.id
    await db.delete(file)
    # Committed before the objects go: were the commit to fail after them, the file would
    # stay with its versions' objects gone. The request's own commit then has nothing left.
    await db.commit()
    try:
        await anyio.to_thread.run_sync(csv_store.delete, file_id)
    except Exception as error:
        # Nothing names a deleted file's objects any more: the sweep collects them.
        log.warning(
            "could not remove a deleted file's objects; the sweep will",
            extra={"file_id": str(file_id), "error": repr(error)},
        )


async def versions(db: AsyncSession, file: TargetFile) -> Sequence[FileVersion]:
    """The kept versions, newest first."""
    query = (
        select(FileVersion)
        .where(FileVersion.file_id == file.id)
        .order_by(FileVersion.version.desc())
    )
    return (await db.scalars(query)).all()


async def kept_version(db: AsyncSession, file: TargetFile, version: int) -> FileVersion:
    """Version `version` of the file while it is kept, else a 404."""
    kept: FileVersion | None = None
    if 1 <= version <= LAST_POSSIBLE_VERSION:  # a larger one would overflow the query
        kept = await db.scalar(
            select(FileVersion).where(
                FileVersion.file_id == file.id, FileVersion.version == version
            )
        )
    if kept is None:
        raise not_found(f"Version {version} of this file (only the last versions are kept)")
    return kept
