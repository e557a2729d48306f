"""Connectors prove their credentials without reading data (`credential_health`), through the
real client libraries against the stand-ins and a PostgreSQL that asks for a password: a
rejection is `failed` with the way to fix it, a known expiry near is `expiring`, and
transient trouble is raised, never reported as a failure."""

# The stand-ins' pytest fixtures are imported below and then named as test arguments.
# ruff: noqa: F811

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyodbc
import pytest

from connectors.base import TransientError
from connectors.credential_health import expiry_health
from connectors.postgresql import PostgresConnector
from tests.connectors.test_postgresql_adbc import (  # noqa: F401  (a fixture)
    PSQLODBC,
    password_server,
)
from tests.connectors.test_sql_connect_by_checked_address import LOOPBACK_ALLOWED
from tests.standins.graph.fixtures import (  # noqa: F401  (pytest fixtures)
    MicrosoftTenant,
    graph_standin_fixture,
    microsoft_tenant_fixture,
)
from tests.standins.sheets.control import InThreadStandIn
from tests.standins.sheets.fixtures import (  # noqa: F401  (pytest fixtures)
    GOOD_REFRESH_TOKEN,
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


def test_a_service_account_that_gets_a_token_is_ok(
    make_sheets_connector: ConnectorFactory, sheets_standin: InThreadStandIn
) -> None:
    health = make_sheets_connector().credential_health()
    assert (health.status, health.expires_at) == ("ok", None)
    assert sheets_standin.request_counts().get("POST /token") == 1
    assert not [k for k in sheets_standin.request_counts() if "spreadsheets" in k]


def test_a_revoked_google_grant_is_failed_naming_the_field_to_replace(
    make_sheets_connector: ConnectorFactory, sheets_standin: InThreadStandIn
) -> None:
    assert make_sheets_connector(oauth_credentials()).credential_health().status == "ok"
    sheets_standin.put_refresh_token(GOOD_REFRESH_TOKEN, OAUTH_CLIENT_ID, revoked=True)
    health = make_sheets_connector(oauth_credentials()).credential_health()
    assert health.status == "failed"
    assert "credentials.refreshToken" in health.message
    assert "PATCH /api/data-sources/{id}" in health.message
    assert GOOD_REFRESH_TOKEN not in health.message


def test_a_testing_mode_refresh_token_is_expiring_two_days_before_its_end(
    make_sheets_connector: ConnectorFactory, sheets_standin: InThreadStandIn
) -> None:
    sheets_standin.put_refresh_token(
        GOOD_REFRESH_TOKEN,
        OAUTH_CLIENT_ID,
        expires_in_seconds=int(timedelta(days=1).total_seconds()),
    )
    health = make_sheets_connector(oauth_credentials()).credential_health()
    assert health.status == "expiring" and health.expires_at is not None
    assert "credentials.refreshToken" in health.message
    sheets_standin.put_refresh_token(
        GOOD_REFRESH_TOKEN,
        OAUTH_CLIENT_ID,
        expires_in_seconds=int(timedelta(days=6).total_seconds()),
    )
    health = make_sheets_connector(oauth_credentials()).credential_health()
    assert health.status == "ok" and health.expires_at is not None


def test_an_expiry_warns_within_its_window_only() -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    warn = timedelta(days=2)
    assert expiry_health(None, now, warn, "fix").status == "ok"
    assert expiry_health(now + timedelta(days=3), now, warn, "fix").status == "ok"
    assert expiry_health(now + timedelta(days=2), now, warn, "fix").status == "expiring"
    assert expiry_health(now - timedelta(hours=1), now, warn, "fix").status == "expiring"


def test_a_token_endpoint_in_trouble_is_transient_not_failed(
    make_sheets_connector: ConnectorFactory, sheets_standin: InThreadStandIn
) -> None:
    sheets_standin.add_fault(status=503, times=None, match="/token")
    with pytest.raises(TransientError):
        make_sheets_connector(oauth_credentials(), retryBudgetSeconds=1).credential_health()


def test_the_fixture_revoked_token_is_failed_too(
    make_sheets_connector: ConnectorFactory,
) -> None:
    health = make_sheets_connector(oauth_credentials(REVOKED_REFRESH_TOKEN)).credential_health()
    assert health.status == "failed"


def test_a_microsoft_grant_revoked_is_failed(microsoft_tenant: MicrosoftTenant) -> None:
    credentials = microsoft_tenant.delegated_credentials()
    assert microsoft_tenant.delegated(credentials).credential_health().status == "ok"
    rotated = microsoft_tenant.saved_credentials[-1]  # the redeemed token's successor
    microsoft_tenant.service.revoke_grants(microsoft_tenant.user_id)
    health = microsoft_tenant.delegated(rotated).credential_health()
    assert health.status == "failed"
    assert "invalid_grant" in health.message and "credentials.refreshToken" in health.message


def test_microsoft_app_only_credentials_are_ok_and_a_wrong_secret_failed(
    microsoft_tenant: MicrosoftTenant,
) -> None:
    assert microsoft_tenant.app_only().credential_health().status == "ok"
    health = microsoft_tenant.app_only(secret="not-the-secret").credential_health()
    assert health.status == "failed" and "credentials.clientSecret" in health.message
    assert "not-the-secret" not in health.message


@pytest.mark.parametrize("through_odbc", [False, True], ids=["adbc", "psqlodbc"])
def test_a_wrong_sql_password_is_failed_and_the_right_one_ok(
    password_server: int, through_odbc: bool
) -> None:
    if through_odbc and PSQLODBC not in pyodbc.drivers():
        pytest.skip("psqlODBC is not installed")

    def connector(password: str) -> PostgresConnector:
        credentials = {
            "server": "127.0.0.1",
            "port": password_server,
            "username": "postgres",
            "password": password,
            "database": "postgres",
        }
        settings: dict[str, object] = {"loginTimeoutSeconds": 10}
        if through_odbc:
            settings["driver"] = PSQLODBC
        return PostgresConnector(credentials, settings, LOOPBACK_ALLOWED)

    assert connector("right-password").credential_health().status == "ok"
    health = connector("wrong-password").credential_health()
    assert health.status == "failed"
    assert "credentials.password" in health.message and "wrong-password" not in health.message
