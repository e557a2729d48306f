"""Google Sheets end to end (issue 5): the API, a real arq worker process and the Sheets
stand-in in a process of its own, each step done the way a user does it over HTTP.

The data source points the product at the stand-in with the documented settings
(`sheetsBaseUrl`, `tokenUri`; 127.0.0.1 is in the test ENDPOINT_ALLOWLIST), and the schedule
is the reference page's first example body, verbatim apart from the ids it refers to.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ApiUser, IsolatedService, start_process, stop_process
from tests.standins.sheets import ServiceAccountKey, StandInProcess, start_standin_process
from tests.standins.sheets.egress import RecordingProxy, recording_proxy
from tests.standins.sheets.fixtures import (
    GOOD_REFRESH_TOKEN,
    OAUTH_CLIENT_ID,
    OAUTH_CLIENT_SECRET,
    REVOKED_REFRESH_TOKEN,
    oauth_credentials,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "google_sheets"
REFERENCE_SHEET = json.loads((FIXTURES / "reference_example.json").read_text())
REFERENCE_CSV = list(
    csv.reader(io.StringIO((FIXTURES / "reference_example.formatted.csv").read_text()))
)
HEADER = REFERENCE_CSV[0]


def reference_schedule_body(data_source_id: str, target_file_id: str) -> dict[str, Any]:
    """The reference page's "Request Body (Google Sheets sync)", verbatim but for its ids."""
    return {
        "name": "Sales Data Hourly Sync",
        "dataSourceId": data_source_id,
        "frequency": "hourly",
        "targetFileId": target_file_id,
        "enabled": True,
        "config": {
            "spreadsheetId": "1ABC-DEF",
            "sheetName": "Sales Data",
            "range": "A1:L1000",
        },
    }


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service_account_key() -> ServiceAccountKey:
    """A key made now, the JSON a user would paste into DataSync."""
    return ServiceAccountKey.generate()


@pytest.fixture(scope="module")
def standin_process() -> Iterator[StandInProcess]:
    process = start_standin_process()
    yield process
    process.stop()


@pytest.fixture
def sheets(
    standin_process: StandInProcess, service_account_key: ServiceAccountKey
) -> StandInProcess:
    """The stand-in, reset: it knows the service account, one OAuth client with a good and a
    revoked refresh token, and holds the reference example spreadsheet `1ABC-DEF`."""
    standin_process.reset()
    standin_process.register_service_account(service_account_key)
    standin_process.register_oauth_client(OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET)
    standin_process.put_refresh_token(GOOD_REFRESH_TOKEN, OAUTH_CLIENT_ID)
    standin_process.put_refresh_token(REVOKED_REFRESH_TOKEN, OAUTH_CLIENT_ID, revoked=True)
    standin_process.put_spreadsheet("1ABC-DEF", REFERENCE_SHEET["title"], REFERENCE_SHEET["sheets"])
    return standin_process


@pytest.fixture(scope="module")
def internet() -> Iterator[RecordingProxy]:
    """Where the service's processes would reach the public Internet: a proxy that records
    each attempt and lets none through (local addresses bypass it)."""
    with recording_proxy() as proxy:
        yield proxy


@pytest.fixture
def service(
    isolated_service: Callable[..., IsolatedService], internet: RecordingProxy
) -> IsolatedService:
    internet.requests.clear()
    return isolated_service(**internet.env())


@pytest.fixture
def worker(service: IsolatedService, tmp_path: Path) -> Iterator[None]:
    """One real worker process for this test's own store and queue."""
    log = tmp_path / "worker.log"
    process = start_process(["worker"], service.env, log)
    yield
    exited_early = process.poll() is not None
    stop_process(process)
    if exited_early:  # the test saw only syncs that never ran; say why
        pytest.fail("the worker exited early:\n" + log.read_text()[-3000:])


# -- helpers -------------------------------------------------------------------------------


def google_source(
    user: ApiUser, sheets: StandInProcess, credentials: dict[str, Any], **settings: Any
) -> str:
    body = user.ok(
        "POST",
        "/api/data-sources",
        json={
            "name": "Sales Tracking Spreadsheet",
            "type": "google-sheets",
            "credentials": credentials,
            "settings": {"sheetsBaseUrl": sheets.url, "tokenUri": sheets.token_uri, **settings},
        },
    )
    assert body["dataSource"]["hasCredentials"] is True
    assert "credentials" not in body["dataSource"]
    return str(body["dataSource"]["id"])


