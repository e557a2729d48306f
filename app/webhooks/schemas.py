from __future__ import annotations

from typing import Any

from app.schema import CamelStruct


class WebhookCreate(CamelStruct):
    url: str
    events: list[str]
    secret: str | None = None
    is_enabled: bool = True
    schedule_ids: list[str] | None = None


class WebhookUpdate(CamelStruct):
    url: str | None = None
    events: list[str] | None = None
    is_enabled: bool | None = None
    # A list replaces the filter; an empty list means every schedule again.
    schedule_ids: list[str] | None = None


class WebhookOut(CamelStruct, omit_defaults=True):
    id: str
    webhook_id: str
    url: str
    events: list[str]
    is_enabled: bool
    schedule_ids: list[str] | None
    created_at: str
    updated_at: str
    secret: str | None = None  # only in the answer that created it


class DeliveryOut(CamelStruct):
    id: str
    event_id: str
    event: str
    attempt: int
    status: str
    status_code: int | None
    duration_ms: int | None
    response_body: str | None
    error: str | None
    next_attempt_at: str | None
    created_at: str
    completed_at: str | None
    payload: Any = None
