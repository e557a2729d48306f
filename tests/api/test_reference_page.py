"""The reference page (`shared/reference/data-sync-api-schedules.txt`), example by example.

Request bodies are the page's text, verbatim; only the placeholder ids
("google-sheets-uuid", "csv-file-uuid"…) are replaced by real ones. Responses are checked
for every field, status code and message the page shows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.api.real_sources import create_source
from tests.conftest import ApiUser
from tests.sync.tables import write_table

UTC_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
UTC_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")

GOOGLE_SHEETS_BODY = """{
"name": "Sales Data Hourly Sync",
"dataSourceId": "google-sheets-uuid",
"frequency": "hourly",
"targetFileId": "csv-file-uuid",
"enabled": true,
"config": {
"spreadsheetId": "1ABC-DEF",
"sheetName": "Sales Data",
"range": "A1:L1000"
}
}"""

EXCEL_BODY = """{
"name": "Customer Database Daily Sync",
"dataSourceId": "microsoft-excel-uuid",
"frequency": "daily",
"targetFileId": "csv-file-uuid",
"enabled": true,
"config": {
"workbookId": "01AZJL5P...",
"worksheetName": "Customers",
"syncTime": "06:00"
}
}"""

SQL_SERVER_BODY = """{
"name": "Orders Weekly Sync",
"dataSourceId": "sql-server-uuid",
"frequency": "weekly",
"targetFileId": "csv-file-uuid",
"enabled": true,
"config": {
"databaseName": "SalesDB",
"query": "SELECT * FROM dbo.Orders WHERE OrderDate >= DATEADD(day, -7, GETDATE())",
"dayOfWeek": "monday",
"syncTime": "08:00"
}
}"""

UPDATE_BODY = """{
"name": "Updated Schedule Name",
"frequency": "daily",
"enabled": true,
"config": {
"syncTime": "09:00"
}
}"""

# The JavaScript example's body (createHourlySync): no config at all.
HOURLY_SYNC_BODY = {
    "name": "Hourly Data Sync",
    "dataSourceId": "data-source-uuid",
    "targetFileId": "csv-file-uuid",
    "frequency": "hourly",
    "enabled": True,
}

CREATE_FIELDS = {
    "id",
    "name",
    "dataSourceId",
    "dataSourceType",
    "targetFileId",
    "frequency",
    "enabled",
    "config",
    "nextSyncAt",
    "createdAt",
}
LIST_FIELDS = {
    "id",
    "name",
    "dataSourceType",
    "frequency",
    "enabled",
    "lastSyncAt",
    "nextSyncAt",
    "lastSyncStatus",
    "lastSyncRowCount",
}
DETAIL_FIELDS = CREATE_FIELDS | {
    "dataSourceName",
    "targetFileName",
    "lastSyncAt",
    "lastSyncStatus",
    "lastSyncRowCount",
    "lastSyncDuration",
    "updatedAt",
}
UPDATE_FIELDS = {"id", "name", "frequency", "enabled", "nextSyncAt"}


def next_top_of_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def next_daily(hour: int) -> Callable[[datetime], datetime]:
    def slot(moment: datetime) -> datetime:
        candidate = moment.replace(hour=hour, minute=0, second=0, microsecond=0)
        return candidate if candidate > moment else candidate + timedelta(days=1)

    return slot


def next_monday_at(hour: int) -> Callable[[datetime], datetime]:
    def slot(moment: datetime) -> datetime:
        candidate = moment.replace(hour=hour, minute=0, second=0, microsecond=0) - timedelta(
            days=moment.weekday()
        )
        while candidate <= moment:
            candidate += timedelta(days=7)
        return candidate

    return slot


def page_body(text: str, **ids: str) -> dict[str, Any]:
    """The page's JSON with its placeholder ids replaced."""
    for placeholder, real in ids.items():
        text = text.replace(f'"{placeholder}"', json.dumps(real))
    body: dict[str, Any] = json.loads(text)
    return body


def posted(
    user: ApiUser, method: str, path: str, body: dict[str, Any]
) -> tuple[dict[str, Any], datetime, datetime]:
    """The response body with the UTC window in which the server computed it."""
    before = datetime.now(UTC)
    response = user.request(method, path, json=body)
    after = datetime.now(UTC)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result, before, after


