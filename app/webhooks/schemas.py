"""Bodies of `/api/webhooks`.

The service checks a webhook's fields together and names every problem at once (a URL is
judged by where its host resolves, which no schema can say), so the request annotations only
document its limits (`KwargDefinition`), from the constants the service checks against.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar.openapi.spec import OpenAPIFormat
from litestar.params import KwargDefinition, ParameterKwarg
from msgspec import Meta

from app.schema import CamelStruct, Pagination
from app.webhooks.addresses import MAX_URL_LENGTH
from app.webhooks.events import EVENTS
from app.webhooks.service import MAX_SECRET, MIN_SECRET

# The values of app.db.models.DeliveryStatus, spelled out so that the document lists them
# inline at a delivery's status rather than as a schema of their own.
DeliveryStatusValue = Literal["pending", "success", "failed", "cancelled"]

Url = Annotated[
    str,
    KwargDefinition(
        max_length=MAX_URL_LENGTH,
        description="An absolute http:// or https:// URL without user name or password, on "
        "port 80 or 443 unless the operator allows more (WEBHOOK_ALLOWED_PORTS), whose host "
        "resolves only to public addresses unless the operator allows private networks "
        "(WEBHOOK_ALLOW_PRIVATE)",
    ),
]
# An enum documented, not enforced, is `schema_extra`; ParameterKwarg rather than its base
# KwargDefinition because only its hash skips that dict, and `X | None` hashes what X holds.
Event = Annotated[str, ParameterKwarg(schema_extra={"enum": list(EVENTS)})]
Events = Annotated[
    list[Event],
    KwargDefinition(
        min_items=1,
        description="The events to receive: `sync.success` and `sync.failure` for every "
        "finished run, `sync.changed` when a run changed the file, `sync.held` when the "
        "safety hold kept the file, `source.credentials_failed` when a data source's "
        "credentials check finds them rejected (once, until they work again)",
    ),
]
Secret = Annotated[
    str,
    KwargDefinition(
        min_length=MIN_SECRET,
        max_length=MAX_SECRET,
        description="The key deliveries are signed with (`X-DataSync-Signature`); leave it "
        "out to get a generated one",
    ),
]
ScheduleIds = Annotated[
    list[Annotated[str, KwargDefinition(format=OpenAPIFormat.UUID)]],
    KwargDefinition(
        description="Only events of these schedules of the caller; absent, null or empty: "
        "every schedule"
    ),
]


class WebhookCreate(CamelStruct):
    url: Url
    events: Events
    secret: Secret | None = None
    is_enabled: bool = True
    schedule_ids: ScheduleIds | None = None


class WebhookUpdate(CamelStruct):
    """Absent or null fields stay as they are."""

    url: Url | None = None
    events: Events | None = None
    is_enabled: bool | None = None
    # A list replaces the filter; an empty list means every schedule again.
    schedule_ids: ScheduleIds | None = None


class WebhookOut(CamelStruct):
    id: str
    webhook_id: Annotated[str, Meta(description="The same as `id`")]
    url: str
    events: list[Event]
    is_enabled: bool
    schedule_ids: Annotated[
        list[str] | None, Meta(description="Only events of these schedules; null: every one")
    ]
    created_at: str
    updated_at: str


class NewWebhookOut(WebhookOut):
    secret: Annotated[
        str, Meta(description="The signing secret: shown only in the answer that created it")
    ]


class DeliveryOut(CamelStruct):
    """One attempt to deliver one event; a retry is a further attempt with the same
    `eventId`."""

    id: str
    event_id: str
    event: Annotated[
        str,
        ParameterKwarg(schema_extra={"enum": ["ping", *EVENTS]}),
    ]
    attempt: Annotated[int, Meta(description="1 for the first attempt, counting retries")]
    status: DeliveryStatusValue
    status_code: Annotated[int | None, Meta(description="The receiver's HTTP status")]
    duration_ms: int | None
    response_body: Annotated[
        str | None, Meta(description="The start of the receiver's answer (2,000 characters)")
    ]
    error: Annotated[str | None, Meta(description="Why the attempt failed")]
    next_attempt_at: Annotated[
        str | None, Meta(description="When the next attempt is due, after a failure")
    ]
    created_at: str
    completed_at: str | None
    payload: Annotated[
        dict[str, Any],
        Meta(description="The event as sent: `{id, type, createdAt, data}`"),
    ]


class WebhookCreated(CamelStruct):
    success: Literal[True]
    webhook: NewWebhookOut
    message: str


class WebhookList(CamelStruct):
    success: Literal[True]
    webhooks: list[WebhookOut]
    total_count: int
    pagination: Pagination


class WebhookDetail(CamelStruct):
    success: Literal[True]
    webhook: WebhookOut


class WebhookUpdated(CamelStruct):
    success: Literal[True]
    webhook: WebhookOut
    message: str


class DeliveryList(CamelStruct):
    success: Literal[True]
    deliveries: list[DeliveryOut]
    total_count: int
    pagination: Pagination


class PingSent(CamelStruct):
    """The ping's one attempt: `delivery.status` says whether the receiver took it."""

    success: Literal[True]
    delivery: DeliveryOut
    message: str
