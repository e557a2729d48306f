"""Who may scrape `/metrics`, and what a scrape costs the store.

With METRICS_TOKEN set a scrape must carry it; the store's aggregate queries run at most
once per METRICS_CACHE_SECONDS across every API process sharing Redis.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.api.apps import app_with

pytestmark = pytest.mark.usefixtures("settings")

# The first of the store queries a scrape makes (runs by status and source type).
AGGREGATE = "GROUP BY sync_runs.status, sync_runs.data_source_type"


@contextmanager
def aggregate_queries() -> Iterator[list[str]]:
    """Every run-history aggregate any engine in this process executes meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if AGGREGATE in statement:
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def test_with_a_metrics_token_a_scrape_without_it_is_refused_in_the_error_envelope(
    service_env: dict[str, str],
) -> None:
    token = secrets.token_urlsafe(24)
    with app_with(service_env, METRICS_TOKEN=token) as client:
        missing = client.get("/metrics")
        wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        right = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})

    for refused in (missing, wrong):
        assert refused.status_code == 401
        body = refused.json()
        assert body["success"] is False
        assert "METRICS_TOKEN" in body["message"]
        assert token not in refused.text
    assert right.status_code == 200
    assert "datasync_sync_runs_active" in right.text or "datasync_queue_depth" in right.text


def test_scrapes_of_two_replicas_run_the_store_aggregates_once_per_interval(
    service_env: dict[str, str],
) -> None:
    shared = {"QUEUE_NAME": f"datasync-test:{secrets.token_hex(6)}", "METRICS_CACHE_SECONDS": "2"}
    with (
        app_with(service_env, **shared) as first,
        app_with(service_env, **shared) as second,
        aggregate_queries() as queries,
    ):
        texts = [replica.get("/metrics").text for _ in range(25) for replica in (first, second)]
        assert len(queries) == 1, f"{len(queries)} aggregate queries for 50 scrapes"
        assert len({t.split("# HELP datasync_queue_depth")[0] for t in texts}) == 1

        time.sleep(2.1)
        second.get("/metrics")
        first.get("/metrics")
        assert len(queries) == 2, "an expired rendering is refreshed once"


def test_without_a_cache_every_scrape_reads_the_store(service_env: dict[str, str]) -> None:
    with app_with(service_env, METRICS_CACHE_SECONDS="0") as client, aggregate_queries() as queries:
        for _ in range(3):
            assert client.get("/metrics").status_code == 200
    assert len(queries) == 3
