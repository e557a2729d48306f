"""Sheets and Excel data sources through the API: endpoint overrides name the vendor's own
host for that endpoint over https, or a host on ENDPOINT_ALLOWLIST (the suite lists
127.0.0.1 and localhost); numeric settings have upper bounds. Each refusal is a 400 whose
details name the field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.real_sources import BY_TYPE, SELECTIONS, create_source
from tests.conftest import ApiUser

FAKE_KEY = {
    "type": "service_account",
    "client_email": "sync@project.iam.gserviceaccount.com",
    "private_key": "-----BEGIN PRIVATE KEY-----\nfake\n-----END PRIVATE KEY-----\n",
}


def source(type_name: str, credentials: Any = None, **settings: Any) -> dict[str, Any]:
    body = BY_TYPE[type_name]
    return {
        **body,
        "credentials": body["credentials"] if credentials is None else credentials,
        "settings": {**body["settings"], **settings},
    }


def refused_fields(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.text
    return {d["field"]: d["message"] for d in response.json()["details"]}


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        pytest.param(
            source("google-sheets", tokenUri="http://oauth2.googleapis.com/token"),
            "settings.tokenUri",
            "must use https",
            id="sheets-token-uri-plain-http",
        ),
        pytest.param(
            source("google-sheets", sheetsBaseUrl="https://graph.microsoft.com"),
            "settings.sheetsBaseUrl",
            "host 'graph.microsoft.com' is not allowed",
            id="sheets-api-root-on-microsoft-graph",
        ),
        pytest.param(
            source("google-sheets", sheetsBaseUrl="https://oauth2.googleapis.com"),
            "settings.sheetsBaseUrl",
            "host 'oauth2.googleapis.com' is not allowed",
            id="sheets-api-root-on-google-token-host",
        ),
        pytest.param(
            source("google-sheets", sheetsBaseUrl="https://[::ffff:169.254.169.254]"),
            "settings.sheetsBaseUrl",
            "is not allowed",
            id="sheets-api-root-on-mapped-metadata-address",
        ),
        pytest.param(
            {
                **source(
                    "google-sheets",
                    {
                        "serviceAccountInfo": {
                            **FAKE_KEY,
                            "token_uri": "http://oauth2.googleapis.com/token",
                        }
                    },
                ),
                "settings": {},
            },
            "credentials.serviceAccountInfo.token_uri",
            "must use https",
            id="sheets-key-token-uri-plain-http",
        ),
        pytest.param(
            source("microsoft-excel", authorityHost="https://graph.microsoft.com"),
            "settings.authorityHost",
            "host 'graph.microsoft.com' is not allowed",
            id="excel-authority-on-graph-host",
        ),
        pytest.param(
            source("microsoft-excel", graphBaseUrl="https://login.microsoftonline.com/v1.0"),
            "settings.graphBaseUrl",
            "host 'login.microsoftonline.com' is not allowed",
            id="excel-graph-on-sign-in-host",
        ),
        pytest.param(
            source("microsoft-excel", graphBaseUrl="https://sheets.googleapis.com/v1.0"),
            "settings.graphBaseUrl",
            "is not allowed",
            id="excel-graph-on-google-host",
        ),
        pytest.param(
            source("microsoft-excel", authorityHost="http://login.microsoftonline.com"),
            "settings.authorityHost",
            "must use https",
            id="excel-authority-plain-http",
        ),
        pytest.param(
            source("google-sheets", headerRow=10**12),
            "settings.headerRow",
            "from 1 to 10,000,000",
            id="sheets-header-row-default-too-large",
        ),
        pytest.param(
            source("google-sheets", retryBudgetSeconds=10**9),
            "settings.retryBudgetSeconds",
            "from 0 to 600",
            id="sheets-retry-budget-too-large",
        ),
        pytest.param(
            source("microsoft-excel", headerRow=10**12),
            "settings.headerRow",
            "from 1 to 1,048,576",
            id="excel-header-row-default-too-large",
        ),
    ],
)
def test_data_source_create_refuses_naming_the_field_and_the_reason(
    user: ApiUser, body: dict[str, Any], field: str, reason: str
) -> None:
    refused = refused_fields(user.post("/api/data-sources", json=body))
    assert list(refused) == [field]
    assert reason in refused[field]


@pytest.mark.parametrize(
    ("type_name", "overrides"),
    [
        ("google-sheets", {"sheetsBaseUrl": "https://sheets.googleapis.com"}),
        ("google-sheets", {"tokenUri": "https://oauth2.googleapis.com/token"}),
        ("microsoft-excel", {"graphBaseUrl": "https://graph.microsoft.us/v1.0"}),
        ("microsoft-excel", {"authorityHost": "https://login.microsoftonline.us"}),
    ],
)
def test_the_vendors_own_hosts_need_no_allowlist_entry(
    user: ApiUser, type_name: str, overrides: dict[str, Any]
) -> None:
    create_source(user, type_name, **overrides)


@pytest.mark.parametrize(
    ("type_name", "patch", "field"),
    [
        ("google-sheets", {"tokenUri": "http://oauth2.googleapis.com/token"}, "settings.tokenUri"),
        (
            "microsoft-excel",
            {"graphBaseUrl": "https://login.microsoftonline.com"},
            "settings.graphBaseUrl",
        ),
    ],
)
def test_changing_an_override_to_a_refused_one_is_refused_and_changes_nothing(
    user: ApiUser, type_name: str, patch: dict[str, Any], field: str
) -> None:
    source_id = create_source(user, type_name)
    before = user.ok("GET", f"/api/data-sources/{source_id}")["dataSource"]

    response = user.patch(f"/api/data-sources/{source_id}", json={"settings": patch})

    assert list(refused_fields(response)) == [field]
    assert user.ok("GET", f"/api/data-sources/{source_id}")["dataSource"] == before


@pytest.mark.parametrize(
    ("type_name", "header_row", "bound"),
    [
        ("google-sheets", 10**12, "10,000,000"),
        ("microsoft-excel", 10**12, "1,048,576"),
        ("microsoft-excel", 1_048_577, "1,048,576"),
    ],
)
def test_a_schedule_header_row_beyond_the_sheets_last_row_is_refused(
    user: ApiUser, type_name: str, header_row: int, bound: str
) -> None:
    body = {
        "name": "Header far below",
        "dataSourceId": create_source(user, type_name),
        "targetFileId": user.target_file(),
        "frequency": "daily",
        "enabled": True,
        "config": {**SELECTIONS[type_name], "headerRow": header_row},
    }
    refused = refused_fields(user.post("/api/sync/schedules", json=body))
    assert list(refused) == ["config.headerRow"]
    assert bound in refused["config.headerRow"]
