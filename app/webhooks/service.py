"""Webhooks: validation and storage, and the pages of a user's webhooks and of a webhook's
deliveries. The secret is sealed like data source credentials."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.credential_vault import CredentialVault
from app.db.models import Schedule, Webhook, WebhookDelivery
from app.errors import InvalidInput
from app.schema import Pagination, fetch_rows
from app.settings import Settings
from app.webhooks.addresses import check_destination
from app.webhooks.events import EVENTS
from app.webhooks.signing import new_secret
from connectors.network_policy import AddressRefused, LookupUnavailable

Problems = list[dict[str, str]]

MIN_SECRET, MAX_SECRET = 16, 256


async def _url_problems(settings: Settings, url: str) -> Problems:
    try:
        await anyio.to_thread.run_sync(check_destination, url, settings)
    except (AddressRefused, LookupUnavailable) as refused:
        return [{"field": "url", "message": str(refused)}]
    return []


def _event_problems(events: list[str]) -> Problems:
    unknown = [e for e in events if e not in EVENTS]
    if not events or unknown:
        what = f"unknown event(s) {', '.join(unknown)}; " if unknown else ""
        return [{"field": "events", "message": f"{what}use one or more of {', '.join(EVENTS)}"}]
    return []


async def _schedule_problems(
    db: AsyncSession, user_id: uuid.UUID, schedule_ids: list[str] | None
) -> Problems:
    if not schedule_ids:
        return []
    wanted: set[uuid.UUID] = set()
    for raw in schedule_ids:
        try:
            wanted.add(uuid.UUID(raw))
        except ValueError:
            return [{"field": "scheduleIds", "message": f"{raw!r} is not a schedule id"}]
    owned = set(
        (
            await db.scalars(
                select(Schedule.id).where(Schedule.user_id == user_id, Schedule.id.in_(wanted))
            )
        ).all()
    )
    missing = sorted(str(s) for s in wanted - owned)
    return (
        [{"field": "scheduleIds", "message": f"no schedule with id {', '.join(missing)}"}]
        if missing
        else []
    )


async def create(
    db: AsyncSession,
    settings: Settings,
    user_id: uuid.UUID,
    url: str,
    events: list[str],
    secret: str | None,
    is_enabled: bool,
    schedule_ids: list[str] | None,
) -> tuple[Webhook, str]:
    problems = await _url_problems(settings, url) + _event_problems(events)
    problems += await _schedule_problems(db, user_id, schedule_ids)
    if secret is not None and not MIN_SECRET <= len(secret) <= MAX_SECRET:
        problems.append(
            {
                "field": "secret",
                "message": f"must be {MIN_SECRET} to {MAX_SECRET} characters "
                "(or leave it out to get one)",
            }
        )
    if problems:
        raise InvalidInput(problems, "Invalid webhook: see details")
    secret = secret or new_secret()
    webhook = Webhook(
        user_id=user_id,
        url=url,
        events=list(dict.fromkeys(events)),
        secret_encrypted=CredentialVault(settings.secret_key).seal({"secret": secret}),
        is_enabled=is_enabled,
        schedule_ids=sorted(set(schedule_ids)) if schedule_ids else None,
    )
    db.add(webhook)
    await db.flush()
    return webhook, secret


async def update(
    db: AsyncSession,
    settings: Settings,
    webhook: Webhook,
    url: str | None,
    events: list[str] | None,
    is_enabled: bool | None,
    schedule_ids: list[str] | None,
) -> Webhook:
    problems: Problems = []
    if url is not None:
        problems += await _url_problems(settings, url)
    if events is not None:
        problems += _event_problems(events)
    problems += await _schedule_problems(db, webhook.user_id, schedule_ids)
    if problems:
        raise InvalidInput(problems, "Invalid webhook: see details")
    if url is not None:
        webhook.url = url
    if events is not None:
        webhook.events = list(dict.fromkeys(events))
    if is_enabled is not None:
        webhook.is_enabled = is_enabled
    if schedule_ids is not None:
        webhook.schedule_ids = sorted(set(schedule_ids)) or None
    await db.flush()
    return webhook


async def delete(db: AsyncSession, webhook: Webhook) -> None:
    await db.delete(webhook)


async def webhooks_page(
    db: AsyncSession, user_id: uuid.UUID, limit: int, offset: int
) -> tuple[Sequence[Webhook], int, Pagination]:
    """The user's webhooks, oldest first."""
    query = select(Webhook).where(Webhook.user_id == user_id)
    return await fetch_rows(db, query, (Webhook.created_at,), limit, offset)


async def deliveries_page(
    db: AsyncSession, webhook: Webhook, limit: int, offset: int
) -> tuple[Sequence[WebhookDelivery], int, Pagination]:
    """The webhook's delivery attempts, newest first."""
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id)
    order = (WebhookDelivery.created_at.desc(), WebhookDelivery.attempt.desc())
    return await fetch_rows(db, query, order, limit, offset)