def service_account(key: ServiceAccountKey) -> dict[str, Any]:
    return {"serviceAccountInfo": key.info()}


def reference_schedule(user: ApiUser, source_id: str, file_id: str) -> str:
    body = user.ok("POST", "/api/sync/schedules", json=reference_schedule_body(source_id, file_id))
    assert body["message"] == "Sync schedule created successfully"
    assert body["schedule"]["dataSourceType"] == "google-sheets"
    return str(body["schedule"]["id"])


def sync(user: ApiUser, schedule_id: str) -> dict[str, Any]:
    """A manual sync that must succeed; its `syncResult`."""
    body = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    assert body["message"] == "Manual sync completed successfully"
    result: dict[str, Any] = body["syncResult"]
    assert result["status"] == "success"
    return result


def failed_sync(user: ApiUser, schedule_id: str) -> dict[str, Any]:
    response = user.post(f"/api/sync/schedules/{schedule_id}/sync")
    assert response.status_code == 500, response.text
    body: dict[str, Any] = response.json()
    assert (body["success"], body["error"]) == (False, "Sync failed")
    return body


def csv_rows(user: ApiUser, file_id: str) -> list[list[str]]:
    response = user.get(f"/api/files/{file_id}/content")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def assert_same_cells(actual: list[list[str]], expected: list[list[str]]) -> None:
    """Row by row and cell by cell, so a failure names the first differing cell."""
    for number, (got, want) in enumerate(zip(actual, expected, strict=False), start=1):
        for column, (cell, wanted) in enumerate(zip(got, want, strict=True)):
            assert cell == wanted, (
                f"row {number}, column {HEADER[column]!r}: {cell!r} != {wanted!r}"
            )
    assert len(actual) == len(expected)


def cell(value: float, formatted: str, kind: str = "NUMBER") -> dict[str, Any]:
    return {"value": value, "formatted": formatted, "type": kind}


def order_row(order_id: str, units: int, notes: str) -> tuple[list[Any], list[str]]:
    """A new order as the sheet holds it and as the CSV must show it."""
    total = units * 4.5
    sheet = [
        order_id, cell(46053, "01/31/2026", "DATE"), "West", "Ann Lee", "Widget", "00042",
        cell(units, str(units)), cell(4.5, "$4.50", "CURRENCY"), cell(0, "0%", "PERCENT"),
        cell(total, f"${total:,.2f}", "CURRENCY"), True, notes,
    ]  # fmt: skip
    shown = [
        order_id, "01/31/2026", "West", "Ann Lee", "Widget", "00042", str(units), "$4.50", "0%",
        f"${total:,.2f}", "TRUE", notes,
    ]  # fmt: skip
    return sheet, shown


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- the reference page's example ----------------------------------------------------------


