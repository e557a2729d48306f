"""The API rate limit, counted atomically in Redis so that every API process spends one budget.

Litestar's `RateLimitMiddleware` reads a caller's request history from its store, appends
and writes it back under a lock that holds within one process only: two processes read the
same history and both let their request through (two `web` processes let 753 of one key's
2,000 requests through against 600 a minute). Here each caller has a fixed window: the first
request opens it for one unit of the configured rate (a minute), and one Lua script counts a
request and reads the time the window has left in one round trip. Everything else (which
requests are metered, who the caller is, the header names, the 429) is Litestar's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from time import time

from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import DURATION_VALUES, RateLimitConfig, RateLimitMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from redis.asyncio import Redis

# A refused request is counted too: it changes nothing (the window keeps its end) and keeps
# the script to one write. A key left without an expiry would never reset; it gets one.
_COUNT_REQUEST = """
local used = redis.call('INCR', KEYS[1])
local left_ms = redis.call('PTTL', KEYS[1])
if left_ms < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    left_ms = tonumber(ARGV[1])
end
return {used, left_ms}
"""


@dataclass(frozen=True, slots=True)
class WindowCount:
    """A caller's window after counting one more request."""

    used: int  # requests counted in the window, this one included
    ends_at: float  # epoch seconds


class RedisRateLimitMiddleware(RateLimitMiddleware):
    """Litestar's rate limit with the counting done atomically in Redis.

    Keys are `{namespace}:{cache key}`; Litestar names its cache keys after the middleware
    class, so this one's counters never meet the JSON histories Litestar's own wrote there.
    """

    def __init__(self, app: ASGIApp, config: RateLimitConfig, redis: Redis, namespace: str) -> None:
        super().__init__(app, config)
        self.namespace = namespace
        self.window_ms = DURATION_VALUES[self.unit] * 1000
        self._count_request = redis.register_script(_COUNT_REQUEST)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = scope["litestar_app"].request_class(scope)
        if await self.should_check_request(request=request):
            window = await self.count(self.cache_key_from_request(request))
            with_headers = self.config.set_rate_limit_headers
            if window.used > self.max_requests:
                raise TooManyRequestsException(
                    headers=self.window_headers(window) if with_headers else None
                )
            if with_headers:
                send = self._send_with_headers(send, window)
        await self.app(scope, receive, send)

    async def count(self, key: str) -> WindowCount:
        """Count one request against `key`'s window (opened by this one if none is open)."""
        used, left_ms = await self._count_request(
            keys=[f"{self.namespace}:{key}"], args=[self.window_ms]
        )
        return WindowCount(used=int(used), ends_at=time() + int(left_ms) / 1000)

    def window_headers(self, window: WindowCount) -> dict[str, str]:
        # Reset rounds up: after that many seconds the window has surely ended.
        reset = max(0, math.ceil(window.ends_at - time()))
        return {
            self.config.rate_limit_policy_header_key: (
                f"{self.max_requests}; w={DURATION_VALUES[self.unit]}"
            ),
            self.config.rate_limit_limit_header_key: str(self.max_requests),
            self.config.rate_limit_remaining_header_key: str(
                max(0, self.max_requests - window.used)
            ),
            self.config.rate_limit_reset_header_key: str(reset),
        }

    def _send_with_headers(self, send: Send, window: WindowCount) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableScopeHeaders(message)
                for name, value in self.window_headers(window).items():
                    headers[name] = value
            await send(message)

        return send_with_headers
