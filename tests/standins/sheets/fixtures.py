"""pytest fixtures for tests that talk to the Sheets stand-in. Import the ones you use into
the test module (`from tests.standins.sheets.fixtures import sheets_standin, ...`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.base import JSON, Environment
from connectors.google_sheets import GoogleSheetsConnector
from tests.standins.sheets.control import InThreadStandIn, standin_in_thread
from tests.standins.sheets.keys import ServiceAccountKey

OAUTH_CLIENT_ID = "standin-client.apps.googleusercontent.com"
OAUTH_CLIENT_SECRET = "standin-client-secret"
GOOD_REFRESH_TOKEN = "1//standin-good-refresh-token"
REVOKED_REFRESH_TOKEN = "1//standin-revoked-refresh-token"

ConnectorFactory = Callable[..., GoogleSheetsConnector]


@pytest.fixture(scope="session")
def service_account_key() -> ServiceAccountKey:
    return ServiceAccountKey.generate()


@pytest.fixture
def sheets_standin(service_account_key: ServiceAccountKey) -> Iterator[InThreadStandIn]:
    """A fresh stand-in per test that knows the session's service account, one OAuth client,
    a good and a revoked refresh token, and no spreadsheets."""
    with standin_in_thread() as standin:
        standin.register_service_account(service_account_key)
        standin.register_oauth_client(OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET)
        standin.put_refresh_token(GOOD_REFRESH_TOKEN, OAUTH_CLIENT_ID)
        standin.put_refresh_token(REVOKED_REFRESH_TOKEN, OAUTH_CLIENT_ID, revoked=True)
        yield standin


@pytest.fixture
def sheets_env() -> Environment:
    return Environment(allowed_hosts=frozenset({"127.0.0.1"}), http_timeout_seconds=5.0)


@pytest.fixture
def sleeps() -> list[float]:
    """Backoff waits requested by a connector made with `make_sheets_connector`."""
    return []


@pytest.fixture
def make_sheets_connector(
    sheets_standin: InThreadStandIn,
    service_account_key: ServiceAccountKey,
    sheets_env: Environment,
    sleeps: list[float],
) -> ConnectorFactory:
    """`make(credentials=None, env=None, real_sleep=False, **settings)`: a connector aimed
    at the stand-in; service-account credentials unless others are given. Backoff waits are
    recorded in `sleeps` instead of slept, unless `real_sleep`."""

    def make(
        credentials: JSON | None = None,
        env: Environment | None = None,
        real_sleep: bool = False,
        **settings: Any,
    ) -> GoogleSheetsConnector:
        kwargs: dict[str, Any] = {} if real_sleep else {"sleep": sleeps.append}
        return GoogleSheetsConnector(
            credentials or {"serviceAccountInfo": service_account_key.info()},
            {"sheetsBaseUrl": sheets_standin.url, "tokenUri": sheets_standin.token_uri, **settings},
            env or sheets_env,
            **kwargs,
        )

    return make


def oauth_credentials(refresh_token: str = GOOD_REFRESH_TOKEN, **overrides: str) -> JSON:
    return {
        "oauth": {
            "clientId": OAUTH_CLIENT_ID,
            "clientSecret": OAUTH_CLIENT_SECRET,
            "refreshToken": refresh_token,
            **overrides,
        }
    }
