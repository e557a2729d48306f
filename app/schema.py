"""Base for API shapes: camelCase JSON, and the list envelope pieces every list shares."""

from __future__ import annotations

from collections.abc import Sequence
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


async def fetch_rows(
    db: AsyncSession, query: Select[T], order_by: Any, limit: int, offset: int
) -> tuple[Sequence[T], int, Pagination]:
    """One page of `query`, the total it pages through, and the page's `pagination`."""
    total = await db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = (await db.scalars(query.order_by(*order_by).limit(limit).offset(offset))).all()
    return rows, total, Pagination(limit=limit, offset=offset, has_more=offset + limit < total)


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
