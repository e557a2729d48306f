"""The OpenAPI document that generated clients are built from.

Handlers declare their success bodies as msgspec structs and the statuses only they answer
(`responses={409: error_response(...)}`). What every route shares is derived here from the
route itself, so a new route is documented like the others without repeating it: 400 where
it takes parameters or a body, 401 unless it is public, 404 where a path names an object,
413 where it reads a body (and 415 where that body is JSON), 429 where it is metered, 500 and 503 everywhere, each with the
one error envelope (`ErrorBody`) and the headers the service sends with it.

Each authenticated operation also says what it accepts: a bearer token with full access, or
an OAuth client's token (`oauth2`, client credentials flow) holding the scope the route names
in its `opt` (app/auth/scopes.py); account routes take the former only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from litestar import Litestar
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Components,
    Example,
    OAuthFlow,
    OAuthFlows,
    OpenAPIHeader,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
    SecurityRequirement,
    SecurityScheme,
)
from litestar.routes import HTTPRoute

from app.api_docs.swagger_ui import render_plugins
from app.auth.middleware import PUBLIC_PATHS, UNMETERED_PATHS
from app.auth.scopes import FULL_ACCESS, SCOPE_DESCRIPTIONS, required_scope
from app.schema import ErrorBody
from app.settings import Settings

# The security schemes' names in the document.
BEARER, OAUTH2 = "BearerToken", "oauth2"

# Keyword arguments Litestar fills from the connection itself, never from the query string.
_RESERVED = frozenset({"request", "socket", "headers", "cookies", "query", "scope", "state"})

_INTEGER = Schema(type=OpenAPIType.INTEGER)
_RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": OpenAPIHeader(
        schema=_INTEGER, description="Requests allowed per minute for this caller"
    ),
    "X-RateLimit-Remaining": OpenAPIHeader(
        schema=_INTEGER, description="Requests left in the current minute"
    ),
    "X-RateLimit-Reset": OpenAPIHeader(
        schema=_INTEGER, description="Seconds until the current minute's window ends"
    ),
}
_RETRY_AFTER = OpenAPIHeader(
    schema=_INTEGER, required=True, description="Seconds to wait before trying again"
)

# What each shared status means on this API; routes add their own statuses and wording.
_SHARED = {
    400: "The request is invalid: `details` names each bad field and what it must be",
    401: "No valid credentials: send `Authorization: Bearer <token>`",
    403: "The token lacks the scope this operation needs (OAuth client tokens and scoped API "
    "keys), or a browser session's change lacks the `X-Requested-With: DataSync` header",
    404: "No such object for this account (another account's objects are not found either)",
    413: "The request body is larger than the service accepts (MAX_BODY_BYTES)",
    415: "The body is not JSON: send it with `Content-Type: application/json`",
    429: "Too many requests from this caller this minute: wait `Retry-After` seconds",
    500: "An unexpected error; the `requestId` finds it in the service's logs",
    503: "The database or Redis is unreachable for a moment: retry after `Retry-After` seconds",
}


def error_response(
    description: str, *, title: str = "Error", example: str | None = None
) -> ResponseSpec:
    """A status documented with the error envelope; `title` and `example` show a typical
    `error` and `message`."""
    return ResponseSpec(
        data_container=ErrorBody,
        description=description,
        generate_examples=False,
        examples=[
            Example(
                summary=description,
                value={
                    "success": False,
                    "error": title,
                    "message": example or description,
                    "requestId": "8f14e45f-ceea-467f-a0e6-5e2b6f1b7c3a",
                },
            )
        ]
        if example
        else None,
    )


def _matches(path: str, patterns: list[str]) -> bool:
    return any(re.search(pattern, path) for pattern in patterns)


def _is_public(route: HTTPRoute, handler: HTTPRouteHandler) -> bool:
    return _matches(route.path, PUBLIC_PATHS) or bool(handler.opt.get("exclude_from_auth"))


def _reads_json(handler: HTTPRouteHandler) -> bool:
    """Whether the route's body is JSON (the token endpoint reads a form)."""
    body = handler.parsed_fn_signature.parameters["data"].kwarg_definition
    media_type = getattr(body, "media_type", RequestEncodingType.JSON)
    return bool(media_type == RequestEncodingType.JSON)


