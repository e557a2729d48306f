# ruff: noqa: F811 - pytest fixtures imported from the stand-in are parameters here
"""The `sql-server` and `postgresql` sources end to end: the HTTP API, a real arq worker
process, pyodbc drivers (FreeTDS and Microsoft's ODBC Driver 18) and the TDS stand-in, or
the machine's PostgreSQL through psqlODBC.

The stand-in's GETDATE() is fixed at NOW, so the reference page's
`WHERE OrderDate >= DATEADD(day, -7, GETDATE())` selects the same orders on every run and
the CSV can be compared with files in fixtures/sqlserver/. Tests that change data get a
stand-in over a copy of the seeded databases of their own.
"""

from __future__ import annotations

import csv
import io
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyodbc
import pytest

from connectors.base import Environment
from connectors.sqlserver import SqlServerConnector
from tests.conftest import ApiUser, IsolatedService, start_process, stop_process
from tests.services import create_postgres_database
from tests.standins.tds.fixtures import (  # noqa: F401 - pytest fixtures
    SEED_DIR,
    TdsStandIn,
    running_tds_standin,
    sql_server_driver,
)
from tests.standins.tds.server import load_databases

NOW = "2026-02-12 08:00:00"  # a Thursday; what the stand-in's GETDATE() answers
EXPECTED = Path(__file__).resolve().parents[2] / "fixtures" / "sqlserver"
HEADER = ["OrderId", "CustomerName", "OrderDate", "Amount", "Status"]
THROUGHPUT_ROWS = 100_000

# The reference page's third "Create Sync Schedule" example, as printed there; only the
# two placeholder ids are replaced by real ones.
PAGE_EXAMPLE: dict[str, Any] = {
    "name": "Orders Weekly Sync",
    "dataSourceId": "sql-server-uuid",
    "frequency": "weekly",
    "targetFileId": "csv-file-uuid",
    "enabled": True,
    "config": {
        "databaseName": "SalesDB",
        "query": "SELECT * FROM dbo.Orders WHERE OrderDate >= DATEADD(day, -7, GETDATE())",
        "dayOfWeek": "monday",
        "syncTime": "08:00",
    },
}


# --- helpers -------------------------------------------------------------------------


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def assert_csv_matches(got: str, expected_file: str) -> None:
    """Cell by cell (for a readable failure), then byte for byte: csv.reader reads a
    NULL (bare) and an empty string ("") alike, the file must not."""
    want_text = (EXPECTED / expected_file).read_text(encoding="utf-8")
    got_rows, want_rows = parse_csv(got), parse_csv(want_text)
    assert got_rows[0] == want_rows[0], "header"
    assert len(got_rows) == len(want_rows), f"{len(got_rows) - 1} data rows, expected {len(want_rows) - 1}"
    for line, (got_row, want_row) in enumerate(zip(got_rows, want_rows, strict=True), start=1):
        for column, got_cell, want_cell in zip(want_rows[0], got_row, want_row, strict=True):
            assert got_cell == want_cell, f"CSV line {line}, column {column}: {got_cell!r} != {want_cell!r}"
    assert got == want_text


@contextmanager
def worker_for(iso: IsolatedService, log: Path) -> Iterator[None]:
    worker = start_process(["worker"], iso.env, log)
    try:
        yield
    finally:
        stop_process(worker)


def sql_server_source(user: ApiUser, standin: TdsStandIn, driver: str, **credentials: Any) -> str:
    body = user.ok(
        "POST",
        "/api/data-sources",
        json={
            "name": "Sales SQL Server",
            "type": "sql-server",
            "credentials": standin.credentials(**credentials),
            "settings": {"driver": driver, "loginTimeoutSeconds": 5},
        },
    )
    return str(body["dataSource"]["id"])


def create_page_example(user: ApiUser, source_id: str, file_id: str) -> dict[str, Any]:
    body = user.ok("POST", "/api/sync/schedules", json=PAGE_EXAMPLE | {"dataSourceId": source_id, "targetFileId": file_id})
    assert body["message"] == "Sync schedule created successfully"
    schedule: dict[str, Any] = body["schedule"]
    return schedule


def run_on_standin(standin: TdsStandIn, driver: str, *statements: str) -> None:
    """Changes data the way a user of the database would: through pyodbc."""
    text = SqlServerConnector(standin.credentials(), {"driver": driver}, Environment()).connection_string("SalesDB", 30)
    with pyodbc.connect(text, autocommit=True) as connection:
        for statement in statements:
            assert connection.execute(statement).rowcount == 1, statement


