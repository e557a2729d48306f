"""The API rate limiter against a real Redis: each caller gets exactly its budget per window,
the headers say how much is left and when the window ends, and two apps on one Redis (as two
API processes would) spend one budget even when their requests interleave."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import Any, cast

import httpx
import pytest
import redis
from litestar import Litestar, Request, get
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.testing import TestClient
from redis.asyncio import Redis as AsyncRedis

from app.error_responses import EXCEPTION_HANDLERS
from app.rate_limit import RedisRateLimitMiddleware

LIMIT = 5


@get("/metered", sync_to_thread=False)
def metered() -> str:
    return "ok"


@get("/health", sync_to_thread=False)
def health() -> str:
    return "ok"


def _caller(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("x-caller", "nobody")


def _limited_app(redis_url: str, namespace: str, limit: int = LIMIT) -> Litestar:
    """A bare app with the API's limiter (headers, exclusions, error envelope as in app.main)."""
    client = AsyncRedis.from_url(redis_url)
    config = RateLimitConfig(
        rate_limit=("minute", limit),
        identifier_for_request=_caller,
        exclude=["^/health$"],
        rate_limit_limit_header_key="X-RateLimit-Limit",
        rate_limit_remaining_header_key="X-RateLimit-Remaining",
        rate_limit_reset_header_key="X-RateLimit-Reset",
        rate_limit_policy_header_key="X-RateLimit-Policy",
    )
    return Litestar(
        route_handlers=[metered, health],
        middleware=[
            DefineMiddleware(
                RedisRateLimitMiddleware, config=config, redis=client, namespace=namespace
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        on_shutdown=[client.aclose],
    )


@pytest.fixture
def namespace() -> str:
    return f"datasync-test:rate-limit:{secrets.token_hex(6)}"


@pytest.fixture
def store(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as client:
        yield client


@contextmanager
def _api(redis_url: str, namespace: str) -> Iterator[TestClient[Litestar]]:
    with TestClient(_limited_app(redis_url, namespace)) as client:
        yield client


def _window_key(store: redis.Redis, namespace: str, caller: str) -> bytes:
    (key,) = store.scan_iter(f"{namespace}:*{caller}")
    return cast(bytes, key)


def _seconds_left(store: redis.Redis, key: bytes) -> float:
    return cast(int, store.pttl(key)) / 1000


def _spend(api: TestClient[Litestar], caller: str, count: int) -> list[httpx.Response]:
    return [api.get("/metered", headers={"X-Caller": caller}) for _ in range(count)]


def test_exactly_the_budget_is_granted_then_429_while_remaining_counts_down(
    redis_url: str, namespace: str
) -> None:
    with _api(redis_url, namespace) as api:
        answers = _spend(api, "alice", LIMIT + 2)

    assert [a.status_code for a in answers] == [200] * LIMIT + [429, 429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == [
        "4", "3", "2", "1", "0", "0", "0"
    ]  # fmt: skip
    assert {a.headers["x-ratelimit-limit"] for a in answers} == {str(LIMIT)}
    assert {a.headers["x-ratelimit-policy"] for a in answers} == {f"{LIMIT}; w=60"}
    assert all(1 <= int(a.headers["x-ratelimit-reset"]) <= 60 for a in answers)
    refused = answers[-1].json()
    assert refused["success"] is False and refused["error"] == "Rate limit exceeded"


def test_reset_and_retry_after_are_the_time_the_window_has_left(
    redis_url: str, namespace: str, store: redis.Redis
) -> None:
    with _api(redis_url, namespace) as api:
        _spend(api, "alice", LIMIT - 1)
        key = _window_key(store, namespace, "alice")
        store.pexpire(key, 30_500)  # as if the window had opened 29.5 s ago

        last_granted, refused = _spend(api, "alice", 2)
        left_after = _seconds_left(store, key)

    # Rounded up, so that a client waiting that long finds the window over.
    assert last_granted.status_code == 200
    assert left_after <= int(last_granted.headers["x-ratelimit-reset"]) <= 31
    assert refused.status_code == 429
    assert left_after <= int(refused.headers["retry-after"]) <= 31
    assert refused.headers["retry-after"] == refused.headers["x-ratelimit-reset"]


def test_a_fresh_budget_once_the_window_has_ended(
    redis_url: str, namespace: str, store: redis.Redis
) -> None:
    with _api(redis_url, namespace) as api:
        assert [a.status_code for a in _spend(api, "alice", LIMIT + 1)][-1] == 429
        key = _window_key(store, namespace, "alice")
        store.pexpire(key, 1)  # the minute is up
        while store.exists(key):
            pass

        (answer,) = _spend(api, "alice", 1)

    assert answer.status_code == 200
    assert answer.headers["x-ratelimit-remaining"] == str(LIMIT - 1)
    assert _seconds_left(store, key) <= 60 and int(answer.headers["x-ratelimit-reset"]) <= 60


def test_each_caller_has_a_budget_of_its_own(redis_url: str, namespace: str) -> None:
    with _api(redis_url, namespace) as api:
        spent = _spend(api, "alice", LIMIT + 1)
        other = _spend(api, "bob", 1)

    assert spent[-1].status_code == 429
    assert other[0].status_code == 200
    assert other[0].headers["x-ratelimit-remaining"] == str(LIMIT - 1)


def test_unmetered_paths_spend_nothing_and_carry_no_rate_limit_headers(
    redis_url: str, namespace: str
) -> None:
    with _api(redis_url, namespace) as api:
        health = [api.get("/health", headers={"X-Caller": "alice"}) for _ in range(LIMIT + 1)]
        (metered_answer,) = _spend(api, "alice", 1)

    assert [a.status_code for a in health] == [200] * (LIMIT + 1)
    assert not any("x-ratelimit-remaining" in a.headers for a in health)
    assert metered_answer.headers["x-ratelimit-remaining"] == str(LIMIT - 1)


def test_two_apps_on_one_redis_spend_one_budget_under_interleaved_requests(
    redis_url: str, namespace: str
) -> None:
    """Two app instances stand for two API processes: each has its own middleware (and
    Litestar's per-process lock), and their requests interleave on one event loop."""
    apps = [_limited_app(redis_url, namespace, limit=20) for _ in range(2)]

    async def burst() -> list[httpx.Response]:
        async with AsyncExitStack() as stack:
            clients = []
            for app in apps:
                await stack.enter_async_context(app.lifespan())
                # httpx types the ASGI app loosely; Litestar's signature is the precise one.
                transport = httpx.ASGITransport(app=cast(Any, app))
                clients.append(
                    await stack.enter_async_context(
                        httpx.AsyncClient(transport=transport, base_url="http://api")
                    )
                )
            return await asyncio.gather(
                *(clients[n % 2].get("/metered", headers={"X-Caller": "alice"}) for n in range(60))
            )

    answers = asyncio.run(burst())

    assert Counter(a.status_code for a in answers) == {200: 20, 429: 40}
    granted = [int(a.headers["x-ratelimit-remaining"]) for a in answers if a.status_code == 200]
    assert sorted(granted) == list(range(20))
