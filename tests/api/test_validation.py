"""Bad input, field by field: every case is a 400 in the error envelope whose `details` name
exactly the fields at fault, so a client can put the message next to the right input."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.api.real_sources import BY_TYPE, SELECTIONS, create_source
from tests.conftest import register

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def assert_invalid(response: Any, fields: set[str]) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["error"] and body["message"]
    assert body["requestId"] == response.headers["x-request-id"]
    assert {d["field"] for d in body["details"]} == fields
    assert all(d["message"] for d in body["details"])
    return body


class Refs:
    """One user's data sources of every type, a file, and another user's source and file."""

    def __init__(self, client: TestClient[Any]) -> None:
        self.user = register(client)
        self.sources = {t: create_source(self.user, t) for t in BY_TYPE}
        self.sources["test-table"] = self.user.data_source()
        self.file_id = self.user.target_file()
        stranger = register(client)
        self.foreign_source = stranger.data_source()
        self.foreign_file = stranger.target_file()

    def schedule_body(self, source_type: str = "test-table", **changes: Any) -> dict[str, Any]:
        config = (
            {"path": "/tmp/table.csv"}
            if source_type == "test-table"
            else dict(SELECTIONS[source_type])
        )
        body = {
            "name": "Validation",
            "dataSourceId": self.sources[source_type],
            "targetFileId": self.file_id,
            "frequency": "daily",
            "enabled": True,
            "config": config,
        }
        config_changes = changes.pop("config", {})
        body.update(changes)
        body["config"] = {**config, **config_changes}
        return {k: v for k, v in body.items() if v is not DROP}


DROP = object()  # marks a field the case leaves out


@pytest.fixture(scope="module")
def refs(client: TestClient[Any]) -> Refs:
    return Refs(client)


SCHEDULE_CASES = [
    # frequency
    ("frequency-unknown", "test-table", {"frequency": "monthly"}, {"frequency"}),
    ("frequency-wrong-case", "test-table", {"frequency": "Daily"}, {"frequency"}),
    ("frequency-not-a-string", "test-table", {"frequency": 24}, {"frequency"}),
    ("frequency-missing", "test-table", {"frequency": DROP}, {"frequency"}),
    # syncTime
    ("syncTime-hour-25", "test-table", {"config": {"syncTime": "25:00"}}, {"config.syncTime"}),
    (
        "syncTime-one-digit-hour",
        "test-table",
        {"config": {"syncTime": "6:00"}},
        {"config.syncTime"},
    ),
    (
        "syncTime-with-seconds",
        "test-table",
        {"config": {"syncTime": "06:00:00"}},
        {"config.syncTime"},
    ),
    ("syncTime-minute-60", "test-table", {"config": {"syncTime": "06:60"}}, {"config.syncTime"}),
    ("syncTime-am-pm", "test-table", {"config": {"syncTime": "6 AM"}}, {"config.syncTime"}),
    ("syncTime-number", "test-table", {"config": {"syncTime": 600}}, {"config.syncTime"}),
    # dayOfWeek
    (
        "dayOfWeek-unknown",
        "test-table",
        {"frequency": "weekly", "config": {"dayOfWeek": "someday"}},
        {"config.dayOfWeek"},
    ),
    (
        "dayOfWeek-abbreviated",
        "test-table",
        {"frequency": "weekly", "config": {"dayOfWeek": "mon"}},
        {"config.dayOfWeek"},
    ),
    (
        "dayOfWeek-number",
        "test-table",
        {"frequency": "weekly", "config": {"dayOfWeek": 1}},
        {"config.dayOfWeek"},
    ),
    # timezone
    (
        "timezone-unknown",
        "test-table",
        {"config": {"timezone": "Mars/Olympus_Mons"}},
        {"config.timezone"},
    ),
    ("timezone-offset-text", "test-table", {"config": {"timezone": "UTC+2"}}, {"config.timezone"}),
    ("timezone-empty", "test-table", {"config": {"timezone": ""}}, {"config.timezone"}),
    (
        "timezone-path-traversal",
        "test-table",
        {"config": {"timezone": "../../etc/passwd"}},
        {"config.timezone"},
    ),
    ("timezone-number", "test-table", {"config": {"timezone": 2}}, {"config.timezone"}),
    # minute (hourly)
    (
        "minute-60",
        "test-table",
        {"frequency": "hourly", "config": {"minute": 60}},
        {"config.minute"},
    ),
    (
        "minute-negative",
        "test-table",
        {"frequency": "hourly", "config": {"minute": -1}},
        {"config.minute"},
    ),
    (
        "minute-string",
        "test-table",
        {"frequency": "hourly", "config": {"minute": "15"}},
        {"config.minute"},
    ),
    (
        "minute-fraction",
        "test-table",
        {"frequency": "hourly", "config": {"minute": 7.5}},
        {"config.minute"},
    ),
    (
        "minute-boolean",
        "test-table",
        {"frequency": "hourly", "config": {"minute": True}},
        {"config.minute"},
    ),
    # sync options
    ("primaryKey-empty", "test-table", {"config": {"primaryKey": ""}}, {"config.primaryKey"}),
    ("primaryKey-empty-list", "test-table", {"config": {"primaryKey": []}}, {"config.primaryKey"}),
    (
        "primaryKey-blank-in-list",
        "test-table",
        {"config": {"primaryKey": ["id", " "]}},
        {"config.primaryKey"},
    ),
    ("primaryKey-number", "test-table", {"config": {"primaryKey": 1}}, {"config.primaryKey"}),
    ("headerRow-zero", "test-table", {"config": {"headerRow": 0}}, {"config.headerRow"}),
    ("headerRow-string", "test-table", {"config": {"headerRow": "1"}}, {"config.headerRow"}),
    ("headerRow-boolean", "test-table", {"config": {"headerRow": True}}, {"config.headerRow"}),
    (
        "maxRowDropPercent-over-100",
        "test-table",
        {"config": {"maxRowDropPercent": 101}},
        {"config.maxRowDropPercent"},
    ),
    (
        "maxRowDropPercent-negative",
        "test-table",
        {"config": {"maxRowDropPercent": -5}},
        {"config.maxRowDropPercent"},
    ),
    (
        "maxRowDropPercent-string",
        "test-table",
        {"config": {"maxRowDropPercent": "50"}},
        {"config.maxRowDropPercent"},
    ),
    # ids
    ("dataSourceId-unknown", "test-table", {"dataSourceId": UNKNOWN_ID}, {"dataSourceId"}),
    (
        "dataSourceId-not-a-uuid",
        "test-table",
        {"dataSourceId": "google-sheets-uuid"},
        {"dataSourceId"},
    ),
    ("targetFileId-unknown", "test-table", {"targetFileId": UNKNOWN_ID}, {"targetFileId"}),
    ("targetFileId-not-a-uuid", "test-table", {"targetFileId": "csv-file-uuid"}, {"targetFileId"}),
    (
        "both-ids-unknown-and-bad-time",
        "test-table",
        {"dataSourceId": UNKNOWN_ID, "targetFileId": UNKNOWN_ID, "config": {"syncTime": "x"}},
        {"dataSourceId", "targetFileId", "config.syncTime"},
    ),
    # other fields
    ("name-empty", "test-table", {"name": "  "}, {"name"}),
    ("name-too-long", "test-table", {"name": "n" * 201}, {"name"}),
    ("name-missing", "test-table", {"name": DROP}, {"name"}),
    ("enabled-string", "test-table", {"enabled": "yes"}, {"enabled"}),
    (
        "config-not-an-object",
        "test-table",
        {"config": DROP, "extra": None},
        set(),
    ),  # replaced below
    # config keys that belong to another source type
    (
        "sheets-key-on-test-table",
        "test-table",
        {"config": {"spreadsheetId": "1ABC-DEF"}},
        {"config.spreadsheetId"},
    ),
    (
        "excel-keys-on-google-sheets",
        "google-sheets",
        {"config": {"workbookId": "01AZ", "worksheetName": "S"}},
        {"config.workbookId", "config.worksheetName"},
    ),
    (
        "sql-keys-on-excel",
        "microsoft-excel",
        {"config": {"query": "SELECT 1", "databaseName": "db"}},
        {"config.query", "config.databaseName"},
    ),
    (
        "sheets-keys-on-sql-server",
        "sql-server",
        {"config": {"sheetName": "Sales Data", "range": "A1:B2"}},
        {"config.sheetName", "config.range"},
    ),
    (
        "made-up-key",
        "google-sheets",
        {"config": {"spreadsheetID": "1ABC-DEF"}},
        {"config.spreadsheetID"},
    ),
    # selection: required keys and the real connectors' checks
    (
        "sheets-spreadsheetId-missing",
        "google-sheets",
        {"config": {"spreadsheetId": None}},
        {"config.spreadsheetId"},
    ),
    (
        "sheets-sheetName-empty",
        "google-sheets",
        {"config": {"sheetName": ""}},
        {"config.sheetName"},
    ),
    (
        "sheets-range-garbage",
        "google-sheets",
        {"config": {"range": "not a range"}},
        {"config.range"},
    ),
    (
        "sheets-range-reversed-letters",
        "google-sheets",
        {"config": {"range": "1A:L1000"}},
        {"config.range"},
    ),
    (
        "sheets-range-other-sheet",
        "google-sheets",
        {"config": {"range": "Other!A1:L1000"}},
        {"config.range"},
    ),
    (
        "sheets-spreadsheetId-url-of-another-site",
        "google-sheets",
        {"config": {"spreadsheetId": "https://example.com/x"}},
        {"config.spreadsheetId"},
    ),
    (
        "excel-workbookId-missing",
        "microsoft-excel",
        {"config": {"workbookId": None}},
        {"config.workbookId"},
    ),
    (
        "excel-worksheetName-forbidden-chars",
        "microsoft-excel",
        {"config": {"worksheetName": "Q1/Q2"}},
        {"config.worksheetName"},
    ),
    ("excel-range-garbage", "microsoft-excel", {"config": {"range": "A1:B"}}, {"config.range"}),
    ("sql-query-missing", "sql-server", {"config": {"query": None}}, {"config.query"}),
    (
        "sql-databaseName-missing",
        "sql-server",
        {"config": {"databaseName": None}},
        {"config.databaseName"},
    ),
    ("sql-delete", "sql-server", {"config": {"query": "DELETE FROM dbo.Orders"}}, {"config.query"}),
    (
        "sql-update",
        "sql-server",
        {"config": {"query": "UPDATE dbo.Orders SET Total = 0"}},
        {"config.query"},
    ),
    ("sql-drop", "sql-server", {"config": {"query": "DROP TABLE dbo.Orders"}}, {"config.query"}),
    (
        "sql-two-statements",
        "sql-server",
        {"config": {"query": "SELECT 1; DELETE FROM dbo.Orders"}},
        {"config.query"},
    ),
    (
        "sql-select-into",
        "sql-server",
        {"config": {"query": "SELECT * INTO dbo.Copy FROM dbo.Orders"}},
        {"config.query"},
    ),
    ("sql-exec", "sql-server", {"config": {"query": "EXEC dbo.PurgeOrders"}}, {"config.query"}),
    (
        "sql-cte-with-delete",
        "sql-server",
        {"config": {"query": "WITH o AS (SELECT * FROM dbo.Orders) DELETE FROM o"}},
        {"config.query"},
    ),
    (
        "sql-queryTimeout-zero",
        "sql-server",
        {"config": {"queryTimeoutSeconds": 0}},
        {"config.queryTimeoutSeconds"},
    ),
]
SCHEDULE_CASES = [c for c in SCHEDULE_CASES if c[0] != "config-not-an-object"]


@pytest.mark.parametrize(
    ("source_type", "changes", "fields"), [pytest.param(*c[1:], id=c[0]) for c in SCHEDULE_CASES]
)
def test_schedule_create_refuses(
    refs: Refs, source_type: str, changes: dict[str, Any], fields: set[str]
) -> None:
    body = refs.schedule_body(source_type, **changes)

    assert_invalid(refs.user.post("/api/sync/schedules", json=body), fields)


@pytest.mark.parametrize("config", [[], "syncTime=06:00", 5], ids=["array", "string", "number"])
def test_schedule_config_must_be_an_object(refs: Refs, config: Any) -> None:
    body = {**refs.schedule_body(), "config": config}

    assert_invalid(refs.user.post("/api/sync/schedules", json=body), {"config"})


def test_schedule_create_reports_every_bad_field_at_once(refs: Refs) -> None:
    body = refs.schedule_body(
        frequency="weekly",
        config={
            "syncTime": "24:00",
            "dayOfWeek": "funday",
            "timezone": "Nowhere/City",
            "headerRow": 0,
        },
    )

    response = refs.user.post("/api/sync/schedules", json=body)

    result = assert_invalid(
        response, {"config.syncTime", "config.dayOfWeek", "config.timezone", "config.headerRow"}
    )
    assert result["error"] == "Invalid schedule configuration"
    assert "config.syncTime" in result["message"]


def test_schedule_with_another_users_source_or_file_is_refused_like_an_unknown_id(
    refs: Refs,
) -> None:
    foreign = refs.user.post(
        "/api/sync/schedules",
        json=refs.schedule_body(dataSourceId=refs.foreign_source, targetFileId=refs.foreign_file),
    )
    unknown = refs.user.post(
        "/api/sync/schedules",
        json=refs.schedule_body(dataSourceId=UNKNOWN_ID, targetFileId=UNKNOWN_ID),
    )

    assert_invalid(foreign, {"dataSourceId", "targetFileId"})
    assert foreign.json()["details"] == unknown.json()["details"]


def test_valid_edge_values_are_accepted(refs: Refs) -> None:
    """The boundaries of each rule, so the refusals above are not over-eager."""
    for source_type, changes in [
        (
            "test-table",
            {"frequency": "hourly", "config": {"minute": 59, "timezone": "Asia/Kathmandu"}},
        ),
        (
            "test-table",
            {"config": {"syncTime": "23:59", "primaryKey": ["id", "day"], "maxRowDropPercent": 0}},
        ),
        (
            "test-table",
            {"frequency": "weekly", "config": {"dayOfWeek": "Sunday", "syncTime": "00:00"}},
        ),
        (
            "google-sheets",
            {
                "config": {
                    "range": "A:L",
                    "spreadsheetId": "https://docs.google.com/spreadsheets/d/1ABC-DEF/edit",
                }
            },
        ),
        (
            "sql-server",
            {
                "config": {
                    "query": "WITH recent AS (SELECT * FROM dbo.Orders) SELECT * FROM recent",
                    "queryTimeoutSeconds": 600,
                }
            },
        ),
    ]:
        response = refs.user.post(
            "/api/sync/schedules", json=refs.schedule_body(source_type, **changes)
        )
        assert response.status_code == 200, (changes, response.text)


@pytest.fixture
def saved_schedule(refs: Refs) -> str:
    return str(
        refs.user.ok("POST", "/api/sync/schedules", json=refs.schedule_body("google-sheets"))[
            "schedule"
        ]["id"]
    )


@pytest.mark.parametrize(
    ("update", "fields"),
    [
        pytest.param({"frequency": "fortnightly"}, {"frequency"}, id="frequency"),
        pytest.param({"config": {"syncTime": "9am"}}, {"config.syncTime"}, id="syncTime"),
        pytest.param(
            {"config": {"sheetName": None}}, {"config.sheetName"}, id="required-key-removed"
        ),
        pytest.param({"config": {"query": "SELECT 1"}}, {"config.query"}, id="key-of-another-type"),
        pytest.param({"name": ""}, {"name"}, id="name"),
        pytest.param({"dataSourceId": UNKNOWN_ID}, {"dataSourceId"}, id="unknown-source"),
        pytest.param({"targetFileId": UNKNOWN_ID}, {"targetFileId"}, id="unknown-file"),
        pytest.param({"enabled": "no"}, {"enabled"}, id="enabled-string"),
    ],
)
def test_schedule_update_refuses_and_changes_nothing(
    refs: Refs, saved_schedule: str, update: dict[str, Any], fields: set[str]
) -> None:
    before = refs.user.ok("GET", f"/api/sync/schedules/{saved_schedule}")["schedule"]

    assert_invalid(refs.user.put(f"/api/sync/schedules/{saved_schedule}", json=update), fields)

    assert refs.user.ok("GET", f"/api/sync/schedules/{saved_schedule}")["schedule"] == before


def test_schedule_update_to_another_users_source_is_refused(
    refs: Refs, saved_schedule: str
) -> None:
    response = refs.user.put(
        f"/api/sync/schedules/{saved_schedule}", json={"dataSourceId": refs.foreign_source}
    )

    assert_invalid(response, {"dataSourceId"})


# --- data sources ----------------------------------------------------------------------------


def _source(type_name: str, credentials: Any = None, **settings: Any) -> dict[str, Any]:
    body = BY_TYPE[type_name]
    return {
        **body,
        "credentials": body["credentials"] if credentials is None else credentials,
        "settings": {**body["settings"], **settings},
    }


SERVICE_ACCOUNT = {
    "type": "service_account",
    "client_email": "sync@project.iam.gserviceaccount.com",
    "private_key": "-----BEGIN PRIVATE KEY-----\nfake\n-----END PRIVATE KEY-----\n",
}

SOURCE_CASES = [
    ("type-unknown", {"name": "x", "type": "dropbox", "credentials": {}}, {"type"}),
    ("type-missing", {"name": "x", "credentials": {}}, {"type"}),
    ("credentials-missing", {"name": "x", "type": "google-sheets"}, {"credentials"}),
    (
        "credentials-not-an-object",
        {"name": "x", "type": "google-sheets", "credentials": "secret"},
        {"credentials"},
    ),
    ("settings-not-an-object", {**_source("sql-server"), "settings": ["a"]}, {"settings"}),
    ("name-empty", {**_source("sql-server"), "name": ""}, {"name"}),
    ("sheets-no-kind-of-credentials", _source("google-sheets", {}), {"credentials"}),
    (
        "sheets-both-kinds",
        _source("google-sheets", {"oauth": {}, "serviceAccountInfo": {}}),
        {"credentials"},
    ),
    (
        "sheets-oauth-missing-refresh-token",
        _source("google-sheets", {"oauth": {"clientId": "a", "clientSecret": "b"}}),
        {"credentials.oauth.refreshToken"},
    ),
    (
        "sheets-service-account-without-key",
        _source("google-sheets", {"serviceAccountInfo": {**SERVICE_ACCOUNT, "private_key": "x"}}),
        {"credentials.serviceAccountInfo.private_key"},
    ),
    (
        "sheets-service-account-wrong-type",
        _source(
            "google-sheets", {"serviceAccountInfo": {**SERVICE_ACCOUNT, "type": "authorized_user"}}
        ),
        {"credentials.serviceAccountInfo.type"},
    ),
    (
        "excel-missing-tenant",
        _source("microsoft-excel", {"clientId": "c", "clientSecret": "s"}),
        {"credentials.tenantId"},
    ),
    (
        "excel-secret-and-refresh-token",
        _source(
            "microsoft-excel",
            {"tenantId": "t", "clientId": "c", "clientSecret": "s", "refreshToken": "r"},
        ),
        {"credentials"},
    ),
    (
        "excel-app-only-without-drive",
        {**_source("microsoft-excel"), "settings": {}},
        {"settings.driveId"},
    ),
    (
        "sql-missing-password",
        _source("sql-server", {"server": "db", "username": "u"}),
        {"credentials.password"},
    ),
    (
        "sql-port-out-of-range",
        _source("sql-server", {"server": "db", "username": "u", "password": "p", "port": 70000}),
        {"credentials.port"},
    ),
    (
        "sql-encrypt-not-boolean",
        _source("sql-server", {"server": "db", "username": "u", "password": "p", "encrypt": "yes"}),
        {"credentials.encrypt"},
    ),
    # endpoint overrides must name an allowlisted host: workers must not be aimed inside
    (
        "sheets-api-root-on-metadata-address",
        _source("google-sheets", sheetsBaseUrl="http://169.254.169.254"),
        {"settings.sheetsBaseUrl"},
    ),
    (
        "sheets-token-uri-internal-host",
        _source("google-sheets", tokenUri="https://intranet.corp/token"),
        {"settings.tokenUri"},
    ),
    (
        "sheets-service-account-token-uri",
        _source(
            "google-sheets",
            {"serviceAccountInfo": {**SERVICE_ACCOUNT, "token_uri": "https://10.0.0.5/token"}},
            tokenUri=None,
        ),
        {"credentials.serviceAccountInfo.token_uri"},
    ),
    (
        "excel-authority-elsewhere",
        _source("microsoft-excel", authorityHost="https://login.evil.example"),
        {"settings.authorityHost"},
    ),
    (
        "excel-graph-internal-address",
        _source("microsoft-excel", graphBaseUrl="https://10.1.2.3/v1.0"),
        {"settings.graphBaseUrl"},
    ),
    (
        "excel-graph-plain-http",
        _source("microsoft-excel", graphBaseUrl="http://graph.microsoft.com/v1.0"),
        {"settings.graphBaseUrl"},
    ),
]


@pytest.mark.parametrize(("body", "fields"), [pytest.param(*c[1:], id=c[0]) for c in SOURCE_CASES])
def test_data_source_create_refuses(refs: Refs, body: dict[str, Any], fields: set[str]) -> None:
    body = (
        {**body, "settings": {k: v for k, v in body.get("settings", {}).items() if v is not None}}
        if isinstance(body.get("settings"), dict)
        else body
    )

    assert_invalid(refs.user.post("/api/data-sources", json=body), fields)


def test_data_source_patch_to_a_host_off_the_allowlist_is_refused_and_changes_nothing(
    refs: Refs,
) -> None:
    source_id = refs.sources["google-sheets"]
    before = refs.user.ok("GET", f"/api/data-sources/{source_id}")["dataSource"]

    response = refs.user.patch(
        f"/api/data-sources/{source_id}",
        json={"settings": {"sheetsBaseUrl": "https://metadata.google.internal"}},
    )

    assert_invalid(response, {"settings.sheetsBaseUrl"})
    assert refs.user.ok("GET", f"/api/data-sources/{source_id}")["dataSource"] == before


# --- target files ----------------------------------------------------------------------------

FILE_CASES = [
    ("delimiter-two-characters", {"delimiter": "::"}, {"delimiter"}),
    ("delimiter-letter", {"delimiter": "x"}, {"delimiter"}),
    ("delimiter-empty", {"delimiter": ""}, {"delimiter"}),
    ("encoding-latin-1", {"encoding": "latin-1"}, {"encoding"}),
    ("encoding-utf-16", {"encoding": "utf-16"}, {"encoding"}),
    ("name-empty", {"name": ""}, {"name"}),
    ("name-path", {"name": "../../etc/passwd"}, {"name"}),
    ("name-backslash", {"name": "a\\b.csv"}, {"name"}),
    ("name-line-break", {"name": "a\nb.csv"}, {"name"}),
    ("name-too-long", {"name": "n" * 252 + ".csv"}, {"name"}),
    ("name-missing", {"name": DROP}, {"name"}),
    ("header-string", {"header": "yes"}, {"header"}),
    ("delimiter-and-encoding", {"delimiter": "~", "encoding": "ascii"}, {"delimiter", "encoding"}),
]


@pytest.mark.parametrize(("changes", "fields"), [pytest.param(*c[1:], id=c[0]) for c in FILE_CASES])
def test_file_create_refuses(refs: Refs, changes: dict[str, Any], fields: set[str]) -> None:
    body = {k: v for k, v in {"name": "sales-data.csv", **changes}.items() if v is not DROP}

    assert_invalid(refs.user.post("/api/files", json=body), fields)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_file_accepts_the_usual_delimiters(refs: Refs, delimiter: str) -> None:
    file = refs.user.ok(
        "POST",
        "/api/files",
        json={"name": "x.csv", "delimiter": delimiter, "encoding": "utf-8-sig"},
    )["file"]

    assert (file["delimiter"], file["encoding"]) == (delimiter, "utf-8-sig")


# --- query parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("limit=0", "limit", id="limit-zero"),
        pytest.param("limit=201", "limit", id="limit-over-200"),
        pytest.param("limit=ten", "limit", id="limit-text"),
        pytest.param("offset=-1", "offset", id="offset-negative"),
        pytest.param("enabled=maybe", "enabled", id="enabled-not-boolean"),
    ],
)
def test_list_query_parameters_are_checked(refs: Refs, query: str, field: str) -> None:
    assert_invalid(refs.user.get(f"/api/sync/schedules?{query}"), {field})
