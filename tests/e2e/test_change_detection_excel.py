"""Change detection for `microsoft-excel` end to end: the API, a real worker process and the
Graph stand-in over TLS. An unchanged workbook costs one Graph request (its driveItem's
cTag) and no token request; an edit is fetched by the next run; a refused item metadata
request fetches as before and the run says why."""

# The fixtures are imported from the Excel end-to-end module and named as test arguments.
# ruff: noqa: F811

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_excel_e2e import (  # noqa: F401 - fixtures
    PAGE_WORKBOOK_ID,
    ExcelService,
    customers_rows,
    excel,
    graph_standin_fixture,
    microsoft_tenant_fixture,
    service,
)


@pytest.fixture
def metadata_refused(excel: ExcelService) -> Iterator[None]:
    excel.tenant.service.refuse_item_metadata()
    yield
    excel.tenant.service.refuse_item_metadata(False)  # the stand-in outlives the test


def test_an_unchanged_workbook_costs_one_graph_request_and_an_edit_is_fetched_next(
    excel: ExcelService,
) -> None:
    file_id = excel.user.target_file("customers.csv")
    schedule = excel.page_example_schedule(excel.app_only_source(), file_id)
    first = excel.sync(schedule["id"])
    assert first["fetchSkipped"] is False

    excel.tenant.service.clear_request_log()
    unchanged = excel.sync(schedule["id"])

    item = f"GET /v1.0/drives/{excel.tenant.drive_id}/items/{PAGE_WORKBOOK_ID}"
    assert excel.tenant.service.request_counts() == {item: 1}  # no token, no workbook call
    assert unchanged["fetchSkipped"] is True
    assert unchanged["changes"] == {"added": 0, "updated": 0, "deleted": 0}
    assert (unchanged["rowCount"], unchanged["fileVersion"]) == (5, first["fileVersion"])

    header, *rows = customers_rows()
    excel.tenant.service.set_worksheet_rows(
        excel.tenant.drive_id, PAGE_WORKBOOK_ID, "Customers", [header, *rows[:-1]]
    )
    edited = excel.sync(schedule["id"])

    assert edited["fetchSkipped"] is False
    assert edited["rowCount"] == 4
    assert [run["fetchSkipped"] for run in excel.history(schedule["id"])] == [False, True, False]


@pytest.mark.usefixtures("metadata_refused")
def test_a_refused_item_metadata_request_fetches_and_the_run_says_why(
    excel: ExcelService,
) -> None:
    schedule = excel.page_example_schedule(excel.app_only_source(), excel.user.target_file())
    excel.sync(schedule["id"])
    again = excel.sync(schedule["id"])

    assert again["fetchSkipped"] is False
    [latest, earliest] = excel.history(schedule["id"])
    assert latest["status"] == earliest["status"] == "success"
    assert latest["changeDetection"].startswith("skipped: Microsoft Graph refused")
    assert latest["error"] is None
