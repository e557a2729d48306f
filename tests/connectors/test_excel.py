"""The microsoft-excel connector: pure rendering and addressing rules first, then behaviour
against the local identity platform + Graph stand-in, driven through real msal and requests
over TLS (CA generated for this run, trusted through REQUESTS_CA_BUNDLE)."""

from __future__ import annotations

import csv
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute
import pytest

from connectors.base import (
    AuthError,
    ConfigError,
    Connector,
    Environment,
    NotFoundError,
    Table,
    TransientError,
)
from connectors.excel import ExcelConnector
from connectors.excel.addresses import (
    AddressError,
    Bounds,
    CellBlock,
    clip_to_used,
    column_index,
    column_letters,
    parse_a1,
    row_blocks,
    rows_per_block,
    worksheet_segment,
)
from connectors.excel.cells import FormatKind, classify_number_format, render_cell
from connectors.excel.sign_in import without_secrets
from connectors.registry import connector_class
from tests.standins.graph.control import GraphStandInControl, start_standin_process
from tests.standins.graph.fixtures import (  # noqa: F401  (pytest fixtures)
    CUSTOMERS_WORKBOOK_ID,
    FIXTURES,
    MicrosoftTenant,
    graph_standin_fixture,
    load_workbook_fixture,
    microsoft_tenant_fixture,
)
from tests.standins.graph.workbook import Worksheet

CUSTOMERS = {"workbookId": CUSTOMERS_WORKBOOK_ID, "worksheetName": "Customers"}


def read_all(table: Table) -> list[list[str]]:
    """Rows as the CSV shows them: empty cells arrive as nulls, which the CSV writes empty."""
    rows: list[list[str]] = []
    for batch in table.batches:
        assert batch.num_columns == len(table.columns)
        assert all(column.type == pa.string() for column in batch.columns)
        assert not any(pa.compute.any(pa.compute.equal(c, "")).as_py() for c in batch.columns)
        rows.extend([["" if v is None else v for v in r.values()] for r in batch.to_pylist()])
    return rows


def graph_requests(tenant: MicrosoftTenant, fragment: str) -> list[tuple[str, str, int]]:
    return [r for r in tenant.service.request_log() if fragment in r[1]]


# --- the plugin ---------------------------------------------------------------------------


def test_registered_as_microsoft_excel_and_satisfies_the_connector_protocol() -> None:
    assert connector_class("microsoft-excel") is ExcelConnector
    assert isinstance(ExcelConnector({}, {}, Environment()), Connector)


# --- cell rendering (pure) ------------------------------------------------------------------


def _serial_cases() -> list[Any]:
    with (FIXTURES / "serial_dates.csv").open(encoding="utf-8") as f:
        return [
            pytest.param(float(r["serial"]), r["numberFormat"], r["expected"], id=r["why"])
            for r in csv.DictReader(f)
        ]


@pytest.mark.parametrize(("serial", "number_format", "expected"), _serial_cases())
def test_excel_serials_render_as_iso_dates_by_number_format(
    serial: float, number_format: str, expected: str
) -> None:
    value = int(serial) if serial.is_integer() else serial
    assert render_cell(value, number_format, "") == expected


@pytest.mark.parametrize(
    ("number_format", "kind"),
    [
        ("General", FormatKind.NUMBER),
        ("0.00E+00", FormatKind.NUMBER),
        ("[Red]#,##0.00;[Blue]-#,##0.00", FormatKind.NUMBER),
        ('_($* #,##0.00_);_($* (#,##0.00);_($* "-"??_);_(@_)', FormatKind.NUMBER),
        ("@", FormatKind.NUMBER),
        ("m/d/yyyy", FormatKind.DATE),
        ("d-mmm", FormatKind.DATE),
        ("dd/mm/yyyy hh:mm", FormatKind.DATETIME),
        ("h:mm AM/PM", FormatKind.TIME),
        ("mm:ss.0", FormatKind.TIME),
        ("[h]:mm:ss", FormatKind.ELAPSED),
        ('yyyy-mm-dd;"never"', FormatKind.DATE),
    ],
)
def test_number_format_kinds(number_format: str, kind: FormatKind) -> None:
    assert classify_number_format(number_format) is kind


