"""The `microsoft-excel` source end to end: the HTTP API, a real arq worker process and the
local Microsoft identity platform + Graph stand-in over TLS (a CA generated at test time).

The worker trusts the stand-in only through REQUESTS_CA_BUNDLE, as an operator behind a
TLS-inspecting proxy would configure it. Per store (SQLite, PostgreSQL) the module runs one
service with a store, queue and data directory of its own and one worker process; each test
is a new user of it with a new tenant, app registration, secret and drive in the stand-in
(so msal's per-process caches never serve one test another's tokens).
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
from litestar.testing import TestClient

from app.credential_vault import CredentialVault
from app.db.engine import create_engine, session_factory
from app.db.models import DataSource
from app.main import create_app
from app.settings import Settings
from tests.conftest import ApiUser, isolated_stack, register, start_process, stop_process
from tests.standins.graph.fixtures import (  # noqa: F401 - fixtures
    FIXTURES,
    MicrosoftTenant,
    graph_standin_fixture,
    load_workbook_fixture,
    microsoft_tenant_fixture,
)
from tests.standins.graph.server import GraphStandIn
from tests.standins.graph.workbook import Worksheet

# The reference page's second "Create Sync Schedule" example, as printed there. Only the two
# placeholder ids are replaced by real ones; its workbookId is the stand-in's drive item id.
PAGE_WORKBOOK_ID = "01AZJL5P..."
PAGE_EXAMPLE: dict[str, Any] = {
    "name": "Customer Database Daily Sync",
    "dataSourceId": "microsoft-excel-uuid",
    "frequency": "daily",
    "targetFileId": "csv-file-uuid",
    "enabled": True,
    "config": {"workbookId": "01AZJL5P...", "worksheetName": "Customers", "syncTime": "06:00"},
}
WORKSHEETS = ["Customers", "Orders", "Q1 '24 (draft)"]


def customers_rows() -> list[list[Any]]:
    """The Customers worksheet's stored values (formats come with the workbook)."""
    sheet = load_workbook_fixture("customers.workbook.json")["worksheets"][0]
    return [list(row) for row in sheet["rows"]]


def expected_customers_csv() -> list[list[str]]:
    with (FIXTURES / "customers.expected.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def change_counts(sync_result: dict[str, Any]) -> dict[str, int]:
    return {k: sync_result["changes"][k] for k in ("added", "updated", "deleted")}


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def assert_cells_equal(got: list[list[str]], want: list[list[str]]) -> None:
    assert got[0] == want[0], "header"
    assert len(got) == len(want), f"{len(got) - 1} data rows, expected {len(want) - 1}"
    for line, (got_row, want_row) in enumerate(zip(got, want, strict=True), start=1):
        assert len(got_row) == len(want_row), f"CSV line {line}: {got_row}"
        for column, got_cell, want_cell in zip(want[0], got_row, want_row, strict=True):
            assert got_cell == want_cell, (
                f"CSV line {line}, column {column}: {got_cell!r} != {want_cell!r}"
            )


def start_ready_worker(env: dict[str, str], log: Path, timeout: float = 60.0) -> Popen[bytes]:
    """A worker process, returned once arq polls for jobs (so timings measure syncs, not
    the worker's imports)."""
    seen = log.read_text() if log.exists() else ""
    worker = start_process(["worker"], env, log)
    deadline = time.monotonic() + timeout
    while "Starting worker" not in log.read_text()[len(seen) :]:
        assert worker.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.1)
    return worker


@dataclass
class ServiceUnderTest:
    """API (in this process) and one worker process with a store, queue and data directory of
    their own, trusting the Graph stand-in's CA through REQUESTS_CA_BUNDLE."""

    settings: Settings
    env: dict[str, str]
    client: TestClient[Any]
    worker_log: Path
    worker: Popen[bytes]

    def restart_worker(self) -> None:
        """A new worker process: what a deploy, a crash or another machine's worker sees."""
        stop_process(self.worker)
        self.worker = start_ready_worker(self.env, self.worker_log)


