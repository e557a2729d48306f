"""Data sources of the three real types, with obviously fake credentials.

Creating one only checks the credentials' shape (no network), so nothing here reaches
Google, Microsoft or a SQL Server. Endpoint overrides point at 127.0.0.1, which the test
settings put on ENDPOINT_ALLOWLIST. Every secret contains `SECRET_MARKER` so tests can
search raw responses and stored rows for it.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import ApiUser

SECRET_MARKER = "fake-secret-7c1e"

GOOGLE_SHEETS: dict[str, Any] = {
    "name": "Sales Tracking Spreadsheet",
    "type": "google-sheets",
    "credentials": {
        "oauth": {
            "clientId": "fake-client.apps.googleusercontent.com",
            "clientSecret": f"{SECRET_MARKER}-oauth-client",
            "refreshToken": f"{SECRET_MARKER}-oauth-refresh",
        }
    },
    "settings": {
        "sheetsBaseUrl": "http://127.0.0.1:9",
        "tokenUri": "http://127.0.0.1:9/token",
        "retryBudgetSeconds": 0,
    },
}

MICROSOFT_EXCEL: dict[str, Any] = {
    "name": "Customer Workbook",
    "type": "microsoft-excel",
    "credentials": {
        "tenantId": "00000000-0000-0000-0000-000000000000",
        "clientId": "11111111-1111-1111-1111-111111111111",
        "clientSecret": f"{SECRET_MARKER}-graph-client",
    },
    "settings": {
        "driveId": "b!fake-drive",
        "authorityHost": "https://127.0.0.1:9",
        "graphBaseUrl": "https://127.0.0.1:9/v1.0",
    },
}

SQL_SERVER: dict[str, Any] = {
    "name": "Sales Database",
    "type": "sql-server",
    "credentials": {
        "server": "127.0.0.1",
        "port": 9,
        "username": "datasync_reader",
        "password": f"{SECRET_MARKER}-sql-password",
        "trustServerCertificate": True,
    },
    "settings": {"loginTimeoutSeconds": 1},
}

BY_TYPE = {body["type"]: body for body in (GOOGLE_SHEETS, MICROSOFT_EXCEL, SQL_SERVER)}

# A schedule config each type accepts: the reference page's selections.
SELECTIONS: dict[str, dict[str, Any]] = {
    "google-sheets": {"spreadsheetId": "1ABC-DEF", "sheetName": "Sales Data", "range": "A1:L1000"},
    "microsoft-excel": {"workbookId": "01AZJL5P...", "worksheetName": "Customers"},
    "sql-server": {
        "databaseName": "SalesDB",
        "query": "SELECT * FROM dbo.Orders WHERE OrderDate >= DATEADD(day, -7, GETDATE())",
    },
}


def create_source(user: ApiUser, type_name: str, **settings: Any) -> str:
    """A data source of `type_name`; extra settings (e.g. a default selection) are merged."""
    body = BY_TYPE[type_name]
    created = user.ok(
        "POST", "/api/data-sources", json={**body, "settings": {**body["settings"], **settings}}
    )
    return str(created["dataSource"]["id"])
