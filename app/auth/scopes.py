"""What a scoped credential may do: the scopes an OAuth client or an API key is granted, the
one scope each route needs, and the guard that holds every request to it.

Each route names what it needs in its own decorator, `opt={"scope": Scope.FILES_READ}`, so a
reviewer reads it beside the route. Routes that manage the account and its credentials name
`FULL_ACCESS` instead: a scoped credential that could create API keys or clients could mint
itself a broader one. A route that names nothing is refused to every scoped credential (the
guard fails closed), and tests/api/test_oauth_clients.py fails on any authenticated route
that names nothing.

Credentials without scopes (session tokens, host-app JWTs, API keys created without `scopes`)
have full access.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from app.auth.middleware import Principal
from app.errors import ApiError


class Scope(StrEnum):
    SCHEDULES_READ = "schedules:read"
    SCHEDULES_WRITE = "schedules:write"
    SYNC_RUN = "sync:run"
    FILES_READ = "files:read"
    SOURCES_READ = "sources:read"
    SOURCES_WRITE = "sources:write"
    WEBHOOKS_WRITE = "webhooks:write"


SCOPE_DESCRIPTIONS: dict[Scope, str] = {
    Scope.SCHEDULES_READ: "Read schedules, their history and runs",
    Scope.SCHEDULES_WRITE: "Create, change and delete schedules and the target files they write",
    Scope.SYNC_RUN: "Run a schedule's sync now",
    Scope.FILES_READ: "Read target files, their versions and CSV content, and runs' change sets",
    Scope.SOURCES_READ: "Read data sources (never their credentials) and the source types",
    Scope.SOURCES_WRITE: "Create, change, test and delete data sources",
    Scope.WEBHOOKS_WRITE: "Create, read, change, test and delete webhooks and their deliveries",
}


def granted(scopes: Iterable[str]) -> list[str]:
    """Scopes as stored and shown: each once, in the order of `Scope`."""
    wanted = set(scopes)
    return [scope.value for scope in Scope if scope in wanted]


# Not a scope anyone is granted: the route is for credentials with full access only.
FULL_ACCESS = "full-access"

# The key of a route's `opt` that names what it needs.
OPT_KEY = "scope"


def required_scope(handler: BaseRouteHandler) -> str | None:
    """The scope a route needs (a `Scope` or `FULL_ACCESS`), or None if it names none."""
    needed = handler.opt.get(OPT_KEY)
    return str(needed) if needed is not None else None


def require_scope(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The app's guard: a scoped credential reaches only the routes its scopes cover."""
    principal = connection.scope.get("user")
    if not isinstance(principal, Principal) or principal.scopes is None:
        return  # a public route, or a credential with full access
    needed = required_scope(handler)
    if needed is not None and needed in principal.scopes:
        return
    route = f"{connection.scope.get('method', 'GET')} {connection.url.path}"
    if needed is None or needed == FULL_ACCESS:
        message = (
            f"{route} needs full access (a session or an API key without scopes); "
            "OAuth client tokens and scoped API keys cannot use it"
        )
        challenge = 'Bearer error="insufficient_scope"'
    else:
        held = ", ".join(sorted(principal.scopes)) or "none"
        message = (
            f"{route} needs the scope `{needed}`, which this token does not have "
            f"(its scopes: {held})"
        )
        challenge = f'Bearer error="insufficient_scope", scope="{needed}"'
    raise ApiError(
        403, message, title="Insufficient scope", headers={"WWW-Authenticate": challenge}
    )