def test_reference_example_syncs_every_cell_then_sheet_edits_give_exact_change_counts(
    service: IsolatedService,
    worker: None,
    sheets: StandInProcess,
    service_account_key: ServiceAccountKey,
    internet: RecordingProxy,
) -> None:
    user = service.user
    file_id = user.target_file("sales-data.csv")
    schedule_id = reference_schedule(
        user, google_source(user, sheets, service_account(service_account_key)), file_id
    )

    result = sync(user, schedule_id)

    assert result["scheduleId"] == schedule_id
    assert (result["rowCount"], result["columnCount"]) == (150, 12)
    assert result["changes"] == {"added": 150, "updated": 0, "deleted": 0}
    assert result["fileVersion"] == 1
    assert_same_cells(csv_rows(user, file_id), REFERENCE_CSV)
    schedule = user.ok("GET", f"/api/sync/schedules/{schedule_id}")["schedule"]
    assert (schedule["lastSyncStatus"], schedule["lastSyncRowCount"]) == ("success", 150)
    assert schedule["dataSourceName"] == "Sales Tracking Spreadsheet"
    # The worker signed in at the configured token endpoint and read within A1:L1000.
    seen = [(r["method"], r["path"], r["status"]) for r in sheets.requests()]
    assert seen[0] == ("POST", "/token", 200)
    reads = [path for _, path, status in seen if "/values/" in path and status == 200]
    assert reads and all(
        path.startswith("/v4/spreadsheets/1ABC-DEF/values/'Sales Data'!A") for path in reads
    )
    # ...and sent the token nowhere else: not even google-auth's background lookup at
    # iamcredentials.googleapis.com reached for the public Internet.
    assert internet.requests == []

    # The user keys the schedule on "Order ID" and edits the sheet.
    user.ok(
        "PUT", f"/api/sync/schedules/{schedule_id}", json={"config": {"primaryKey": "Order ID"}}
    )
    rows = copy.deepcopy(REFERENCE_SHEET["sheets"][0]["rows"])
    expected = copy.deepcopy(REFERENCE_CSV)
    # Two orders edited: SO-10003 gets 20 units, SO-10010 a note (a cell that was empty)
    # that a spreadsheet program would run as a formula: files from spreadsheets escape it.
    rows[4][6], expected[4][6] = cell(20, "20"), "20"
    rows[11] = rows[11] + [""] * (12 - len(rows[11]))
    note = '=HYPERLINK("http://evil.example","left at door")'
    rows[11][11], expected[11][11] = note, "'" + note
    # Three deleted (SO-10020..SO-10022), four appended (SO-20000..SO-20003), then sorted
    # newest first, as a user sorting the sheet would: a reorder alone is no change.
    del rows[21:24], expected[21:24]
    for n in range(4):
        sheet_row, shown = order_row(f"SO-2000{n}", n + 1, f"new {n}")
        rows.append(sheet_row)
        expected.append(shown)
    rows[1:] = rows[:0:-1]
    expected[1:] = expected[:0:-1]
    sheets.put_sheet("1ABC-DEF", "Sales Data", rows)

    result = sync(user, schedule_id)

    assert result["changes"] == {"added": 4, "updated": 2, "deleted": 3}
    assert (result["rowCount"], result["fileVersion"]) == (151, 2)
    assert_same_cells(csv_rows(user, file_id), expected)
    changes = list(
        csv.reader(io.StringIO(user.get(f"/api/sync/runs/{result['runId']}/changes").text))
    )
    assert changes[0] == ["_change", *HEADER]
    assert sorted((row[0], row[1]) for row in changes[1:]) == [
        *(("added", f"SO-2000{n}") for n in range(4)),
        *(("deleted", f"SO-1002{n}") for n in range(3)),
        ("updated", "SO-10003"),
        ("updated", "SO-10010"),
    ]


# -- quotas --------------------------------------------------------------------------------


def test_throttled_syncs_wait_out_retry_after_within_budget_and_fail_cleanly_beyond_it(
    service: IsolatedService,
    worker: None,
    sheets: StandInProcess,
    service_account_key: ServiceAccountKey,
) -> None:
    user = service.user
    file_id = user.target_file()
    source_id = google_source(
        user, sheets, service_account(service_account_key), retryBudgetSeconds=2
    )
    schedule_id = reference_schedule(user, source_id, file_id)

    # One 429 asking for 1 s: within the 2 s budget, so the run waits and succeeds.
    sheets.add_fault(429, times=1, retry_after=1, match="/values/")
    result = sync(user, schedule_id)

    assert (result["rowCount"], result["changes"]["added"]) == (150, 150)
    assert_same_cells(csv_rows(user, file_id), REFERENCE_CSV)
    reads = [r for r in sheets.requests() if "/values/" in r["path"]]
    assert [r["status"] for r in reads] == [429, 200]
    assert reads[1]["at"] - reads[0]["at"] >= 1.0  # Retry-After honoured
    history = user.ok("GET", f"/api/sync/schedules/{schedule_id}/history")["history"]
    assert [entry["status"] for entry in history] == ["success"]  # no engine-level retry

    # Google keeps answering 429 asking for 30 s: beyond the budget, so the run fails now,
    # tells when to come back, and leaves the CSV from the last good run alone.
    before = user.get(f"/api/files/{file_id}/content")
    sheets.put_sheet("1ABC-DEF", "Sales Data", REFERENCE_SHEET["sheets"][0]["rows"][:50])
    sheets.add_fault(429, times=None, retry_after=30)
    started = time.monotonic()
    body = failed_sync(user, schedule_id)

    assert time.monotonic() - started < 15  # the budget, not Google, decides how long
    assert "429 RESOURCE_EXHAUSTED" in body["message"]
    assert "Google asked to wait 30 s" in body["message"]
    assert "retrying at" in body["message"]  # the engine schedules the retry and says so
    retry_after = utc(body["retryAfter"])
    assert 20 < (retry_after - datetime.now(UTC)).total_seconds() <= 31
    after = user.get(f"/api/files/{file_id}/content")
    assert (after.content, after.headers["etag"]) == (before.content, before.headers["etag"])
    file = user.ok("GET", f"/api/files/{file_id}")["file"]
    assert (file["version"], file["rowCount"]) == (1, 150)
    schedule = user.ok("GET", f"/api/sync/schedules/{schedule_id}")["schedule"]
    assert schedule["lastSyncStatus"] == "error" and "429" in schedule["lastSyncError"]


