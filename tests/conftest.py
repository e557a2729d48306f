"""Shared fixtures: real Redis, real SQLite and PostgreSQL, the app over HTTP, real workers.

Tests that take `database_url` (directly or through `client`, `user`, `worker`…) run once
per store: SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from app.db.migrate import upgrade_to_head
from app.main import create_app
from app.settings import Settings, load_settings
from app.sync.queue import queue_client
from app.sync.worker_liveness import count_live_workers
from tests.services import create_postgres_database, free_port, redis_server_url, wait_for_port

ROOT = Path(__file__).resolve().parent.parent

# The suite starts hundreds of Python processes (API servers, workers, connection tests, the
# xdist workers themselves). With PYTHONDONTWRITEBYTECODE set (as on the CI machine) each of
# them compiled app/, Litestar, SQLAlchemy… from source again: seconds per process. Cached
# bytecode is what a deployment runs too; the source is what it is compiled from.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


@pytest.fixture(scope="session")
def redis_url() -> str:
    return f"{redis_server_url()}/1"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'datasync.db'}"
        return
    url, drop = create_postgres_database()
    yield url
    drop()


@pytest.fixture(scope="session")
def service_env(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Environment for every process of the service under test (API, workers)."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        # A queue of its own keeps this run's jobs from workers of other runs on one Redis.
        "QUEUE_NAME": f"datasync-test:{secrets.token_hex(6)}",
        "DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ENDPOINT_ALLOWLIST": "127.0.0.1,localhost",
        # The stand-ins and the machine's PostgreSQL listen on loopback.
        "SQL_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
        "RATE_LIMIT_PER_MINUTE": "100000",
        "RETRY_BASE_SECONDS": "0.4",
        "MAX_RETRIES": "2",
        "SCHEDULER_INTERVAL_SECONDS": "1",
        "MANUAL_SYNC_WAIT_SECONDS": "30",
        "LOG_LEVEL": "INFO",
        "CORS_ORIGINS": "http://localhost:5173",
        # Webhook receivers in tests listen on loopback, and retries must not take hours.
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "WEBHOOK_ALLOWED_PORTS": "any",
        # Metrics tests read figures right after the runs they make.
        "METRICS_CACHE_SECONDS": "0",
        # Tests register many users; the registration policy has tests of its own.
        "REGISTRATION": "open",
        "WEBHOOK_RETRY_SECONDS": "1,1,1,1,1,1",
    }


@pytest.fixture(scope="session")
def settings(service_env: dict[str, str]) -> Settings:
    settings = load_settings(service_env)
    upgrade_to_head(settings)
    return settings


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


class ApiUser:
    """A registered user talking to the API with its session token."""

    def __init__(
        self, client: TestClient[Any] | httpx.Client, email: str, password: str, token: str
    ) -> None:
        self.client = client
        self.email = email
        self.password = password
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.request(method, path, **kwargs)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    # Shortcuts for the objects most tests need.
    def data_source(
        self, type: str = "test-table", credentials: dict[str, Any] | None = None, **settings: Any
    ) -> str:
        body = self.ok(
            "POST",
            "/api/data-sources",
            json={
                "name": f"{type} source",
                "type": type,
                "credentials": credentials or {"token": "t"},
                "settings": settings,
            },
        )
        return str(body["dataSource"]["id"])

    def target_file(self, name: str = "sales-data.csv", **options: Any) -> str:
        return str(self.ok("POST", "/api/files", json={"name": name, **options})["file"]["id"])

    def schedule(
        self,
        source_id: str,
        file_id: str,
        frequency: str = "hourly",
        enabled: bool = True,
        **config: Any,
    ) -> str:
        body = self.ok(
            "POST",
            "/api/sync/schedules",
            json={
                "name": "Test schedule",
                "dataSourceId": source_id,
                "targetFileId": file_id,
                "frequency": frequency,
                "enabled": enabled,
                "config": config,
            },
        )
        return str(body["schedule"]["id"])


def register(client: TestClient[Any] | httpx.Client) -> ApiUser:
    email = f"user-{secrets.token_hex(6)}@example.com"
    password = "correct horse battery"
    response = client.post(
        "/api/auth/register", json={"email": email, "password": password, "name": "Test User"}
    )
    assert response.status_code == 200, response.text
    token = client.post("/api/auth/login", json={"email": email, "password": password}).json()[
        "token"
    ]
    return ApiUser(client, email, password, token)


@pytest.fixture
def user(client: TestClient[Any]) -> ApiUser:
    return register(client)


@pytest.fixture
def other_user(client: TestClient[Any]) -> ApiUser:
    return register(client)


def _die_with_parent() -> None:
    # A test run that is killed must not leave workers polling Redis behind it.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


def start_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = open(log, "ab")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def stop_process(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30
) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def worker(
    settings: Settings, service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[subprocess.Popen[bytes]]:
    """One real arq worker process (with the scheduler tick) for the whole session."""
    log = tmp_path_factory.mktemp("logs") / "worker.log"
    process = start_process(["worker"], service_env, log)
    time.sleep(1.0)
    assert process.poll() is None, log.read_text()
    yield process
    stop_process(process)


@pytest.fixture
def live_worker(worker: subprocess.Popen[bytes], settings: Settings) -> None:
    """The session's worker once it has announced itself: routes that hand work to a worker
    (preview, credential checks) answer 503 until one has."""
    wait_until_a_worker_is_live(settings, worker, timeout=30)


def wait_until_a_worker_is_live(
    settings: Settings,
    process: subprocess.Popen[bytes],
    log: Path | None = None,
    timeout: float = 60,
) -> None:
    async def live() -> int:
        redis = queue_client(settings)
        try:
            return await count_live_workers(redis, settings.queue_name)
        finally:
            await redis.aclose()

    deadline = time.monotonic() + timeout
    while not asyncio.run(live()):
        assert process.poll() is None, log.read_text() if log else "the worker exited"
        assert time.monotonic() < deadline, "no worker announced itself"
        time.sleep(0.2)


@pytest.fixture(scope="session")
def live_server(
    settings: Settings, service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The API as its own process on a free port, for clients that are not Python."""
    port = free_port()
    log = tmp_path_factory.mktemp("logs") / "api.log"
    process = start_process(["serve"], {**service_env, "PORT": str(port)}, log)
    try:
        wait_for_port(port, timeout=30)
    except TimeoutError:
        stop_process(process)
        raise AssertionError(log.read_text()) from None
    yield f"http://127.0.0.1:{port}"
    stop_process(process)


