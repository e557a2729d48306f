"""Which workers are alive: each worker refreshes a key of its own with a TTL in Redis and
lists itself in a set, so that anyone (the metrics endpoint) can count the live ones.

Redis expires the keys, so no clocks are compared across machines. A worker that dies stops
counting within LIVE_FOR; after Redis lost its data, live workers count again within
REFRESH_EVERY.
"""

from __future__ import annotations

import os
import secrets
import socket
import time

from redis.asyncio import Redis

REFRESH_EVERY = 5.0
LIVE_FOR = 15  # seconds: three refreshes missed


def _members_key(queue_name: str) -> str:
    return f"{queue_name}:workers"


def _alive_key(queue_name: str, worker: str) -> str:
    return f"{queue_name}:worker-alive:{worker}"


class WorkerLiveness:
    """One worker's entry; `refresh` is called from the worker's poll loop."""

    def __init__(self, redis: Redis, queue_name: str) -> None:
        self._redis = redis
        self._queue_name = queue_name
        self.name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._refreshed_at = float("-inf")

    async def refresh(self) -> None:
        """At most every REFRESH_EVERY; raises RedisError when Redis does not answer."""
        if time.monotonic() - self._refreshed_at < REFRESH_EVERY:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(_alive_key(self._queue_name, self.name), b"1", ex=LIVE_FOR)
            pipe.sadd(_members_key(self._queue_name), self.name)
            await pipe.execute()
        self._refreshed_at = time.monotonic()

    async def withdraw(self) -> None:
        """On a clean shutdown: stop counting at once rather than after LIVE_FOR."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(_alive_key(self._queue_name, self.name))
            pipe.srem(_members_key(self._queue_name), self.name)
            await pipe.execute()


async def count_live_workers(redis: Redis, queue_name: str) -> int:
    """Workers of this queue that refreshed their entry within LIVE_FOR seconds; forgets the
    others. Raises RedisError when Redis does not answer (no worker can then take jobs)."""
    members = sorted(m.decode() for m in await redis.smembers(_members_key(queue_name)))  # type: ignore[misc]
    if not members:
        return 0
    async with redis.pipeline(transaction=False) as pipe:
        for member in members:
            pipe.exists(_alive_key(queue_name, member))
        alive = await pipe.execute()
    gone = [member for member, exists in zip(members, alive, strict=True) if not exists]
    if gone:
        await redis.srem(_members_key(queue_name), *gone)  # type: ignore[misc]
    return len(members) - len(gone)
