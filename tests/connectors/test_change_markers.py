"""Each spreadsheet connector's change marker, against the stand-ins through the real client
libraries: one metadata request, equal while the data is unchanged, different after an
edit, and a refusal told as ChangeDetectionUnavailable with a reason a person can act on."""

# The stand-ins' pytest fixtures are imported below and then named as test arguments.
# ruff: noqa: F811

from __future__ import annotations

import pytest

from connectors.base import ChangeDetectionUnavailable, TransientError
from tests.standins.graph.fixtures import (  # noqa: F401  (pytest fixtures)
    CUSTOMERS_WORKBOOK_ID,
    MicrosoftTenant,
    graph_standin_fixture,
    load_workbook_fixture,
    microsoft_tenant_fixture,
)
from tests.standins.sheets.control import InThreadStandIn
from tests.standins.sheets.fixtures import (  # noqa: F401  (pytest fixtures)
    OAUTH_CLIENT_ID,
    ConnectorFactory,
    make_sheets_connector,
    oauth_credentials,
    service_account_key,
    sheets_env,
    sheets_standin,
    sleeps,
)

SHEET_ID = "1Marker"
SELECTION = {"spreadsheetId": SHEET_ID, "sheetName": "Data"}
READONLY = "https://www.googleapis.com/auth/spreadsheets.readonly"


@pytest.fixture
def sheet(sheets_standin: InThreadStandIn) -> InThreadStandIn:
    sheets_standin.put_spreadsheet(SHEET_ID, "Orders", {"Data": [["id"], ["1"]]})
    return sheets_standin


def test_a_sheet_marker_is_drive_version_and_stays_equal_until_an_edit(
    sheet: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    first = make_sheets_connector().change_marker(SELECTION)
    again = make_sheets_connector().change_marker(SELECTION)
    sheet.put_sheet(SHEET_ID, "Data", [["id"], ["1"], ["2"]])
    edited = make_sheets_connector().change_marker(SELECTION)

    assert first == again and first.startswith("drive:")
    assert edited != first


def test_a_sheet_marker_is_one_drive_request_with_the_token_the_process_already_has(
    sheet: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    make_sheets_connector().change_marker(SELECTION)
    sheet.clear_requests()

    make_sheets_connector().change_marker(SELECTION)

    [request] = sheet.requests()
    assert (request["path"], request["status"]) == (f"/drive/v3/files/{SHEET_ID}", 200)
    assert request["query"]["fields"] == ["modifiedTime,version"]


def test_a_service_account_without_the_drive_scope_is_told_as_unavailable(
    sheet: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    sheet.refuse_drive_metadata()
    with pytest.raises(ChangeDetectionUnavailable) as refused:
        make_sheets_connector().change_marker(SELECTION)
    assert refused.value.message == "the service account lacks drive.metadata.readonly"


def test_an_oauth_token_granted_sheets_alone_reads_the_sheet_but_not_its_drive_version(
    sheet: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    sheets_only = "1//standin-sheets-only"
    sheet.put_refresh_token(sheets_only, OAUTH_CLIENT_ID, scopes=[READONLY])
    connector = make_sheets_connector(oauth_credentials(sheets_only))

    with pytest.raises(ChangeDetectionUnavailable, match="OAuth refresh token lacks"):
        connector.change_marker(SELECTION)
    table = connector.fetch(SELECTION, lambda _rows: None)
    assert table.columns == ["id"] and sum(b.num_rows for b in table.batches) == 1


def test_a_file_drive_cannot_find_leaves_the_fetch_to_say_why(
    sheet: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    with pytest.raises(ChangeDetectionUnavailable, match="did not find"):
        make_sheets_connector().change_marker({**SELECTION, "spreadsheetId": "1Missing"})


def test_drive_throttling_is_retried_and_then_transient(
    sheet: InThreadStandIn, make_sheets_connector: ConnectorFactory, sleeps: list[float]
) -> None:
    sheet.add_fault(status=429, times=1, match="/drive/")
    assert make_sheets_connector().change_marker(SELECTION)
    assert len(sleeps) == 1

    sheet.add_fault(status=503, times=None, match="/drive/")
    with pytest.raises(TransientError):
        make_sheets_connector(retryBudgetSeconds=0).change_marker(SELECTION)


@pytest.fixture
def workbook(microsoft_tenant: MicrosoftTenant) -> MicrosoftTenant:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    return microsoft_tenant


WORKBOOK = {"workbookId": CUSTOMERS_WORKBOOK_ID, "worksheetName": "Customers"}


def test_a_workbook_marker_is_its_ctag_and_moves_on_with_an_edit(workbook: MicrosoftTenant) -> None:
    first = workbook.app_only().change_marker(WORKBOOK)
    again = workbook.app_only().change_marker(WORKBOOK)
    workbook.service.set_worksheet_rows(
        workbook.drive_id, CUSTOMERS_WORKBOOK_ID, "Customers", [["id"], [1]]
    )
    edited = workbook.app_only().change_marker(WORKBOOK)

    assert first == again and first.startswith('ctag:"c:{')
    assert edited != first


def test_a_workbook_marker_is_one_request_with_msal_s_cached_token(
    workbook: MicrosoftTenant,
) -> None:
    workbook.app_only().change_marker(WORKBOOK)
    workbook.service.clear_request_log()

    workbook.app_only().change_marker(WORKBOOK)

    assert workbook.service.request_counts() == {
        f"GET /v1.0/drives/{workbook.drive_id}/items/{CUSTOMERS_WORKBOOK_ID}": 1
    }
    [(_method, raw_path, _status)] = workbook.service.request_log()
    assert "%24select=cTag%2CeTag" in raw_path or "$select=cTag,eTag" in raw_path


def test_a_refused_or_missing_drive_item_is_told_as_unavailable(
    workbook: MicrosoftTenant,
) -> None:
    with pytest.raises(ChangeDetectionUnavailable, match="did not find"):
        workbook.app_only().change_marker({**WORKBOOK, "workbookId": "01MISSING"})
    workbook.service.refuse_item_metadata()
    try:
        with pytest.raises(ChangeDetectionUnavailable, match="refused the workbook's metadata"):
            workbook.app_only().change_marker(WORKBOOK)
    finally:
        workbook.service.refuse_item_metadata(False)
