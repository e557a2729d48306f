"""Backoff for password guessing, per account and per client address.

Each failed login counts against the email it named (whether or not such an account
exists, so the answers never tell) and against the client's address. Past a free allowance
every further attempt must wait twice as long as the previous one, up to a cap; an attempt
inside that wait is answered 429 with Retry-After before any password is checked. A
successful login clears the account's count (not the address's: one valid account must not
reset a guessing run against others). Counts live in Redis, shared by every API process, and
fade an hour after the last failure.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis

ACCOUNT_FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 20
MAX_WAIT_SECONDS = 900
FORGET_AFTER_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    redis: Redis
    namespace: str  # one per deployment sharing a Redis (the queue name)

    def _keys(self, email: str, address: str) -> list[tuple[str, int]]:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        return [
            (f"datasync:login-failures:{self.namespace}:account:{account}", ACCOUNT_FREE_FAILURES),
            (f"datasync:login-failures:{self.namespace}:address:{address}", ADDRESS_FREE_FAILURES),
        ]

    async def seconds_to_wait(self, email: str, address: str) -> int:
        """0 when an attempt may be made now, else how long until it may."""
        now = time.time()
        wait = 0.0
        for key, free in self._keys(email, address):
            count, last = await self.redis.hmget(key, ["count", "last"])  # type: ignore[misc]
            if count is None or last is None or int(count) < free:
                continue
            backoff = min(2.0 ** (int(count) - free), MAX_WAIT_SECONDS)
            wait = max(wait, float(last) + backoff - now)
        return math.ceil(wait) if wait > 0 else 0

    async def failed(self, email: str, address: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key, _ in self._keys(email, address):
                pipe.hincrby(key, "count", 1)
                pipe.hset(key, "last", str(time.time()))
                pipe.expire(key, FORGET_AFTER_SECONDS)
            await pipe.execute()

    async def succeeded(self, email: str, address: str) -> None:
        account_key, _ = self._keys(email, address)[0]
        await self.redis.delete(account_key)
