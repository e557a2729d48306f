"""One error envelope for every 4xx/5xx, framework errors included.

`{"success": false, "error": <title>, "message": <what and how to fix>, "requestId": <id>}`,
plus `details` for validation errors. Nothing internal (traces, SQL, paths) reaches a client.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from litestar import Request, Response
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import Message
from msgspec import UNSET
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError

from app.errors import TITLES, ApiError
from app.request_id import request_id_of
from app.schema import ErrorBody, ErrorDetail
from app.storage.objects import StorageUnavailable

log = logging.getLogger("datasync.api")


def envelope(request: Request[Any, Any, Any], error: ApiError) -> Response[ErrorBody]:
    body = ErrorBody(
        success=False,
        error=error.title,
        message=error.message,
        request_id=request_id_of(request.scope),
        details=[ErrorDetail(**d) for d in error.details] if error.details else UNSET,
        run_id=error.run_id or UNSET,
        retry_after=error.retry_after or UNSET,
    )
    return Response(body, status_code=error.status, headers=error.headers)


_MSGSPEC_PATH = re.compile(r"`\$\.?([^`]*)`")
_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")


def _validation_details(exc: ValidationException) -> list[dict[str, str]]:
    details = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        key = str(item.get("key") or "")
        # msgspec reports "Expected `int`, got `str` - at `$.config.minute`".
        at = message.rsplit(" - at ", 1)
        if len(at) == 2:
            message = at[0]
            match = _MSGSPEC_PATH.search(at[1])
            key = key or (match.group(1) if match else "")
        if item.get("source") == "query" and not key:
            key = "query"
        if key == "data":  # the body itself: the problem is a field it lacks
            key = ""
        missing = _MISSING_FIELD.search(message)
        if missing:
            key = f"{key}.{missing.group(1)}" if key else missing.group(1)
        details.append({"field": key or "body", "message": _readable(message)})
    return details


# msgspec's constraint messages, in the words the service's own validation uses.
_CONSTRAINTS = [
    (re.compile(r"^Expected `str` of length >= 1$"), "must not be empty"),
    (re.compile(r"^Expected `str` of length >= (\d+)$"), r"must be at least \1 characters"),
    (re.compile(r"^Expected `str` of length <= (\d+)$"), r"must be at most \1 characters"),
    (
        re.compile(r"^Expected `(?:array|object)` of length <= (\d+)$"),
        r"must have at most \1 items",
    ),
    (
        re.compile(r"^Expected `(?:array|object)` of length >= (\d+)$"),
        r"must have at least \1 items",
    ),
    (re.compile(r"^Expected `str` matching regex '(.*)'$"), r"must match the pattern \1"),
    (re.compile(r"^Invalid enum value (.*)$"), r"\1 is not one of the allowed values"),
]


def _readable(message: str) -> str:
    for pattern, replacement in _CONSTRAINTS:
        if pattern.match(message):
            return pattern.sub(replacement, message)
    message = message.replace("Expected `", "must be `").replace(
        "Object missing required field", "missing required field"
    )
    return message[:1].lower() + message[1:]


def handle_api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[ErrorBody]:
    return envelope(request, exc)


def _too_large(request: Request[Any, Any, Any]) -> str:
    limit = getattr(request.app, "request_max_body_size", None)
    return (
        f"The request body is larger than the {limit} bytes allowed"
        if limit
        else "The request body is too large"
    )


def handle_http_exception(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[ErrorBody]:
    status = exc.status_code
    headers = dict(exc.headers or {})
    if isinstance(exc, ValidationException) and (details := _validation_details(exc)):
        return envelope(
            request,
            ApiError(400, "Invalid value: see details", title="Invalid request", details=details),
        )
    # Litestar turns a body msgspec cannot decode into a plain 400 caused by a
    # SerializationException ("JSON is malformed…", "Input data was truncated").
    if status == 400 and isinstance(
        exc.__cause__ or exc, SerializationException | ValidationException
    ):
        message = "The request body is not valid JSON: send a JSON object with Content-Type: application/json"
        return envelope(request, ApiError(400, message, title="Malformed JSON"))
    messages = {
        401: "Send a valid token as `Authorization: Bearer <token>` (log in at POST /api/auth/login)",
        404: f"No such endpoint: {request.method} {request.url.path}",
        405: f"{request.method} is not allowed on {request.url.path}",
        413: _too_large(request),
        415: "Send the body as JSON with Content-Type: application/json",
        429: "Too many requests: wait for the time in Retry-After, then try again",
    }
    detail = exc.detail if exc.detail and exc.detail != TITLES.get(status) else ""
    message = messages.get(status, detail or TITLES.get(status, "Error"))
    if status == 401 and detail:
        message = detail
    if status == 429 and "Retry-After" not in headers:
        headers["Retry-After"] = str(headers.get("X-RateLimit-Reset", 60))
    if status == 405 and "allow" in {k.lower() for k in headers}:
        allow = next(v for k, v in headers.items() if k.lower() == "allow")
        message += f"; allowed: {allow}"
    return envelope(request, ApiError(status, message, headers=headers))


def handle_dependency_down(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    which = "Redis" if isinstance(exc, RedisError) else "the database"
    log.error("dependency unavailable: %s", type(exc).__name__)
    return envelope(
        request,
        ApiError(503, f"{which} is unreachable; try again shortly", headers={"Retry-After": "5"}),
    )


# The store client has already retried for a while before giving up: asking again at once
# would find it as it is.
STORAGE_RETRY_AFTER_SECONDS = 30


def handle_storage_unavailable(
    request: Request[Any, Any, Any], exc: StorageUnavailable
) -> Response[ErrorBody]:
    # Its message says what failed on which key and nothing more; the client's own error,
    # which can quote a signed request, is neither chained to it nor logged.
    log.error("object store unavailable on %s %s: %s", request.method, request.url.path, exc)
    return envelope(
        request,
        ApiError(
            503,
            "The object store holding the files is unavailable; try again shortly",
            headers={"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)},
        ),
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return envelope(
        request,
        ApiError(
            HTTP_500_INTERNAL_SERVER_ERROR,
            "Something went wrong on our side; the request id helps us find it",
        ),
    )


async def refuse_non_json_body(request: Request[Any, Any, Any]) -> None:
    """Part of the `before_request` screening (app.request_limits): a handler that reads a
    JSON body gets one. Without this a form post would be parsed as JSON and answered
    "Malformed JSON"; a missing Content-Type is taken as JSON for curl-style clients."""
    if "data" not in request.route_handler.parsed_fn_signature.parameters:
        return
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise ApiError(
            415, f"Send the body as JSON with Content-Type: application/json, not {media}"
        )


_REFUSED_PREFLIGHT = "refused_preflight"


async def envelope_refused_preflight(message: Message, scope: Any) -> None:
    """`before_send` hook: Litestar answers a refused CORS preflight with a text/plain
    "Disallowed CORS Origin" that no exception handler sees; it gets the envelope too."""
    if scope.get("method") != "OPTIONS":
        return
    state = scope.setdefault("state", {})
    if message["type"] == "http.response.start" and message["status"] == 400:
        headers = MutableScopeHeaders.from_message(message)
        if (headers.get("content-type") or "").startswith("text/plain"):
            state[_REFUSED_PREFLIGHT] = True
            headers["content-type"] = "application/json"
            del headers["content-length"]  # the body is rewritten below
    elif message["type"] == "http.response.body" and state.pop(_REFUSED_PREFLIGHT, False):
        refused = (
            message.get("body", b"").decode().removeprefix("Disallowed CORS ").strip() or "request"
        )
        body = {
            "success": False,
            "error": "CORS request refused",
            "message": f"This cross-origin request is not allowed ({refused}): the operator lists "
            "allowed origins in CORS_ORIGINS; allowed request headers are Authorization, "
            "Content-Type, X-Request-ID and If-None-Match",
            "requestId": request_id_of(scope),
        }
        message["body"] = json.dumps(body).encode()


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: handle_api_error,
    HTTPException: handle_http_exception,
    RedisError: handle_dependency_down,
    OperationalError: handle_dependency_down,
    StorageUnavailable: handle_storage_unavailable,
    Exception: handle_unexpected,
}
