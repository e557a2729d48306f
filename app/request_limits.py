"""What a request may carry, checked before a handler or the JSON decoder sees it.

- JSON bodies nest at most `MAX_JSON_DEPTH` levels (the body itself is level 1). msgspec
  decodes recursively, so a body nested a few thousand levels deep exhausts the interpreter
  stack (RecursionError); no API shape needs more than a handful of levels.
- No string in a JSON body (key or value) and no query parameter may contain NUL (U+0000):
  PostgreSQL refuses it in text, so it would fail deep in the store instead of here.
- No string in a JSON body is longer than `MAX_STRING_CHARS` (a query, a key file, a
  connection string all fit): the one bound behind every field's own, narrower one.
- A body's values have the types the OpenAPI document gives them: Litestar converts a
  decoded body with msgspec's lax rules (`0` passes as `false`, `"5"` as `5`), so the body
  is first decoded strictly, and a value a generated client could never send is refused.

Each answers 400 naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import SerializationException, ValidationException

from app.error_responses import refuse_non_json_body
from app.errors import InvalidInput

MAX_JSON_DEPTH = 32
MAX_STRING_CHARS = 100_000

# A JSON string (a key if a colon follows) or a bracket. Strings are matched only to skip the
# brackets inside them; the closing quote is optional so an unterminated string ends the
# scan instead of making it quadratic.
_JSON_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?(?:\s*:)?|[\[\]{}]', re.DOTALL)
_REPORTED_FIELDS = 10


async def screen_request(request: Request[Any, Any, Any]) -> None:
    """The app's `before_request` hook."""
    await refuse_non_json_body(request)
    refuse_nul_in_query(request)
    if "data" in request.route_handler.parsed_fn_signature.parameters:
        body = await request.body()
        refuse_deep_json(body)
        refuse_loose_types(request, body)
        # A NUL can only reach a JSON string escaped; a long string only a long body.
        if b"\\u0000" in body or len(body) > MAX_STRING_CHARS:
            try:
                data = await request.json()
            except SerializationException:
                return  # malformed: the body's decoding answers "Malformed JSON"
            refuse_nul_in_json(data)
            refuse_long_strings(data)


def refuse_loose_types(request: Request[Any, Any, Any], body: bytes) -> None:
    data = request.route_handler.parsed_fn_signature.parameters["data"]
    try:
        msgspec.json.decode(body or b"null", type=data.annotation, strict=True)
    except msgspec.ValidationError as exc:
        raise ValidationException(extra=[{"message": str(exc), "source": "body"}]) from None
    except msgspec.DecodeError:
        return  # malformed: the body's decoding answers "Malformed JSON"


def refuse_nul_in_query(request: Request[Any, Any, Any]) -> None:
    bad = sorted({key for key, value in request.query_params.multi_items() if "\0" in value})
    if bad:
        raise InvalidInput(
            [{"field": key, "message": "must not contain NUL (%00)"} for key in bad],
            "Query parameters must not contain NUL characters: see details",
        )


def refuse_deep_json(body: bytes) -> None:
    """400 naming the top-level field whose value nests deeper than `MAX_JSON_DEPTH`.

    Exact for well-formed JSON; a malformed body is left to the decoder to report."""
    if body.count(b"{") + body.count(b"[") <= MAX_JSON_DEPTH:
        return  # the common case: too few brackets to nest too deep
    depth = 0
    key = b""
    for token in _JSON_TOKEN.findall(body):
        if token[0] == ord('"'):
            if depth == 1 and token[-1] == ord(":"):
                key = token
        elif token in (b"{", b"["):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                field = _key_text(key.rstrip(b": \t\r\n")) if key else "body"
                raise InvalidInput(
                    [{"field": field, "message": f"nests deeper than {MAX_JSON_DEPTH} levels"}],
                    f"JSON in a request body may nest at most {MAX_JSON_DEPTH} levels deep",
                )
        else:
            depth -= 1


def _key_text(raw: bytes) -> str:
    try:
        return msgspec.json.decode(raw, type=str)
    except msgspec.DecodeError:
        return raw.decode("utf-8", "replace").strip('"')


def refuse_nul_in_json(data: Any) -> None:
    bad = sorted({path for path, text in _strings(data) if "\0" in text})[:_REPORTED_FIELDS]
    if bad:
        raise InvalidInput(
            [{"field": path, "message": "must not contain NUL (\\u0000)"} for path in bad],
            "Text in the request body must not contain NUL characters: see details",
        )


def refuse_long_strings(data: Any) -> None:
    too_long = (path for path, text in _strings(data) if len(text) > MAX_STRING_CHARS)
    bad = sorted(set(too_long))[:_REPORTED_FIELDS]
    if bad:
        raise InvalidInput(
            [
                {"field": path, "message": f"must be at most {MAX_STRING_CHARS} characters"}
                for path in bad
            ],
            "Text in the request body is too long: see details",
        )


def _strings(data: Any) -> Iterator[tuple[str, str]]:
    """(path, text) of every string value and key (`settings.path`, `events[0]`, `body` for
    the body itself; a key stands for itself at its own path), walked without recursion."""
    pending: list[tuple[str, Any]] = [("", data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            yield path or "body", value
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                yield child.replace("\0", "\\u0000"), key
                pending.append((child.replace("\0", "\\u0000"), item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
