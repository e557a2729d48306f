"""Change detection before fetch, end to end: the API, a real worker process and the Sheets
stand-in over HTTP, driven through gspread and google-auth as in production.

An unchanged spreadsheet costs one Drive metadata request and nothing else; a change made
through the stand-in is fetched by the next run; `off`, a due full refresh, a refused
metadata request and a changed selection all fetch as before."""

# The stand-in's pytest fixtures are imported below and then named as test arguments.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from app.db.engine import create_engine
from app.db.models import TargetFile, utcnow
from app.settings import Settings
from tests.conftest import ApiUser
from tests.standins.sheets import ServiceAccountKey
from tests.standins.sheets.control import InThreadStandIn
from tests.standins.sheets.fixtures import (  # noqa: F401  (pytest fixtures)
    service_account_key,
    sheets_standin,
)
from tests.webhooks.receiver import Receiver, start_receiver

pytestmark = pytest.mark.usefixtures("worker")

SHEET_ID = "1ChangeDetection"
DRIVE_FILE = f"GET /drive/v3/files/{SHEET_ID}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()


def sheets_source(user: ApiUser, standin: InThreadStandIn, key: ServiceAccountKey) -> str:
    return user.data_source(
        "google-sheets",
        credentials={"serviceAccountInfo": key.info(standin.token_uri)},
        sheetsBaseUrl=standin.url,
        tokenUri=standin.token_uri,
    )


def sheet_schedule(
    user: ApiUser, standin: InThreadStandIn, key: ServiceAccountKey, **config: Any
) -> tuple[str, str]:
    file_id = user.target_file()
    schedule_id = user.schedule(
        sheets_source(user, standin, key),
        file_id,
        spreadsheetId=SHEET_ID,
        sheetName="Data",
        **config,
    )
    return schedule_id, file_id


def small_sheet(standin: InThreadStandIn, rows: int = 3, seed: int = 0) -> None:
    standin.put_spreadsheet(SHEET_ID, "Orders", {"Data": [["placeholder"]]})
    standin.put_generated_sheet(SHEET_ID, "Data", rows=rows, columns=3, seed=seed)


def sync(user: ApiUser, schedule_id: str) -> dict[str, Any]:
    result: dict[str, Any] = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync?wait=120")[
        "syncResult"
    ]
    assert result["status"] == "success", result
    return result


def history(user: ApiUser, schedule_id: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = user.ok("GET", f"/api/sync/schedules/{schedule_id}/history")[
        "history"
    ]
    return runs


def age_full_fetch(settings: Settings, file_id: str, by: timedelta) -> None:
    """Moves the file's last full fetch back in time, as if `by` had passed."""

    async def move() -> None:
        engine = create_engine(settings)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    update(TargetFile)
                    .where(TargetFile.id == uuid.UUID(file_id))
                    .values(fully_fetched_at=utcnow() - by)
                )
        finally:
            await engine.dispose()

    asyncio.run(move())


def test_an_unchanged_100k_row_sheet_costs_one_drive_request_and_a_change_is_fetched_next(
    user: ApiUser, sheets_standin: InThreadStandIn, service_account_key: ServiceAccountKey
) -> None:
    sheets_standin.put_spreadsheet(SHEET_ID, "Orders", {"Data": [["placeholder"]]})
    sheets_standin.put_generated_sheet(SHEET_ID, "Data", rows=100_000, columns=4)
    schedule_id, file_id = sheet_schedule(user, sheets_standin, service_account_key)
    first = sync(user, schedule_id)
    assert first["rowCount"] == 100_000 and first["fetchSkipped"] is False

    sheets_standin.clear_requests()
    unchanged = sync(user, schedule_id)

    # One request: no token (the worker keeps the one it has), no Sheets call.
    assert sheets_standin.request_counts() == {DRIVE_FILE: 1}
    assert unchanged["fetchSkipped"] is True
    assert unchanged["rowCount"] == 100_000
    assert unchanged["changes"] == {"added": 0, "updated": 0, "deleted": 0}
    assert unchanged["fileVersion"] == first["fileVersion"]

    sheets_standin.put_generated_sheet(SHEET_ID, "Data", rows=100_001, columns=4)
    changed = sync(user, schedule_id)

    assert changed["fetchSkipped"] is False
    assert changed["rowCount"] == 100_001
    assert changed["changes"]["added"] == 1
    content = user.get(f"/api/files/{file_id}/content").text
    assert content.splitlines()[-1] == "r100001c1,r100001c2,r100001c3,r100001c4"
    assert [run["fetchSkipped"] for run in history(user, schedule_id)] == [False, True, False]


