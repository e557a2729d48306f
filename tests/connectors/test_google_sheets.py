"""The google-sheets connector, specified against a local Sheets API v4 + OAuth stand-in
driven through the real gspread and google-auth, plus its pure transforms."""

# The stand-in's pytest fixtures are imported below and then named as test arguments.
# ruff: noqa: F811

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import gspread
import pyarrow.compute as pc
import pytest

from connectors.base import (
    AuthError,
    ConfigError,
    Environment,
    NotFoundError,
    Table,
    TransientError,
)
from connectors.columns import column_index, column_letters
from connectors.google_sheets import GoogleSheetsConnector
from connectors.google_sheets.a1 import (
    CellRange,
    RangeSyntaxError,
    parse_a1_range,
    quote_sheet_title,
    split_sheet_prefix,
    spreadsheet_id_from,
)
from connectors.google_sheets.credentials import build_credentials
from connectors.google_sheets.endpoints import endpoint_problems
from connectors.google_sheets.http_client import SheetsHTTPClient
from connectors.google_sheets.rows import (
    ChunkSizing,
    TrailingBlankRowTrimmer,
    first_cell_beyond,
    merge_unformatted_rows,
    pad_row,
    serial_to_iso,
)
from tests.standins.sheets import ServiceAccountKey, start_standin_process, write_state_file
from tests.standins.sheets.control import InThreadStandIn
from tests.standins.sheets.egress import recording_proxy
from tests.standins.sheets.fixtures import (  # noqa: F401  (pytest fixtures)
    OAUTH_CLIENT_ID,
    REVOKED_REFRESH_TOKEN,
    ConnectorFactory,
    make_sheets_connector,
    oauth_credentials,
    service_account_key,
    sheets_env,
    sheets_standin,
    sleeps,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "google_sheets"
SHEET_ID = "1ABC-DEF"  # the reference page's example id


def read_all(table: Table) -> list[list[str]]:
    rows: list[list[str]] = []
    for batch in table.batches:
        assert batch.num_columns == len(table.columns)
        # Empty cells arrive as nulls (the CSV writes them empty); shown here as "".
        assert not any(pc.any(pc.equal(column, "")).as_py() for column in batch.columns)
        rows.extend(["" if v is None else v for v in row.values()] for row in batch.to_pylist())
    return rows


def as_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(read_all(table))
    return out.getvalue()


def load_sales(standin: InThreadStandIn, readers: list[str] | None = None) -> None:
    body = json.loads((FIXTURES / "sales.json").read_text())
    standin.put_spreadsheet(SHEET_ID, body["title"], body["sheets"], readers=readers)


def fetch(connector: GoogleSheetsConnector, **selection: Any) -> Table:
    return connector.fetch({"spreadsheetId": SHEET_ID, **selection}, lambda _rows: None)


# -- reading sheets --------------------------------------------------------------------------


def test_sheet_lands_as_the_user_sees_it_formatted_values_by_default(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    load_sales(sheets_standin)
    table = fetch(make_sheets_connector(), sheetName="Sales Data")
    assert as_csv(table) == (FIXTURES / "sales_data.formatted.csv").read_text()


def test_reference_page_example_selection_yields_every_cell_as_shown(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    body = json.loads((FIXTURES / "reference_example.json").read_text())
    sheets_standin.put_spreadsheet(SHEET_ID, body["title"], body["sheets"])
    table = fetch(make_sheets_connector(), sheetName="Sales Data", range="A1:L1000")
    assert as_csv(table) == (FIXTURES / "reference_example.formatted.csv").read_text()


def test_unformatted_values_are_raw_numbers_with_serial_dates_as_iso(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    load_sales(sheets_standin)
    table = fetch(make_sheets_connector(), sheetName="Sales Data", valueRender="unformatted")
    assert as_csv(table) == (FIXTURES / "sales_data.unformatted.csv").read_text()


def test_unformatted_numbers_land_with_fifteen_significant_digits_as_excel_and_sql_give(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    """Sheets sends the double itself (0.1 + 0.2 is 0.30000000000000004); the sheet shows
    0.3, and so do Excel sources and SQL float columns. Plain digits, never an exponent."""
    rows = [["sum", "tiny", "large", "whole"], [0.1 + 0.2, 1e-7, 12345678901.5, 42.0]]
    sheets_standin.put_spreadsheet(SHEET_ID, "Numbers", {"N": rows})
    table = fetch(make_sheets_connector(), sheetName="N", valueRender="unformatted")
    assert as_csv(table) == "sum,tiny,large,whole\n0.3,0.0000001,12345678901.5,42\n"


def test_ragged_rows_are_padded_to_header_width_with_empty_strings(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    sheets_standin.put_spreadsheet(
        SHEET_ID, "Ragged", {"S": [["a", "b", "c"], ["1"], ["1", "2"], ["", "", "3"]]}
    )
    table = fetch(make_sheets_connector(), sheetName="S")
    assert table.columns == ["a", "b", "c"]
    assert read_all(table) == [["1", "", ""], ["1", "2", ""], ["", "", "3"]]


def test_trailing_empty_rows_are_dropped_but_blank_rows_between_data_are_kept(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    sheets_standin.put_spreadsheet(
        SHEET_ID, "Blanks", {"S": [["h"], ["1"], [], [""], ["2"], [], ["", ""], []]}
    )
    assert read_all(fetch(make_sheets_connector(), sheetName="S")) == [["1"], [""], [""], ["2"]]


def test_header_row_below_the_top_skips_the_rows_above_it(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    load_sales(sheets_standin)
    table = fetch(make_sheets_connector(), sheetName="Report", headerRow=3)
    assert as_csv(table) == (FIXTURES / "report.header_row_3.csv").read_text()


def test_a1_range_selects_its_columns_blank_headers_included(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    # The reference page's example: A1:L1000 fixes 12 columns even where headers are blank.
    rows = [[f"h{c}" for c in range(10)], [str(c) for c in range(14)]]
    sheets_standin.put_spreadsheet(SHEET_ID, "Wide", {"Sales Data": rows})
    table = fetch(make_sheets_connector(), sheetName="Sales Data", range="A1:L1000")
    assert table.columns == [f"h{c}" for c in range(10)] + ["", ""]
    assert read_all(table) == [[str(c) for c in range(12)]]


def test_a1_range_with_open_rows_and_header_row_counts_from_the_range_top(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    rows = [["title"], ["x", "Name", "Qty", "y"], ["x", "nut", "3", "y"], ["x", "bolt", "", "y"]]
    sheets_standin.put_spreadsheet(SHEET_ID, "Offset", {"S": rows})
    table = fetch(make_sheets_connector(), sheetName="S", range="B2:C", headerRow=1)
    assert table.columns == ["Name", "Qty"]
    assert read_all(table) == [["nut", "3"], ["bolt", ""]]


@pytest.mark.parametrize(
    "title", ["Sales Data", 'Bob\'s "Q1" sheet', "a!b:c", "  padded  ", "''", "日本語 シート"]
)
def test_sheet_names_with_spaces_and_quotes_are_addressed_exactly(
    title: str, sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    sheets_standin.put_spreadsheet(SHEET_ID, "Names", {"Other": [["wrong"]], title: [["k"], ["v"]]})
    table = fetch(make_sheets_connector(), sheetName=title, range="A1:A10")
    assert (table.columns, read_all(table)) == (["k"], [["v"]])


def test_a_full_spreadsheet_url_is_accepted_as_spreadsheet_id(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    sheets_standin.put_spreadsheet(SHEET_ID, "Url", {"S": [["k"], ["v"]]})
    url = f"https://docs.google.com/spreadsheets/d/{SHEET_ID}/edit#gid=0"
    table = make_sheets_connector().fetch({"spreadsheetId": url, "sheetName": "S"}, lambda _: None)
    assert read_all(table) == [["v"]]


def test_data_under_a_blank_trailing_header_becomes_a_column_without_a_name(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    sheets_standin.put_spreadsheet(SHEET_ID, "Blank", {"S": [["a", "b"], ["1", "2", "3"]]})
    table = fetch(make_sheets_connector(), sheetName="S")
    assert (table.columns, read_all(table)) == (["a", "b", ""], [["1", "2", "3"]])


def test_cells_beyond_the_header_width_in_a_later_chunk_fail_the_run_naming_the_cell(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    rows: list[list[Any]] = [["a", "b"]] + [[str(i), "x"] for i in range(6000)]
    rows[5500] = ["5499", "x", "stray note"]
    sheets_standin.put_spreadsheet(SHEET_ID, "Stray", {"S": rows})
    table = fetch(make_sheets_connector(), sheetName="S")
    with pytest.raises(ConfigError, match=r"Cell C5501 holds 'stray note'") as error:
        read_all(table)
    assert error.value.field == "config.range"


# -- large sheets ----------------------------------------------------------------------------


def test_100k_row_sheet_is_read_in_chunks_under_2mb_with_progress_per_chunk(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    sheets_standin.put_spreadsheet(SHEET_ID, "Big", {"Data": [["placeholder"]]})
    sheets_standin.put_generated_sheet(SHEET_ID, "Data", rows=100_000, columns=12)
    sheets_standin.clear_requests()
    progress: list[int] = []

    started = time.perf_counter()
    table = make_sheets_connector().fetch(
        {"spreadsheetId": SHEET_ID, "sheetName": "Data"}, progress.append
    )
    count = 0
    last: list[str] = []
    for batch in table.batches:
        count += batch.num_rows
        last = [column[-1].as_py() for column in batch.columns]
    elapsed = time.perf_counter() - started
    print(f"\n100k x 12 sheet: {count / elapsed:,.0f} rows/s ({elapsed:.2f}s)")

    assert table.columns == [f"col{c}" for c in range(1, 13)]
    assert count == 100_000
    assert last == [f"r100000c{c}" for c in range(1, 13)]
    reads = [r for r in sheets_standin.requests() if "/values/" in r["path"]]
    assert len(reads) > 1 and len(progress) == len(reads)
    assert max(r["bytes"] for r in reads) < 2_000_000
    assert progress == sorted(progress) and progress[-1] == 100_000


# -- quotas and transient failures -----------------------------------------------------------


def test_429_is_retried_honouring_retry_after_and_the_read_succeeds(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory, sleeps: list[float]
) -> None:
    load_sales(sheets_standin)
    sheets_standin.add_fault(429, times=2, retry_after=7, match="/values/")
    table = fetch(make_sheets_connector(), sheetName="Sales Data")
    assert as_csv(table) == (FIXTURES / "sales_data.formatted.csv").read_text()
    assert len(sleeps) == 2 and all(wait >= 7 for wait in sleeps)
    statuses = [r["status"] for r in sheets_standin.requests() if "/values/" in r["path"]]
    assert statuses == [429, 429, 200]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_with_backoff_under_a_doubling_ceiling(
    status: int,
    sheets_standin: InThreadStandIn,
    make_sheets_connector: ConnectorFactory,
    sleeps: list[float],
) -> None:
    load_sales(sheets_standin)
    sheets_standin.add_fault(status, times=3)
    assert len(read_all(fetch(make_sheets_connector(), sheetName="Sales Data"))) == 5
    assert len(sleeps) == 3
    assert all(0 <= wait <= ceiling for wait, ceiling in zip(sleeps, [1, 2, 4], strict=True))


def test_429_until_the_budget_runs_out_is_a_transient_error_with_retry_after(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    load_sales(sheets_standin)
    sheets_standin.add_fault(429, times=None, retry_after=1, match="/values/")
    connector = make_sheets_connector(real_sleep=True, retryBudgetSeconds=1.5)
    started = time.monotonic()
    with pytest.raises(TransientError, match="429 RESOURCE_EXHAUSTED") as error:
        fetch(connector, sheetName="Sales Data")
    assert error.value.retry_after == 1
    assert time.monotonic() - started < 5


def test_throttling_after_the_first_chunk_fails_the_run_instead_of_a_partial_table(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    sheets_standin.put_spreadsheet(SHEET_ID, "Big", {"Data": [["placeholder"]]})
    sheets_standin.put_generated_sheet(SHEET_ID, "Data", rows=30_000, columns=12)
    table = fetch(make_sheets_connector(retryBudgetSeconds=0), sheetName="Data")
    batches = iter(table.batches)
    next(batches)
    sheets_standin.add_fault(429, times=None, retry_after=30)
    with pytest.raises(TransientError) as error:
        list(batches)
    assert error.value.retry_after == 30


def test_a_response_slower_than_the_timeout_is_a_transient_error(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    load_sales(sheets_standin)
    sheets_standin.add_fault(None, times=None, delay_seconds=1.0, match="/values/")
    env = Environment(allowed_hosts=frozenset({"127.0.0.1"}), http_timeout_seconds=0.3)
    with pytest.raises(TransientError, match="ReadTimeout"):
        fetch(make_sheets_connector(env=env, retryBudgetSeconds=0), sheetName="Sales Data")


# -- errors users must understand ------------------------------------------------------------


def test_unknown_spreadsheet_is_not_found_naming_the_id(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    with pytest.raises(NotFoundError, match="no spreadsheet with id '1ABC-DEF'"):
        fetch(make_sheets_connector(), sheetName="Sales Data")


def test_sheet_not_shared_with_the_service_account_names_the_email_to_share_with(
    sheets_standin: InThreadStandIn,
    make_sheets_connector: ConnectorFactory,
    service_account_key: ServiceAccountKey,
) -> None:
    load_sales(sheets_standin, readers=["someone@example.com"])
    with pytest.raises(AuthError) as error:
        fetch(make_sheets_connector(), sheetName="Sales Data")
    assert f"add {service_account_key.email} as a Viewer" in str(error.value)


def test_unknown_sheet_title_is_a_config_error_listing_the_titles(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    load_sales(sheets_standin)
    with pytest.raises(ConfigError) as error:
        fetch(make_sheets_connector(), sheetName="sales data")
    message = str(error.value)
    assert "no sheet named 'sales data'" in message and "did you mean 'Sales Data'" in message
    assert "'Report'" in message and error.value.field == "config.sheetName"


def test_service_account_key_not_matching_the_registered_one_is_an_auth_error(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    # Same account, another private key: the token endpoint's signature check refuses it.
    impostor = ServiceAccountKey.generate()
    load_sales(sheets_standin)
    with pytest.raises(AuthError, match="Invalid JWT Signature"):
        fetch(make_sheets_connector({"serviceAccountInfo": impostor.info()}), sheetName="S")


def test_a_range_below_the_sheets_grid_is_an_empty_table_not_a_google_error(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    load_sales(sheets_standin)
    # Google refuses ranges starting beyond the grid (1000 rows here) with "exceeds grid
    # limits"; the connector clips ranges to the grid, so there is nothing to read.
    table = fetch(make_sheets_connector(), sheetName="Sales Data", range="A2000:B3000")
    assert (table.columns, read_all(table)) == ([], [])


# -- OAuth user credentials ------------------------------------------------------------------


def test_oauth_refresh_token_reads_the_sheet(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    load_sales(sheets_standin)
    table = fetch(make_sheets_connector(oauth_credentials()), sheetName="Sales Data")
    assert len(read_all(table)) == 5
    token_calls = [r for r in sheets_standin.requests() if r["path"] == "/token"]
    assert [r["status"] for r in token_calls] == [200]


def test_revoked_refresh_token_asks_to_reauthorise_and_explains_testing_mode_expiry(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    load_sales(sheets_standin)
    connector = make_sheets_connector(oauth_credentials(REVOKED_REFRESH_TOKEN))
    with pytest.raises(AuthError) as error:
        fetch(connector, sheetName="Sales Data")
    message = str(error.value)
    assert "expired or been revoked" in message and "Re-authorise" in message
    assert '"Testing"' in message and "7 days" in message
    assert REVOKED_REFRESH_TOKEN not in message


def test_wrong_oauth_client_secret_is_an_auth_error_naming_the_fields(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    connector = make_sheets_connector(oauth_credentials(clientSecret="nope"))
    with pytest.raises(AuthError, match=r"credentials\.oauth\.clientSecret"):
        connector.test({})


def test_refresh_token_without_the_sheets_scope_asks_to_reauthorise_granting_it(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    drive_only = "1//standin-drive-file-only"
    scopes = ["https://www.googleapis.com/auth/drive.file"]
    sheets_standin.put_refresh_token(drive_only, OAUTH_CLIENT_ID, scopes=scopes)
    with pytest.raises(AuthError, match="not granted read access to Google Sheets"):
        make_sheets_connector(oauth_credentials(drive_only)).test({})


def test_an_access_token_expiring_mid_read_is_refreshed_transparently(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    sheets_standin.put_spreadsheet(SHEET_ID, "Big", {"Data": [["placeholder"]]})
    sheets_standin.put_generated_sheet(SHEET_ID, "Data", rows=30_000, columns=12)
    table = fetch(make_sheets_connector(oauth_credentials()), sheetName="Data")
    batches = iter(table.batches)
    first = next(batches).num_rows
    sheets_standin.expire_access_tokens()
    assert first + sum(batch.num_rows for batch in batches) == 30_000
    statuses = [r["status"] for r in sheets_standin.requests() if r["path"] == "/token"]
    assert statuses == [200, 200]


# -- connection test -------------------------------------------------------------------------


def test_connection_test_reports_spreadsheet_title_and_sheet_names(
    sheets_standin: InThreadStandIn,
    make_sheets_connector: ConnectorFactory,
    service_account_key: ServiceAccountKey,
) -> None:
    load_sales(sheets_standin)
    details = make_sheets_connector().test({"spreadsheetId": SHEET_ID})
    assert details == {
        "account": service_account_key.email,
        "spreadsheetId": SHEET_ID,
        "spreadsheetTitle": "Sales 2024",
        "sheetNames": ["Sales Data", 'Bob\'s "Q1" sheet', "Report"],
    }


def test_a_throttled_connection_test_says_when_to_try_again_not_that_a_sync_will_retry(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    load_sales(sheets_standin)
    sheets_standin.add_fault(429, times=None, retry_after=20)
    with pytest.raises(TransientError) as error:
        make_sheets_connector(retryBudgetSeconds=0).test({"spreadsheetId": SHEET_ID})
    assert "429 RESOURCE_EXHAUSTED" in error.value.message
    assert "Google asked to wait 20 s before trying again." in error.value.message
    assert "retried" not in error.value.message and "sync" not in error.value.message.lower()


def test_connection_test_without_a_spreadsheet_only_obtains_a_token(
    sheets_standin: InThreadStandIn, make_sheets_connector: ConnectorFactory
) -> None:
    assert make_sheets_connector(oauth_credentials()).test({}) == {
        "account": "OAuth user credentials"
    }
    assert [r["path"] for r in sheets_standin.requests()] == ["/token"]


# -- validation without network --------------------------------------------------------------

ENV = Environment(allowed_hosts=frozenset({"127.0.0.1", "sheets.internal.example"}))
KEY = {
    "type": "service_account",
    "client_email": "a@p.iam.gserviceaccount.com",
    "private_key": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
}


@pytest.mark.parametrize(
    ("credentials", "settings", "fields"),
    [
        ({"serviceAccountInfo": KEY}, {}, []),
        ({"oauth": {"clientId": "c", "clientSecret": "s", "refreshToken": "r"}}, {}, []),
        ({}, {}, ["credentials"]),
        ({"serviceAccountInfo": KEY, "oauth": {}}, {}, ["credentials"]),
        ({"serviceAccountInfo": "{...}"}, {}, ["credentials.serviceAccountInfo"]),
        (
            {"serviceAccountInfo": {**KEY, "type": "authorized_user", "private_key": ""}},
            {},
            ["credentials.serviceAccountInfo.type", "credentials.serviceAccountInfo.private_key"],
        ),
        (
            {"oauth": {"clientId": "c", "refreshToken": " "}},
            {},
            ["credentials.oauth.clientSecret", "credentials.oauth.refreshToken"],
        ),
        ({"serviceAccountInfo": KEY}, {"sheetsBaseUrl": "https://sheets.internal.example"}, []),
        (
            {"serviceAccountInfo": KEY},
            {"sheetsBaseUrl": "http://169.254.169.254"},
            ["settings.sheetsBaseUrl"],
        ),
        (
            {"serviceAccountInfo": KEY},
            {"tokenUri": "http://oauth2.googleapis.com/token"},
            ["settings.tokenUri"],
        ),
        (
            {"serviceAccountInfo": {**KEY, "token_uri": "https://evil.example/token"}},
            {},
            ["credentials.serviceAccountInfo.token_uri"],
        ),
        (
            {"serviceAccountInfo": {**KEY, "token_uri": "https://evil.example/token"}},
            {"tokenUri": "http://127.0.0.1:9/token"},
            [],
        ),
        ({"serviceAccountInfo": KEY}, {"retryBudgetSeconds": 601}, ["settings.retryBudgetSeconds"]),
        ({"serviceAccountInfo": KEY}, {"retryBudgetSeconds": 600}, []),
        ({"serviceAccountInfo": KEY}, {"headerRow": 10_000_000}, []),
        ({"serviceAccountInfo": KEY}, {"headerRow": 10**12}, ["settings.headerRow"]),
    ],
)
def test_credentials_and_endpoint_settings_are_checked_without_network(
    credentials: dict[str, Any], settings: dict[str, Any], fields: list[str]
) -> None:
    problems = GoogleSheetsConnector.validate_credentials(credentials, settings, ENV)
    assert [p.field for p in problems] == fields


@pytest.mark.parametrize(
    ("selection", "fields"),
    [
        ({"spreadsheetId": "1ABC-DEF", "sheetName": "Sales Data", "range": "A1:L1000"}, []),
        (
            {
                "spreadsheetId": "https://docs.google.com/spreadsheets/d/abc_1/edit",
                "sheetName": "S",
            },
            [],
        ),
        ({}, ["config.spreadsheetId", "config.sheetName"]),
        ({"spreadsheetId": "not an id!", "sheetName": "S"}, ["config.spreadsheetId"]),
        ({"spreadsheetId": "x", "sheetName": "S", "range": "Sales!A1"}, ["config.range"]),
        ({"spreadsheetId": "x", "sheetName": "S", "range": "'S'!A1:B2"}, []),
        ({"spreadsheetId": "x", "sheetName": "S", "range": "MyNamedRange"}, ["config.range"]),
        ({"spreadsheetId": "x", "sheetName": "S", "headerRow": 0}, ["config.headerRow"]),
        ({"spreadsheetId": "x", "sheetName": "S", "headerRow": True}, ["config.headerRow"]),
        ({"spreadsheetId": "x", "sheetName": "S", "headerRow": 10_000_000}, []),
        ({"spreadsheetId": "x", "sheetName": "S", "headerRow": 10**12}, ["config.headerRow"]),
        (
            {"spreadsheetId": "x", "sheetName": "S", "range": "A1:B5", "headerRow": 6},
            ["config.headerRow"],
        ),
        ({"spreadsheetId": "x", "sheetName": "S", "valueRender": "raw"}, ["config.valueRender"]),
        ({"spreadsheetId": "x", "sheetName": "S", "primaryKey": "id", "syncTime": "06:00"}, []),
    ],
)
def test_selection_is_checked_without_network(selection: dict[str, Any], fields: list[str]) -> None:
    assert [p.field for p in GoogleSheetsConnector.validate_selection(selection, ENV)] == fields


# -- where credentials may go ------------------------------------------------------------------


def test_google_tokens_are_sent_nowhere_but_the_configured_endpoints(
    sheets_standin: InThreadStandIn,
    make_sheets_connector: ConnectorFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """google-auth (2.55+) follows each service-account token with a background lookup at
    iamcredentials.googleapis.com that no public setting turns off; with private endpoints
    configured, not even that may leave the worker. The recording proxy stands in for the
    Internet: anything not bound for 127.0.0.1 would show up in it."""
    load_sales(sheets_standin)
    with recording_proxy() as internet:
        for name, value in internet.env().items():
            monkeypatch.setenv(name, value)
        connector = make_sheets_connector()
        assert connector.test({"spreadsheetId": SHEET_ID})["spreadsheetTitle"] == "Sales 2024"
        assert len(read_all(fetch(connector, sheetName="Sales Data"))) == 5
        sheets_standin.expire_access_tokens()  # a refresh mid-run triggers it again
        assert len(read_all(fetch(connector, sheetName="Sales Data"))) == 5
        time.sleep(0.5)  # the lookup would run on a background thread
    assert internet.requests == []
    paths = {r["path"] for r in sheets_standin.requests()}
    assert paths <= {
        "/token",
        f"/v4/spreadsheets/{SHEET_ID}",
        f"/v4/spreadsheets/{SHEET_ID}/values/'Sales Data'!1:1000",
    }


def test_the_keys_own_token_uri_is_used_when_no_token_uri_setting_is_given(
    sheets_standin: InThreadStandIn,
    sheets_env: Environment,
    service_account_key: ServiceAccountKey,
) -> None:
    load_sales(sheets_standin)
    key = {"serviceAccountInfo": service_account_key.info(token_uri=sheets_standin.token_uri)}
    connector = GoogleSheetsConnector(key, {"sheetsBaseUrl": sheets_standin.url}, sheets_env)
    assert len(read_all(fetch(connector, sheetName="Sales Data"))) == 5
    assert sheets_standin.requests()[0]["path"] == "/token"


# -- the stand-in itself, through gspread's own high-level API -------------------------------


def test_standin_answers_gspread_batch_get_like_the_sheets_api(
    sheets_standin: InThreadStandIn, service_account_key: ServiceAccountKey
) -> None:
    load_sales(sheets_standin)
    key_info = {**service_account_key.info(), "token_uri": sheets_standin.token_uri}
    http = SheetsHTTPClient(
        build_credentials({"serviceAccountInfo": key_info}, None),
        api_root=sheets_standin.url,
        token_uri=sheets_standin.token_uri,
    )
    worksheet = gspread.Spreadsheet(http, {"id": SHEET_ID}).worksheet("Sales Data")
    first, blank, report = worksheet.batch_get(["A1:B2", "A5:C5", "G1:G3"])
    assert first == [["Order", "Region"], ["1001", "North"]]
    assert blank == []  # an empty range comes back without values
    assert report == [["Note"], ["first order"]]  # trailing empty row left out
    every = worksheet.get_all_values()  # gspread pads; the stand-in left the tail out
    assert len(every) == 6 and every[4] == [""] * 7


def test_standin_runs_as_its_own_process_and_sheets_can_be_edited_between_syncs(
    tmp_path: Path, service_account_key: ServiceAccountKey
) -> None:
    state = {
        "spreadsheets": {SHEET_ID: {"title": "T", "sheets": [{"title": "S", "rows": [["k"]]}]}},
        "serviceAccounts": {service_account_key.email: service_account_key.registration()},
    }
    standin = start_standin_process(state_file=write_state_file(tmp_path / "s.json", state))
    try:
        connector = GoogleSheetsConnector(
            {"serviceAccountInfo": service_account_key.info()},
            {"sheetsBaseUrl": standin.url, "tokenUri": standin.token_uri},
            Environment(allowed_hosts=frozenset({"127.0.0.1"}), http_timeout_seconds=5),
        )
        assert read_all(fetch(connector, sheetName="S")) == []
        standin.put_sheet(SHEET_ID, "S", [["k"], ["v1"], ["v2"]])
        assert read_all(fetch(connector, sheetName="S")) == [["v1"], ["v2"]]
    finally:
        standin.stop()
    assert standin.process.returncode == 0


# -- pure transforms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A1:L1000", CellRange(1, 1, 1000, 12)),
        ("a1:l1000", CellRange(1, 1, 1000, 12)),
        ("$B$2:$D$9", CellRange(2, 2, 9, 4)),
        ("D9:B2", CellRange(2, 2, 9, 4)),
        ("A:L", CellRange(1, 1, None, 12)),
        ("2:500", CellRange(2, 1, 500, None)),
        ("A5:L", CellRange(5, 1, None, 12)),
        ("C7", CellRange(7, 3, 7, 3)),
        ("AA1:ZZZ2", CellRange(1, 27, 2, 18_278)),
    ],
)
def test_a1_ranges_parse_to_their_rows_and_columns(text: str, expected: CellRange) -> None:
    assert parse_a1_range(text) == expected


@pytest.mark.parametrize(
    "text", ["", "A", "Sales", "A1:", ":B2", "1:B", "A1:B2:C3", "AAAA1", "A0", "A1:A99999999"]
)
def test_malformed_a1_ranges_are_refused(text: str) -> None:
    with pytest.raises(RangeSyntaxError):
        parse_a1_range(text)


@pytest.mark.parametrize(
    ("cells", "first_row", "last_row", "clip", "expected"),
    [
        (CellRange(1, 1, 1000, 12), 1, 500, None, "A1:L500"),
        (CellRange(1, 2, None, 4), 10, 20, None, "B10:D20"),
        (CellRange(1, 1, None, None), 2, 9, None, "2:9"),
        (CellRange(1, 1, 9, 40), 1, 9, 26, "A1:Z9"),
    ],
)
def test_chunk_ranges_are_written_in_a1(
    cells: CellRange, first_row: int, last_row: int, clip: int | None, expected: str
) -> None:
    assert cells.rows_a1(first_row, last_row, clip) == expected


@pytest.mark.parametrize(
    ("index", "letters"),
    [(1, "A"), (26, "Z"), (27, "AA"), (702, "ZZ"), (703, "AAA"), (18_278, "ZZZ")],
)
def test_column_letters_round_trip(index: int, letters: str) -> None:
    assert column_letters(index) == letters and column_index(letters) == index


@pytest.mark.parametrize(
    ("title", "quoted"),
    [
        ("Sheet1", "'Sheet1'"),
        ("Sales Data", "'Sales Data'"),
        ("Bob's", "'Bob''s'"),
        ("''", "''''''"),
    ],
)
def test_sheet_titles_are_quoted_for_a1(title: str, quoted: str) -> None:
    assert quote_sheet_title(title) == quoted
    assert split_sheet_prefix(quoted + "!A1") == (title, "A1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1ABC-DEF", "1ABC-DEF"),
        (
            " 1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms ",
            "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms",
        ),
        ("https://docs.google.com/spreadsheets/d/abc_DEF-1/edit#gid=0", "abc_DEF-1"),
        ("https://docs.google.com/spreadsheets/u/1/d/abc/edit?usp=sharing", "abc"),
        ("docs.google.com/spreadsheets/d/abc/", "abc"),
        ("https://docs.google.com/spreadsheet/ccc?key=old_KEY&usp=drive_web", "old_KEY"),
        ("https://example.com/whatever", None),
        ("not an id", None),
    ],
)
def test_spreadsheet_id_is_extracted_from_ids_and_urls(text: str, expected: str | None) -> None:
    assert spreadsheet_id_from(text) == expected


@pytest.mark.parametrize(
    ("row", "width", "expected"),
    [
        ([], 3, ["", "", ""]),
        (["a"], 3, ["a", "", ""]),
        (["a", "b", "c"], 3, ["a", "b", "c"]),
        (["a", "b", ""], 2, ["a", "b"]),
    ],
)
def test_rows_are_padded_or_cut_to_width(row: list[str], width: int, expected: list[str]) -> None:
    assert pad_row(row, width) == expected


@pytest.mark.parametrize(
    ("row", "width", "expected"),
    [
        (["a", "b"], 2, None),
        (["a", "b", "", ""], 2, None),
        (["a", "b", "", "x"], 2, 3),
        (["x"], 0, 0),
    ],
)
def test_first_cell_beyond_the_header_width_is_found(
    row: list[str], width: int, expected: int | None
) -> None:
    assert first_cell_beyond(row, width) == expected


def test_blank_rows_are_released_only_when_data_follows_them() -> None:
    trimmer = TrailingBlankRowTrimmer()
    assert trimmer.feed([["a"], [""]], 1) == [["a"]]
    trimmer.hold(2)  # rows the API left out at the end of a chunk
    assert trimmer.feed([["b"], [""]], 1) == [[""], [""], [""], ["b"]]
    assert trimmer.feed([[""]], 1) == []  # end of sheet: the held blanks are trailing


@pytest.mark.parametrize(
    ("serial", "iso"),
    [
        (45366, "2024-03-15"),
        (45366.5, "2024-03-15T12:00:00"),
        (45366.75001157407, "2024-03-15T18:00:01"),
        (0.5625, "13:30:00"),
        (0.0000115740740741, "00:00:01"),
        (1, "1899-12-31"),
        (61, "1900-03-01"),
        (-1, "1899-12-29"),
        (45366.0000005787, "2024-03-15T00:00:00.050"),
    ],
)
def test_serial_dates_become_iso_8601(serial: float, iso: str) -> None:
    assert serial_to_iso(serial) == iso


def test_unformatted_cells_are_dates_only_where_the_sheet_formats_them_as_dates() -> None:
    raw = [["id", 45366, 45366, True, 0.25, ""]]
    probe = [["id", "15/03/2024", 45366, True, "06:00", ""]]
    assert merge_unformatted_rows(raw, probe) == [
        ["id", "2024-03-15", "45366", "TRUE", "06:00:00", ""]
    ]


@pytest.mark.parametrize(
    ("previous_rows", "response_bytes", "expected"),
    [
        (10_000, 2_000_000, 10_000),  # on target: keep
        (10_000, 4_000_000, 5_000),  # twice too big: halve
        (10_000, 100_000, 20_000),  # sparse: grow, but at most double
        (40_000, 0, 50_000),  # blank region: grow to the cap
        (100, 50_000_000, 100),  # huge cells: never below the floor
    ],
)
def test_chunk_size_adapts_to_response_bytes_within_bounds(
    previous_rows: int, response_bytes: int, expected: int
) -> None:
    assert ChunkSizing(target_bytes=2_000_000).next(previous_rows, response_bytes) == expected


def test_first_chunk_is_sized_from_the_column_count() -> None:
    assert ChunkSizing().first(12) == ChunkSizing().target_bytes // (12 * 20)
    assert ChunkSizing().first(10_000) == 100


@pytest.mark.parametrize(
    ("setting", "url", "ok"),
    [
        ("sheetsBaseUrl", "https://sheets.googleapis.com", True),
        ("tokenUri", "https://oauth2.googleapis.com/token", True),
        ("tokenUri", "https://accounts.google.com/o/oauth2/token", True),
        ("sheetsBaseUrl", "http://sheets.googleapis.com", False),
        ("tokenUri", "http://oauth2.googleapis.com/token", False),
        # Each endpoint on its own Google hosts: no token requests to the Sheets host…
        ("sheetsBaseUrl", "https://oauth2.googleapis.com", False),
        ("tokenUri", "https://sheets.googleapis.com/token", False),
        # …and nothing on another vendor's.
        ("sheetsBaseUrl", "https://graph.microsoft.com", False),
        ("tokenUri", "https://login.microsoftonline.com/common/oauth2/v2.0/token", False),
        ("sheetsBaseUrl", "http://127.0.0.1:8080", True),
        ("tokenUri", "http://127.0.0.1:8080/token", True),
        ("sheetsBaseUrl", "https://127.0.0.2", False),
        ("sheetsBaseUrl", "https://user:pw@sheets.googleapis.com", False),
        ("sheetsBaseUrl", "https://sheets.googleapis.com/?x=1", False),
        ("sheetsBaseUrl", "ftp://sheets.googleapis.com", False),
        ("sheetsBaseUrl", "sheets.googleapis.com", False),
        ("sheetsBaseUrl", "https://sheets.googleapis.com.evil.example", False),
    ],
)
def test_endpoint_overrides_must_name_a_google_host_for_that_endpoint_or_an_operator_host(
    setting: str, url: str, ok: bool
) -> None:
    problems = endpoint_problems({"oauth": {}}, {setting: url}, frozenset({"127.0.0.1"}))
    assert [p.field for p in problems] == ([] if ok else [f"settings.{setting}"])


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"tokenUri": "http://oauth2.googleapis.com/token"}, "settings.tokenUri"),
        ({"sheetsBaseUrl": "https://graph.microsoft.com"}, "settings.sheetsBaseUrl"),
        ({"sheetsBaseUrl": "http://169.254.169.254"}, "settings.sheetsBaseUrl"),
    ],
)
def test_a_stored_source_with_a_refused_override_fails_before_reaching_any_host(
    settings: dict[str, Any], field: str
) -> None:
    """Data sources saved under older rules are checked again when they run or are tested:
    the check is part of building the API client, before any request."""
    connector = GoogleSheetsConnector(
        {"oauth": {"clientId": "c", "clientSecret": "s", "refreshToken": "r"}},
        settings,
        Environment(),
    )
    selection = {"spreadsheetId": "1ABC-DEF", "sheetName": "S"}
    for run in (lambda: connector.fetch(selection, lambda _rows: None), lambda: connector.test({})):
        with pytest.raises(ConfigError) as refused:
            run()
        assert refused.value.field == field