@dataclass
class IsolatedService:
    """A store, a Redis database and a data directory of its own, for tests that run their
    own worker processes (and must not share jobs with the session's worker)."""

    settings: Settings
    env: dict[str, str]
    user: ApiUser


@contextmanager
def isolated_stack(
    database_url: str, service_env: dict[str, str], directory: Path, **extra_env: str
) -> Iterator[tuple[Settings, dict[str, str]]]:
    """Settings and environment with a store (migrated), a queue and a data directory of
    their own, on the session's kind of store; the store is dropped afterwards."""
    drop: Callable[[], None] = lambda: None  # noqa: E731
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{directory / 'datasync.db'}"
    else:
        url, drop = create_postgres_database()
    env = {
        **service_env,
        "DATABASE_URL": url,
        "QUEUE_NAME": f"datasync-test:{secrets.token_hex(6)}",
        "DATA_DIR": str(directory / "data"),
        "SECRET_KEY": secrets.token_urlsafe(48),
        **extra_env,
    }
    settings = load_settings(env)
    upgrade_to_head(settings)
    try:
        yield settings, env
    finally:
        drop()


@pytest.fixture
def isolated_service(
    database_url: str, service_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., IsolatedService]]:
    with ExitStack() as stack:

        def make(**extra_env: str) -> IsolatedService:
            directory = tmp_path / f"isolated-{secrets.token_hex(3)}"
            directory.mkdir()
            settings, env = stack.enter_context(
                isolated_stack(database_url, service_env, directory, **extra_env)
            )
            client = stack.enter_context(TestClient(create_app(settings)))
            return IsolatedService(settings, env, register(client))

        yield make
