"""Data sources: a user's connections, with credentials sealed at rest."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connector_environment import connector_environment
from app.credential_vault import CredentialsUnreadable, CredentialVault
from app.db.models import DataSource, Schedule, utcnow
from app.errors import ApiError, InvalidInput
from app.schema import Pagination, fetch_rows
from app.settings import Settings
from app.sources import credential_health
from app.sources.probe import ProbeTimeout, run_connection_test
from app.sources.schemas import SOURCE_NAME_MAX, SOURCE_NAME_PATTERN
from connectors.base import JSON
from connectors.declaration import credentials_problems, field_problems, with_connector_problems
from connectors.registry import (
    UnavailableSourceType,
    UnknownSourceType,
    connector_class,
    declaration_of,
    source_types,
)


def _unknown_type() -> InvalidInput:
    return InvalidInput(
        [{"field": "type", "message": f"must be one of: {', '.join(source_types())}"}],
        "Unknown data source type",
    )


def check_type(type_name: str) -> None:
    try:
        connector_class(type_name)
    except UnknownSourceType:
        raise _unknown_type() from None
    except UnavailableSourceType as exc:
        raise InvalidInput(
            [{"field": "type", "message": str(exc)}], "Data source type not available"
        ) from None


def check_type_filter(type_name: str) -> None:
    """A list filter names a registered type (available on this server or not: sources of a
    type whose driver was removed still list)."""
    if type_name not in source_types():
        raise _unknown_type()


def check_credentials(
    settings: Settings, type_name: str, credentials: JSON, source_settings: JSON
) -> None:
    cls = connector_class(type_name)
    declaration = declaration_of(cls)
    problems = with_connector_problems(
        credentials_problems(declaration, credentials)
        + field_problems(declaration.settings, source_settings, "settings"),
        cls.validate_credentials(credentials, source_settings, connector_environment(settings)),
    )
    if problems:
        raise InvalidInput(
            [{"field": p.field, "message": p.message} for p in problems],
            "Invalid data source credentials or settings: see details",
        )


async def sources_page(
    db: AsyncSession, user_id: uuid.UUID, type_name: str | None, limit: int, offset: int
) -> tuple[Sequence[DataSource], int, Pagination]:
    """The user's data sources, oldest first; only those of `type_name` when one is given."""
    query = select(DataSource).where(DataSource.user_id == user_id)
    if type_name is not None:
        check_type_filter(type_name)
        query = query.where(DataSource.type == type_name)
    return await fetch_rows(db, query, (DataSource.created_at,), limit, offset)


async def create(
    db: AsyncSession,
    settings: Settings,
    user_id: uuid.UUID,
    name: str,
    type_name: str,
    credentials: JSON,
    source_settings: JSON,
) -> DataSource:
    name = _checked_name(name)
    check_type(type_name)
    check_credentials(settings, type_name, credentials, source_settings)
    source = DataSource(
        user_id=user_id,
        name=name,
        type=type_name,
        credentials_encrypted=CredentialVault(settings.secret_key).seal(credentials),
        settings=source_settings,
        credential_check_due_at=credential_health.first_due(settings, utcnow()),
    )
    db.add(source)
    await db.flush()
    return source


async def update(
    db: AsyncSession,
    settings: Settings,
    source: DataSource,
    name: str | None,
    credentials: JSON | None,
    settings_patch: JSON | None,
) -> DataSource:
    vault = CredentialVault(settings.secret_key)
    new_settings = dict(source.settings)
    for key, value in (settings_patch or {}).items():
        if value is None:
            new_settings.pop(key, None)
        else:
            new_settings[key] = value
    if credentials is not None or settings_patch is not None:
        try:
            effective = (
                credentials if credentials is not None else vault.open(source.credentials_encrypted)
            )
        except CredentialsUnreadable as exc:
            raise InvalidInput([{"field": "credentials", "message": str(exc)}]) from None
        check_credentials(settings, source.type, effective, new_settings)
    if name is not None:
        source.name = _checked_name(name)
    if credentials is not None:
        source.credentials_encrypted = vault.seal(credentials)
        credential_health.forget(settings, source)
    source.settings = new_settings
    await db.flush()
    return source


async def delete(db: AsyncSession, source: DataSource) -> None:
    schedules = await db.scalar(select(func.count()).where(Schedule.data_source_id == source.id))
    if schedules:
        raise ApiError(
            409,
            f"The data source is used by {schedules} schedule(s): delete or repoint them first",
        )
    await db.delete(source)


async def test_connection(db: AsyncSession, settings: Settings, source: DataSource) -> JSON:
    """Connects with the stored credentials in a child process that is killed at the
    deadline (see app/sources/probe.py); a refused connection is the user's 400."""
    vault = CredentialVault(settings.secret_key)
    try:
        credentials = vault.open(source.credentials_encrypted)
    except CredentialsUnreadable as exc:
        raise ApiError(400, str(exc), title="Connection failed") from None
    check_type(source.type)
    try:
        result = await run_connection_test(
            source.type,
            credentials,
            dict(source.settings),
            connector_environment(settings),
            settings.connection_test_timeout_seconds,
        )
    except ProbeTimeout as exc:
        raise ApiError(400, str(exc), title="Connection failed") from None
    # A token redeemed during the test is the only valid one now, whatever the outcome.
    if result.rotated_credentials:
        source.credentials_encrypted = vault.seal(result.rotated_credentials[-1])
    if result.error is not None:
        raise ApiError(400, result.error.message, title="Connection failed")
    return result.details or {}


_NAME = re.compile(SOURCE_NAME_PATTERN)


def _checked_name(name: str) -> str:
    # The limits of DataSourceCreate.name's schema, on the name as sent; it is stored stripped.
    if not 1 <= len(name) <= SOURCE_NAME_MAX or not _NAME.search(name):
        raise InvalidInput(
            [
                {
                    "field": "name",
                    "message": f"must be 1 to {SOURCE_NAME_MAX} characters, not only spaces",
                }
            ],
            "Invalid name",
        )
    return name.strip()
