"""One writer per target file, whichever schedules point at it: a Redis lock with a TTL that
the run's heartbeat renews, so a killed worker never blocks the file for long.

The lock keeps two syncs of one file from doing the same work at once and from removing
each other's staged files; it is not what keeps the file whole. A Redis lock cannot promise
that: Redis restarted without its data, or unreachable for longer than the TTL, forgets the
lock while its holder is still running, and a second writer takes it. What guarantees that
two writers never publish over each other is the store: publication happens inside the
transaction that moves the file's row from the version the run diffed against to the next
one (`app/sync/run_records.py`, `record_success`).

So the lock treats Redis trouble by what it knows:
- Redis says the lock is someone else's, or gone: another sync may be writing the file.
  The run steps aside before publishing (a transient error: it is retried).
- Redis does not answer: the lock may still be ours. The run carries on; if it reaches
  publication, the store's row decides, and a Redis blip costs nobody a failed run.
"""

from __future__ import annotations

import logging
import uuid

from redis.asyncio import Redis
from redis.exceptions import LockNotOwnedError, RedisError

from app.sync.admission import STALE_AFTER
from connectors.base import TransientError

log = logging.getLogger("datasync.sync")

# As long as a run may miss heartbeats before it is taken for dead: a killed worker's file is
# free when its run's retry starts.
TTL_SECONDS = int(STALE_AFTER.total_seconds())
WAIT_SECONDS = 600


class TargetFileLock:
    def __init__(self, redis: Redis, file_id: uuid.UUID) -> None:
        self._lock = redis.lock(
            f"datasync:file-lock:{file_id}", timeout=TTL_SECONDS, blocking_timeout=WAIT_SECONDS
        )
        self.lost = False

    async def acquire(self) -> None:
        try:
            taken = await self._lock.acquire()
        except RedisError as error:
            raise TransientError(
                f"could not take the target file's lock: Redis is unavailable ({error}); "
                "will try again"
            ) from None
        if not taken:
            raise TransientError("another sync is writing the same target file; will try again")

    async def renew(self) -> None:
        """Called with each heartbeat; never raises."""
        if self.lost:
            return
        try:
            await self._lock.reacquire()
        except LockNotOwnedError:
            self.lost = True
            log.warning("the target file's lock expired or was lost with Redis's data")
        except RedisError:
            pass  # unreachable: the lock may still be ours (see the module docstring)

    async def ensure_held(self) -> None:
        """Right before publishing: step aside if Redis says another sync may have the file."""
        await self.renew()
        if self.lost:
            raise TransientError(
                "the target file's lock was lost while Redis was unavailable (another sync "
                "may be writing the file); will try again"
            )

    async def release(self) -> None:
        """Never raises: a lock we cannot release expires within TTL_SECONDS."""
        if self.lost:
            return
        try:
            await self._lock.release()
        except RedisError as error:
            log.info(
                "could not release the target file's lock; it expires by itself",
                extra={"error": str(error)},
            )