def assert_slot(
    value: str, rule: Callable[[datetime], datetime], before: datetime, after: datetime
) -> None:
    assert UTC_SECONDS.match(value), value
    assert value in {f"{rule(before):%Y-%m-%dT%H:%M:%SZ}", f"{rule(after):%Y-%m-%dT%H:%M:%SZ}"}


EXAMPLES = [
    pytest.param(
        "google-sheets",
        GOOGLE_SHEETS_BODY,
        "google-sheets-uuid",
        next_top_of_hour,
        id="google-sheets-hourly",
    ),
    pytest.param(
        "microsoft-excel", EXCEL_BODY, "microsoft-excel-uuid", next_daily(6), id="excel-daily"
    ),
    pytest.param(
        "sql-server", SQL_SERVER_BODY, "sql-server-uuid", next_monday_at(8), id="sql-server-weekly"
    ),
]


@pytest.mark.parametrize(("source_type", "text", "placeholder", "slot_rule"), EXAMPLES)
def test_create_example_body_answers_the_pages_response(
    user: ApiUser,
    source_type: str,
    text: str,
    placeholder: str,
    slot_rule: Callable[[datetime], datetime],
) -> None:
    source_id = create_source(user, source_type)
    file_id = user.target_file("sales-data.csv")
    sent = page_body(text, **{placeholder: source_id, "csv-file-uuid": file_id})

    body, before, after = posted(user, "POST", "/api/sync/schedules", sent)

    assert body["success"] is True
    assert body["message"] == "Sync schedule created successfully"
    schedule = body["schedule"]
    assert schedule.keys() >= CREATE_FIELDS
    assert schedule["name"] == sent["name"]
    assert (schedule["dataSourceId"], schedule["dataSourceType"]) == (source_id, source_type)
    assert schedule["targetFileId"] == file_id
    assert (schedule["frequency"], schedule["enabled"]) == (sent["frequency"], True)
    assert schedule["config"] == sent["config"]
    assert_slot(schedule["nextSyncAt"], slot_rule, before, after)
    assert UTC_TIMESTAMP.match(schedule["createdAt"])
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", schedule["id"]
    )


@pytest.fixture
def page_schedules(user: ApiUser) -> dict[str, str]:
    """The page's three example schedules, by source type, sharing one target file."""
    file_id = user.target_file("sales-data.csv")
    ids = {}
    for source_type, text, placeholder, _rule in (p.values for p in EXAMPLES):
        sent = page_body(
            text, **{placeholder: create_source(user, source_type), "csv-file-uuid": file_id}
        )
        ids[source_type] = user.ok("POST", "/api/sync/schedules", json=sent)["schedule"]["id"]
    return ids


def test_list_answers_every_schedule_with_the_pages_fields_and_total_count(
    user: ApiUser, page_schedules: dict[str, str]
) -> None:
    user.ok("PUT", f"/api/sync/schedules/{page_schedules['sql-server']}", json={"enabled": False})

    body = user.ok("GET", "/api/sync/schedules")

    assert body["success"] is True
    assert body["totalCount"] == 3
    by_id = {s["id"]: s for s in body["schedules"]}
    assert set(by_id) == set(page_schedules.values())
    for source_type, schedule_id in page_schedules.items():
        entry = by_id[schedule_id]
        assert entry.keys() >= LIST_FIELDS
        assert entry["dataSourceType"] == source_type
        assert (entry["lastSyncAt"], entry["lastSyncStatus"], entry["lastSyncRowCount"]) == (
            None,
            None,
            None,
        )
    weekly = by_id[page_schedules["sql-server"]]
    assert (weekly["name"], weekly["frequency"], weekly["enabled"], weekly["nextSyncAt"]) == (
        "Orders Weekly Sync",
        "weekly",
        False,
        None,
    )
    assert UTC_SECONDS.match(by_id[page_schedules["google-sheets"]]["nextSyncAt"])