@pytest.mark.parametrize(
    ("value", "number_format", "display", "expected"),
    [
        ("00042", "@", "00042", "00042"),  # text keeps its leading zeros
        ("#N/A", "General", "#N/A", "#N/A"),  # errors stay as Excel shows them
        (True, "General", "TRUE", "TRUE"),
        (False, "General", "FALSE", "FALSE"),
        ("", "m/d/yyyy", "", ""),
        (None, "General", "", ""),
        (1.5, "[h]:mm:ss", "36:00:00", "36:00:00"),  # durations as displayed
        ("  spaced ", "General", "  spaced ", "  spaced "),
    ],
)
def test_cells_render_as_the_workbook_user_sees_them(
    value: Any, number_format: str, display: str, expected: str
) -> None:
    assert render_cell(value, number_format, display) == expected


# --- addresses (pure) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "letters"), [(1, "A"), (26, "Z"), (27, "AA"), (702, "ZZ"), (16384, "XFD")]
)
def test_column_letters_round_trip(index: int, letters: str) -> None:
    assert column_letters(index) == letters
    assert column_index(letters) == index


@pytest.mark.parametrize(
    ("address", "bounds"),
    [
        ("A1:D5000", Bounds(1, 1, 5000, 4)),
        ("$B$2:$C$3", Bounds(2, 2, 3, 3)),
        ("D10:A1", Bounds(1, 1, 10, 4)),
        ("C7", Bounds(7, 3, 7, 3)),
        ("A:D", Bounds(None, 1, None, 4)),
        ("2:10", Bounds(2, None, 10, None)),
        ("'Q1 ''24'!A1:B2", Bounds(1, 1, 2, 2)),
    ],
)
def test_a1_ranges_parse(address: str, bounds: Bounds) -> None:
    assert parse_a1(address) == bounds


@pytest.mark.parametrize(
    "address", ["", "A", "A1:B", "1:B", "XFE1", "A0", "A1048577", "A1:B2:C3", "R1C1"]
)
def test_malformed_a1_ranges_are_refused(address: str) -> None:
    with pytest.raises(AddressError):
        parse_a1(address)


def test_row_blocks_cover_the_range_exactly_once() -> None:
    blocks = row_blocks(CellBlock(2, 1, 12_001, 4), 5_000)
    assert [b.address for b in blocks] == ["A2:D5001", "A5002:D10001", "A10002:D12001"]


def test_wide_sheets_get_fewer_rows_per_request() -> None:
    assert rows_per_block(4, max_rows=5_000, max_cells=50_000) == 5_000
    assert rows_per_block(200, max_rows=5_000, max_cells=50_000) == 250
    assert rows_per_block(100_000, max_rows=5_000, max_cells=50_000) == 1


def test_open_ranges_take_the_used_range_extent() -> None:
    used = CellBlock(1, 1, 100, 6)
    assert clip_to_used(Bounds(None, 2, None, 3), used) == CellBlock(1, 2, 100, 3)
    assert clip_to_used(Bounds(3, 1, 500, 10), used) == CellBlock(3, 1, 100, 6)
    assert clip_to_used(Bounds(200, 1, 300, 2), used) is None


@pytest.mark.parametrize(
    ("name", "segment"),
    [
        ("Customers", "worksheets('Customers')"),
        ("Q1 '24 (draft)", "worksheets('Q1%20''24%20%28draft%29')"),
        ("50% #1 & more", "worksheets('50%25%20%231%20%26%20more')"),
    ],
)
def test_worksheet_names_are_odata_string_literals(name: str, segment: str) -> None:
    assert worksheet_segment(name) == segment


# --- error hygiene (pure) --------------------------------------------------


def test_identity_errors_keep_first_line_and_drop_secrets() -> None:
    description = "AADSTS7000215: Invalid client secret 'Xq8~abcd1234' provided.\r\nTrace ID: 1\r\n"
    assert (
        without_secrets(description, ["Xq8~abcd1234"])
        == "AADSTS7000215: Invalid client secret '***' provided."
    )


# --- validation without network ------------------------------------------------------------


ENV = Environment(allowed_hosts=frozenset({"graph.internal.example", "*.graph.example"}))
APP = {"tenantId": "t", "clientId": "c", "clientSecret": "s"}


