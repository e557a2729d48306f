"""Sync events for webhooks: what happened to a run, queued for delivery by the worker.

`sync.success` and `sync.failure` for every finished run, `sync.changed` for a successful run
that added, updated or deleted rows or changed columns, `sync.held` when the safety hold kept
the file (that run is also a failure). `source.credentials_failed` when a data source's
credentials check finds them rejected (once per change to failed: app/sources/credential_health.py).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import RunStatus, Schedule, SyncRun, Webhook, WebhookDelivery, utcnow
from app.time_text import isoformat

log = logging.getLogger("datasync.webhooks")

RUN_EVENTS = ("sync.success", "sync.failure", "sync.changed", "sync.held")
CREDENTIALS_FAILED = "source.credentials_failed"
# What a webhook may subscribe to.
EVENTS = (*RUN_EVENTS, CREDENTIALS_FAILED)
DELIVER_WEBHOOK = "deliver_webhook"


def event_types(run: SyncRun, held: bool) -> list[str]:
    if run.status == RunStatus.SUCCESS:
        changed = bool(
            run.added or run.updated or run.deleted or run.columns_added or run.columns_removed
        )
        return ["sync.success", "sync.changed"] if changed else ["sync.success"]
    return ["sync.failure", "sync.held"] if held else ["sync.failure"]


def run_payload(run: SyncRun, schedule: Schedule) -> dict[str, Any]:
    changes: dict[str, Any] | None = None
    if run.status == RunStatus.SUCCESS:
        changes = {
            "added": run.added or 0,
            "updated": run.updated or 0,
            "deleted": run.deleted or 0,
        }
        if run.columns_added:
            changes["columnsAdded"] = run.columns_added
        if run.columns_removed:
            changes["columnsRemoved"] = run.columns_removed
    return {
        "scheduleId": str(schedule.id),
        "scheduleName": schedule.name,
        "runId": str(run.id),
        "status": run.status,
        "rowCount": run.row_count,
        "changes": changes,
        "error": run.error,
        "retryAfter": isoformat(run.retry_at),
        "fileId": str(schedule.target_file_id),
        "fileVersion": run.file_version,
        # An unchanged source: nothing fetched, no sync.changed (config.changeDetection).
        "fetchSkipped": run.fetch_skipped,
    }


def event_body(event_id: uuid.UUID, event_type: str, data: dict[str, Any]) -> str:
    return json.dumps(
        {"id": str(event_id), "type": event_type, "createdAt": isoformat(utcnow()), "data": data},
        separators=(",", ":"),
    )


def subscribed(webhook: Webhook, event_type: str, schedule_id: uuid.UUID) -> bool:
    if not webhook.is_enabled or event_type not in webhook.events:
        return False
    return webhook.schedule_ids is None or str(schedule_id) in webhook.schedule_ids


def subscribed_to_source(
    webhook: Webhook, event_type: str, schedule_ids: Iterable[uuid.UUID]
) -> bool:
    """A source's event reaches a webhook filtered by schedules when one of them reads it."""
    if not webhook.is_enabled or event_type not in webhook.events:
        return False
    return webhook.schedule_ids is None or any(
        str(schedule_id) in webhook.schedule_ids for schedule_id in schedule_ids
    )


async def queue_deliveries(
    db: AsyncSession, webhooks: Iterable[Webhook], event_type: str, data: dict[str, Any]
) -> list[WebhookDelivery]:
    """One event, one delivery per webhook given, added to `db` (the caller commits and
    then enqueues them with `enqueue_deliveries`)."""
    event_id = uuid.uuid4()
    body = event_body(event_id, event_type, data)
    deliveries = [
        WebhookDelivery(
            webhook_id=webhook.id, event_id=event_id, event_type=event_type, payload=body
        )
        for webhook in webhooks
    ]
    db.add_all(deliveries)
    await db.flush()
    return deliveries


async def enqueue_deliveries(queue: ArqRedis, deliveries: Iterable[WebhookDelivery]) -> None:
    for delivery in deliveries:
        await queue.enqueue_job(DELIVER_WEBHOOK, str(delivery.id), _job_id=f"webhook:{delivery.id}")


async def publish_run_events(
    sessions: async_sessionmaker[AsyncSession],
    queue: ArqRedis,
    run_id: uuid.UUID,
    held: bool = False,
) -> int:
    """Queues one delivery per subscribed webhook and event; returns how many."""
    async with sessions() as db:
        run = await db.get(SyncRun, run_id)
        schedule = await db.get(Schedule, run.schedule_id) if run else None
        if run is None or schedule is None:
            return 0
        webhooks = (await db.scalars(select(Webhook).where(Webhook.user_id == run.user_id))).all()
        data = run_payload(run, schedule)
        deliveries = []
        for event_type in event_types(run, held):
            event_id = uuid.uuid4()
            body = event_body(event_id, event_type, data)
            for webhook in webhooks:
                if subscribed(webhook, event_type, schedule.id):
                    deliveries.append(
                        WebhookDelivery(
                            webhook_id=webhook.id,
                            event_id=event_id,
                            event_type=event_type,
                            payload=body,
                        )
                    )
        db.add_all(deliveries)
        await db.commit()
    for delivery in deliveries:
        await queue.enqueue_job(DELIVER_WEBHOOK, str(delivery.id), _job_id=f"webhook:{delivery.id}")
    return len(deliveries)