def report_throughput(label: str, rows: int, seconds: float, result: dict[str, Any]) -> None:
    print(  # noqa: T201 - the measurement is this test's report (run with -s to see it)
        f"\nTHROUGHPUT {label}: {rows} rows in {seconds:.2f} s end to end "
        f"= {rows / seconds:,.0f} rows/s (worker run {result['durationMs']} ms "
        f"= {rows / (result['durationMs'] / 1000):,.0f} rows/s)"
    )


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded_sales_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SalesDB seeded once with GETDATE() at NOW; stand-ins serve copies of it."""
    template = tmp_path_factory.mktemp("salesdb-template")
    load_databases(SEED_DIR, template, NOW)
    return template


@pytest.fixture(scope="module")
def standin(seeded_sales_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TdsStandIn]:
    """Shared by tests that only read."""
    data_dir = tmp_path_factory.mktemp("tds-shared")
    shutil.copytree(seeded_sales_db, data_dir, dirs_exist_ok=True)
    with running_tds_standin(data_dir, now=NOW) as server:
        yield server


@pytest.fixture
def private_standin(seeded_sales_db: Path, tmp_path: Path) -> Iterator[TdsStandIn]:
    """Of this test alone: it may change the data."""
    shutil.copytree(seeded_sales_db, tmp_path / "tds")
    with running_tds_standin(tmp_path / "tds", now=NOW) as server:
        yield server


@pytest.fixture
def iso(isolated_service: Callable[..., IsolatedService]) -> IsolatedService:
    return isolated_service()


# --- SQL Server through the stand-in ----------------------------------------------------


def test_reference_weekly_orders_example_syncs_last_weeks_orders_then_counts_edits_by_key(
    iso: IsolatedService, private_standin: TdsStandIn, sql_server_driver: str, tmp_path: Path
) -> None:
    user = iso.user
    source_id = sql_server_source(user, private_standin, sql_server_driver)
    file_id = user.target_file("orders-weekly.csv")
    schedule = create_page_example(user, source_id, file_id)
    assert schedule["dataSourceType"] == "sql-server"
    assert (schedule["frequency"], schedule["enabled"]) == ("weekly", True)
    assert schedule["config"] == PAGE_EXAMPLE["config"]
    next_sync = datetime.fromisoformat(schedule["nextSyncAt"].replace("Z", "+00:00"))
    assert (next_sync.strftime("%A %H:%M:%S"), next_sync > datetime.now(UTC)) == ("Monday 08:00:00", True)

    with worker_for(iso, tmp_path / "worker.log"):
        first = user.ok("POST", f"/api/sync/schedules/{schedule['id']}/sync")
        assert first["message"] == "Manual sync completed successfully"
        result = first["syncResult"]
        assert (result["status"], result["rowCount"], result["columnCount"]) == ("success", 3, 5)
        assert result["changes"] == {"added": 3, "updated": 0, "deleted": 0}
        # datetime2(7) as ISO 8601, decimal(12,2) exact at its scale, NULL empty, Unicode intact.
        assert_csv_matches(user.get(f"/api/files/{file_id}/content").text, "orders_last_week.expected.csv")

        run_on_standin(
            private_standin,
            sql_server_driver,
            "INSERT INTO dbo.Orders VALUES (6, N'Wirth, Niklaus 日本', '2026-02-10 09:15:30.1234567', 42.10, '')",
            "UPDATE dbo.Orders SET Amount = 101.00, Status = 'shipped' WHERE OrderId = 2",
            "DELETE FROM dbo.Orders WHERE OrderId = 1",
        )
        user.ok("PUT", f"/api/sync/schedules/{schedule['id']}", json={"config": {"primaryKey": "OrderId"}})
        second = user.ok("POST", f"/api/sync/schedules/{schedule['id']}/sync")["syncResult"]

    assert (second["rowCount"], second["columnCount"]) == (3, 5)
    assert second["changes"] == {"added": 1, "updated": 1, "deleted": 1}
    assert_csv_matches(user.get(f"/api/files/{file_id}/content").text, "orders_last_week.after_edits.expected.csv")
    changes = parse_csv(user.get(f"/api/sync/runs/{second['runId']}/changes").text)
    assert changes[0] == ["_change", *HEADER]
    assert sorted(row[:2] for row in changes[1:]) == [["added", "6"], ["deleted", "1"], ["updated", "2"]]
    history = user.ok("GET", f"/api/sync/schedules/{schedule['id']}/history")["history"]
    assert [(h["status"], h["rowCount"], h["changes"]) for h in history] == [
        ("success", 3, {"added": 1, "updated": 1, "deleted": 1}),
        ("success", 3, {"added": 3, "updated": 0, "deleted": 0}),
    ]


def test_without_a_primary_key_edits_are_counted_by_aligning_rows_in_order(
    iso: IsolatedService, private_standin: TdsStandIn, sql_server_driver: str, tmp_path: Path
) -> None:
    user = iso.user
    schedule = create_page_example(
        user, sql_server_source(user, private_standin, sql_server_driver), user.target_file("orders.csv")
    )
    with worker_for(iso, tmp_path / "worker.log"):
        user.ok("POST", f"/api/sync/schedules/{schedule['id']}/sync")
        run_on_standin(
            private_standin,
            sql_server_driver,
            "UPDATE dbo.Orders SET Status = 'shipped' WHERE OrderId = 3",
            # Order 4 moves into the last week: one more row at the end.
            "UPDATE dbo.Orders SET OrderDate = '2026-02-11 12:00:00' WHERE OrderId = 4",
        )
        result = user.ok("POST", f"/api/sync/schedules/{schedule['id']}/sync")["syncResult"]
    assert result["rowCount"] == 4
    assert result["changes"] == {"added": 1, "updated": 1, "deleted": 0}


def test_wrong_password_fails_with_500_once_without_retry_and_never_shows_the_password(
    iso: IsolatedService, standin: TdsStandIn, sql_server_driver: str, tmp_path: Path
) -> None:
    user = iso.user
    wrong = "fake;wrong=Pa55{word"
    source_id = sql_server_source(user, standin, sql_server_driver, password=wrong)
    schedule = create_page_example(user, source_id, user.target_file())
    log = tmp_path / "worker.log"
    with worker_for(iso, log):
        response = user.post(f"/api/sync/schedules/{schedule['id']}/sync")
        time.sleep(1.5)  # a retry (base 0.4 s in the test environment) would have run by now

    assert response.status_code == 500, response.text
    body = response.json()
    assert (body["success"], body["error"]) == (False, "Sync failed")
    assert "Login failed for user 'datasync_reader'" in body["message"]
    assert "retryAfter" not in body
    history = user.ok("GET", f"/api/sync/schedules/{schedule['id']}/history")["history"]
    assert [(h["status"], h["attempt"], h["trigger"]) for h in history] == [("error", 1, "manual")]
    for text in (response.text, str(history), log.read_text(encoding="utf-8", errors="replace")):
        assert wrong not in text and "Pa55" not in text


def test_connection_test_reports_the_server_version_and_refuses_a_wrong_password(
    iso: IsolatedService, standin: TdsStandIn, sql_server_driver: str
) -> None:
    user = iso.user
    good = sql_server_source(user, standin, sql_server_driver)
    body = user.ok("POST", f"/api/data-sources/{good}/test")
    assert body["message"] == "Connection OK"
    assert body["details"]["serverVersion"] == "Microsoft SQL Server 2022 (RTM) - 16.0.1000.6 (X64)"

    wrong = "fake-wrong-Pa55"
    refused = user.post(f"/api/data-sources/{sql_server_source(user, standin, sql_server_driver, password=wrong)}/test")
    assert refused.status_code == 400
    assert refused.json()["error"] == "Connection failed" and "Login failed" in refused.json()["message"]
    assert wrong not in refused.text


def test_100k_rows_stream_from_sql_server_into_the_csv_end_to_end(
    iso: IsolatedService, standin: TdsStandIn, sql_server_driver: str, tmp_path: Path
) -> None:
    user = iso.user
    source_id = sql_server_source(user, standin, sql_server_driver)
    file_id = user.target_file("numbers.csv")
    query = f"SELECT * FROM dbo.Numbers WHERE N < {THROUGHPUT_ROWS}"
    schedule_id = user.schedule(source_id, file_id, "daily", databaseName="SalesDB", query=query)
    warm_up = user.schedule(source_id, user.target_file("one.csv"), "daily", databaseName="SalesDB", query="SELECT 1 AS one")
    with worker_for(iso, tmp_path / "worker.log"):
        user.ok("POST", f"/api/sync/schedules/{warm_up}/sync")  # the worker is up and connected once
        started = time.perf_counter()
        result = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")["syncResult"]
        seconds = time.perf_counter() - started

    assert (result["rowCount"], result["columnCount"]) == (THROUGHPUT_ROWS, 4)
    report_throughput(f"sql-server via {Path(sql_server_driver).name}", THROUGHPUT_ROWS, seconds, result)
    rows = parse_csv(user.get(f"/api/files/{file_id}/content").text)
    assert rows[0] == ["N", "Label", "Price", "Ratio"]
    assert rows[1] == ["0", "row 0", "0.25", "0"]
    assert rows[-1] == ["99999", "row 99999", "999.25", "14285.5714285714"]