def test_an_unchanged_run_is_a_success_without_changes_in_runs_webhooks_and_metrics(
    user: ApiUser,
    sheets_standin: InThreadStandIn,
    service_account_key: ServiceAccountKey,
    receiver: Receiver,
) -> None:
    small_sheet(sheets_standin)
    schedule_id, _ = sheet_schedule(user, sheets_standin, service_account_key)
    sync(user, schedule_id)
    events = ["sync.success", "sync.changed", "sync.failure"]
    user.ok("POST", "/api/webhooks", json={"url": receiver.url, "events": events})

    skipped = sync(user, schedule_id)

    receiver.wait_for(1)
    time.sleep(1)  # a sync.changed would arrive with it: none may
    [delivery] = receiver.received
    assert delivery.event["type"] == "sync.success"
    data = delivery.event["data"]
    assert data["runId"] == skipped["runId"] and data["fetchSkipped"] is True
    assert data["changes"] == {"added": 0, "updated": 0, "deleted": 0}
    assert data["rowCount"] == 3
    runs = user.ok("GET", "/api/sync/runs")["runs"]
    by_id = {run["id"]: run for run in runs}
    assert by_id[skipped["runId"]]["fetchSkipped"] is True
    assert by_id[skipped["runId"]]["changeDetection"] is None
    metrics = user.get("/metrics").text
    assert 'datasync_sync_fetches_skipped_total{source_type="google-sheets"}' in metrics


def test_with_change_detection_off_every_run_fetches_and_asks_drive_nothing(
    user: ApiUser, sheets_standin: InThreadStandIn, service_account_key: ServiceAccountKey
) -> None:
    small_sheet(sheets_standin)
    schedule_id, _ = sheet_schedule(
        user, sheets_standin, service_account_key, changeDetection="off"
    )
    sync(user, schedule_id)
    sheets_standin.clear_requests()

    again = sync(user, schedule_id)

    assert again["fetchSkipped"] is False
    assert DRIVE_FILE not in sheets_standin.request_counts()


def test_a_full_fetch_is_made_once_full_refresh_hours_have_passed(
    user: ApiUser,
    sheets_standin: InThreadStandIn,
    service_account_key: ServiceAccountKey,
    settings: Settings,
) -> None:
    small_sheet(sheets_standin)
    schedule_id, file_id = sheet_schedule(
        user, sheets_standin, service_account_key, fullRefreshHours=6
    )
    sync(user, schedule_id)
    assert sync(user, schedule_id)["fetchSkipped"] is True

    age_full_fetch(settings, file_id, timedelta(hours=6, minutes=1))
    refreshed = sync(user, schedule_id)
    after = sync(user, schedule_id)

    assert refreshed["fetchSkipped"] is False
    assert after["fetchSkipped"] is True  # the refresh counts as the new full fetch


def test_a_refused_metadata_request_fetches_and_the_run_says_why_detection_was_skipped(
    user: ApiUser, sheets_standin: InThreadStandIn, service_account_key: ServiceAccountKey
) -> None:
    small_sheet(sheets_standin)
    sheets_standin.refuse_drive_metadata()
    schedule_id, _ = sheet_schedule(user, sheets_standin, service_account_key)

    first = sync(user, schedule_id)
    second = sync(user, schedule_id)

    assert first["fetchSkipped"] is False and second["fetchSkipped"] is False
    note = "skipped: the service account lacks drive.metadata.readonly"
    assert [
        (run["status"], run["changeDetection"], run["error"]) for run in history(user, schedule_id)
    ] == [
        ("success", note, None),
        ("success", note, None),
    ]


def test_a_changed_selection_is_fetched_even_though_the_sheet_is_unchanged(
    user: ApiUser, sheets_standin: InThreadStandIn, service_account_key: ServiceAccountKey
) -> None:
    small_sheet(sheets_standin, rows=5)
    schedule_id, _ = sheet_schedule(user, sheets_standin, service_account_key)
    sync(user, schedule_id)
    assert sync(user, schedule_id)["fetchSkipped"] is True

    user.ok("PUT", f"/api/sync/schedules/{schedule_id}", json={"config": {"range": "A1:B6"}})
    narrowed = sync(user, schedule_id)

    assert narrowed["fetchSkipped"] is False
    assert (narrowed["rowCount"], narrowed["columnCount"]) == (5, 2)
    assert sync(user, schedule_id)["fetchSkipped"] is True


def test_the_api_refuses_change_detection_options_out_of_bounds(
    user: ApiUser, sheets_standin: InThreadStandIn, service_account_key: ServiceAccountKey
) -> None:
    source_id = sheets_source(user, sheets_standin, service_account_key)
    response = user.post(
        "/api/sync/schedules",
        json={
            "name": "Bad options",
            "dataSourceId": source_id,
            "targetFileId": user.target_file(),
            "frequency": "hourly",
            "config": {
                "spreadsheetId": SHEET_ID,
                "sheetName": "Data",
                "changeDetection": "sometimes",
                "fullRefreshHours": 0,
            },
        },
    )
    assert response.status_code == 400, response.text
    fields = {d["field"]: d["message"] for d in response.json()["details"]}
    assert "auto, off" in fields["config.changeDetection"]
    assert "from 1 to 720" in fields["config.fullRefreshHours"]