# -- large sheets --------------------------------------------------------------------------


def test_a_100k_row_sheet_syncs_end_to_end_in_chunks(
    service: IsolatedService,
    worker: None,
    sheets: StandInProcess,
    service_account_key: ServiceAccountKey,
    record_property: Callable[[str, object], None],
) -> None:
    user = service.user
    sheets.put_spreadsheet("BIG-1", "Orders archive", {"Orders": [["placeholder"]]})
    sheets.put_generated_sheet("BIG-1", "Orders", rows=100_000, columns=12)
    file_id = user.target_file("orders.csv")
    source_id = google_source(user, sheets, service_account(service_account_key))
    schedule_id = user.schedule(source_id, file_id, spreadsheetId="BIG-1", sheetName="Orders")
    # A small sync first, so the timing below is the big sheet's, not the worker's start-up.
    sync(user, reference_schedule(user, source_id, user.target_file("warm-up.csv")))
    sheets.clear_requests()

    started = time.perf_counter()
    result = sync(user, schedule_id)
    elapsed = time.perf_counter() - started

    # Reported, not asserted: it depends on the machine (and on what else runs on it).
    end_to_end, in_run = 100_000 / elapsed, 100_000 * 1000 / result["durationMs"]
    record_property("rows_per_second_end_to_end", round(end_to_end))
    record_property("rows_per_second_in_run", round(in_run))
    print(
        f"\n100k x 12 Google sheet: POST /sync to answer {elapsed:.2f}s = {end_to_end:,.0f} "
        f"rows/s end to end; the run itself {result['duration']} = {in_run:,.0f} rows/s"
    )
    assert (result["rowCount"], result["columnCount"]) == (100_000, 12)
    assert result["changes"] == {"added": 100_000, "updated": 0, "deleted": 0}
    reads = [r for r in sheets.requests() if "/values/" in r["path"]]
    assert len(reads) > 1 and max(r["bytes"] for r in reads) < 2_000_000
    content = csv_rows(user, file_id)
    assert len(content) == 100_001
    assert content[0] == [f"col{c}" for c in range(1, 13)]
    assert content[1] == [f"r1c{c}" for c in range(1, 13)]
    assert content[-1] == [f"r100000c{c}" for c in range(1, 13)]


# -- connection test and credentials -------------------------------------------------------


def test_connection_test_reports_the_spreadsheet_title_and_sheet_names(
    service: IsolatedService, sheets: StandInProcess, service_account_key: ServiceAccountKey
) -> None:
    user = service.user
    source_id = google_source(
        user, sheets, service_account(service_account_key), spreadsheetId="1ABC-DEF"
    )

    body = user.ok("POST", f"/api/data-sources/{source_id}/test")

    assert (body["success"], body["message"]) == (True, "Connection OK")
    assert body["details"] == {
        "account": service_account_key.email,
        "spreadsheetId": "1ABC-DEF",
        "spreadsheetTitle": "Sales 2026",
        "sheetNames": ["Sales Data", "Notes"],
    }


def test_a_throttled_connection_test_says_to_try_again_later_not_that_a_sync_will_be_retried(
    service: IsolatedService, sheets: StandInProcess, service_account_key: ServiceAccountKey
) -> None:
    user = service.user
    source_id = google_source(
        user,
        sheets,
        service_account(service_account_key),
        spreadsheetId="1ABC-DEF",
        retryBudgetSeconds=0,
    )
    sheets.add_fault(429, times=None, retry_after=20)

    response = user.post(f"/api/data-sources/{source_id}/test")

    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["success"], body["error"]) == (False, "Connection failed")
    assert "429 RESOURCE_EXHAUSTED" in body["message"]
    assert "retried" not in body["message"] and "sync" not in body["message"].lower()
    assert "20 s" in body["message"]  # when to try again, from Google's Retry-After


