"""Browser security headers on every response, stamped once by a `before_send` hook.

Every response: `X-Content-Type-Options: nosniff` (a JSON or CSV body is never sniffed into
HTML or script) and `Referrer-Policy: no-referrer`, the strictest, because nothing needs a
Referer: the service reads none (the cookie session's CSRF check is the `X-Requested-With`
header), the dashboard's routes live in the URL fragment and it links to no other site.

HTML responses (the dashboard, the API docs, Litestar's HTML 404 under /schema) also get the
Content-Security-Policy below and `X-Frame-Options: DENY` for browsers that predate
`frame-ancestors`. Every script and stylesheet is a file served by this service: no inline
`<script>`, `<style>` or `style="…"`, no other origin. `img-src data:` admits the `data:`
favicon and the SVG icons Swagger UI's stylesheet embeds.

A hook rather than a middleware for the reason given in `app.request_id`: the router's own
404/405 answers and CORS preflights never pass through the middleware stack.
"""

from __future__ import annotations

from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

EVERY_RESPONSE = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
HTML_RESPONSE = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
}


async def stamp_security_headers(message: Message, scope: Any) -> None:
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in EVERY_RESPONSE.items():
        headers[name] = value
    if (headers.get("content-type") or "").lower().startswith("text/html"):
        for name, value in HTML_RESPONSE.items():
            headers[name] = value