@pytest.mark.parametrize(
    ("credentials", "settings", "fields"),
    [
        (APP, {"driveId": "d"}, []),
        (APP, {"userId": "u"}, []),
        (APP, {"siteId": "contoso.sharepoint.com,1,2"}, []),
        ({"tenantId": "t", "clientId": "c", "refreshToken": "r"}, {}, []),
        ({"tenantId": "t", "clientId": "c"}, {"driveId": "d"}, ["credentials.clientSecret"]),
        ({"clientId": "c", "clientSecret": "s"}, {"driveId": "d"}, ["credentials.tenantId"]),
        (APP, {}, ["settings.driveId"]),
        (APP, {"driveId": "d", "userId": "u"}, ["settings.userId"]),
        ({**APP, "refreshToken": "r"}, {"driveId": "d"}, ["credentials"]),
        (APP, {"driveId": "d", "graphBaseUrl": "https://graph.microsoft.us/v1.0"}, []),
        (APP, {"driveId": "d", "authorityHost": "https://login.chinacloudapi.cn"}, []),
        (APP, {"driveId": "d", "graphBaseUrl": "https://graph.internal.example/v1.0"}, []),
        (
            APP,
            {"driveId": "d", "graphBaseUrl": "https://169.254.169.254/v1.0"},
            ["settings.graphBaseUrl"],
        ),
        (
            APP,
            {"driveId": "d", "authorityHost": "http://login.microsoftonline.com"},
            ["settings.authorityHost"],
        ),
        # Each endpoint on Microsoft's hosts for it: no sign-in at a Graph host, and no
        # Graph calls (with tokens) to a sign-in host; nothing on another vendor's hosts.
        (
            APP,
            {"driveId": "d", "authorityHost": "https://graph.microsoft.com"},
            ["settings.authorityHost"],
        ),
        (
            APP,
            {"driveId": "d", "graphBaseUrl": "https://login.microsoftonline.com/v1.0"},
            ["settings.graphBaseUrl"],
        ),
        (
            APP,
            {"driveId": "d", "graphBaseUrl": "https://sheets.googleapis.com/v1.0"},
            ["settings.graphBaseUrl"],
        ),
        # The operator's hosts, like Google's connector: wildcards, and plain http.
        (APP, {"driveId": "d", "graphBaseUrl": "https://a.graph.example/v1.0"}, []),
        (APP, {"driveId": "d", "graphBaseUrl": "http://graph.internal.example/v1.0"}, []),
        (APP, {"driveId": "d", "headerRow": 1_048_576}, []),
        (APP, {"driveId": "d", "headerRow": 10**12}, ["settings.headerRow"]),
    ],
)
def test_credentials_shape_checks(
    credentials: dict[str, Any], settings: dict[str, Any], fields: list[str]
) -> None:
    assert [
        p.field for p in ExcelConnector.validate_credentials(credentials, settings, ENV)
    ] == fields


@pytest.mark.parametrize(
    ("selection", "fields"),
    [
        (CUSTOMERS, []),
        ({**CUSTOMERS, "range": "A1:D50", "headerRow": 2}, []),
        ({"worksheetName": "Customers"}, ["config.workbookId"]),
        ({"workbookId": "x"}, ["config.worksheetName"]),
        ({**CUSTOMERS, "worksheetName": "a/b"}, ["config.worksheetName"]),
        ({**CUSTOMERS, "range": "A1:B"}, ["config.range"]),
        ({**CUSTOMERS, "headerRow": 0}, ["config.headerRow"]),
        ({**CUSTOMERS, "headerRow": 1_048_576}, []),
        ({**CUSTOMERS, "headerRow": 1_048_577}, ["config.headerRow"]),
        ({**CUSTOMERS, "headerRow": 10**12}, ["config.headerRow"]),
    ],
)
def test_selection_shape_checks(selection: dict[str, Any], fields: list[str]) -> None:
    assert [p.field for p in ExcelConnector.validate_selection(selection, ENV)] == fields


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"authorityHost": "http://login.microsoftonline.com"}, "settings.authorityHost"),
        ({"graphBaseUrl": "https://login.microsoftonline.com/v1.0"}, "settings.graphBaseUrl"),
        ({"graphBaseUrl": "https://169.254.169.254/v1.0"}, "settings.graphBaseUrl"),
    ],
)
def test_a_stored_source_with_a_refused_override_fails_before_reaching_any_host(
    settings: dict[str, Any], field: str
) -> None:
    """Data sources saved under older rules are checked again when they run or are tested:
    the check is part of building the Graph client, before msal or Graph are asked."""
    connector = ExcelConnector(APP, {"driveId": "d", **settings}, Environment())
    for run in (lambda: connector.fetch(CUSTOMERS, lambda _rows: None), lambda: connector.test({})):
        with pytest.raises(ConfigError) as refused:
            run()
        assert refused.value.field == field


