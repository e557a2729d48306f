"""Every object belongs to one user. An id of another user's object is answered exactly like
an unknown id (404), so no endpoint reveals what other tenants have."""

from __future__ import annotations

import uuid
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import not_found, parse_id


class _Owned(Protocol):
    user_id: uuid.UUID


M = TypeVar("M", bound=_Owned)


async def owned(db: AsyncSession, model: type[M], user_id: uuid.UUID, raw_id: str, what: str) -> M:
    """The caller's `model` row with id `raw_id`, else a 404 naming `what`."""
    row = await db.get(model, parse_id(raw_id, what))
    if row is None or row.user_id != user_id:
        raise not_found(what)
    return row
