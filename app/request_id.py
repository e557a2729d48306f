"""`X-Request-ID` on every response: the caller's when it sent one, else a new one."""

from __future__ import annotations

import re
import uuid
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
_SAFE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_of(scope: Any) -> str:
    state = scope.setdefault("state", {})
    if "request_id" not in state:
        state["request_id"] = str(uuid.uuid4())
    return str(state["request_id"])


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(HEADER.encode(), b"").decode("latin-1")
        # A caller's id is echoed only if it is a plain token: it ends up in logs.
        scope.setdefault("state", {})["request_id"] = sent if _SAFE.match(sent) else str(uuid.uuid4())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)[HEADER] = request_id_of(scope)
            await send(message)

        await self.app(scope, receive, send_with_id)
