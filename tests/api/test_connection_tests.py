"""`POST /api/data-sources/{id}/test` has a hard deadline and leaves nothing behind.

The test runs in a child process (app/sources/probe.py) that is killed at
CONNECTION_TEST_TIMEOUT_SECONDS: a driver blocked in C on a host that never answers cannot
keep a thread or a socket of the API process after the API has answered.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.api.apps import app_with
from tests.conftest import register

DEADLINE_SECONDS = 2

T = TypeVar("T")

# `settings` migrates the suite's store, which `app_with` uses.
pytestmark = pytest.mark.usefixtures("settings")


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port whose connections complete in the kernel's backlog and are never answered."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def _sockets_to(port: int) -> int:
    """This process's TCP sockets connected to `port` on 127.0.0.1: the connection tests'
    (the app's own pooled connections to its store and Redis come and go with load)."""
    mine = set()
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # closed while listing
            link = os.readlink(fd)
            if link.startswith("socket:["):
                mine.add(link[len("socket:[") : -1])
    remote = f"0100007F:{port:04X}"  # /proc/net/tcp's little-endian 127.0.0.1 and hex port
    count = 0
    for line in Path("/proc/self/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        count += fields[2] == remote and fields[9] in mine
    return count


def _settled(count: Callable[[], T], expected: T, within: float = 10.0) -> T:
    """`count()` once it equals `expected`, or its last value after `within` seconds."""
    deadline = time.monotonic() + within
    while (value := count()) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def _threads_of_our_own() -> int:
    """Threads, but for the event loop's default executor: that pool (at most
    min(32, cpus + 4) threads) adds a worker whenever a call finds none idle, such as the DNS
    lookup of a new Redis or database connection, so its size says nothing about what the
    tests left. A connection test stuck in it would still hold its socket to the silent host
    or its child process, which are counted."""
    return sum(not t.name.startswith("asyncio_") for t in threading.enumerate())


def _child_processes() -> list[str]:
    me = str(os.getpid())
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            children.append(stat.parent.name)
    return children


def _ten_at_once(call: Callable[[], httpx.Response]) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=10) as pool:
        return list(pool.map(lambda _: call(), range(10)))


def test_connection_tests_against_a_silent_host_end_at_the_deadline_and_leave_nothing_behind(
    service_env: dict[str, str], silent_listener: int
) -> None:
    with app_with(service_env, CONNECTION_TEST_TIMEOUT_SECONDS=str(DEADLINE_SECONDS)) as client:
        user = register(client)
        source = user.ok(
            "POST",
            "/api/data-sources",
            json={
                "name": "never answers",
                "type": "sql-server",
                "credentials": {
                    "server": "127.0.0.1",
                    "port": silent_listener,
                    "username": "reader",
                    "password": "not-a-real-password",
                },
                # The driver would wait a minute for the login: the deadline must cut it.
                "settings": {"loginTimeoutSeconds": 60, "driver": "FreeTDS"},
            },
        )["dataSource"]["id"]
        # A first round grows the app's own thread pools to their size for ten tests at once,
        # so the threads that remain after the second are what the tests left.
        _ten_at_once(lambda: user.post(f"/api/data-sources/{source}/test"))
        threads_before = _threads_of_our_own()
        children_before = _child_processes()

        started = time.monotonic()
        answers = _ten_at_once(lambda: user.post(f"/api/data-sources/{source}/test"))
        elapsed = time.monotonic() - started

        for answer in answers:
            assert answer.status_code == 400, answer.text
            assert answer.json()["message"] == (
                f"The source did not answer within {DEADLINE_SECONDS} s"
            )
        # Ten tests at once, each cut at the deadline (plus the child's start-up).
        assert elapsed < DEADLINE_SECONDS + 15, f"10 concurrent tests took {elapsed:.1f} s"
        # Counted until they settle: on a busy machine a finished helper thread or a closed
        # socket may take a moment to be gone; anything the tests left stays for good. No
        # connection to the silent host, not even from the warm-up round. Fewer threads than
        # before is no leak: idle pool threads end by themselves.
        settled = (0, 0, children_before)
        assert (
            _settled(
                lambda: (
                    max(0, _threads_of_our_own() - threads_before),
                    _sockets_to(silent_listener),
                    _child_processes(),
                ),
                settled,
            )
            == settled
        )


def test_a_connection_test_that_answers_in_time_reports_the_connectors_details(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    table = tmp_path / "table.csv"
    table.write_text("id,name\n1,a\n")
    with app_with(service_env) as client:
        user = register(client)
        source = user.ok(
            "POST",
            "/api/data-sources",
            json={
                "name": "plugin",
                "type": "test-table",
                "credentials": {"token": "t"},
                "settings": {"path": str(table)},
            },
        )["dataSource"]["id"]
        body = user.ok("POST", f"/api/data-sources/{source}/test")

    assert body["message"] == "Connection OK"
    assert body["details"] == {"source": "test-table", "path": str(table)}


def test_a_refused_connection_answers_400_with_the_connectors_reason(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    with app_with(service_env) as client:
        user = register(client)
        source = user.ok(
            "POST",
            "/api/data-sources",
            json={
                "name": "plugin",
                "type": "test-table",
                "credentials": {"token": "revoked"},
                "settings": {"path": str(tmp_path / "table.csv")},
            },
        )["dataSource"]["id"]
        answer = user.post(f"/api/data-sources/{source}/test")

    assert answer.status_code == 400
    assert answer.json()["message"] == "Token expired - re-authentication required"
