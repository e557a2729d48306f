"""Every object belongs to one user. An id of another user's object is answered exactly like
an unknown id (404), so no endpoint reveals what other tenants have."""

# No `from __future__ import annotations`: Litestar reads the dependency's annotations at
# runtime, and its path parameter's name is only known inside `owned_by_caller`.

import uuid
from typing import Annotated, Any, Protocol, TypeVar

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.middleware import Principal
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


def owned_by_caller(model: type[M], what: str, path_parameter: str) -> Provide:
    """A dependency giving handlers the caller's `model` row that the path parameter
    `path_parameter` names, else the 404 naming `what`.

    Litestar resolves dependencies before it checks the handler's query parameters, so an
    id that is not the caller's answers 404 even beside a bad `limit`; the body is checked
    before either (app.request_limits)."""

    async def caller_row(
        request: Request[Principal, Any, Any],
        db_session: NamedDependency[AsyncSession],
        raw_id: Annotated[str, PathParameter(name=path_parameter)],
    ) -> Any:
        return await owned(db_session, model, request.user.user_id, raw_id, what)

    return Provide(caller_row)
