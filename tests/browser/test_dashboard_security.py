"""The dashboard and the API docs under the service's Content-Security-Policy, in a real
Chromium: nothing refused (the fixtures fail a test on any CSP violation or script error),
nothing loaded from another origin, and the session out of JavaScript's reach.

Screenshots go to the test's tmp dir."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import CHROMIUM, Watch

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is missing (the README's test command installs Debian's chromium)",
    ),
]

if CHROMIUM.exists():
    from playwright.sync_api import Page, expect


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_api_docs_render_swagger_ui_from_this_service_alone(
    page: Page, watch: Watch, live_server: str, tmp_path: Path
) -> None:
    page.goto("/schema")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("DataSync API")
    page.screenshot(path=tmp_path / "api-docs.png")
    operation = page.locator(".opblock").filter(has_text="/api/sync/schedules").first
    expect(operation).to_be_visible()
    operation.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    page.screenshot(path=tmp_path / "api-docs-operation.png")

    loaded = {url for url in watch.requests if not url.startswith("data:")}
    assert f"{live_server}/schema/openapi.json" in loaded
    assert {origin(url) for url in loaded} == {live_server}, sorted(loaded)
