"""One log line per HTTP response, in the JSON format of app.logs."""

from __future__ import annotations

import logging
from typing import Any

from litestar.types import Message

from app.request_id import request_id_of

access_log = logging.getLogger("datasync.access")


async def log_response(message: Message, scope: Any) -> None:
    """`before_send` hook: one line per response. The query string, headers and bodies are
    left out: they can carry tokens and passwords."""
    if message["type"] != "http.response.start" or scope.get("type") != "http":
        return
    access_log.info(
        "request",
        extra={
            "request_id": request_id_of(scope),
            "method": scope["method"],
            "path": scope["path"],
            "route": scope.get("path_template"),
            "status": message["status"],
            "user_id": scope.get("state", {}).get("user_id"),
        },
    )
