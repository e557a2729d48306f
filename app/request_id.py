"""`X-Request-ID` on every response: the caller's when it sent one, else a new one.

Stamped by a `before_send` hook rather than a middleware: Litestar's middleware stack wraps
route handlers only, so the router's own 404/405 answers and CORS preflights would go out
without the header.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message

HEADER = "x-request-id"
_SAFE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_of(scope: Any) -> str:
    """The request's id, fixed on first use so the header and the error body agree."""
    state = scope.setdefault("state", {})
    if "request_id" not in state:
        sent = dict(scope.get("headers") or ()).get(HEADER.encode(), b"").decode("latin-1")
        # A caller's id is echoed only if it is a plain token: it ends up in logs.
        state["request_id"] = sent if _SAFE.match(sent) else str(uuid.uuid4())
    return str(state["request_id"])


async def stamp_request_id(message: Message, scope: Any) -> None:
    if message["type"] == "http.response.start":
        MutableScopeHeaders.from_message(message)[HEADER] = request_id_of(scope)
