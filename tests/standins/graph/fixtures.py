"""Pytest fixtures for the Graph stand-in. Import them into a test module:

    from tests.standins.graph.fixtures import graph_standin_fixture, microsoft_tenant_fixture

(the fixtures are named `graph_standin` and `microsoft_tenant`; the `_fixture` function names
keep linters from reading test arguments as redefinitions of the imports).

`graph_standin` is one in-thread server per test session, trusted through
REQUESTS_CA_BUNDLE (the standard variable the product honours). `microsoft_tenant` gives
each test a fresh tenant, app registration, secret and drive, so tests never share msal's
per-process application cache or each other's tokens.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from connectors.base import JSON, Environment
from connectors.excel import ExcelConnector
from tests.standins.graph.server import GraphStandIn
from tests.standins.graph.service import GraphService

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "excel"
CUSTOMERS_WORKBOOK_ID = "01AZJL5PN6Y2GOVW7725BZO354PWSELRRZ"  # the reference page's "01AZJL5P..."


def load_workbook_fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


@pytest.fixture(scope="session", name="graph_standin")
def graph_standin_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphStandIn]:
    standin = GraphStandIn(tmp_path_factory.mktemp("graph-tls")).start()
    with pytest.MonkeyPatch.context() as patch:
        # The bundle is the CA plus the roots trusted before, so other HTTPS still works.
        patch.setenv("REQUESTS_CA_BUNDLE", str(standin.tls.bundle_file))
        yield standin
    standin.stop()


@dataclass
class MicrosoftTenant:
    """One tenant in the stand-in: an app registration with a secret, a user with a drive
    (also reachable by site), and helpers to build connectors against them."""

    standin: GraphStandIn
    tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_secret: str = field(default_factory=lambda: "Xq8~" + secrets.token_urlsafe(30))
    drive_id: str = field(default_factory=lambda: "b!" + secrets.token_urlsafe(16))
    user_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    site_id: str = field(
        default_factory=lambda: f"contoso.sharepoint.com,{uuid.uuid4()},{uuid.uuid4()}"
    )
    saved_credentials: list[JSON] = field(default_factory=list)

    @property
    def service(self) -> GraphService:
        return self.standin.service

    def register(self) -> MicrosoftTenant:
        self.service.add_app(self.tenant_id, self.client_id, self.client_secret)
        self.service.add_drive(self.drive_id, user_id=self.user_id, site_id=self.site_id)
        return self

    @property
    def env(self) -> Environment:
        return Environment(
            allowed_hosts=frozenset({"127.0.0.1"}),
            http_timeout_seconds=10.0,
            save_credentials=self.saved_credentials.append,
        )

    def endpoint_settings(self) -> JSON:
        return {
            "authorityHost": self.standin.authority_host,
            "graphBaseUrl": self.standin.graph_base_url,
        }

    def app_only_credentials(self, secret: str | None = None) -> JSON:
        return {
            "tenantId": self.tenant_id,
            "clientId": self.client_id,
            "clientSecret": secret or self.client_secret,
        }

    def app_only(self, drive_setting: str = "driveId", secret: str | None = None) -> ExcelConnector:
        drive_value = {"driveId": self.drive_id, "userId": self.user_id, "siteId": self.site_id}
        settings = {**self.endpoint_settings(), drive_setting: drive_value[drive_setting]}
        return ExcelConnector(self.app_only_credentials(secret), settings, self.env)

    def delegated_credentials(self, public_client_id: str | None = None) -> JSON:
        """A public client app and a refresh token as the user's sign-in left it."""
        client_id = public_client_id or str(uuid.uuid4())
        self.service.add_app(self.tenant_id, client_id, None)
        return {
            "tenantId": self.tenant_id,
            "clientId": client_id,
            "refreshToken": self.service.issue_refresh_token(client_id, self.user_id),
        }

    def delegated(self, credentials: JSON) -> ExcelConnector:
        return ExcelConnector(credentials, self.endpoint_settings(), self.env)

    def put_workbook(self, workbook: dict[str, Any], item_id: str = CUSTOMERS_WORKBOOK_ID) -> str:
        self.service.set_workbook(self.drive_id, item_id, workbook)
        return item_id


@pytest.fixture(name="microsoft_tenant")
def microsoft_tenant_fixture(graph_standin: GraphStandIn) -> Iterator[MicrosoftTenant]:
    graph_standin.service.clear_request_log()  # each test asserts on its own requests
    tenant = MicrosoftTenant(graph_standin).register()
    yield tenant
    graph_standin.service.clear_faults()