def test_get_answers_the_pages_details_with_source_and_file_names(
    user: ApiUser, page_schedules: dict[str, str]
) -> None:
    body = user.ok("GET", f"/api/sync/schedules/{page_schedules['google-sheets']}")

    assert body["success"] is True
    schedule = body["schedule"]
    assert schedule.keys() >= DETAIL_FIELDS
    assert schedule["name"] == "Sales Data Hourly Sync"
    assert schedule["dataSourceType"] == "google-sheets"
    assert schedule["dataSourceName"] == "Sales Tracking Spreadsheet"
    assert schedule["targetFileName"] == "sales-data.csv"
    assert schedule["config"] == {
        "spreadsheetId": "1ABC-DEF",
        "sheetName": "Sales Data",
        "range": "A1:L1000",
    }
    assert (schedule["lastSyncAt"], schedule["lastSyncStatus"], schedule["lastSyncDuration"]) == (
        None,
        None,
        None,
    )
    assert UTC_TIMESTAMP.match(schedule["updatedAt"])


def test_update_example_body_renames_switches_to_daily_and_recomputes_next_sync(
    user: ApiUser, page_schedules: dict[str, str]
) -> None:
    schedule_id = page_schedules["google-sheets"]

    body, before, after = posted(
        user, "PUT", f"/api/sync/schedules/{schedule_id}", page_body(UPDATE_BODY)
    )

    assert body["success"] is True
    assert body["message"] == "Sync schedule updated successfully"
    schedule = body["schedule"]
    assert schedule.keys() >= UPDATE_FIELDS
    assert (schedule["id"], schedule["name"], schedule["frequency"], schedule["enabled"]) == (
        schedule_id,
        "Updated Schedule Name",
        "daily",
        True,
    )
    assert_slot(schedule["nextSyncAt"], next_daily(9), before, after)
    # Partial update: the selection the page did not resend is kept.
    assert schedule["config"] == {
        "spreadsheetId": "1ABC-DEF",
        "sheetName": "Sales Data",
        "range": "A1:L1000",
        "syncTime": "09:00",
    }


def test_delete_answers_the_pages_message_and_keeps_the_target_file(
    user: ApiUser, page_schedules: dict[str, str]
) -> None:
    schedule_id = page_schedules["microsoft-excel"]
    file_id = user.ok("GET", f"/api/sync/schedules/{schedule_id}")["schedule"]["targetFileId"]

    body = user.ok("DELETE", f"/api/sync/schedules/{schedule_id}")

    assert body == {"success": True, "message": "Sync schedule deleted successfully"}
    gone = user.get(f"/api/sync/schedules/{schedule_id}")
    assert gone.status_code == 404
    assert gone.json()["success"] is False
    assert user.ok("GET", f"/api/files/{file_id}")["file"]["name"] == "sales-data.csv"
    assert user.ok("GET", "/api/sync/schedules")["totalCount"] == 2


def test_history_of_a_schedule_that_never_ran_has_the_pages_envelope(
    user: ApiUser, page_schedules: dict[str, str]
) -> None:
    body = user.ok("GET", f"/api/sync/schedules/{page_schedules['sql-server']}/history")

    assert body == {
        "success": True,
        "history": [],
        "totalCount": 0,
        "pagination": {"limit": 50, "offset": 0, "hasMore": False},
    }


@pytest.mark.usefixtures("worker")
def test_history_lists_a_success_and_an_error_run_newest_first_as_the_page_shows(
    user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "sales.csv", ["id", "amount"], [["1", "10"], ["2", "20"]])
    source_id = user.data_source()
    schedule_id = user.schedule(source_id, user.target_file(), path=str(table))
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    user.ok("PATCH", f"/api/data-sources/{source_id}", json={"credentials": {"token": "revoked"}})
    failed = user.post(f"/api/sync/schedules/{schedule_id}/sync")
    assert failed.status_code == 500, failed.text
    assert {k: failed.json()[k] for k in ("success", "error", "message")} == {
        "success": False,
        "error": "Sync failed",
        "message": "Token expired - re-authentication required",
    }

    body = user.ok("GET", f"/api/sync/schedules/{schedule_id}/history")

    assert body["totalCount"] == 2
    assert body["pagination"] == {"limit": 50, "offset": 0, "hasMore": False}
    error, success = body["history"]
    assert {
        "id",
        "scheduleId",
        "status",
        "startedAt",
        "completedAt",
        "duration",
        "rowCount",
        "columnCount",
        "changes",
    } <= success.keys()
    assert (
        success["scheduleId"],
        success["status"],
        success["rowCount"],
        success["columnCount"],
    ) == (schedule_id, "success", 2, 2)
    assert success["changes"] == {"added": 2, "updated": 0, "deleted": 0}
    assert re.fullmatch(r"\d+(\.\d+)?s", success["duration"])
    assert UTC_TIMESTAMP.match(success["startedAt"]) and UTC_TIMESTAMP.match(success["completedAt"])
    assert {
        "id",
        "scheduleId",
        "status",
        "startedAt",
        "completedAt",
        "duration",
        "error",
    } <= error.keys()
    assert (error["status"], error["error"]) == (
        "error",
        "Token expired - re-authentication required",
    )