# --- reading through the stand-in ----------------------------------------------------------


def test_reference_page_example_reads_customers_cell_by_cell(
    microsoft_tenant: MicrosoftTenant,
) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    progress: list[int] = []

    table = microsoft_tenant.app_only().fetch(CUSTOMERS, progress.append)
    rows = read_all(table)

    with (FIXTURES / "customers.expected.csv").open(encoding="utf-8", newline="") as f:
        expected = list(csv.reader(f))
    assert table.columns == expected[0]
    for r, (got, want) in enumerate(zip(rows, expected[1:], strict=True), start=2):
        for column, got_cell, want_cell in zip(table.columns, got, want, strict=True):
            assert got_cell == want_cell, f"row {r} {column}"
    assert progress == [5]


def test_data_source_test_gets_a_token_and_lists_worksheets(
    microsoft_tenant: MicrosoftTenant,
) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    connector = microsoft_tenant.app_only()

    assert connector.test({}) == {"access": "app-only"}
    assert connector.test({"workbookId": CUSTOMERS_WORKBOOK_ID}) == {
        "access": "app-only",
        "workbookId": CUSTOMERS_WORKBOOK_ID,
        "worksheets": ["Customers", "Orders", "Q1 '24 (draft)"],
    }


@pytest.mark.parametrize("drive_setting", ["driveId", "userId", "siteId"])
def test_app_only_reads_the_drive_named_by_settings(
    microsoft_tenant: MicrosoftTenant, drive_setting: str
) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    table = microsoft_tenant.app_only(drive_setting).fetch(
        {"workbookId": CUSTOMERS_WORKBOOK_ID, "worksheetName": "Orders"}, lambda _: None
    )
    assert (table.columns, read_all(table)) == (["OrderId", "CustomerId"], [["9001", "1"]])


def test_worksheet_name_with_spaces_and_quotes(microsoft_tenant: MicrosoftTenant) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    table = microsoft_tenant.app_only().fetch(
        {"workbookId": CUSTOMERS_WORKBOOK_ID, "worksheetName": "Q1 '24 (draft)"}, lambda _: None
    )
    assert read_all(table) == [["North", "10.5"], ["South", "7"]]


def test_range_and_header_row_select_part_of_the_sheet(microsoft_tenant: MicrosoftTenant) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    table = microsoft_tenant.app_only().fetch(
        {**CUSTOMERS, "range": "B2:C4", "headerRow": 2}, lambda _: None
    )
    # Row 1 of the range is skipped; row 2 (customer 2) is the header.
    assert table.columns == ["00107", 'O\'Brien & Sons, "Ltd"']
    assert read_all(table) == [["0", "Zoë Müller"]]


def test_msal_application_and_token_are_reused_across_runs(
    microsoft_tenant: MicrosoftTenant,
) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    for _ in range(3):
        read_all(microsoft_tenant.app_only().fetch(CUSTOMERS, lambda _: None))
    assert (
        len(graph_requests(microsoft_tenant, f"/{microsoft_tenant.tenant_id}/oauth2/v2.0/token"))
        == 1
    )
    assert (
        len(graph_requests(microsoft_tenant, f"/{microsoft_tenant.tenant_id}/v2.0/.well-known"))
        == 1
    )


# --- throttling and transient failures -----------------------------------------------------


def test_throttled_once_then_succeeds_after_retry_after(microsoft_tenant: MicrosoftTenant) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    microsoft_tenant.service.add_fault(status=429, times=1, retry_after=1, path_contains="/range(")
    started = time.monotonic()

    rows = read_all(microsoft_tenant.app_only().fetch(CUSTOMERS, lambda _: None))

    assert len(rows) == 5
    assert time.monotonic() - started >= 1.0
    statuses = [s for _, _, s in graph_requests(microsoft_tenant, "/range(")]
    assert statuses == [429, 200]


