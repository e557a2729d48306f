"""Sending webhook deliveries: signed POSTs, retried with backoff, every attempt recorded.

Runs in the worker (`deliver_webhook` job), never inside a sync run; the API sends only the
ping of `POST /api/webhooks/{id}/test`, one attempt without retries.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

import anyio
import httpx
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.credential_vault import CredentialVault
from app.db.models import DeliveryStatus, Webhook, WebhookDelivery, utcnow
from app.settings import Settings
from app.webhooks.addresses import check_destination, pinned_request
from app.webhooks.events import DELIVER_WEBHOOK, event_body
from app.webhooks.signing import SIGNATURE_HEADER, signature
from connectors.network_policy import AddressRefused, LookupUnavailable

log = logging.getLogger("datasync.webhooks")

RESPONSE_BODY_LIMIT = 2_000
USER_AGENT = "DataSync-Webhooks/1.0"


async def attempt(settings: Settings, webhook: Webhook, delivery: WebhookDelivery) -> None:
    """One POST; fills in the delivery's outcome (status, code, duration, body or error)."""
    body = delivery.payload.encode()
    secret = CredentialVault(settings.secret_key).open(webhook.secret_encrypted)["secret"]
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-DataSync-Event": delivery.event_type,
        "X-DataSync-Delivery": str(delivery.event_id),
        "X-DataSync-Attempt": str(delivery.attempt),
        SIGNATURE_HEADER: signature(secret, int(time.time()), body),
    }
    started = time.monotonic()
    try:
        address = await anyio.to_thread.run_sync(check_destination, webhook.url, settings)
        url, host_headers, extensions = pinned_request(webhook.url, address)
        async with httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
        ) as client:
            response = await client.post(
                url, content=body, headers={**headers, **host_headers}, extensions=extensions
            )
        delivery.status_code = response.status_code
        delivery.response_body = response.text[:RESPONSE_BODY_LIMIT]
        delivery.status = (
            DeliveryStatus.SUCCESS if 200 <= response.status_code < 300 else DeliveryStatus.FAILED
        )
        if delivery.status == DeliveryStatus.FAILED:
            delivery.error = f"the receiver answered {response.status_code}" + (
                " (redirects are not followed)" if 300 <= response.status_code < 400 else ""
            )
    except AddressRefused as refused:
        delivery.status, delivery.error = DeliveryStatus.FAILED, f"URL refused: {refused}"
    except LookupUnavailable as unavailable:  # retried like a receiver that did not answer
        delivery.status, delivery.error = DeliveryStatus.FAILED, str(unavailable)
    except httpx.TimeoutException:
        delivery.status, delivery.error = (
            DeliveryStatus.FAILED,
            f"no answer within {settings.webhook_timeout_seconds:g} s",
        )
    except httpx.HTTPError as exc:
        delivery.status, delivery.error = (
            DeliveryStatus.FAILED,
            f"could not connect: {type(exc).__name__}",
        )
    delivery.duration_ms = int((time.monotonic() - started) * 1000)
    delivery.completed_at = utcnow()


async def ping(db: AsyncSession, settings: Settings, webhook: Webhook) -> WebhookDelivery:
    """Sends a `ping` event now and records its one attempt."""
    event_id = uuid.uuid4()
    delivery = WebhookDelivery(
        webhook_id=webhook.id,
        event_id=event_id,
        event_type="ping",
        payload=event_body(event_id, "ping", {"webhookId": str(webhook.id)}),
    )
    db.add(delivery)
    await attempt(settings, webhook, delivery)
    await db.flush()
    return delivery


async def deliver(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    queue: ArqRedis,
    delivery_id: uuid.UUID,
) -> None:
    """The `deliver_webhook` job: one attempt, and the next one scheduled if it failed."""
    retry: WebhookDelivery | None = None
    async with sessions() as db:
        delivery = await db.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return  # delivered already (arq may run a job twice) or gone with its webhook
        webhook = await db.get(Webhook, delivery.webhook_id)
        if webhook is None or not webhook.is_enabled:
            delivery.status, delivery.error, delivery.completed_at = (
                DeliveryStatus.CANCELLED,
                "the webhook was disabled",
                utcnow(),
            )
            await db.commit()
            return
        await attempt(settings, webhook, delivery)
        waits = settings.webhook_retry_seconds
        refused = (delivery.error or "").startswith("URL refused")
        if (
            delivery.status == DeliveryStatus.FAILED
            and not refused
            and delivery.attempt <= len(waits)
        ):
            next_at = utcnow() + timedelta(seconds=waits[delivery.attempt - 1])
            delivery.next_attempt_at = next_at
            retry = WebhookDelivery(
                webhook_id=webhook.id,
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                payload=delivery.payload,
                attempt=delivery.attempt + 1,
                next_attempt_at=next_at,
            )
            db.add(retry)
        await db.commit()
        log.info(
            "webhook delivery attempted",
            extra={
                "webhook_id": str(webhook.id),
                "event": delivery.event_type,
                "attempt": delivery.attempt,
                "outcome": delivery.status,
                "status_code": delivery.status_code,
            },
        )
    if retry is not None and retry.next_attempt_at is not None:
        await queue.enqueue_job(
            DELIVER_WEBHOOK,
            str(retry.id),
            _job_id=f"webhook:{retry.id}",
            _defer_until=retry.next_attempt_at,
        )
