"""`config.changeQuery` end to end: the API, a real worker process and SQL Server (the TDS
stand-in) through each ODBC driver present. The same row as at the last full fetch skips
the fetch; a different one fetches; a source without a change query always fetches."""

# The fixtures are imported from the SQL Server end-to-end module and named as arguments.
# ruff: noqa: F811

from __future__ import annotations

from typing import Any

from tests.conftest import ApiUser
from tests.e2e.test_sqlserver_e2e import (  # noqa: F401 - fixtures
    private_standin,
    run_on_standin,
    seeded_sales_db,
    service,
    sql_server_driver,
    sql_server_source,
    user,
)
from tests.standins.tds.fixtures import TdsStandIn

QUERY = "SELECT OrderId, CustomerName, Amount FROM dbo.Orders"
CHANGE_QUERY = "SELECT MAX(OrderId), COUNT(*) FROM dbo.Orders"


def sync(user: ApiUser, schedule_id: str) -> dict[str, Any]:
    result: dict[str, Any] = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")[
        "syncResult"
    ]
    assert result["status"] == "success", result
    return result


def test_the_same_change_query_row_skips_the_fetch_and_a_new_row_fetches(
    user: ApiUser, private_standin: TdsStandIn, sql_server_driver: str
) -> None:
    source_id = sql_server_source(user, private_standin, sql_server_driver)
    schedule_id = user.schedule(
        source_id,
        user.target_file("orders.csv"),
        databaseName="SalesDB",
        query=QUERY,
        changeQuery=CHANGE_QUERY,
        primaryKey="OrderId",
    )
    first = sync(user, schedule_id)
    unchanged = sync(user, schedule_id)

    run_on_standin(
        private_standin,
        sql_server_driver,
        "INSERT INTO dbo.Orders VALUES (99, N'Hopper', '2026-02-10 09:15:30', 7.50, 'new')",
    )
    changed = sync(user, schedule_id)

    assert first["fetchSkipped"] is False
    assert unchanged["fetchSkipped"] is True
    assert unchanged["rowCount"] == first["rowCount"]
    assert unchanged["changes"] == {"added": 0, "updated": 0, "deleted": 0}
    assert changed["fetchSkipped"] is False
    assert changed["rowCount"] == first["rowCount"] + 1
    assert changed["changes"] == {"added": 1, "updated": 0, "deleted": 0}


def test_without_a_change_query_or_with_detection_off_every_run_fetches(
    user: ApiUser, private_standin: TdsStandIn, sql_server_driver: str
) -> None:
    source_id = sql_server_source(user, private_standin, sql_server_driver)
    plain = user.schedule(source_id, user.target_file(), databaseName="SalesDB", query=QUERY)
    off = user.schedule(
        source_id,
        user.target_file(),
        databaseName="SalesDB",
        query=QUERY,
        changeQuery=CHANGE_QUERY,
        changeDetection="off",
    )
    for schedule_id in (plain, off):
        sync(user, schedule_id)
        assert sync(user, schedule_id)["fetchSkipped"] is False


def test_a_change_query_that_writes_is_refused_under_its_field(
    user: ApiUser, private_standin: TdsStandIn, sql_server_driver: str
) -> None:
    source_id = sql_server_source(user, private_standin, sql_server_driver)
    response = user.post(
        "/api/sync/schedules",
        json={
            "name": "Writes",
            "dataSourceId": source_id,
            "targetFileId": user.target_file(),
            "frequency": "hourly",
            "config": {
                "databaseName": "SalesDB",
                "query": QUERY,
                "changeQuery": "SELECT 1 DELETE FROM dbo.Orders",
            },
        },
    )
    assert response.status_code == 400, response.text
    assert [d["field"] for d in response.json()["details"]] == ["config.changeQuery"]
