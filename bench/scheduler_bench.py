"""10,000 schedules due at the same minute, claimed by the scheduler ticks of real workers.

A throwaway PostgreSQL database is the store, the machine's Redis the queue, and three
`datasync worker` processes run as in production (default SCHEDULER_INTERVAL_SECONDS, so
ticks at :00 and :30 of every minute). The schedules are hourly, read a one-row table through
the `test-table` source (tests/plugins), write a target file each and belong ten to a user;
they are written straight into the store with a slot a day away. Once the workers are up, one
UPDATE moves every schedule to the next whole minute, and the benchmark waits for every run
to end. Then it reads the store and the jobs' arq results and prints, counted from the slot:
when runs were created (claimed), when their jobs were enqueued, when all were both, that
each slot ran exactly once, and when all runs had completed. The last line is
`schedules=… enqueued_all_s=… exactly_once=… completed_all_s=…`.

Usage: bench/run-scheduler [--schedules N] [--workers N] [--per-user N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from arq.jobs import Job
from sqlalchemy import func, insert, select, text, update

from app.credential_vault import CredentialVault
from app.db.engine import create_engine, session_factory
from app.db.migrate import upgrade_to_head
from app.db.models import DataSource, Schedule, SyncRun, TargetFile, User
from app.settings import Settings, load_settings
from app.sync.queue import job_id_for, queue_client
from tests.services import create_postgres_database, redis_server_url

ROOT = Path(__file__).resolve().parent.parent


async def create_schedules(settings: Settings, table: Path, count: int, per_user: int) -> None:
    """Users, their sources, one target file per schedule and the schedules, far from due."""
    sealed = CredentialVault(settings.secret_key).seal({"token": "bench"})
    far = datetime.now(UTC) + timedelta(days=1)
    engine = create_engine(settings)
    async with session_factory(engine)() as db:
        for first in range(0, count, per_user):
            n = min(per_user, count - first)
            user_id, source_id = uuid.uuid4(), uuid.uuid4()
            files = [uuid.uuid4() for _ in range(n)]
            await db.execute(insert(User), [{"id": user_id, "email": f"bench-{first}@example.com"}])
            await db.execute(
                insert(DataSource),
                [
                    {
                        "id": source_id,
                        "user_id": user_id,
                        "name": "bench table",
                        "type": "test-table",
                        "credentials_encrypted": sealed,
                        "settings": {},
                    }
                ],
            )
            await db.execute(
                insert(TargetFile),
                [
                    {"id": f, "user_id": user_id, "name": f"bench-{first + i}.csv"}
                    for i, f in enumerate(files)
                ],
            )
            await db.execute(
                insert(Schedule),
                [
                    {
                        "user_id": user_id,
                        "name": f"bench {first + i}",
                        "data_source_id": source_id,
                        "target_file_id": f,
                        "frequency": "hourly",
                        "enabled": True,
                        "config": {"path": str(table)},
                        "next_sync_at": far,
                    }
                    for i, f in enumerate(files)
                ],
            )
        await db.commit()
        await db.execute(text("ANALYZE"))
        await db.commit()
    await engine.dispose()


async def make_all_due(settings: Settings, slot: datetime, table: Path) -> None:
    """Every schedule due at `slot`, hourly at its minute: the next slot is an hour away."""
    engine = create_engine(settings)
    async with session_factory(engine)() as db:
        config = {"path": str(table), "minute": slot.minute}
        await db.execute(update(Schedule).values(next_sync_at=slot, config=config))
        await db.commit()
    await engine.dispose()


async def run_counts(settings: Settings) -> dict[str, int]:
    engine = create_engine(settings)
    async with session_factory(engine)() as db:
        rows = await db.execute(select(SyncRun.status, func.count()).group_by(SyncRun.status))
        counts = {status: count for status, count in rows}
    await engine.dispose()
    return counts


async def collect(settings: Settings) -> dict[str, Any]:
    """Per scheduled run: created, enqueued and completed; and runs per schedule."""
    engine = create_engine(settings)
    queue = queue_client(settings)
    async with session_factory(engine)() as db:
        runs = (await db.scalars(select(SyncRun).where(SyncRun.trigger == "schedule"))).all()
        per_schedule = (
            (
                await db.execute(
                    select(func.count()).select_from(SyncRun).group_by(SyncRun.schedule_id)
                )
            )
            .scalars()
            .all()
        )
        schedules = await db.scalar(select(func.count()).select_from(Schedule))
    enqueued: list[datetime] = []
    for first in range(0, len(runs), 500):
        chunk = runs[first : first + 500]
        results = await asyncio.gather(
            *(
                Job(job_id_for(run), queue, _queue_name=settings.queue_name).result_info()
                for run in chunk
            )
        )
        enqueued.extend(r.enqueue_time for r in results if r is not None)
    await queue.aclose()
    await engine.dispose()
    return {
        "runs": runs,
        "per_schedule": per_schedule,
        "schedules": schedules,
        "enqueued": enqueued,
    }


def seconds_after(slot: datetime, times: list[datetime]) -> list[float]:
    return sorted((t - slot).total_seconds() for t in times)


def spread(values: list[float]) -> str:
    if not values:
        return "none"
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"median {statistics.median(values):.2f} s, p95 {p95:.2f} s, max {values[-1]:.2f} s"


def machine() -> str:
    memory = subprocess.run(["free", "-m"], capture_output=True, text=True).stdout.split("\n")[1]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{os.cpu_count()} cores ({cpu}), {memory.split()[1]} MB RAM, Python {platform.python_version()}"


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = open(log, "ab")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--per-user", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for every run")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="datasync-scheduler-bench-"))
    pg_url, drop = create_postgres_database()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        env = {
            "DATABASE_URL": pg_url,
            "REDIS_URL": f"{redis_server_url()}/13",
            "QUEUE_NAME": f"datasync-bench:{secrets.token_hex(6)}",
            "DATA_DIR": str(workdir / "data"),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "LOG_LEVEL": "WARNING",
        }
        settings = load_settings(env)
        upgrade_to_head(settings)
        print(f"machine: {machine()}")
        table = workdir / "table.csv"
        table.write_text("id,name\n1,one\n")
        started = time.perf_counter()
        asyncio.run(create_schedules(settings, table, args.schedules, args.per_user))
        print(
            f"{args.schedules:,} hourly schedules ({args.per_user} per user, a target file each) "
            f"written in {time.perf_counter() - started:.1f} s; starting {args.workers} workers",
            flush=True,
        )
        workers = [start_worker(env, workdir / f"worker{i}.log") for i in range(args.workers)]
        time.sleep(5)
        for i, worker in enumerate(workers):
            if worker.poll() is not None:
                raise SystemExit((workdir / f"worker{i}.log").read_text())
        # The next whole minute at least 5 s away, so that the UPDATE lands before it.
        slot = (datetime.now(UTC) + timedelta(seconds=65)).replace(second=0, microsecond=0)
        asyncio.run(make_all_due(settings, slot, table))
        print(f"all due at {slot:%H:%M:%S} UTC; waiting …", flush=True)
        deadline = time.monotonic() + args.timeout
        while True:
            time.sleep(5)
            counts = asyncio.run(run_counts(settings))
            ended = counts.get("success", 0) + counts.get("error", 0)
            late = (datetime.now(UTC) - slot).total_seconds()
            if late > 0:
                print(f"  slot + {late:5.0f} s: {counts}", flush=True)
            if ended >= args.schedules and not counts.get("queued") and not counts.get("running"):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"not every run ended within {args.timeout} s: {counts}")
        figures = asyncio.run(collect(settings))
        runs: list[SyncRun] = figures["runs"]
        created = seconds_after(slot, [run.created_at for run in runs])
        enqueued = seconds_after(slot, figures["enqueued"])
        completed = seconds_after(slot, [run.completed_at for run in runs if run.completed_at])
        per_schedule = figures["per_schedule"]
        exactly_once = (
            figures["schedules"] == args.schedules
            and len(per_schedule) == args.schedules
            and set(per_schedule) == {1}
        )
        errors = sum(run.status == "error" for run in runs)
        enqueued_all = max(created[-1], enqueued[-1]) if enqueued else float("nan")
        print(f"runs created (claimed) after the slot: {spread(created)}")
        print(
            "  the first, then every 1,000th run created at slot + "
            + ", ".join(f"{t:.2f}" for t in created[::1000])
            + " s"
        )
        print(f"jobs enqueued after the slot: {spread(enqueued)} ({len(enqueued):,} jobs found)")
        print(f"every run created and enqueued: slot + {enqueued_all:.2f} s")
        print(
            f"runs per schedule: {len(per_schedule):,} schedules with runs, "
            f"counts {sorted(set(per_schedule))} -> exactly once: {exactly_once}"
        )
        print(f"runs completed after the slot: {spread(completed)}; {errors} ended in error")
        print(
            f"schedules={args.schedules} enqueued_all_s={enqueued_all:.2f} "
            f"exactly_once={exactly_once} completed_all_s={completed[-1]:.1f}"
        )
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        drop()


if __name__ == "__main__":
    main()
