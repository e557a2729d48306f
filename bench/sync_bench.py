"""A whole sync run at scale, through the product's own path.

1,000,000 rows x 12 mixed columns in a throwaway PostgreSQL database are read by the
`postgresql` connector (its default driver), rendered, diffed by primary key against the
previous snapshot after 1% of rows were updated, 0.5% deleted and 0.5% inserted, written as
the target CSV and recorded: `execute_run`, as a worker runs it, each run in a fresh process
whose own peak RSS is measured. The yardstick is `psql \\copy (query) to file csv` of the
same rows.

The first run (every row added) is timed once. Then three rounds each make such a change,
time `\\copy`, and time the diff run right after it, so that the machine's drift over the
rounds touches both sides of each ratio alike; the figures are medians over the rounds.
Each run prints where staging's time went, step by step (fetching, rendering and hashing,
writing the files and reading the previous snapshot each run on a thread of their own, so
they overlap). Then the same first run and one more diff
round write to an S3 object store instead (moto's server on this machine, through the real
client, as `STORAGE_URL=s3://…` would), beside the local store's figures. The last line is
`rows=… seconds=… ratio_to_copy=… peak_rss_mb=…`, of the local store's diff runs.

Usage: bench/run [--rows N] [--rounds N] [--no-object-store] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.auth.secrets import hash_password
from app.credential_vault import CredentialVault
from app.db.engine import create_engine, session_factory
from app.db.migrate import upgrade_to_head
from app.db.models import DataSource, Schedule, SyncRun, TargetFile, User
from app.settings import Settings, load_settings
from tests.object_store_server import running_s3_server
from tests.services import create_postgres_database, redis_server_url

QUERY = "SELECT * FROM bench_orders"

SCHEMA = """
CREATE TABLE bench_orders AS
SELECT
    g::bigint                                              AS id,
    (g % 5000)::int                                        AS customer_id,
    (((g::bigint * 7919) % 1000000) / 100.0)::numeric(12, 2) AS amount,
    ((g::bigint * 31) % 97)::smallint                      AS quantity,
    CASE WHEN g % 10 = 0 THEN NULL ELSE 'customer-' || (g % 5000) END AS customer_name,
    md5(g::text)                                           AS reference,
    timestamp '2026-01-01' + (g % 86400) * interval '1 second' + (g % 365) * interval '1 day' AS created_at,
    date '2025-01-01' + (g % 700)                          AS ship_date,
    (g % 3 = 0)                                            AS priority,
    (g % 1000) / 7.0::double precision                     AS score,
    CASE WHEN g % 7 = 0 THEN NULL ELSE (g % 13)::numeric(6, 3) END AS discount,
    CASE (g % 4) WHEN 0 THEN 'new' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped' ELSE 'closed' END AS status
FROM generate_series(1, {rows}) AS g;
ALTER TABLE bench_orders ADD PRIMARY KEY (id);
"""

# Round r (from 1) updates 1% of the rows (the same ones each round, changed again), deletes
# 0.5% (other ones each round) and inserts 0.5% (copies of original rows under new ids).
DELETED_RESIDUES = (3, 9, 11, 13, 21, 23, 25, 27, 29)
INSERTED_RESIDUES = (5, 15, 17, 19, 31, 33, 35, 37, 39)
CHANGES = """
UPDATE bench_orders SET status = 'refunded', amount = amount + 1 WHERE id % 100 = 7;
DELETE FROM bench_orders WHERE id <= {rows} AND id % 200 = {deleted};
INSERT INTO bench_orders
SELECT id + {rows}::bigint * {round}, customer_id, amount, quantity, customer_name, reference,
       created_at, ship_date, priority, score, discount, status
