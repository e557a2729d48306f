"""A preview runs on a worker: the API validates, enqueues the job and waits for its result."""

from __future__ import annotations

import asyncio
import uuid

import msgspec
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession

from app.connector_environment import connector_environment
from app.db.models import DataSource, Schedule, TargetFile
from app.errors import ApiError, InvalidInput
from app.preview.schemas import Preview, PreviewBody
from app.schedules.service import owned_reference
from app.schedules.validation import check_config
from app.scheduling import parse_cadence
from app.settings import Settings
from app.sync import preview as worker_side
from app.sync.preview import PREVIEW_SYNC, PreviewRequest
from app.sync.worker_liveness import count_live_workers

Problems = list[dict[str, str]]


async def unsaved_request(
    db: AsyncSession, settings: Settings, user_id: uuid.UUID, body: PreviewBody, limit: int
) -> PreviewRequest:
    """The job for a schedule not yet saved; 400 with the details creating it would give."""
    problems: Problems = []
    source = await owned_reference(
        db, DataSource, user_id, body.data_source_id, "dataSourceId", problems
    )
    if body.target_file_id is not None:
        await owned_reference(
            db, TargetFile, user_id, body.target_file_id, "targetFileId", problems
        )
    if not isinstance(source, DataSource) or problems:
        _, cadence_problems = parse_cadence(body.frequency, body.config)
        raise InvalidInput(problems + cadence_problems)
    check_config(
        body.frequency, body.config, source.type, source.settings, connector_environment(settings)
    )
    return PreviewRequest(str(source.id), dict(body.config), body.target_file_id, limit)


def saved_request(schedule: Schedule, limit: int) -> PreviewRequest:
    return PreviewRequest(
        str(schedule.data_source_id), dict(schedule.config), str(schedule.target_file_id), limit
    )


async def run_on_worker(queue: ArqRedis, settings: Settings, request: PreviewRequest) -> Preview:
    """The worker's preview; 503 without a worker, 504 after the wait, 500 as a failed sync."""
    if await count_live_workers(queue, settings.queue_name) == 0:
        raise ApiError(
            503,
            "No worker is running to preview the sync; try again shortly",
            headers={"Retry-After": "5"},
        )
    job = await queue.enqueue_job(
        PREVIEW_SYNC, request.as_job(), _job_id=f"preview:{uuid.uuid4().hex}"
    )
    if job is None:  # pragma: no cover - the id is fresh
        raise ApiError(
            503, "The preview could not be queued; try again", headers={"Retry-After": "1"}
        )
    seconds = worker_side.PREVIEW_TIMEOUT_SECONDS
    try:
        result = await job.result(timeout=seconds, poll_delay=0.2)
    except (TimeoutError, asyncio.CancelledError):
        raise ApiError(
            504,
            f"The preview did not finish within {seconds} s; a sync of this selection may "
            "take long too: narrow the selection, or run a manual sync and follow it",
            title="Preview timed out",
        ) from None
    if "error" in result:
        raise ApiError(500, str(result["error"]), title="Sync failed")
    return msgspec.convert(result["preview"], Preview)
