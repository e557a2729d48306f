"""The arq worker, kept up through Redis outages of any length.

arq's poll loop (`Worker.main`) lets any Redis error out of `_poll_iteration`, and the worker
exits: without a supervisor the service silently stops syncing. This worker catches them
there, logs the outage once, waits with a backoff (at most MAX_BACKOFF_SECONDS, so it
resumes within seconds of Redis returning) and polls again. A job's own Redis calls that
fail (arq marking it started or finished) end only that job's task; they surface through
`_poll_iteration` too and count as the same outage. Jobs are delivered at least once, and
runs are claimed in the store, so a job whose bookkeeping was lost at most runs again and
finds nothing to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from arq.worker import Worker
from redis.exceptions import RedisError

from app.sync.worker_liveness import WorkerLiveness

log = logging.getLogger("datasync.worker")

MAX_BACKOFF_SECONDS = 2.0


class OutageTolerantWorker(Worker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._outage_since: float | None = None
        self._backoff = 0.0
        self.liveness: WorkerLiveness | None = None

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except RedisError as error:
            if self._outage_since is None:
                self._outage_since = time.monotonic()
                log.warning(
                    "Redis is unavailable; the worker keeps trying and resumes when it answers",
                    extra={"error": str(error)},
                )
            self._backoff = min(max(self._backoff * 2, 0.25), MAX_BACKOFF_SECONDS)
            await asyncio.sleep(self._backoff)
            return
        if self._outage_since is not None:
            log.warning(
                "Redis answers again; the worker resumed",
                extra={"outage_seconds": round(time.monotonic() - self._outage_since, 1)},
            )
            self._outage_since, self._backoff = None, 0.0

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        try:
            await super().start_jobs(job_ids)
        except RedisError:
            # arq took a job slot (its semaphore and counter) for the job it was starting and
            # gives it back only when the job's task ends, but no task was created: without
            # this, every outage that hit this moment would shrink the worker for good.
            self._release_sem_dec_counter_on_complete()
            raise

    async def heart_beat(self) -> None:
        await super().heart_beat()
        if self.liveness is None:
            self.liveness = WorkerLiveness(self.pool, self.queue_name)
        await self.liveness.refresh()

    async def close(self) -> None:
        if self.liveness is not None and self._pool is not None:
            with contextlib.suppress(RedisError):  # if not, the entry expires by itself
                await self.liveness.withdraw()
        try:
            await super().close()
        except RedisError:
            # Redis is away at shutdown: arq stopped before its shutdown hook, which closes
            # the store's connections.
            if self.on_shutdown:
                await self.on_shutdown(self.ctx)
