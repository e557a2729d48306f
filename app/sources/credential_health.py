"""Credential health: each data source's credentials proved once a day, on a worker.

A worker's tick claims due sources with a compare-and-set on `credential_check_due_at`
(any number of workers check each source once), at most CLAIM_BATCH per tick. A new source
(or new credentials) is first due at a random point of the interval and each check moves it
one interval on, so a store of many sources spreads its checks over the day; sources never
given a due date (those stored before the check existed) are due at once, a batch a tick. The check
runs the connector's `credential_health()` in the connection test's child process (killed at
CONNECTION_TEST_TIMEOUT_SECONDS: a login blocked in a driver cannot be cancelled otherwise).

A rejection marks the source `failed` and emits `source.credentials_failed` once, when the
status changes to failed; a transient error (network, 5xx, throttling, the deadline) keeps
the previous status and tries again within TRANSIENT_RETRY. A successful sync or new
credentials clear `failed`.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.connector_environment import connector_environment
from app.credential_vault import CredentialsUnreadable, CredentialVault
from app.db.models import DataSource, Schedule, Webhook, utcnow
from app.settings import Settings
from app.sources.probe import CHECK_CREDENTIALS, ProbeTimeout, run_connection_test
from app.time_text import isoformat
from app.webhooks.events import (
    CREDENTIALS_FAILED,
    enqueue_deliveries,
    queue_deliveries,
    subscribed_to_source,
)
from connectors.base import JSON, TransientError
from connectors.registry import UnavailableSourceType, UnknownSourceType, connector_class

log = logging.getLogger("datasync.sources")

CHECK_CREDENTIALS_JOB = "check_credentials"
# Sources one tick of one worker claims; with a tick a minute, 14,400 a day per worker.
CLAIM_BATCH = 10
CLAIM_TICK_SECONDS = 60
TRANSIENT_RETRY = timedelta(hours=1)
FAILED = "failed"


def check_interval(settings: Settings) -> timedelta | None:
    hours = settings.credential_check_hours
    return timedelta(hours=hours) if hours else None


def with_source_id(message: str, source_id: uuid.UUID) -> str:
    """Connectors name the fix as `PATCH /api/data-sources/{id}`; this source's id goes in."""
    return message.replace("{id}", str(source_id))


async def claim_due_sources(
    sessions: async_sessionmaker[AsyncSession],
    interval: timedelta,
    now: datetime,
    limit: int = CLAIM_BATCH,
) -> list[uuid.UUID]:
    """Moves the due date of up to `limit` due sources (never checked first) one interval
    on; returns those this call claimed. A source another worker claimed meanwhile is not
    returned: its due date no longer equals the one read."""
    due = DataSource.credential_check_due_at
    async with sessions() as db:
        candidates = (
            await db.execute(
                select(DataSource.id, due)
                .where(or_(due.is_(None), due <= now))
                .order_by(due.nulls_first(), DataSource.id)
                .limit(limit)
            )
        ).all()
        claimed = []
        for source_id, seen in candidates:
            unchanged = due.is_(None) if seen is None else due == seen
            result = await db.execute(
                update(DataSource)
                .where(DataSource.id == source_id, unchanged)
                # The check is not an edit of the source: updatedAt stays.
                .values(credential_check_due_at=now + interval, updated_at=DataSource.updated_at)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) == 1:
                claimed.append(source_id)
        await db.commit()
    return claimed


async def enqueue_checks(queue: ArqRedis, source_ids: Sequence[uuid.UUID], claim: str) -> None:
    for source_id in source_ids:
        await queue.enqueue_job(
            CHECK_CREDENTIALS_JOB, str(source_id), _job_id=f"credentials:{source_id}:{claim}"
        )


async def claim_and_enqueue(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], queue: ArqRedis
) -> int:
    """One tick: claims due sources and queues their checks; how many."""
    interval = check_interval(settings)
    if interval is None:
        return 0
    now = utcnow()
    claimed = await claim_due_sources(sessions, interval, now)
    await enqueue_checks(queue, claimed, now.strftime("%Y%m%dT%H%M%S"))
    return len(claimed)


class _Transient(Exception):
    pass


async def check_source(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    queue: ArqRedis,
    source_id: uuid.UUID,
) -> str | None:
    """Checks one source's credentials now and records what was found; the status after
    (None: never checked, or a type without the check)."""
    vault = CredentialVault(settings.secret_key)
    async with sessions() as db:
        source = await db.get(DataSource, source_id)
        if source is None:
            return None
        source_type, source_settings = source.type, dict(source.settings)
        try:
            credentials = vault.open(source.credentials_encrypted)
        except CredentialsUnreadable as exc:
            return await _record(db, queue, source, {"status": FAILED, "message": str(exc)})
    try:
        kind = connector_class(source_type)
    except (UnknownSourceType, UnavailableSourceType):
        return None  # a type not available on this worker says nothing of the credentials
    if not hasattr(kind, "credential_health"):
        return None
    try:
        found = await _run_check(settings, source_type, credentials, source_settings, vault)
    except _Transient as exc:
        log.info("credentials check postponed", extra={"source_id": str(source_id)})
        async with sessions() as db:
            source = await db.get(DataSource, source_id)
            if source is None:
                return None
            source.credential_check_due_at = utcnow() + TRANSIENT_RETRY
            status = source.credential_status
            await _save_rotated(source, exc.args[0] if exc.args else None)
            await db.commit()
            return status
    async with sessions() as db:
        source = await db.get(DataSource, source_id)
        if source is None:
            return None
        await _save_rotated(source, found.get("sealedCredentials"))
        return await _record(db, queue, source, found)