def test_503_and_504_are_retried_too(microsoft_tenant: MicrosoftTenant) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    microsoft_tenant.service.add_fault(
        status=503, times=1, retry_after=0, path_contains="/usedRange"
    )
    microsoft_tenant.service.add_fault(status=504, times=1, retry_after=0, path_contains="/range(")
    assert len(read_all(microsoft_tenant.app_only().fetch(CUSTOMERS, lambda _: None))) == 5


def test_throttling_beyond_the_budget_raises_transient_error_with_retry_after(
    microsoft_tenant: MicrosoftTenant,
) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    microsoft_tenant.service.add_fault(status=429, times=None, retry_after=600)

    with pytest.raises(TransientError) as caught:
        microsoft_tenant.app_only().fetch(CUSTOMERS, lambda _: None)
    assert caught.value.retry_after == 600
    assert "HTTP 429" in caught.value.message


def test_a_failure_after_the_first_block_raises_instead_of_a_partial_table(
    microsoft_tenant: MicrosoftTenant,
) -> None:
    microsoft_tenant.service.put_worksheets(
        microsoft_tenant.drive_id,
        "big",
        [Worksheet("Data", [["n"]] + [[i] for i in range(12_000)])],
    )
    microsoft_tenant.service.add_fault(
        status=503, times=None, retry_after=600, path_contains="A5001"
    )
    table = microsoft_tenant.app_only().fetch(
        {"workbookId": "big", "worksheetName": "Data"}, lambda _: None
    )
    with pytest.raises(TransientError):
        read_all(table)


# --- credentials and access errors ---------------------------------------------------------


def test_wrong_secret_is_auth_error_without_the_secret(microsoft_tenant: MicrosoftTenant) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    wrong = "Xq8~wrong-" + microsoft_tenant.client_secret[10:]

    with pytest.raises(AuthError) as caught:
        microsoft_tenant.app_only(secret=wrong).fetch(CUSTOMERS, lambda _: None)

    message = caught.value.message
    assert "invalid_client" in message and "AADSTS7000215" in message
    assert wrong not in message and microsoft_tenant.client_secret not in message
    assert "Trace ID" not in message


def test_unknown_tenant_is_auth_error(microsoft_tenant: MicrosoftTenant) -> None:
    microsoft_tenant.tenant_id = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(AuthError, match="tenant"):
        microsoft_tenant.app_only().test({})


def test_revoked_access_token_is_replaced_once(microsoft_tenant: MicrosoftTenant) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    read_all(microsoft_tenant.app_only().fetch(CUSTOMERS, lambda _: None))
    microsoft_tenant.service.revoke_access_tokens()  # msal still holds the old one

    assert len(read_all(microsoft_tenant.app_only().fetch(CUSTOMERS, lambda _: None))) == 5
    token_requests = graph_requests(
        microsoft_tenant, f"/{microsoft_tenant.tenant_id}/oauth2/v2.0/token"
    )
    assert len(token_requests) == 2


def test_graph_rejecting_every_token_is_auth_error(microsoft_tenant: MicrosoftTenant) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    microsoft_tenant.service.add_fault(status=401, times=None, code="InvalidAuthenticationToken")
    with pytest.raises(AuthError, match="InvalidAuthenticationToken"):
        microsoft_tenant.app_only().fetch(CUSTOMERS, lambda _: None)


def test_missing_workbook_is_not_found(microsoft_tenant: MicrosoftTenant) -> None:
    with pytest.raises(NotFoundError, match="workbook 'nope' not found"):
        microsoft_tenant.app_only().fetch(
            {"workbookId": "nope", "worksheetName": "Customers"}, lambda _: None
        )


def test_unknown_worksheet_names_the_ones_that_exist(microsoft_tenant: MicrosoftTenant) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    with pytest.raises(ConfigError) as caught:
        microsoft_tenant.app_only().fetch({**CUSTOMERS, "worksheetName": "Clients"}, lambda _: None)
    assert caught.value.field == "config.worksheetName"
    assert caught.value.message == (
        "worksheet 'Clients' not found in the workbook; it has: "
        "'Customers', 'Orders', 'Q1 '24 (draft)'"
    )


def test_no_permission_hints_at_files_read_all(microsoft_tenant: MicrosoftTenant) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    microsoft_tenant.service.deny_app(microsoft_tenant.client_id)
    with pytest.raises(AuthError, match=r"Files\.Read\.All .*Sites\.Selected"):
        microsoft_tenant.app_only().fetch(CUSTOMERS, lambda _: None)