@pytest.fixture(scope="module")
def service(
    database_url: str,
    service_env: dict[str, str],
    graph_standin: GraphStandIn,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceUnderTest]:
    # One worker per module and store, not per test: a worker takes seconds to start (its
    # imports alone). Tests stay apart by user and tenant.
    tmp = tmp_path_factory.mktemp("excel-e2e")
    with isolated_stack(
        database_url, service_env, tmp, REQUESTS_CA_BUNDLE=str(graph_standin.tls.bundle_file)
    ) as (settings, env):
        log = tmp / "worker.log"
        with TestClient(create_app(settings)) as client:
            running = ServiceUnderTest(settings, env, client, log, start_ready_worker(env, log))
            try:
                yield running
            finally:
                stop_process(running.worker)


@dataclass
class ExcelService:
    """One test's view: its own user of the service and its own Microsoft tenant (app
    registration, secret and drive) in the stand-in, whose drive holds the reference page's
    Customers workbook under the page's workbookId."""

    service: ServiceUnderTest
    user: ApiUser
    tenant: MicrosoftTenant

    @property
    def worker_log(self) -> Path:
        return self.service.worker_log

    def restart_worker(self) -> None:
        self.service.restart_worker()

    def app_only_source(self, secret: str | None = None, **settings: Any) -> str:
        body = self.user.ok(
            "POST",
            "/api/data-sources",
            json={
                "name": "Contoso OneDrive",
                "type": "microsoft-excel",
                "credentials": self.tenant.app_only_credentials(secret),
                "settings": {
                    "driveId": self.tenant.drive_id,
                    **self.tenant.endpoint_settings(),
                    **settings,
                },
            },
        )
        assert body["dataSource"]["hasCredentials"] is True
        return str(body["dataSource"]["id"])

    def delegated_source(self, credentials: dict[str, Any]) -> str:
        body = self.user.ok(
            "POST",
            "/api/data-sources",
            json={
                "name": "My OneDrive",
                "type": "microsoft-excel",
                "credentials": credentials,
                "settings": self.tenant.endpoint_settings(),
            },
        )
        return str(body["dataSource"]["id"])

    def page_example_schedule(self, source_id: str, file_id: str, **config: Any) -> dict[str, Any]:
        body = {
            **PAGE_EXAMPLE,
            "dataSourceId": source_id,
            "targetFileId": file_id,
            "config": {**PAGE_EXAMPLE["config"], **config},
        }
        schedule: dict[str, Any] = self.user.ok("POST", "/api/sync/schedules", json=body)[
            "schedule"
        ]
        return schedule

    def sync(self, schedule_id: str, wait: int = 60) -> dict[str, Any]:
        response = self.user.post(f"/api/sync/schedules/{schedule_id}/sync?wait={wait}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["syncResult"]
        return result

    def content(self, file_id: str) -> str:
        response = self.user.get(f"/api/files/{file_id}/content")
        assert response.status_code == 200, response.text
        return response.text

    def history(self, schedule_id: str) -> list[dict[str, Any]]:
        return list(self.user.ok("GET", f"/api/sync/schedules/{schedule_id}/history")["history"])

    def graph_requests(self, fragment: str) -> list[tuple[str, str, int]]:
        return [r for r in self.tenant.service.request_log() if fragment in r[1]]

    def stored_credentials(self, source_id: str) -> dict[str, Any]:
        """The data source's credentials as the store holds them (decrypted here only)."""

        async def read() -> str:
            engine = create_engine(self.service.settings)
            async with session_factory(engine)() as db:
                source = await db.get(DataSource, uuid.UUID(source_id))
                assert source is not None
                sealed = source.credentials_encrypted
            await engine.dispose()
            return sealed

        return CredentialVault(self.service.settings.secret_key).open(asyncio.run(read()))


@pytest.fixture
def excel(service: ServiceUnderTest, microsoft_tenant: MicrosoftTenant) -> ExcelService:
    microsoft_tenant.put_workbook(
        load_workbook_fixture("customers.workbook.json"), PAGE_WORKBOOK_ID
    )
    return ExcelService(service, register(service.client), microsoft_tenant)


# --- the reference page's example ------------------------------------------------------------


def test_reference_page_excel_example_syncs_customers_cell_by_cell(excel: ExcelService) -> None:
    file_id = excel.user.target_file("customers.csv")
    schedule = excel.page_example_schedule(excel.app_only_source(), file_id)
    assert schedule["name"] == "Customer Database Daily Sync"
    assert schedule["dataSourceType"] == "microsoft-excel"
    assert (schedule["frequency"], schedule["enabled"]) == ("daily", True)
    assert schedule["nextSyncAt"].endswith("T06:00:00Z")
    assert schedule["config"] == PAGE_EXAMPLE["config"]

    result = excel.sync(schedule["id"])

    assert result["scheduleId"] == schedule["id"]
    assert result["status"] == "success"
    assert (result["rowCount"], result["columnCount"]) == (5, 10)
    assert change_counts(result) == {"added": 5, "updated": 0, "deleted": 0}
    # Dates ISO, numbers without float noise, text (leading zeros, quotes, padding) as typed.
    assert_cells_equal(parse_csv(excel.content(file_id)), expected_customers_csv())
    file = excel.user.ok("GET", f"/api/files/{file_id}")["file"]
    assert (file["rowCount"], file["columnCount"], file["version"]) == (5, 10, 1)
    latest = excel.user.ok("GET", f"/api/sync/schedules/{schedule['id']}")["schedule"]
    assert (latest["lastSyncStatus"], latest["lastSyncRowCount"]) == ("success", 5)
    # The used range's address first, then the rows in one block (it is small).
    assert [status for _, _, status in excel.graph_requests("/usedRange")] == [200]
    assert [status for _, _, status in excel.graph_requests("/range(")] == [200]


def test_data_source_test_gets_a_token_and_lists_the_workbooks_worksheets(
    excel: ExcelService,
) -> None:
    with_workbook = excel.app_only_source(workbookId=PAGE_WORKBOOK_ID)
    without_workbook = excel.app_only_source()

    listed = excel.user.ok("POST", f"/api/data-sources/{with_workbook}/test")
    token_only = excel.user.ok("POST", f"/api/data-sources/{without_workbook}/test")

    assert listed["message"] == "Connection OK"
    assert listed["details"] == {
        "access": "app-only",
        "workbookId": PAGE_WORKBOOK_ID,
        "worksheets": WORKSHEETS,
    }
    assert token_only["details"] == {"access": "app-only"}


# --- edits in the workbook → exact change counts -------------------------------------------


def test_edited_workbook_with_primary_key_reports_exact_counts_and_ignores_row_order(
    excel: ExcelService,
) -> None:
    file_id = excel.user.target_file("customers.csv")
    schedule = excel.page_example_schedule(
        excel.app_only_source(), file_id, primaryKey="CustomerId"
    )
    excel.sync(schedule["id"])
    header, ada, obrien, zoe, _empty, five = customers_rows()
    obrien_paid = [*obrien[:5], 0, *obrien[6:]]  # Balance 0.30000000000000004 → 0
    newcomer = [6, "00600", "Grace Hopper", 45658, 45658.25, 99.95, True, 77, 0.5, 0.05]

    # Ada moves to the bottom (no change by key), O'Brien's balance changes, customer 4 is
    # deleted and customer 6 is added.
    excel.tenant.service.set_worksheet_rows(
        excel.tenant.drive_id,
        PAGE_WORKBOOK_ID,
        "Customers",
        [header, obrien_paid, zoe, five, ada, newcomer],
    )
    result = excel.sync(schedule["id"])

    assert result["status"] == "success"
    assert change_counts(result) == {"added": 1, "updated": 1, "deleted": 1}
    changes = parse_csv(excel.user.get(f"/api/sync/runs/{result['runId']}/changes").text)
    assert sorted((row[0], row[1]) for row in changes[1:]) == [
        ("added", "6"),
        ("deleted", "4"),
        ("updated", "2"),
    ]
    rows = parse_csv(excel.content(file_id))
    assert [row[0] for row in rows[1:]] == ["2", "3", "5", "1", "6"]
    assert rows[1][5] == "0"
    assert rows[5] == [
        "6",
        "00600",
        "Grace Hopper",
        "2025-01-01",
        "2025-01-01T06:00:00",
        "99.95",
        "TRUE",
        "77",
        "12:00:00",
        "0.05",
    ]


def test_edited_workbook_without_primary_key_aligns_rows_in_order(excel: ExcelService) -> None:
    file_id = excel.user.target_file("customers.csv")
    schedule = excel.page_example_schedule(excel.app_only_source(), file_id)
    excel.sync(schedule["id"])
    header, ada, obrien, zoe, _empty, five = customers_rows()
    renamed = [obrien[0], obrien[1], "O'Brien Brothers", *obrien[3:]]
    appended = [6, "00600", "Grace Hopper", 45658, 45658.25, 99.95, True, 77, 0.5, 0.05]

    # Row 3 edited in place, row 5 (customer 4) removed, a row appended at the end.
    excel.tenant.service.set_worksheet_rows(
        excel.tenant.drive_id,
        PAGE_WORKBOOK_ID,
        "Customers",
        [header, ada, renamed, zoe, five, appended],
    )
    result = excel.sync(schedule["id"])

    assert change_counts(result) == {"added": 1, "updated": 1, "deleted": 1}
    assert [row[2] for row in parse_csv(excel.content(file_id))[1:]] == [
        "Ada Lovelace",
        "O'Brien Brothers",
        "Zoë Müller",
        "  padded  ",
        "Grace Hopper",
    ]
    # Nothing edited since: the next sync changes nothing and keeps the file's version.
    again = excel.sync(schedule["id"])
    assert change_counts(again) == {"added": 0, "updated": 0, "deleted": 0}
    assert excel.user.ok("GET", f"/api/files/{file_id}")["file"]["version"] == 2


# --- throttling and failures -----------------------------------------------------------------


def test_throttled_once_the_run_waits_for_retry_after_and_succeeds(excel: ExcelService) -> None:
    file_id = excel.user.target_file("customers.csv")
    schedule = excel.page_example_schedule(excel.app_only_source(), file_id)
    excel.tenant.service.add_fault(status=429, times=1, retry_after=1, path_contains="/range(")

    result = excel.sync(schedule["id"])

    assert result["status"] == "success"
    assert [status for _, _, status in excel.graph_requests("/range(")] == [429, 200]
    assert result["durationMs"] >= 1000  # Retry-After: 1 was honoured
    assert_cells_equal(parse_csv(excel.content(file_id)), expected_customers_csv())
    # Retried inside the run: one run, first attempt, no engine retry.
    (run,) = excel.history(schedule["id"])
    assert (run["status"], run["attempt"], run["trigger"]) == ("success", 1, "manual")


def test_wrong_client_secret_fails_the_sync_cleanly_without_the_secret_and_without_retry(
    excel: ExcelService,
) -> None:
    wrong_secret = "Wr0ng~" + uuid.uuid4().hex
    source_id = excel.app_only_source(secret=wrong_secret)
    file_id = excel.user.target_file("customers.csv")
    schedule = excel.page_example_schedule(source_id, file_id)

    response = excel.user.post(f"/api/sync/schedules/{schedule['id']}/sync")

    assert response.status_code == 500, response.text
    body = response.json()
    assert (body["success"], body["error"]) == (False, "Sync failed")
    assert "invalid_client" in body["message"] and "credentials.clientSecret" in body["message"]
    assert "retryAfter" not in body  # credentials rejected: retrying cannot help
    # A retry would be in the history already: it is recorded with the failure.
    (run,) = excel.history(schedule["id"])
    assert (run["status"], run["attempt"]) == ("error", 1)
    assert len(excel.graph_requests(f"/{excel.tenant.tenant_id}/oauth2/v2.0/token")) == 1
    assert excel.user.ok("GET", f"/api/files/{file_id}")["file"]["version"] == 0  # nothing written
    for text in (response.text, str(run), excel.worker_log.read_text()):
        assert wrong_secret not in text


# --- a large worksheet -----------------------------------------------------------------------


def test_100k_row_worksheet_is_read_in_blocks_and_synced(excel: ExcelService) -> None:
    rows = 100_000
    values: list[list[Any]] = [["id", "sku", "shipped", "amount"]]
    values += [[i, f"{i:08d}", 45000 + i % 365, i * 0.25] for i in range(1, rows + 1)]
    excel.tenant.service.put_worksheets(
        excel.tenant.drive_id,
        PAGE_WORKBOOK_ID,
        [Worksheet("Customers", values, column_formats=["General", "@", "yyyy-mm-dd", "0.00"])],
    )
    file_id = excel.user.target_file("orders.csv")
    schedule = excel.page_example_schedule(excel.app_only_source(), file_id, primaryKey="id")

    started = time.perf_counter()
    result = excel.sync(schedule["id"], wait=120)
    elapsed = time.perf_counter() - started

    assert (result["status"], result["rowCount"], result["columnCount"]) == ("success", rows, 4)
    assert result["changes"]["added"] == rows
    # The used range's size first, then 5,000-row blocks: no request near Graph's payload limit.
    assert len(excel.graph_requests("/usedRange")) == 1
    assert len(excel.graph_requests("/range(")) == 21
    content = excel.content(file_id)
    lines = content.splitlines()
    assert len(lines) == rows + 1
    assert lines[1] == "1,00000001,2023-03-16,0.25"
    assert lines[-1] == "100000,00100000,2024-03-04,25000"
    print(
        f"\nExcel {rows:,} rows end to end (API → worker → Graph stand-in → CSV): "
        f"{rows / elapsed:,.0f} rows/s ({elapsed:.2f} s)"
    )


# --- delegated access (a user's refresh token) -------------------------------------------------


def test_delegated_source_stores_each_rotated_refresh_token_and_keeps_syncing(
    excel: ExcelService,
) -> None:
    credentials = excel.tenant.delegated_credentials()  # a public client and a user's sign-in
    source_id = excel.delegated_source(credentials)
    file_id = excel.user.target_file("customers.csv")
    schedule = excel.page_example_schedule(source_id, file_id)

    first = excel.sync(schedule["id"])

    assert first["status"] == "success"
    assert excel.graph_requests("/v1.0/me/drive/items/")  # the signed-in user's drive
    # Microsoft rotated the refresh token (the one stored is spent): its successor is stored.
    after_first = excel.stored_credentials(source_id)
    assert after_first == {**credentials, "refreshToken": after_first["refreshToken"]}
    assert after_first["refreshToken"] != credentials["refreshToken"]

    # This process has no msal cache for the user: only the stored token can sign it in
    # (the test spends it and stores the next one, as the worker must).
    excel.user.ok("POST", f"/api/data-sources/{source_id}/test")
    after_test = excel.stored_credentials(source_id)["refreshToken"]
    assert after_test != after_first["refreshToken"]
    excel.tenant.service.set_worksheet_rows(
        excel.tenant.drive_id, PAGE_WORKBOOK_ID, "Customers", customers_rows()[:-1]
    )
    second = excel.sync(schedule["id"])

    # The worker's cached tokens descend from a token the test spent; it signed in with the
    # stored one and stored its successor.
    assert second["changes"]["deleted"] == 1
    assert excel.stored_credentials(source_id)["refreshToken"] not in (
        credentials["refreshToken"],
        after_first["refreshToken"],
        after_test,
    )