FROM bench_orders WHERE id <= {rows} AND id % 200 = {inserted};
"""


def psql_command(url: str) -> list[str]:
    parts = urlsplit(url)
    return [
        "psql",
        "-h",
        parts.hostname or "127.0.0.1",
        "-p",
        str(parts.port or 5432),
        "-U",
        parts.username or "postgres",
        "-d",
        parts.path.lstrip("/"),
    ]


def psql(url: str, sql: str) -> str:
    result = subprocess.run(
        [*psql_command(url), "-v", "ON_ERROR_STOP=1", "-tAc", sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def time_copy(url: str, directory: Path) -> float:
    target = directory / "copy.csv"
    start = time.perf_counter()
    copy = f"\\copy ({QUERY}) to '{target}' csv header"
    subprocess.run([*psql_command(url), "-c", copy], capture_output=True, check=True)
    seconds = time.perf_counter() - start
    target.unlink(missing_ok=True)
    return seconds


async def create_schedule(settings: Settings, pg_url: str) -> tuple[uuid.UUID, uuid.UUID]:
    parts = urlsplit(pg_url)
    engine = create_engine(settings)
    async with session_factory(engine)() as db:
        user = User(
            email=f"bench-{secrets.token_hex(4)}@example.com",
            password_hash=hash_password("benchmark-password"),
        )
        credentials = {
            "server": parts.hostname,
            "port": parts.port or 5432,
            "username": parts.username,
            "password": "unused-trust-auth",
        }
        source = DataSource(
            name="bench",
            type="postgresql",
            settings={},
            credentials_encrypted=CredentialVault(settings.secret_key).seal(credentials),
        )
        db.add(user)
        await db.flush()
        source.user_id = user.id
        file = TargetFile(user_id=user.id, name="orders.csv")
        db.add_all([source, file])
        await db.flush()
        schedule = Schedule(
            user_id=user.id,
            name="bench",
            data_source_id=source.id,
            target_file_id=file.id,
            frequency="daily",
            enabled=False,
            config={"databaseName": parts.path.lstrip("/"), "query": QUERY, "primaryKey": "id"},
        )
        db.add(schedule)
        await db.commit()
        ids = (schedule.id, user.id)
    await engine.dispose()
    return ids


async def queue_run(settings: Settings, schedule_id: uuid.UUID, user_id: uuid.UUID) -> uuid.UUID:
    engine = create_engine(settings)
    async with session_factory(engine)() as db:
        run = SyncRun(
            schedule_id=schedule_id,
            user_id=user_id,
            trigger="manual",
            data_source_type="postgresql",
        )
        db.add(run)
        await db.commit()
        run_id = run.id
    await engine.dispose()
    return run_id


def run_in_fresh_process(env: dict[str, str], run_id: uuid.UUID) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.run_once", str(run_id), "postgresql"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if output.returncode != 0:
        raise SystemExit(f"the sync run failed:\n{output.stderr}{output.stdout}")
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def where_the_time_went(run: dict[str, Any]) -> str:
    """Staging's steps (on four threads: their times overlap), and what is left of the run
    (reading its inputs, publishing the files, recording it)."""
    steps = run["steps"]
    wall, cpu = steps.get("wall", {}), steps.get("cpu", {})
    parts = [f"{name} {wall[name]:.2f} (cpu {cpu.get(name, 0.0):.2f})" for name in wall]
    rest = run["seconds"] - steps.get("seconds", 0.0)
    return (
        f"    staging {steps.get('seconds', 0.0):.2f} s: {', '.join(parts)}\n"
        f"    the rest of the run (inputs, publishing, recording): {rest:.2f} s"
    )


def change_rows(pg_url: str, rows: int, round: int) -> int:
    """Round `round`'s updates, deletions and insertions; the table's row count after them."""
    psql(
        pg_url,
        CHANGES.format(
            rows=rows,
            round=round,
            deleted=DELETED_RESIDUES[round - 1],
            inserted=INSERTED_RESIDUES[round - 1],
        ),
    )
    psql(pg_url, "VACUUM ANALYZE bench_orders")
    return int(psql(pg_url, "SELECT count(*) FROM bench_orders"))


def object_store_runs(
    pg_url: str, env: dict[str, str], workdir: Path, rows: int, round: int
) -> None:
    """A first run and a diff run of a second target file kept in S3: uploads, and the
    previous snapshot read back from the store."""
    with running_s3_server() as s3:
        s3_env = {**env, **s3.environment, "STORAGE_URL": s3.new_url()}
        settings = load_settings(s3_env)
        schedule_id, user_id = asyncio.run(create_schedule(settings, pg_url))

        def sync_run() -> dict[str, Any]:
            return run_in_fresh_process(
                s3_env, asyncio.run(queue_run(settings, schedule_id, user_id))
            )

        copy = time_copy(pg_url, workdir)
        first = sync_run()
        print(
            f"S3 store, first run (every row added): {first['seconds']:.2f} s, "
            f"{first['seconds'] / copy:.2f}x \\copy ({copy:.2f} s), "
            f"peak RSS {first['peak_rss_mb']:.0f} MB"
        )
        count = change_rows(pg_url, rows, round)
        copy = time_copy(pg_url, workdir)
        run = sync_run()
        print(
            f"S3 store, diff run: \\copy of {count:,} rows {copy:.2f} s; diff run "
            f"{run['seconds']:.2f} s ({run['seconds'] / copy:.2f}x), "
            f"peak RSS {run['peak_rss_mb']:.0f} MB; changes added={run['added']:.0f} "
            f"updated={run['updated']:.0f} deleted={run['deleted']:.0f}"
        )
        print(where_the_time_went(run), flush=True)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    # One change round is left for the object store's diff run.
    parser.add_argument("--rounds", type=int, default=3, choices=range(1, 9))
    parser.add_argument(
        "--no-object-store", action="store_true", help="skip the runs against an S3 store"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and data directory")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="datasync-bench-"))
    pg_url, drop = create_postgres_database()
    try:
        env = {
            "DATA_DIR": str(workdir / "data"),
            "DATABASE_URL": f"sqlite:///{workdir / 'store.db'}",
            "REDIS_URL": f"{redis_server_url()}/14",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "LOG_LEVEL": "WARNING",
            # The throwaway database is on this machine, which sources may not reach unless
            # the operator allows it.
            "SQL_ALLOWED_NETWORKS": "127.0.0.0/8",
        }
        settings = load_settings(env)
        upgrade_to_head(settings)
        print(
            f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}"
        )
        print(f"generating {args.rows:,} rows x 12 columns in PostgreSQL …", flush=True)
        psql(pg_url, SCHEMA.format(rows=args.rows))
        psql(pg_url, "VACUUM ANALYZE bench_orders")
        schedule_id, user_id = asyncio.run(create_schedule(settings, pg_url))
        print(f"before: {load()}")

        def sync_run() -> dict[str, Any]:
            return run_in_fresh_process(env, asyncio.run(queue_run(settings, schedule_id, user_id)))

        copy = time_copy(pg_url, workdir)
        first = sync_run()
        print(
            f"first run (every row added): {first['seconds']:.2f} s, "
            f"{first['seconds'] / copy:.2f}x \\copy ({copy:.2f} s), "
            f"peak RSS {first['peak_rss_mb']:.0f} MB"
        )
        print(where_the_time_went(first), flush=True)
        runs: list[dict[str, Any]] = []
        for round in range(1, args.rounds + 1):
            rows = change_rows(pg_url, args.rows, round)
            copy = time_copy(pg_url, workdir)
            run = sync_run() | {"copy": copy, "rows": rows}
            run["ratio"] = run["seconds"] / copy
            runs.append(run)
            print(
                f"round {round}: \\copy of {rows:,} rows {copy:.2f} s; diff run {run['seconds']:.2f} s "
                f"({run['ratio']:.2f}x), peak RSS {run['peak_rss_mb']:.0f} MB; changes "
                f"added={run['added']:.0f} updated={run['updated']:.0f} deleted={run['deleted']:.0f}"
            )
            print(where_the_time_went(run), flush=True)
        print(
            f"expected per round: added={args.rows // 200} deleted={args.rows // 200} "
            f"updated=the rows with id % 100 = 7"
        )
        if not args.no_object_store:
            object_store_runs(pg_url, env, workdir, args.rows, args.rounds + 1)
        print(f"after: {load()}")
        seconds = statistics.median(r["seconds"] for r in runs)
        ratio = statistics.median(r["ratio"] for r in runs)
        peak = statistics.median(r["peak_rss_mb"] for r in runs)
        print(
            f"medians over {len(runs)} rounds: diff run {seconds:.2f} s, "
            f"\\copy {statistics.median(r['copy'] for r in runs):.2f} s, ratio {ratio:.2f}x "
            f"(each run over the \\copy just before it), peak RSS {peak:.0f} MB "
            f"(highest {max(r['peak_rss_mb'] for r in runs):.0f} MB)"
        )
        print(
            f"rows={runs[-1]['rows']} seconds={seconds:.2f} ratio_to_copy={ratio:.2f} peak_rss_mb={peak:.0f}"
        )
        if args.keep:
            print(
                f"kept: DATABASE={pg_url} workdir={workdir} env={json.dumps(env)}", file=sys.stderr
            )
    finally:
        if not args.keep:
            drop()
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
