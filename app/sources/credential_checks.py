"""`POST /api/data-sources/{id}/check-credentials`: the API queues the check for a worker
and waits for it (the API never runs connectors itself)."""

from __future__ import annotations

import asyncio
import uuid

from arq.connections import ArqRedis

from app.errors import ApiError
from app.settings import Settings
from app.sources.credential_health import CHECK_CREDENTIALS_JOB
from app.sync.worker_liveness import count_live_workers

# Beyond the check's own deadline (its process is killed then): a worker's queue may be busy.
_QUEUE_WAIT_SECONDS = 15.0


async def check_now(queue: ArqRedis, settings: Settings, source_id: uuid.UUID) -> None:
    """Returns once a worker has checked and recorded; 503 without a worker, 504 when the
    check did not finish in time (its status stays as it was)."""
    if await count_live_workers(queue, settings.queue_name) == 0:
        raise ApiError(
            503,
            "No worker is running to check the credentials; try again shortly",
            headers={"Retry-After": "5"},
        )
    job = await queue.enqueue_job(
        CHECK_CREDENTIALS_JOB, str(source_id), _job_id=f"credentials:{source_id}:{uuid.uuid4().hex}"
    )
    if job is None:  # pragma: no cover - the id is fresh
        raise ApiError(
            503, "The check could not be queued; try again", headers={"Retry-After": "1"}
        )
    seconds = settings.connection_test_timeout_seconds + _QUEUE_WAIT_SECONDS
    try:
        await job.result(timeout=seconds, poll_delay=0.2)
    except (TimeoutError, asyncio.CancelledError):
        raise ApiError(
            504,
            f"The credentials check did not finish within {seconds:g} s; try again later",
            title="Check timed out",
        ) from None
