"""Operators' view: Prometheus metrics that move by the right amounts, JSON logs that never
carry a credential."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import IsolatedService, register, start_process, stop_process
from tests.services import free_port, wait_for_port
from tests.sync.tables import write_table
from tests.webhooks.receiver import start_receiver


def scrape(client: httpx.Client | object) -> dict[str, float]:
    text = client.get("/metrics").text  # type: ignore[attr-defined]
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def delta(before: dict[str, float], after: dict[str, float], name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)


def test_metrics_move_by_the_runs_rows_deliveries_and_requests_made(
    isolated_service: Callable[..., IsolatedService], tmp_path: Path
) -> None:
    iso = isolated_service()
    user = iso.user
    receiver, server = start_receiver()
    worker = start_process(["worker"], iso.env, tmp_path / "worker.log")
    try:
        table = write_table(tmp_path / "t.csv", ["id"], [["1"], ["2"], ["3"]])
        good = user.schedule(user.data_source(), user.target_file(), path=str(table))
        bad = user.schedule(
            user.data_source(credentials={"token": "revoked"}),
            user.target_file("b.csv"),
            path=str(table),
        )
        user.ok("POST", "/api/webhooks", json={"url": receiver.url, "events": ["sync.success"]})
        before = scrape(user.client)

        user.ok("POST", f"/api/sync/schedules/{good}/sync")
        user.ok("POST", f"/api/sync/schedules/{good}/sync")
        assert user.post(f"/api/sync/schedules/{bad}/sync").status_code == 500
        receiver.wait_for(2)
        time.sleep(0.5)
        after = scrape(user.client)
    finally:
        stop_process(worker)
        server.shutdown()

    source = 'source_type="test-table"'
    assert delta(before, after, f'datasync_sync_runs_total{{{source},status="success"}}') == 2
    assert delta(before, after, f'datasync_sync_runs_total{{{source},status="error"}}') == 1
    assert delta(before, after, f"datasync_rows_synced_total{{{source}}}") == 6
    assert delta(before, after, f"datasync_sync_run_duration_seconds_count{{{source}}}") == 3
    assert delta(before, after, 'datasync_webhook_deliveries_total{outcome="success"}') == 2
    route = 'route="/api/sync/schedules/{schedule_id}/sync"'
    assert (
        delta(before, after, f'datasync_http_requests_total{{method="POST",{route},status="200"}}')
        == 2
    )
    assert (
        delta(before, after, f'datasync_http_requests_total{{method="POST",{route},status="500"}}')
        == 1
    )
    assert after["datasync_queue_depth"] >= 0


def test_scheduler_lag_is_the_wait_of_the_due_slot_until_a_worker_claims_it(
    isolated_service: Callable[..., IsolatedService], tmp_path: Path
) -> None:
    import asyncio
    import uuid
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from app.db.engine import create_engine, session_factory
    from app.db.models import Schedule

    iso = isolated_service()
    table = write_table(tmp_path / "t.csv", ["id"], [["1"]])
    schedule_id = iso.user.schedule(
        iso.user.data_source(), iso.user.target_file(), "daily", path=str(table)
    )

    async def make_due() -> None:
        engine = create_engine(iso.settings)
        async with session_factory(engine)() as db:
            slot = datetime.now(UTC) - timedelta(seconds=20)
            await db.execute(
                update(Schedule)
                .where(Schedule.id == uuid.UUID(schedule_id))
                .values(next_sync_at=slot)
            )
            await db.commit()
        await engine.dispose()

    asyncio.run(make_due())
    waiting = scrape(iso.user.client)
    assert waiting["datasync_scheduler_lag_seconds"] >= 20
    assert waiting["datasync_schedules_overdue_seconds"] >= 20
    assert waiting["datasync_scheduler_lag_max_seconds"] == 0  # no scheduled run yet
    worker = start_process(["worker"], iso.env, tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 20
        while (
            time.monotonic() < deadline
            and scrape(iso.user.client)["datasync_scheduler_lag_max_seconds"] == 0
        ):
            time.sleep(0.2)
    finally:
        stop_process(worker)
    claimed = scrape(iso.user.client)
    # Caught up: nothing due waits any more; the history keeps how late the run was created.
    assert claimed["datasync_scheduler_lag_seconds"] == 0
    assert claimed["datasync_schedules_overdue_seconds"] == 0
    assert 20 <= claimed["datasync_scheduler_lag_max_seconds"] < 40


PASSWORD = "Fake-But-Unmistakable-P4ssword!"


def test_logs_are_json_lines_with_ids_and_never_contain_a_password(
    isolated_service: Callable[..., IsolatedService], tmp_path: Path
) -> None:
    iso = isolated_service(LOG_LEVEL="DEBUG")
    port = free_port()
    api = start_process(["serve"], {**iso.env, "PORT": str(port)}, tmp_path / "api.log")
    worker = start_process(["worker"], iso.env, tmp_path / "worker.log")
    try:
        wait_for_port(port, timeout=60)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            user = register(client)
            credentials = {
                "server": "127.0.0.1",
                "port": free_port(),
                "username": "reader",
                "password": PASSWORD,
            }
            source = user.ok(
                "POST",
                "/api/data-sources",
                json={
                    "name": "db",
                    "type": "sql-server",
                    "credentials": credentials,
                    "settings": {"loginTimeoutSeconds": 1},
                },
            )["dataSource"]["id"]
            tested = user.post(f"/api/data-sources/{source}/test")
            schedule = user.ok(
                "POST",
                "/api/sync/schedules",
                json={
                    "name": "Orders",
                    "dataSourceId": source,
                    "targetFileId": user.target_file(),
                    "frequency": "daily",
                    "config": {"databaseName": "SalesDB", "query": "SELECT 1 AS one"},
                },
            )["schedule"]["id"]
            failed = user.post(f"/api/sync/schedules/{schedule}/sync")
            history = user.get(f"/api/sync/schedules/{schedule}/history")
            responses = [tested, failed, history]
    finally:
        stop_process(worker)
        stop_process(api)

    assert tested.status_code == 400 and failed.status_code == 500
    assert all(PASSWORD not in r.text for r in responses)
    for log in ("api.log", "worker.log"):
        text = (tmp_path / log).read_text()
        assert PASSWORD not in text, log
        lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        assert lines and all({"timestamp", "level", "event"} <= set(line) for line in lines)
    access = [
        json.loads(line)
        for line in (tmp_path / "api.log").read_text().splitlines()
        if '"datasync.access"' in line
    ]
    assert any(re.fullmatch(r"[0-9a-f-]{36}", line.get("request_id", "")) for line in access)
    run_lines = [
        json.loads(line)
        for line in (tmp_path / "worker.log").read_text().splitlines()
        if '"run_id"' in line
    ]
    assert any(line.get("schedule_id") == schedule for line in run_lines)


TOKEN = "Unmistakable-Source-Token-7f3c"


def test_log_level_warning_keeps_failed_runs_and_drops_info_lines_without_credentials(
    isolated_service: Callable[..., IsolatedService], tmp_path: Path
) -> None:
    iso = isolated_service(LOG_LEVEL="WARNING")
    user = iso.user
    table = write_table(tmp_path / "t.csv", ["id"], [["1"]])
    source = user.data_source(credentials={"token": TOKEN})
    succeeding = user.schedule(source, user.target_file(), path=str(table))
    failing = user.schedule(
        source, user.target_file("b.csv"), path=str(table), failTimes=1, failKind="auth"
    )
    worker = start_process(["worker"], iso.env, tmp_path / "worker.log")
    try:
        user.ok("POST", f"/api/sync/schedules/{succeeding}/sync")
        failed = user.post(f"/api/sync/schedules/{failing}/sync")
    finally:
        stop_process(worker)

    assert failed.status_code == 500
    text = (tmp_path / "worker.log").read_text()
    assert TOKEN not in text
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    warnings = [line for line in lines if line["event"] == "sync failed"]
    assert [(w["level"], w["run_id"]) for w in warnings] == [("warning", failed.json()["runId"])]
    # The successful run logs "sync succeeded" at INFO: below the level, so absent.
    assert {line["level"] for line in lines} <= {"warning", "error", "critical"}, lines
