"""Runs one queued sync run in this process and prints, as JSON, its time, the process's
peak RSS and where staging's time went (the `datasync.sync.steps` log record)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import uuid
from typing import Any

from app.db.engine import create_engine, session_factory
from app.db.models import SyncRun
from app.settings import get_settings
from app.sync.csv_store import csv_store_for
from app.sync.engine import execute_run
from app.sync.process_tuning import tune_for_syncing
from app.sync.queue import queue_client
from app.sync.run_context import EngineContext
from connectors.registry import connector_class


def peak_rss_mb() -> float:
    """The high-water mark of this process's own memory. `getrusage`'s `ru_maxrss` will not
    do: Linux carries the parent's peak over into a child across exec, so it would report
    the bench harness's memory whenever that is the larger."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


class StepRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.steps: dict[str, Any] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.steps = {
            "seconds": getattr(record, "seconds", 0.0),
            "wall": getattr(record, "step_wall", {}),
            "cpu": getattr(record, "step_cpu", {}),
        }


async def main(run_id: uuid.UUID, source_type: str) -> dict[str, Any]:
    settings = get_settings()
    engine = create_engine(settings)
    queue = queue_client(settings)
    context = EngineContext(settings, session_factory(engine), queue, csv_store_for(settings))
    # A worker imports a source type's connector on its first run of that type and keeps it:
    # the run measured here is one of the runs after that.
    connector_class(source_type)
    tune_for_syncing()  # as a worker does at the end of its start-up
    steps = StepRecorder()
    logger = logging.getLogger("datasync.sync.steps")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(steps)
    logger.propagate = False
    start = time.perf_counter()
    await execute_run(context, run_id)
    seconds = time.perf_counter() - start
    async with context.sessions() as db:
        run = await db.get(SyncRun, run_id)
    await queue.aclose()
    await engine.dispose()
    if run is None or run.status != "success":
        raise SystemExit(f"run did not succeed: {run.error if run else 'missing'}")
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "added": run.added or 0,
        "updated": run.updated or 0,
        "deleted": run.deleted or 0,
        "steps": steps.steps,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(uuid.UUID(sys.argv[1]), sys.argv[2]))))
