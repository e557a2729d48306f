"""One API key's budget is one budget however many API processes serve it: Litestar's own
limiter counted under a lock that held within one process, and two `web` processes let 753
of one key's 2,000 requests through against a limit of 600 a minute."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import redis
from litestar.testing import TestClient

from tests.conftest import register, start_process, stop_process
from tests.services import free_port, wait_for_port

LIMIT = 20
BURST = 3 * LIMIT


@contextmanager
def _api_processes(env: dict[str, str], logs: Path, count: int) -> Iterator[list[str]]:
    """`count` real `datasync serve` processes on one Redis; their base URLs."""
    ports = [free_port() for _ in range(count)]
    processes = [
        start_process(["serve"], {**env, "PORT": str(port)}, logs / f"api-{port}.log")
        for port in ports
    ]
    try:
        for port in ports:
            try:
                wait_for_port(port, timeout=30)
            except TimeoutError:
                raise AssertionError((logs / f"api-{port}.log").read_text()) from None
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            stop_process(process)


async def _burst(urls: list[str], key: str, total: int) -> list[httpx.Response]:
    """`total` requests at once, spread evenly over the processes."""
    headers = {"Authorization": f"Bearer {key}"}
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, headers=headers, timeout=30)
            )
            for url in urls
        ]
        return await asyncio.gather(
            *(clients[n % len(clients)].get("/api/auth/me") for n in range(total))
        )


def test_one_key_bursting_at_two_api_processes_gets_exactly_its_budget_per_window(
    client: TestClient[Any], service_env: dict[str, str], redis_url: str, tmp_path: Path
) -> None:
    user = register(client)  # through the suite's app: its budget is not the one tested
    key = user.ok("POST", "/api/auth/api-keys", json={"name": "burst"})["apiKey"]["key"]
    # Its first use records `last_used_at`; the burst then only reads the store.
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {key}"}).is_success
    queue = f"datasync-test:{secrets.token_hex(6)}"  # the budgets' namespace, this test's own
    env = {**service_env, "RATE_LIMIT_PER_MINUTE": str(LIMIT), "QUEUE_NAME": queue}

    with _api_processes(env, tmp_path, count=2) as urls:
        answers = asyncio.run(_burst(urls, key, BURST))

    # The window opens at the key's first request and lasts a minute; all requests of the
    # burst were counted in that one window (a second window would have restarted the count).
    with redis.Redis.from_url(redis_url) as store:
        counts = [int(store.get(k) or 0) for k in store.scan_iter(f"datasync:rate-limit:{queue}:*")]
    assert counts == [BURST]
    assert Counter(a.status_code for a in answers) == {200: LIMIT, 429: BURST - LIMIT}
    # Each unit of the budget was handed out once, whichever process served it.
    granted = [int(a.headers["x-ratelimit-remaining"]) for a in answers if a.status_code == 200]
    assert sorted(granted) == list(range(LIMIT))
    for refused in (a for a in answers if a.status_code == 429):
        assert refused.json()["error"] == "Rate limit exceeded"
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
