"""The Account page's OAuth clients in a real headless Chromium against the API as its own
process: create a client with chosen scopes, see its secret once, get a token with it, delete
it and see its token stop working."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM
from tests.browser.steps import nav, shot, sign_up

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing (the README's test command installs Debian's chromium)",
)

if CHROMIUM.exists():
    from playwright.sync_api import Page, expect


def test_an_oauth_client_is_created_with_its_scopes_shown_once_and_deleted(
    page: Page, store: str, tmp_path: Path
) -> None:
    sign_up(page, f"olga-{store}-{tmp_path.name[-12:]}@example.com")
    nav(page, "Account")

    page.get_by_label("Client name").fill("reporting backend")
    page.get_by_label("Scopes").select_option(["schedules:read", "files:read"])
    page.get_by_role("button", name="Create OAuth client").click()

    secret_box = page.get_by_role("textbox", name="Client secret")
    expect(secret_box).to_have_value(re.compile("^ds_secret_"))
    client_id = page.get_by_role("textbox", name="Client ID").input_value()
    secret = secret_box.input_value()
    shot(page, "15-account-oauth-client", store)
    listed = page.get_by_role("listitem").filter(has_text="reporting backend")
    expect(listed).to_contain_text("schedules:read, files:read")

    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    token = page.context.request.post(
        "/oauth/token",
        form={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert token.status == 200, token.text()
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert page.context.request.get("/api/files", headers=bearer).status == 200

    page.get_by_role("button", name="Done").click()
    expect(secret_box).to_have_count(0)
    page.get_by_role("button", name="Delete reporting backend").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()

    expect(page.get_by_text("OAuth client “reporting backend” deleted")).to_be_visible()
    expect(page.get_by_text("No OAuth clients.")).to_be_visible()
    assert page.context.request.get("/api/files", headers=bearer).status == 401