# -- clear failures --------------------------------------------------------------------------


def test_failed_syncs_say_what_to_fix_and_following_the_advice_makes_them_succeed(
    service: IsolatedService,
    worker: None,
    sheets: StandInProcess,
    service_account_key: ServiceAccountKey,
) -> None:
    user = service.user
    source_id = google_source(user, sheets, service_account(service_account_key))
    sheets.put_spreadsheet(
        "PRIVATE-1", "Payroll", {"Sheet1": [["a"]]}, readers=["boss@example.com"]
    )
    unknown = user.schedule(
        source_id, user.target_file("a.csv"), spreadsheetId="NO-SUCH-1", sheetName="Sales Data"
    )
    unshared = user.schedule(
        source_id, user.target_file("b.csv"), spreadsheetId="PRIVATE-1", sheetName="Sheet1"
    )
    file_id = user.target_file("c.csv")
    misnamed = user.schedule(source_id, file_id, spreadsheetId="1ABC-DEF", sheetName="sales data")

    unknown_failure = failed_sync(user, unknown)
    assert "no spreadsheet with id 'NO-SUCH-1'" in unknown_failure["message"]
    unshared_failure = failed_sync(user, unshared)
    assert f"add {service_account_key.email} as a Viewer" in unshared_failure["message"]
    misnamed_failure = failed_sync(user, misnamed)
    assert "'Sales Data', 'Notes'" in misnamed_failure["message"]
    assert "did you mean 'Sales Data'" in misnamed_failure["message"]
    for failure in (unknown_failure, unshared_failure, misnamed_failure):
        assert "retryAfter" not in failure  # retrying cannot fix these

    # The user pastes the sheet's URL and its exact title, as the messages suggest.
    url = "https://docs.google.com/spreadsheets/d/1ABC-DEF/edit#gid=0"
    user.ok(
        "PUT",
        f"/api/sync/schedules/{misnamed}",
        json={"config": {"spreadsheetId": url, "sheetName": "Sales Data"}},
    )
    assert sync(user, misnamed)["rowCount"] == 150
    assert_same_cells(csv_rows(user, file_id), REFERENCE_CSV)

    # OAuth user credentials whose grant Google revokes: re-authorising is the fix.
    file_id = user.target_file("oauth.csv")
    source_id = google_source(user, sheets, oauth_credentials(GOOD_REFRESH_TOKEN))
    schedule_id = reference_schedule(user, source_id, file_id)
    sync(user, schedule_id)  # the OAuth form works while the grant stands
    before = user.get(f"/api/files/{file_id}/content").content
    # The user revokes DataSync's access in their Google account (or 7 days of "Testing").
    sheets.put_refresh_token(GOOD_REFRESH_TOKEN, OAUTH_CLIENT_ID, revoked=True)

    body = failed_sync(user, schedule_id)

    assert "expired or been revoked" in body["message"]
    assert "Re-authorise DataSync" in body["message"] and "7 days" in body["message"]
    assert "retryAfter" not in body and "retrying" not in body["message"]  # no point retrying
    assert GOOD_REFRESH_TOKEN not in json.dumps(body)
    assert user.get(f"/api/files/{file_id}/content").content == before
    test = user.post(f"/api/data-sources/{source_id}/test")
    assert test.status_code == 400
    assert "Re-authorise DataSync" in test.json()["message"]

    # The user re-authorises and saves the new refresh token in the data source.
    sheets.put_refresh_token("1//standin-reauthorised", OAUTH_CLIENT_ID)
    user.ok(
        "PATCH",
        f"/api/data-sources/{source_id}",
        json={"credentials": oauth_credentials("1//standin-reauthorised")},
    )
    assert user.ok("POST", f"/api/data-sources/{source_id}/test")["message"] == "Connection OK"
    assert sync(user, schedule_id)["changes"] == {"added": 0, "updated": 0, "deleted": 0}