async def _save_rotated(source: DataSource, sealed: Any) -> None:
    # A token redeemed during the check is the only valid one now, whatever the outcome.
    if isinstance(sealed, str):
        source.credentials_encrypted = sealed


async def _run_check(
    settings: Settings,
    source_type: str,
    credentials: JSON,
    source_settings: JSON,
    vault: CredentialVault,
) -> JSON:
    try:
        result = await run_connection_test(
            source_type,
            credentials,
            source_settings,
            connector_environment(settings),
            settings.connection_test_timeout_seconds,
            action=CHECK_CREDENTIALS,
        )
    except ProbeTimeout:
        raise _Transient(None) from None
    sealed = vault.seal(result.rotated_credentials[-1]) if result.rotated_credentials else None
    if isinstance(result.error, TransientError):
        raise _Transient(sealed)
    if result.error is not None:
        # Settings or credentials that no longer pass the connector's checks: as rejected.
        found: JSON = {"status": FAILED, "message": result.error.message}
    else:
        found = dict(result.details or {})
    found["sealedCredentials"] = sealed
    return found


async def _record(db: AsyncSession, queue: ArqRedis, source: DataSource, found: JSON) -> str | None:
    status = found.get("status")
    if status is None:
        await db.commit()
        return None
    now = utcnow()
    message = with_source_id(str(found.get("message") or ""), source.id)
    expires = found.get("expiresAt")
    newly_failed = False
    if status == FAILED:
        # Compare-and-set: of two checks finding the same rejection, one emits the event.
        changed = await db.execute(
            update(DataSource)
            .where(
                DataSource.id == source.id,
                or_(DataSource.credential_status.is_(None), DataSource.credential_status != FAILED),
            )
            .values(credential_status=FAILED, updated_at=DataSource.updated_at)
            .execution_options(synchronize_session=False)
        )
        newly_failed = getattr(changed, "rowcount", 0) == 1
    source.credential_status = status
    source.credential_message = message
    source.credential_checked_at = now
    source.credential_expires_at = datetime.fromisoformat(expires) if expires else None
    deliveries = []
    if newly_failed:
        deliveries = await _failed_event(db, source, message, now)
    await db.commit()
    await enqueue_deliveries(queue, deliveries)
    return str(status)


def failed_payload(source: DataSource, message: str, checked_at: datetime) -> dict[str, Any]:
    return {
        "dataSourceId": str(source.id),
        "dataSourceName": source.name,
        "type": source.type,
        "status": FAILED,
        "message": message,
        "checkedAt": isoformat(checked_at),
    }


async def _failed_event(
    db: AsyncSession, source: DataSource, message: str, now: datetime
) -> list[Any]:
    webhooks = (await db.scalars(select(Webhook).where(Webhook.user_id == source.user_id))).all()
    schedule_ids = (
        await db.scalars(select(Schedule.id).where(Schedule.data_source_id == source.id))
    ).all()
    chosen = [w for w in webhooks if subscribed_to_source(w, CREDENTIALS_FAILED, schedule_ids)]
    if not chosen:
        return []
    return await queue_deliveries(
        db, chosen, CREDENTIALS_FAILED, failed_payload(source, message, now)
    )


def first_due(settings: Settings, now: datetime) -> datetime | None:
    """When new credentials are first checked: at a random point of the next interval, so
    sources created together (an import, a migration) are not all checked at once. Someone
    who wants to know now asks POST /api/data-sources/{id}/check-credentials."""
    interval = check_interval(settings)
    return None if interval is None else now + interval * random.random()


def forget(settings: Settings, source: DataSource) -> None:
    """New credentials: nothing known about them yet (null), checked within the interval."""
    source.credential_status = None
    source.credential_message = None
    source.credential_checked_at = None
    source.credential_expires_at = None
    source.credential_check_due_at = first_due(settings, utcnow())


async def clear_failed_after_sync(
    sessions: async_sessionmaker[AsyncSession], source_id: uuid.UUID
) -> None:
    """A successful sync proved the credentials: a `failed` source is ok again."""
    async with sessions() as db:
        await db.execute(
            update(DataSource)
            .where(DataSource.id == source_id, DataSource.credential_status == FAILED)
            .values(
                credential_status="ok",
                credential_message="A sync succeeded with these credentials",
                credential_checked_at=utcnow(),
                updated_at=DataSource.updated_at,
            )
            .execution_options(synchronize_session=False)
        )
        await db.commit()
