"""Base for API shapes: camelCase JSON, and the list envelope pieces every list shares."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from litestar.params import QueryParameter
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

# Far beyond any list, and inside what SQLite and PostgreSQL take for OFFSET (past 2**63 - 1
# the query overflows).
MAX_OFFSET = 2**31 - 1

Limit = Annotated[int, QueryParameter(ge=1, le=200, description="Page size, 1 to 200")]
Offset = Annotated[
    int, QueryParameter(ge=0, le=MAX_OFFSET, description=f"Items to skip, 0 to {MAX_OFFSET}")
]


class CamelStruct(msgspec.Struct, rename="camel"):
    """API bodies are camelCase JSON; Python attributes stay snake_case."""


class Pagination(CamelStruct):
    limit: int
    offset: int
    has_more: bool


def isoformat(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with `Z`, as every timestamp in the API."""
    if moment is None:
        return None
    text = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # Whole seconds read like the reference page ("2026-02-12T11:00:00Z").
    return text.replace(".000Z", "Z")


def duration_text(duration_ms: int | None) -> str | None:
    """The page's duration style: "1.2s", "15s"."""
    if duration_ms is None:
        return None
    seconds = duration_ms / 1000
    if seconds >= 10:
        return f"{round(seconds)}s"
    return (f"{seconds:.1f}" if seconds >= 1 else f"{seconds:.2f}").rstrip("0").rstrip(".") + "s"


def page(limit: int, offset: int, total: int) -> dict[str, object]:
    """`totalCount` and `pagination` for a list response."""
    return {
        "totalCount": total,
        "pagination": Pagination(limit=limit, offset=offset, has_more=offset + limit < total),
    }


async def fetch_rows(
    db: AsyncSession, query: Select[T], order_by: Any, limit: int, offset: int
) -> tuple[Sequence[T], int, Pagination]:
    """One page of `query`, the total it pages through, and the page's `pagination`."""
    total = await db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = (await db.scalars(query.order_by(*order_by).limit(limit).offset(offset))).all()
    return rows, total, Pagination(limit=limit, offset=offset, has_more=offset + limit < total)


async def fetch_page(
    db: AsyncSession, query: Select[T], order_by: Any, limit: int, offset: int
) -> tuple[Sequence[T], dict[str, object]]:
    """One page of `query` and its `totalCount`/`pagination`."""
    total = await db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = (await db.scalars(query.order_by(*order_by).limit(limit).offset(offset))).all()
    return rows, page(limit, offset, total)


class ErrorDetail(msgspec.Struct):
    """One bad input: which field (a dotted path such as `config.syncTime`) and what is wrong."""

    field: str
    message: str


class ErrorBody(CamelStruct):
    """The one envelope of every 4xx and 5xx answer (see app.error_responses)."""

    success: Literal[False]
    error: Annotated[str, msgspec.Meta(description="A short title, e.g. `Invalid request`")]
    message: Annotated[str, msgspec.Meta(description="What went wrong and how to fix it")]
    request_id: Annotated[
        str, msgspec.Meta(description="The request's X-Request-ID, for support and the logs")
    ]
    details: list[ErrorDetail] | msgspec.UnsetType = msgspec.UNSET
    run_id: Annotated[
        str | msgspec.UnsetType,
        msgspec.Meta(description="The run concerned: a failed manual sync or one already going"),
    ] = msgspec.UNSET
    retry_after: Annotated[
        str | msgspec.UnsetType,
        msgspec.Meta(description="When the failed sync's automatic retry is due (ISO 8601 UTC)"),
    ] = msgspec.UNSET


class Done(CamelStruct):
    """An action's answer when there is nothing to return but that it happened."""

    success: Literal[True]
    message: str
