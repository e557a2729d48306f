"""Runs one queued sync run in this process and prints its time and peak RSS as JSON."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import uuid

from app.db.engine import create_engine, session_factory
from app.db.models import SyncRun
from app.settings import get_settings
from app.sync.csv_store import CsvStore
from app.sync.engine import EngineContext, execute_run
from app.sync.queue import queue_client


async def main(run_id: uuid.UUID) -> dict[str, float]:
    settings = get_settings()
    engine = create_engine(settings)
    queue = queue_client(settings)
    context = EngineContext(settings, session_factory(engine), queue, CsvStore(settings.files_dir))
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
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "added": run.added or 0,
        "updated": run.updated or 0,
        "deleted": run.deleted or 0,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(uuid.UUID(sys.argv[1])))))
