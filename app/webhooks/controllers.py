"""`/api/webhooks`: subscriptions to sync events, their deliveries, and a test ping."""

from __future__ import annotations

import json
from typing import Any, cast

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.middleware import Principal
from app.auth.scopes import Scope
from app.db.models import DeliveryStatus, Webhook, WebhookDelivery
from app.schema import Done, Limit, Offset
from app.settings import Settings
from app.tenancy import owned_by_caller
from app.time_text import isoformat
from app.webhooks import service
from app.webhooks.delivery import ping
from app.webhooks.schemas import (
    DeliveryList,
    DeliveryOut,
    DeliveryStatusValue,
    NewWebhookOut,
    PingSent,
    WebhookCreate,
    WebhookCreated,
    WebhookDetail,
    WebhookList,
    WebhookOut,
    WebhookUpdate,
    WebhookUpdated,
)


def webhook_out(webhook: Webhook) -> WebhookOut:
    return WebhookOut(
        id=str(webhook.id),
        webhook_id=str(webhook.id),
        url=webhook.url,
        events=webhook.events,
        is_enabled=webhook.is_enabled,
        schedule_ids=webhook.schedule_ids,
        created_at=isoformat(webhook.created_at) or "",
        updated_at=isoformat(webhook.updated_at) or "",
    )


def delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=str(delivery.id),
        event_id=str(delivery.event_id),
        event=delivery.event_type,
        attempt=delivery.attempt,
        # Only the delivery worker writes it, and only these values.
        status=cast(DeliveryStatusValue, delivery.status),
        status_code=delivery.status_code,
        duration_ms=delivery.duration_ms,
        response_body=delivery.response_body,
        error=delivery.error,
        next_attempt_at=isoformat(delivery.next_attempt_at),
        created_at=isoformat(delivery.created_at) or "",
        completed_at=isoformat(delivery.completed_at),
        payload=json.loads(delivery.payload),
    )


class WebhookController(Controller):
    path = "/api/webhooks"
    tags = ["Webhooks"]
    dependencies = {"webhook": owned_by_caller(Webhook, "Webhook", "webhook_id")}

    @post("/", operation_id="createWebhook", opt={"scope": Scope.WEBHOOKS_WRITE}, status_code=200)
    async def create_webhook(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[WebhookCreate],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> WebhookCreated:
        webhook, secret = await service.create(
            db_session,
            app_settings,
            request.user.user_id,
            data.url,
            data.events,
            data.secret,
            data.is_enabled,
            data.schedule_ids,
        )
        return WebhookCreated(
            success=True,
            webhook=NewWebhookOut(**msgspec.structs.asdict(webhook_out(webhook)), secret=secret),
            message="Webhook created. Copy the secret now: it is not shown again.",
        )

    @get("/", operation_id="listWebhooks", opt={"scope": Scope.WEBHOOKS_WRITE})
    async def list_webhooks(
        self,
        request: Request[Principal, Any, Any],
        db_session: NamedDependency[AsyncSession],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> WebhookList:
        rows, total, pagination = await service.webhooks_page(
            db_session, request.user.user_id, limit, offset
        )
        return WebhookList(
            success=True,
            webhooks=[webhook_out(w) for w in rows],
            total_count=total,
            pagination=pagination,
        )

    @get("/{webhook_id:str}", operation_id="getWebhook", opt={"scope": Scope.WEBHOOKS_WRITE})
    async def get_webhook(
        self,
        webhook: NamedDependency[Webhook],
        db_session: NamedDependency[AsyncSession],
    ) -> WebhookDetail:
        return WebhookDetail(success=True, webhook=webhook_out(webhook))

    @patch("/{webhook_id:str}", operation_id="updateWebhook", opt={"scope": Scope.WEBHOOKS_WRITE})
    async def update_webhook(
        self,
        webhook: NamedDependency[Webhook],
        data: JSONBody[WebhookUpdate],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> WebhookUpdated:
        webhook = await service.update(
            db_session,
            app_settings,
            webhook,
            data.url,
            data.events,
            data.is_enabled,
            data.schedule_ids,
        )
        return WebhookUpdated(
            success=True, webhook=webhook_out(webhook), message="Webhook updated."
        )

    @delete(
        "/{webhook_id:str}",
        operation_id="deleteWebhook",
        opt={"scope": Scope.WEBHOOKS_WRITE},
        status_code=200,
    )
    async def delete_webhook(
        self,
        webhook: NamedDependency[Webhook],
        db_session: NamedDependency[AsyncSession],
    ) -> Done:
        await service.delete(db_session, webhook)
        return Done(success=True, message="Webhook deleted.")

    @get(
        "/{webhook_id:str}/deliveries",
        operation_id="listWebhookDeliveries",
        opt={"scope": Scope.WEBHOOKS_WRITE},
    )
    async def list_deliveries(
        self,
        webhook: NamedDependency[Webhook],
        db_session: NamedDependency[AsyncSession],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> DeliveryList:
        rows, total, pagination = await service.deliveries_page(db_session, webhook, limit, offset)
        return DeliveryList(
            success=True,
            deliveries=[delivery_out(d) for d in rows],
            total_count=total,
            pagination=pagination,
        )

    @post(
        "/{webhook_id:str}/test",
        operation_id="testWebhook",
        opt={"scope": Scope.WEBHOOKS_WRITE},
        status_code=200,
    )
    async def test_webhook(
        self,
        webhook: NamedDependency[Webhook],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> PingSent:
        """Sends a `ping` event now and answers with its one attempt (no retries)."""
        delivery = await ping(db_session, app_settings, webhook)
        delivered = delivery.status == DeliveryStatus.SUCCESS
        return PingSent(
            success=True,
            delivery=delivery_out(delivery),
            message="Ping delivered" if delivered else f"Ping not delivered: {delivery.error}",
        )