def _shared_statuses(route: HTTPRoute, handler: HTTPRouteHandler) -> list[int]:
    signature = handler.parsed_fn_signature.parameters
    reads_body = "data" in signature
    dependencies = handler.resolve_dependencies()
    taken = {*dependencies, *route.path_parameters, *_RESERVED, "data"}
    query = [name for name in signature if name not in taken]
    statuses = [500, 503]
    if reads_body or query or route.path_parameters:
        statuses.append(400)
    if not _is_public(route, handler):
        statuses += [401, 403]
    if route.path_parameters:
        statuses.append(404)
    if reads_body:
        statuses += [413, 415] if _reads_json(handler) else [413]
    if not _matches(route.path, UNMETERED_PATHS):
        statuses.append(429)
    return statuses


@dataclass
class _DocumentedOperation(Operation):
    """Adds the headers the service sends: Retry-After with 429 and 503, and the
    X-RateLimit-* headers on the answers of metered routes. Subclasses say which route."""

    public: ClassVar[bool] = False
    metered: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if self.public:
            self.security = []
        for status, response in (self.responses or {}).items():
            if not isinstance(response, OpenAPIResponse):
                continue
            if status == "429":
                response.headers = {"Retry-After": _RETRY_AFTER, **_RATE_LIMIT_HEADERS}
            elif status == "503":
                response.headers = {"Retry-After": _RETRY_AFTER}
            elif status.startswith("2"):
                # Beside a route's own headers (Set-Cookie, ETag), not instead of them; in name
                # order, since Litestar gives a route's headers as a frozenset and the document
                # should be the same on every start.
                own = dict(sorted((response.headers or {}).items()))
                headers = {**(_RATE_LIMIT_HEADERS if self.metered else {}), **own}
                response.headers = headers or None


@dataclass
class _PublicOperation(_DocumentedOperation):
    """Needs no credentials (login, registration)."""

    public: ClassVar[bool] = True


@dataclass
class _OperationsOperation(_DocumentedOperation):
    """Needs no credentials and is not rate limited (health, readiness, metrics)."""

    public: ClassVar[bool] = True
    metered: ClassVar[bool] = False


def document_responses(app: Litestar) -> None:
    """Give every operation its shared error statuses (explicit ones win) and headers."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.include_in_schema:
                continue
            shared: dict[int, ResponseSpec] = {
                status: error_response(_SHARED[status])
                for status in _shared_statuses(route, handler)
            }
            handler.responses = {**shared, **(handler.responses or {})}
            handler.operation_class = _operation_class(route, handler)
            if not _is_public(route, handler):
                handler.security = _accepted_credentials(handler)


def _accepted_credentials(handler: HTTPRouteHandler) -> list[SecurityRequirement]:
    """An OAuth client's token with the route's scope, or any token with full access."""
    needed = required_scope(handler)
    full_access: SecurityRequirement = {BEARER: []}
    if needed is None or needed == FULL_ACCESS:
        return [full_access]
    return [{OAUTH2: [needed]}, full_access]


def _operation_class(route: HTTPRoute, handler: HTTPRouteHandler) -> type[Operation]:
    if _matches(route.path, UNMETERED_PATHS):
        return _OperationsOperation
    if _is_public(route, handler):
        return _PublicOperation
    return _DocumentedOperation


def openapi_config(settings: Settings) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="DataSync API",
        version="1.0.0",
        description=(
            "Sync schedules that copy Google Sheets, Excel workbooks and SQL queries into "
            "versioned CSV files. Every error answers with one envelope: "
            "`{success: false, error, message, requestId, details?}`."
        ),
        path="/schema",
        render_plugins=render_plugins(settings.api_docs),
        components=Components(
            security_schemes={
                BEARER: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="Session JWT from /api/auth/login, an API key, or a host-app "
                    "JWT (full access, or an API key's scopes)",
                ),
                OAUTH2: SecurityScheme(
                    type="oauth2",
                    description="An OAuth client's access token from POST /oauth/token "
                    "(client credentials grant; create clients at POST /api/auth/clients). "
                    "Send it as `Authorization: Bearer <token>`.",
                    flows=OAuthFlows(
                        client_credentials=OAuthFlow(
                            token_url="/oauth/token",
                            scopes={str(s): d for s, d in SCOPE_DESCRIPTIONS.items()},
                        )
                    ),
                ),
            }
        ),
        security=[{BEARER: []}],
        # The document is the same on every start, so generated clients diff cleanly.
        create_examples=False,
    )