@pytest.mark.parametrize(
    ("frequency_settings", "slot_rule"),
    [
        pytest.param('{"frequency": "hourly"}', next_top_of_hour, id="hourly"),
        pytest.param(
            '{"frequency": "daily", "config": {"syncTime": "06:00"}}', next_daily(6), id="daily"
        ),
        pytest.param(
            '{"frequency": "weekly", "config": {"dayOfWeek": "monday", "syncTime": "08:00"}}',
            next_monday_at(8),
            id="weekly",
        ),
    ],
)
def test_frequency_settings_examples_are_accepted(
    user: ApiUser,
    tmp_path: Path,
    frequency_settings: str,
    slot_rule: Callable[[datetime], datetime],
) -> None:
    """The page's "Configuration Options" fragments, on a source whose settings hold the selection."""
    source_id = user.data_source(path=str(tmp_path / "t.csv"))
    sent = {
        "name": "Fragment",
        "dataSourceId": source_id,
        "targetFileId": user.target_file(),
        **json.loads(frequency_settings),
    }

    body, before, after = posted(user, "POST", "/api/sync/schedules", sent)

    assert body["schedule"]["frequency"] == sent["frequency"]
    assert_slot(body["schedule"]["nextSyncAt"], slot_rule, before, after)


def test_javascript_example_without_config_uses_the_data_sources_default_selection(
    user: ApiUser,
) -> None:
    source_id = create_source(
        user, "google-sheets", spreadsheetId="1ABC-DEF", sheetName="Sales Data"
    )
    file_id = user.target_file()
    sent = {**HOURLY_SYNC_BODY, "dataSourceId": source_id, "targetFileId": file_id}

    body, before, after = posted(user, "POST", "/api/sync/schedules", sent)

    assert body["message"] == "Sync schedule created successfully"
    schedule = body["schedule"]
    assert (schedule["name"], schedule["frequency"], schedule["enabled"]) == (
        "Hourly Data Sync",
        "hourly",
        True,
    )
    assert schedule["config"] == {}
    assert_slot(schedule["nextSyncAt"], next_top_of_hour, before, after)


def test_javascript_example_without_config_names_the_missing_selection_keys(user: ApiUser) -> None:
    sent = {
        **HOURLY_SYNC_BODY,
        "dataSourceId": create_source(user, "google-sheets"),
        "targetFileId": user.target_file(),
    }

    response = user.post("/api/sync/schedules", json=sent)

    assert response.status_code == 400
    body = response.json()
    assert (body["success"], body["error"]) == (False, "Invalid schedule configuration")
    assert {d["field"] for d in body["details"]} == {"config.spreadsheetId", "config.sheetName"}


def test_common_error_codes_table(user: ApiUser) -> None:
    """400 invalid configuration, 401 invalid JWT, 404 schedule not found."""
    bad = user.post("/api/sync/schedules", json={**HOURLY_SYNC_BODY, "frequency": "monthly"})
    unauthorized = user.client.get(
        "/api/sync/schedules", headers={"Authorization": "Bearer not.a.jwt"}
    )
    missing = user.get("/api/sync/schedules/00000000-0000-4000-8000-000000000000")

    assert (bad.status_code, unauthorized.status_code, missing.status_code) == (400, 401, 404)
    assert bad.json()["error"] == "Invalid schedule configuration"
    assert unauthorized.json()["error"] == "Unauthorized"
    assert missing.json()["message"] == "Schedule not found"