def test_a_file_that_is_not_a_workbook_is_a_config_error(microsoft_tenant: MicrosoftTenant) -> None:
    microsoft_tenant.service.add_file(microsoft_tenant.drive_id, "doc1", "Minutes.docx")
    with pytest.raises(ConfigError, match="not an Excel workbook") as caught:
        microsoft_tenant.app_only().fetch(
            {"workbookId": "doc1", "worksheetName": "Sheet1"}, lambda _: None
        )
    assert caught.value.field == "config.workbookId"


def test_an_untrusted_certificate_is_a_config_error_not_a_retry(
    microsoft_tenant: MicrosoftTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # roots without the test CA
    with pytest.raises(ConfigError, match="REQUESTS_CA_BUNDLE or SSL_CERT_FILE"):
        microsoft_tenant.app_only().test({})


def test_ssl_cert_file_alone_is_trusted(
    microsoft_tenant: MicrosoftTenant, graph_standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(graph_standin.tls.bundle_file))
    assert microsoft_tenant.app_only().test({}) == {"access": "app-only"}


# --- delegated access ----------------------------------------------------------------------


def test_delegated_refresh_token_is_rotated_and_saved_back(
    microsoft_tenant: MicrosoftTenant,
) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    original = microsoft_tenant.delegated_credentials()

    first = read_all(microsoft_tenant.delegated(original).fetch(CUSTOMERS, lambda _: None))

    assert len(first) == 5
    [saved] = microsoft_tenant.saved_credentials
    assert saved["refreshToken"] != original["refreshToken"]
    assert {k: v for k, v in saved.items() if k != "refreshToken"} == {
        k: v for k, v in original.items() if k != "refreshToken"
    }
    # The next run starts from the saved token; msal's cached access token serves it.
    second = read_all(microsoft_tenant.delegated(saved).fetch(CUSTOMERS, lambda _: None))
    assert second == first

    # The stand-in spends a refresh token on use: a process without that cache (here: the
    # same authority under another name, so another msal application) cannot use the old one.
    elsewhere = ExcelConnector(
        original,
        {
            **microsoft_tenant.endpoint_settings(),
            "authorityHost": microsoft_tenant.standin.authority_host.replace(
                "127.0.0.1", "localhost"
            ),
        },
        Environment(allowed_hosts=frozenset({"127.0.0.1", "localhost"})),
    )
    with pytest.raises(AuthError, match="invalid_grant"):
        elsewhere.test({})
    token_calls = graph_requests(
        microsoft_tenant, f"/{microsoft_tenant.tenant_id}/oauth2/v2.0/token"
    )
    assert [s for *_, s in token_calls] == [200, 400]


def test_delegated_refresh_after_revocation_saves_the_next_rotation(
    microsoft_tenant: MicrosoftTenant,
) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    credentials = microsoft_tenant.delegated_credentials()
    read_all(microsoft_tenant.delegated(credentials).fetch(CUSTOMERS, lambda _: None))
    microsoft_tenant.service.revoke_access_tokens()

    latest = microsoft_tenant.saved_credentials[-1]
    assert len(read_all(microsoft_tenant.delegated(latest).fetch(CUSTOMERS, lambda _: None))) == 5

    tokens = [c["refreshToken"] for c in microsoft_tenant.saved_credentials]
    assert len(tokens) == 2 and len(set(tokens)) == 2  # each rotation saved once, in order


def test_concurrent_runs_of_one_delegated_source_spend_its_refresh_token_once(
    microsoft_tenant: MicrosoftTenant,
) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    credentials = microsoft_tenant.delegated_credentials()
    results: list[int | BaseException] = []

    def run() -> None:
        try:
            table = microsoft_tenant.delegated(credentials).fetch(CUSTOMERS, lambda _: None)
            results.append(len(read_all(table)))
        except BaseException as exc:  # reported through the assertion below
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [5, 5, 5, 5]
    token_calls = graph_requests(
        microsoft_tenant, f"/{microsoft_tenant.tenant_id}/oauth2/v2.0/token"
    )
    assert len(token_calls) == 1
    assert {c["refreshToken"] for c in microsoft_tenant.saved_credentials} == {
        microsoft_tenant.saved_credentials[0]["refreshToken"]
    }


def test_delegated_user_reads_me_drive(microsoft_tenant: MicrosoftTenant) -> None:
    microsoft_tenant.put_workbook(load_workbook_fixture("customers.workbook.json"))
    connector = microsoft_tenant.delegated(microsoft_tenant.delegated_credentials())
    assert connector.test({"workbookId": CUSTOMERS_WORKBOOK_ID})["access"] == "delegated"
    assert graph_requests(microsoft_tenant, "/v1.0/me/drive/items/")


# --- large sheets --------------------------------------------------------------------------


def test_100k_rows_are_read_in_blocks_with_progress(microsoft_tenant: MicrosoftTenant) -> None:
    rows = 100_000
    values: list[list[Any]] = [["id", "sku", "shipped", "amount"]]
    values += [[i, f"{i:08d}", 45000 + i % 365, i * 0.25] for i in range(1, rows + 1)]
    microsoft_tenant.service.put_worksheets(
        microsoft_tenant.drive_id,
        "orders",
        [Worksheet("Orders", values, column_formats=["General", "@", "yyyy-mm-dd", "0.00"])],
    )
    progress: list[int] = []
    started = time.perf_counter()

    table = microsoft_tenant.app_only().fetch(
        {"workbookId": "orders", "worksheetName": "Orders"}, progress.append
    )
    count = 0
    last: list[str] = []
    for batch in table.batches:
        count += batch.num_rows
        last = [batch.column(c)[-1].as_py() for c in range(batch.num_columns)]
    elapsed = time.perf_counter() - started

    assert table.columns == ["id", "sku", "shipped", "amount"]
    assert count == rows
    assert last == ["100000", "00100000", "2024-03-04", "25000"]
    # One used-range probe, then 5,000-row blocks (the first includes the header row);
    # reading all 400k cells at once exceeds the stand-in's payload limit like Graph's.
    assert len(graph_requests(microsoft_tenant, "/range(")) == 21
    assert progress == [min(rows, 4_999 + 5_000 * n) for n in range(21)]
    print(f"\n100k-row worksheet: {rows / elapsed:,.0f} rows/s ({elapsed:.2f} s)")


def test_payload_limit_halves_the_block_until_it_fits(microsoft_tenant: MicrosoftTenant) -> None:
    values: list[list[Any]] = [["a", "b", "c", "d"]] + [[i, i, i, i] for i in range(6_000)]
    microsoft_tenant.service.put_worksheets(
        microsoft_tenant.drive_id, "wide", [Worksheet("S", values)]
    )
    microsoft_tenant.service.configure(max_cells_per_response=6_000)
    try:
        table = microsoft_tenant.app_only().fetch(
            {"workbookId": "wide", "worksheetName": "S"}, lambda _: None
        )
        assert len(read_all(table)) == 6_000
    finally:
        microsoft_tenant.service.configure(max_cells_per_response=100_000)
    statuses = [s for _, _, s in graph_requests(microsoft_tenant, "/range(")]
    assert 400 in statuses and statuses.count(200) > 2


# --- the stand-in as its own process -------------------------------------------------------


def test_standin_runs_as_a_process_driven_by_its_control_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc, description = start_standin_process(tmp_path)
    try:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", description["caBundle"])
        control = GraphStandInControl(description["controlUrl"], description["caFile"])
        control.add_app("tenant-p", "client-p", "secret-p-123456")
        control.add_drive("drive-p")
        control.set_workbook("drive-p", "book", load_workbook_fixture("customers.workbook.json"))
        control.set_worksheet_rows("drive-p", "book", "Orders", [["OrderId"], [1], [2]])
        connector = ExcelConnector(
            {"tenantId": "tenant-p", "clientId": "client-p", "clientSecret": "secret-p-123456"},
            {
                "driveId": "drive-p",
                "authorityHost": description["authorityHost"],
                "graphBaseUrl": description["graphBaseUrl"],
            },
            Environment(allowed_hosts=frozenset({"127.0.0.1"})),
        )
        table = connector.fetch({"workbookId": "book", "worksheetName": "Orders"}, lambda _: None)
        assert read_all(table) == [["1"], ["2"]]
        assert json.loads((tmp_path / "standin.json").read_text()) == description
        assert any("/range(" in path for _, path, _ in control.request_log())
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert isinstance(proc, subprocess.Popen)
