# ruff: noqa: F811 - the pytest fixture imported from the stand-in is a parameter here
"""The `sql-server` and `postgresql` sources end to end: the HTTP API, a real arq worker
process, ODBC drivers and the TDS stand-in (tests/standins/tds), or the machine's
PostgreSQL through its default driver (ADBC).

Every SQL Server test runs once per driver present (FreeTDS and Microsoft's ODBC Driver
18), chosen by the data source's `settings.driver`. Per store (SQLite, PostgreSQL) the
module runs one service with a store, queue and data directory of its own and one worker
process (a worker takes seconds to start); each test is a new user of it.

The stand-in's GETDATE() is fixed at NOW, so the reference page's
`WHERE OrderDate >= DATEADD(day, -7, GETDATE())` selects the same orders on every run and
the CSV can be compared with files in fixtures/sqlserver/. Tests that change data get a
stand-in over a copy of the seeded databases of their own.

Throughput is measured, not asserted: run with `-s` to see the THROUGHPUT lines.
"""

from __future__ import annotations

import csv
import io
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyodbc
import pytest
from litestar.testing import TestClient

from app.main import create_app
from connectors.base import Environment
from connectors.sqlserver import SqlServerConnector
from tests.conftest import ApiUser, isolated_stack, register, start_process, stop_process
from tests.services import create_postgres_database
from tests.standins.tds.fixtures import (  # noqa: F401 - sql_server_driver is a fixture
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
    assert len(got_rows) == len(want_rows), (
        f"{len(got_rows) - 1} data rows, expected {len(want_rows) - 1}"
    )
    for line, (got_row, want_row) in enumerate(zip(got_rows, want_rows, strict=True), start=1):
        for column, got_cell, want_cell in zip(want_rows[0], got_row, want_row, strict=True):
            assert got_cell == want_cell, (
                f"CSV line {line}, column {column}: {got_cell!r} != {want_cell!r}"
            )
    assert got == want_text


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
    body = user.ok(
        "POST",
        "/api/sync/schedules",
        json=PAGE_EXAMPLE | {"dataSourceId": source_id, "targetFileId": file_id},
    )
    assert body["message"] == "Sync schedule created successfully"
    schedule: dict[str, Any] = body["schedule"]
    return schedule


def run_on_standin(standin: TdsStandIn, driver: str, *statements: str) -> None:
    """Changes data the way a user of the database would: through pyodbc."""
    text = SqlServerConnector(
        standin.credentials(), {"driver": driver}, Environment()
    ).connection_string("SalesDB", 30)
    with pyodbc.connect(text, autocommit=True) as connection:
        for statement in statements:
            assert connection.execute(statement).rowcount == 1, statement


def report_throughput(label: str, rows: int, seconds: float, result: dict[str, Any]) -> None:
    print(
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
def standin(
    seeded_sales_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TdsStandIn]:
    """Shared by tests that only read."""
    data_dir = tmp_path_factory.mktemp("tds-shared")
    shutil.copytree(seeded_sales_db, data_dir, dirs_exist_ok=True)
    with running_tds_standin(data_dir, now=NOW) as server:
        yield server


@pytest.fixture
def private_standin(seeded_sales_db: Path, tmp_path: Path) -> Iterator[TdsStandIn]:
    """Over a copy of SalesDB of this test alone: it may change the data."""
    shutil.copytree(seeded_sales_db, tmp_path / "tds")
    with running_tds_standin(tmp_path / "tds", now=NOW) as server:
        yield server


@dataclass
class ServiceUnderTest:
    """The API (in this process, through `client`) and one worker process, with a store,
    queue and data directory of their own."""

    client: TestClient[Any]
    worker_log: Path


@pytest.fixture(scope="module")
def service(
    database_url: str, service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceUnderTest]:
    # One worker per module and store, not per test: a worker takes seconds to start (its
    # imports alone). Tests stay apart by user.
    tmp = tmp_path_factory.mktemp("sqlserver-e2e")
    with isolated_stack(database_url, service_env, tmp) as (settings, env):
        log = tmp / "worker.log"
        worker = start_process(["worker"], env, log)
        try:
            with TestClient(create_app(settings)) as client:
                yield ServiceUnderTest(client, log)
        finally:
            stop_process(worker)


@pytest.fixture
def user(service: ServiceUnderTest) -> ApiUser:
    return register(service.client)


# --- SQL Server through the stand-in ----------------------------------------------------


def test_reference_weekly_orders_example_syncs_last_weeks_orders_then_counts_edits(
    user: ApiUser, private_standin: TdsStandIn, sql_server_driver: str
) -> None:
    source_id = sql_server_source(user, private_standin, sql_server_driver)
    file_id = user.target_file("orders-weekly.csv")
    schedule = create_page_example(user, source_id, file_id)
    assert schedule["dataSourceType"] == "sql-server"
    assert (schedule["frequency"], schedule["enabled"]) == ("weekly", True)
    assert schedule["config"] == PAGE_EXAMPLE["config"]
    next_sync = datetime.fromisoformat(schedule["nextSyncAt"].replace("Z", "+00:00"))
    assert next_sync.strftime("%A %H:%M:%S") == "Monday 08:00:00"
    assert next_sync > datetime.now(UTC)
    # The same query without a primary key, into a file of its own.
    unkeyed_id = user.schedule(source_id, user.target_file(), "weekly", **PAGE_EXAMPLE["config"])

    first = user.ok("POST", f"/api/sync/schedules/{schedule['id']}/sync")
    assert first["message"] == "Manual sync completed successfully"
    result = first["syncResult"]
    assert (result["status"], result["rowCount"], result["columnCount"]) == ("success", 3, 5)
    assert result["changes"] == {"added": 3, "updated": 0, "deleted": 0}
    # datetime2(7) as ISO 8601, decimal(12,2) exact at its scale, NULL empty, Unicode intact.
    content = user.get(f"/api/files/{file_id}/content").text
    assert_csv_matches(content, "orders_last_week.expected.csv")
    user.ok("POST", f"/api/sync/schedules/{unkeyed_id}/sync")

    run_on_standin(
        private_standin,
        sql_server_driver,
        "INSERT INTO dbo.Orders VALUES "
        "(6, N'Wirth, Niklaus 日本', '2026-02-10 09:15:30.1234567', 42.10, '')",
        "UPDATE dbo.Orders SET Amount = 101.00, Status = 'shipped' WHERE OrderId = 2",
        "DELETE FROM dbo.Orders WHERE OrderId = 1",
    )
    user.ok(
        "PUT", f"/api/sync/schedules/{schedule['id']}", json={"config": {"primaryKey": "OrderId"}}
    )
    keyed = user.ok("POST", f"/api/sync/schedules/{schedule['id']}/sync")["syncResult"]
    unkeyed = user.ok("POST", f"/api/sync/schedules/{unkeyed_id}/sync")["syncResult"]

    assert (keyed["rowCount"], keyed["columnCount"]) == (3, 5)
    assert keyed["changes"] == {"added": 1, "updated": 1, "deleted": 1}
    # In order, old 1,2,3 against new 2',3,6: the block 1,2 became 2' (one updated, one
    # deleted), 3 is unchanged, 6 is added.
    assert unkeyed["changes"] == {"added": 1, "updated": 1, "deleted": 1}
    content = user.get(f"/api/files/{file_id}/content").text
    assert_csv_matches(content, "orders_last_week.after_edits.expected.csv")
    changes = parse_csv(user.get(f"/api/sync/runs/{keyed['runId']}/changes").text)
    assert changes[0] == ["_change", *HEADER]
    assert sorted(row[:2] for row in changes[1:]) == [
        ["added", "6"],
        ["deleted", "1"],
        ["updated", "2"],
    ]
    history = user.ok("GET", f"/api/sync/schedules/{schedule['id']}/history")["history"]
    assert [(h["status"], h["rowCount"], h["changes"]) for h in history] == [
        ("success", 3, {"added": 1, "updated": 1, "deleted": 1}),
        ("success", 3, {"added": 3, "updated": 0, "deleted": 0}),
    ]


def test_wrong_password_fails_with_500_once_without_retry_and_never_shows_the_password(
    user: ApiUser, service: ServiceUnderTest, standin: TdsStandIn, sql_server_driver: str
) -> None:
    wrong = "fake;wrong=Pa55{word"
    source_id = sql_server_source(user, standin, sql_server_driver, password=wrong)
    schedule_id = create_page_example(user, source_id, user.target_file())["id"]

    response = user.post(f"/api/sync/schedules/{schedule_id}/sync")
    time.sleep(1.0)  # a retry (base 0.4 s in the test environment) would have run by now

    assert response.status_code == 500, response.text
    body = response.json()
    assert (body["success"], body["error"]) == (False, "Sync failed")
    assert "Login failed for user 'datasync_reader'" in body["message"]
    assert "retryAfter" not in body
    history = user.ok("GET", f"/api/sync/schedules/{schedule_id}/history")["history"]
    assert [(h["status"], h["attempt"], h["trigger"]) for h in history] == [("error", 1, "manual")]
    log = service.worker_log.read_text(encoding="utf-8", errors="replace")
    for text in (response.text, str(history), log):
        assert wrong not in text and "Pa55" not in text


def test_connection_test_reports_the_server_version_and_refuses_a_wrong_password(
    user: ApiUser, standin: TdsStandIn, sql_server_driver: str
) -> None:
    body = user.ok(
        "POST", f"/api/data-sources/{sql_server_source(user, standin, sql_server_driver)}/test"
    )
    assert body["message"] == "Connection OK"
    assert body["details"]["serverVersion"] == "Microsoft SQL Server 2022 (RTM) - 16.0.1000.6 (X64)"

    wrong = "fake-wrong-Pa55"
    source_id = sql_server_source(user, standin, sql_server_driver, password=wrong)
    refused = user.post(f"/api/data-sources/{source_id}/test")
    assert refused.status_code == 400
    assert refused.json()["error"] == "Connection failed"
    assert "Login failed" in refused.json()["message"] and wrong not in refused.text


def test_100k_rows_stream_from_sql_server_into_the_csv_end_to_end(
    user: ApiUser, standin: TdsStandIn, sql_server_driver: str
) -> None:
    source_id = sql_server_source(user, standin, sql_server_driver)
    file_id = user.target_file("numbers.csv")
    query = f"SELECT * FROM dbo.Numbers WHERE N < {THROUGHPUT_ROWS}"
    schedule_id = user.schedule(source_id, file_id, "daily", databaseName="SalesDB", query=query)
    warm_up = user.schedule(
        source_id, user.target_file(), "daily", databaseName="SalesDB", query="SELECT 1 AS one"
    )
    user.ok("POST", f"/api/sync/schedules/{warm_up}/sync")  # the worker is up, the driver loaded

    started = time.perf_counter()
    result = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")["syncResult"]
    seconds = time.perf_counter() - started

    assert (result["rowCount"], result["columnCount"]) == (THROUGHPUT_ROWS, 4)
    driver_name = "FreeTDS" if sql_server_driver == "FreeTDS" else Path(sql_server_driver).name
    report_throughput(f"sql-server via {driver_name}", THROUGHPUT_ROWS, seconds, result)
    rows = parse_csv(user.get(f"/api/files/{file_id}/content").text)
    assert len(rows) == THROUGHPUT_ROWS + 1
    assert rows[0] == ["N", "Label", "Price", "Ratio"]
    assert rows[1] == ["0", "row 0", "0.25", "0"]
    assert rows[-1] == ["99999", "row 99999", "999.25", "14285.5714285714"]


# --- PostgreSQL ------------------------------------------------------------------------

PG_SEED = f"""
CREATE TABLE orders (
    order_id integer PRIMARY KEY,
    customer text NOT NULL,
    ordered_at timestamp(6) NOT NULL,
    amount numeric(12,2) NOT NULL,
    note text
);
INSERT INTO orders VALUES
    (1, 'Ada Lovelace', '2026-02-11 08:00:00', 120.50, 'first'),
    (2, 'Zoë Ångström 日本', '2026-02-10 09:15:30.123456', 99.99, NULL),
    (3, 'Hopper, "Amazing Grace"', '2026-02-06 08:00:00', 10.00, ''),
    (4, 'Too old', '2026-01-01 00:00:00', 1.00, 'outside the week');
CREATE TABLE numbers AS
    SELECT n, 'row ' || n AS label, (n % 1000) + 0.25 AS price
    FROM generate_series(0, {THROUGHPUT_ROWS - 1}) AS n;
"""
PG_QUERY = (
    "SELECT * FROM orders "
    "WHERE ordered_at >= TIMESTAMP '2026-02-12 08:00:00' - INTERVAL '7 days' ORDER BY order_id"
)
# timestamp(6) as ISO 8601, numeric exact at its scale, NULL bare, '' quoted, Unicode intact.
PG_EXPECTED = (
    "order_id,customer,ordered_at,amount,note\n"
    "1,Ada Lovelace,2026-02-11T08:00:00,120.50,first\n"
    "2,Zoë Ångström 日本,2026-02-10T09:15:30.123456,99.99,\n"
    '3,"Hopper, ""Amazing Grace""",2026-02-06T08:00:00,10.00,""\n'
)


@pytest.fixture
def postgres_sales() -> Iterator[dict[str, Any]]:
    """A throwaway database on the machine's PostgreSQL, seeded; the data source's
    credentials for it."""
    url, drop = create_postgres_database()
    parts = urlsplit(url)
    credentials = {
        "server": parts.hostname,
        "port": parts.port,
        "username": parts.username,
        "password": "unused-fake",  # trust authentication on 127.0.0.1
        "database": parts.path.lstrip("/"),
    }
    odbc = (
        f"DRIVER={{PostgreSQL Unicode}};SERVER={parts.hostname};PORT={parts.port};"
        f"DATABASE={credentials['database']};UID={parts.username}"
    )
    try:
        with pyodbc.connect(odbc, autocommit=True) as connection:
            connection.execute(PG_SEED)
        yield credentials
    finally:
        drop()


def test_postgresql_source_syncs_exact_values_then_100k_rows_end_to_end(
    user: ApiUser, postgres_sales: dict[str, Any]
) -> None:
    source_id = user.ok(
        "POST",
        "/api/data-sources",
        json={"name": "Sales PostgreSQL", "type": "postgresql", "credentials": postgres_sales},
    )["dataSource"]["id"]
    assert user.ok("POST", f"/api/data-sources/{source_id}/test")["details"][
        "serverVersion"
    ].startswith("PostgreSQL")
    file_id = user.target_file("pg-orders.csv")
    schedule_id = user.schedule(
        source_id, file_id, "weekly", databaseName=postgres_sales["database"], query=PG_QUERY
    )

    result = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")["syncResult"]
    assert (result["rowCount"], result["columnCount"], result["changes"]) == (
        3,
        5,
        {"added": 3, "updated": 0, "deleted": 0},
    )
    assert user.get(f"/api/files/{file_id}/content").text == PG_EXPECTED

    numbers_id = user.target_file("pg-numbers.csv")
    numbers = user.schedule(source_id, numbers_id, "daily", query="SELECT * FROM numbers")
    started = time.perf_counter()
    result = user.ok("POST", f"/api/sync/schedules/{numbers}/sync")["syncResult"]
    seconds = time.perf_counter() - started
    assert (result["rowCount"], result["columnCount"]) == (THROUGHPUT_ROWS, 3)
    report_throughput("postgresql via ADBC", THROUGHPUT_ROWS, seconds, result)
    rows = parse_csv(user.get(f"/api/files/{numbers_id}/content").text)
    assert (len(rows), rows[-1]) == (THROUGHPUT_ROWS + 1, ["99999", "row 99999", "999.25"])
