"""Migration 0008 on both stores: versions published before it keep their old object names
(a NULL stem), new ones are named by their run; going back to 0007 leaves each file on a
version an older release can find."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text, update

from app.db.engine import create_engine, session_factory
from app.db.migrate import alembic_config, upgrade_to_head
from app.db.models import FileVersion, TargetFile, User
from app.settings import Settings, load_settings
from app.sync.csv_store import version_stem
from tests.services import create_postgres_database


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Iterator[Settings]:
    drop = lambda: None  # noqa: E731
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'migrations.db'}"
    else:
        url, drop = create_postgres_database()
    yield load_settings(
        {"DATABASE_URL": url, "DATA_DIR": str(tmp_path), "SECRET_KEY": secrets.token_urlsafe(48)}
    )
    drop()


async def a_file_with_versions(settings: Settings, runs: list[uuid.UUID | None]) -> uuid.UUID:
    """A file at its last version, one FileVersion per run (None: published by no run)."""
    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as db:
            user = User(email=f"{secrets.token_hex(4)}@example.com")
            db.add(user)
            await db.flush()
            file = TargetFile(user_id=user.id, name="f.csv", version=len(runs))
            db.add(file)
            await db.flush()
            for version, run_id in enumerate(runs, start=1):
                db.add(
                    FileVersion(
                        file_id=file.id,
                        version=version,
                        size_bytes=version,
                        row_count=version * 10,
                        column_count=2,
                        checksum=f"{version:064d}",
                        run_id=run_id,
                        object_stem=version_stem(version, run_id),
                    )
                )
            file.checksum, file.size_bytes, file.row_count = f"{len(runs):064d}", len(runs), 1
            file.change_marker = "marker"
            await db.commit()
            return file.id
    finally:
        await engine.dispose()


async def stems(settings: Settings, file_id: uuid.UUID) -> list[str | None]:
    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as db:
            rows = await db.execute(
                select(FileVersion.object_stem)
                .where(FileVersion.file_id == file_id)
                .order_by(FileVersion.version)
            )
            return [row.object_stem for row in rows]
    finally:
        await engine.dispose()


async def forget_stems_of(settings: Settings, file_id: uuid.UUID, versions: list[int]) -> None:
    """As a version published before 0008 is stored."""
    engine = create_engine(settings)
    try:
        async with session_factory(engine)() as db:
            await db.execute(
                update(FileVersion)
                .where(FileVersion.file_id == file_id, FileVersion.version.in_(versions))
                .values(object_stem=None)
            )
            await db.commit()
    finally:
        await engine.dispose()


async def file_row(settings: Settings, file_id: uuid.UUID) -> tuple[object, ...]:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT version, checksum, size_bytes, row_count, change_marker "
                        "FROM target_files WHERE id = :id"
                    ),
                    {
                        "id": file_id.hex
                        if settings.sqlalchemy_url.startswith("sqlite")
                        else file_id
                    },
                )
            ).one()
            versions = (
                await connection.execute(
                    text("SELECT count(*) FROM file_versions"),
                )
            ).scalar_one()
            return (*row, versions)
    finally:
        await engine.dispose()


def test_downgrading_puts_each_file_back_on_its_newest_version_an_older_release_can_find(
    settings: Settings,
) -> None:
    upgrade_to_head(settings)
    first, second = uuid.uuid4(), uuid.uuid4()
    kept_old = asyncio.run(a_file_with_versions(settings, [first, second, uuid.uuid4()]))
    asyncio.run(forget_stems_of(settings, kept_old, [1, 2]))
    only_new = asyncio.run(a_file_with_versions(settings, [uuid.uuid4()]))

    command.downgrade(alembic_config(settings), "0007")

    # Back on version 2 with its figures; its change marker cleared so the next run fetches.
    assert asyncio.run(file_row(settings, kept_old))[:5] == (2, f"{2:064d}", 2, 20, None)
    assert asyncio.run(file_row(settings, only_new))[:5] == (0, None, 0, 0, None)
    assert asyncio.run(file_row(settings, kept_old))[5] == 2  # the two old versions' rows

    upgrade_to_head(settings)
    assert asyncio.run(stems(settings, kept_old)) == [None, None]
