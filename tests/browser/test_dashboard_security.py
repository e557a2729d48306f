"""The dashboard and the API docs under the service's Content-Security-Policy, in a real
Chromium: nothing refused (the fixtures fail a test on any CSP violation or script error),
nothing loaded from another origin, and the session out of JavaScript's reach.

Screenshots go to the test's tmp dir."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import CHROMIUM, Browser, Watch
from tests.conftest import start_process, stop_process
from tests.services import free_port, wait_for_port

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
    # "Try it out" calls the API from the page (connect-src 'self'): unauthorised here.
    operation = page.locator("#operations-Authentication-me")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status")
    expect(status).to_contain_text("401")
    page.screenshot(path=tmp_path / "api-docs-try-it-out.png")

    loaded = {url for url in watch.requests if not url.startswith("data:")}
    assert f"{live_server}/schema/openapi.json" in loaded
    assert {origin(url) for url in loaded} == {live_server}, sorted(loaded)


# --- the session cookie -----------------------------------------------------------------------

SESSION_COOKIE = "datasync_session"


def new_email(tmp_path: Path, who: str) -> str:
    return f"{who}-{tmp_path.name[-12:]}-{secrets.token_hex(3)}@example.com"


def new_password() -> str:
    return f"violet {secrets.token_hex(4)} harbour lantern"


def sign_up(page: Page, email: str, password: str) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in to DataSync")).to_be_visible()
    page.get_by_role("link", name="Create one").click()
    page.get_by_label("Name (optional)").fill("Sam Secure")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Schedules")).to_be_visible()


def sign_in(page: Page, email: str, password: str) -> None:
    expect(page.get_by_role("heading", name="Sign in to DataSync")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Schedules")).to_be_visible()


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()


def session_cookie(page: Page) -> dict[str, Any]:
    found = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    assert len(found) == 1, page.context.cookies()
    return dict(found[0])


def test_signed_in_the_session_is_an_httponly_cookie_and_writes_without_the_header_are_refused(
    page: Page, live_server: str, tmp_path: Path
) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in to DataSync")).to_be_visible()
    page.screenshot(path=tmp_path / "sign-in.png")

    with page.expect_response("**/api/auth/session") as signed_in:
        sign_up(page, new_email(tmp_path, "sam"), new_password())
    assert "token" not in signed_in.value.json()
    expect(page.locator("#who")).to_have_text("Sam Secure")
    page.screenshot(path=tmp_path / "dashboard-signed-in.png")

    cookie = session_cookie(page)
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/")
    # Nothing a script on the page could read or send elsewhere.
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("Object.keys(localStorage)") == []
    assert page.evaluate("Object.keys(sessionStorage)") == []
    assert cookie["value"] not in page.content()

    # The browser's cookie jar, but not the dashboard's header: what a forged cross-site
    # form or script could send. Reads are allowed; writes are not.
    jar = page.context.request
    assert jar.get(f"{live_server}/api/files").status == 200
    refused = jar.post(f"{live_server}/api/files", data={"name": "forged.csv"})
    assert refused.status == 403, refused.text()
    body = refused.json()
    assert (body["success"], body["error"]) == (False, "Forbidden")
    assert "X-Requested-With" in body["message"]
    assert body["requestId"] == refused.headers["x-request-id"]
    allowed = jar.post(
        f"{live_server}/api/files",
        data={"name": "allowed.csv"},
        headers={"X-Requested-With": "DataSync"},
    )
    assert allowed.status == 200, allowed.text()

    # The dashboard's own writes carry it: create a file through the page.
    nav(page, "Files")
    page.get_by_label("File name").fill("from-the-page.csv")
    page.get_by_role("button", name="Create file").click()
    expect(page.get_by_text("File “from-the-page.csv” created")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="allowed.csv")).to_have_count(1)
    expect(page.get_by_role("listitem").filter(has_text="forged.csv")).to_have_count(0)


def test_sign_out_ends_the_session_on_the_server_and_a_reload_shows_sign_in(
    page: Page, live_server: str, tmp_path: Path
) -> None:
    sign_up(page, new_email(tmp_path, "out"), new_password())
    old_value = session_cookie(page)["value"]

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to DataSync")).to_be_visible()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    assert SESSION_COOKIE not in {c["name"] for c in page.context.cookies()}

    page.reload()
    expect(page.get_by_role("heading", name="Sign in to DataSync")).to_be_visible()
    expect(page.get_by_role("navigation")).to_be_hidden()
    # The old cookie, replayed, is refused: signing out revoked it, not just forgot it.
    replayed = page.context.request.get(
        f"{live_server}/api/auth/me", headers={"Cookie": f"{SESSION_COOKIE}={old_value}"}
    )
    assert replayed.status == 401


def test_changing_the_password_keeps_this_browser_in_and_signs_the_others_out(
    browser: Browser, tmp_path: Path
) -> None:
    email, password, changed = new_email(tmp_path, "pat"), new_password(), new_password()
    mine = browser.new_page()
    sign_up(mine, email, password)
    other = browser.new_page()  # another browser: a cookie jar of its own
    other.goto("/")
    sign_in(other, email, password)

    nav(mine, "Account")
    form = mine.locator("form").filter(has=mine.get_by_role("button", name="Change password"))
    expect(mine.get_by_role("heading", name="Change password")).to_be_visible()
    form.get_by_label("Current password").fill(password)
    form.get_by_label("New password", exact=True).fill(changed)
    form.get_by_label("Repeat the new password").fill(changed + "x")
    form.get_by_role("button", name="Change password").click()
    repeat_error = form.locator('[data-field="repeatPassword"] .field-error')
    expect(repeat_error).to_have_text("Repeat the new password does not match the new password")
    # The service's rule, shown beside the field it names.
    form.get_by_label("New password", exact=True).fill("short")
    form.get_by_label("Repeat the new password").fill("short")
    form.get_by_role("button", name="Change password").click()
    expect(form.locator('[data-field="newPassword"] .field-error')).to_contain_text("12 characters")
    expect(form.get_by_label("New password", exact=True)).to_be_focused()
    mine.screenshot(path=tmp_path / "account-change-password.png", full_page=True)

    form.get_by_label("Current password").fill(password)
    form.get_by_label("New password", exact=True).fill(changed)
    form.get_by_label("Repeat the new password").fill(changed)
    form.get_by_role("button", name="Change password").click()
    expect(mine.get_by_text("Password changed.")).to_be_visible()

    # This browser got a fresh cookie and carries on; the other is sent back to sign in.
    nav(mine, "Schedules")
    expect(mine.get_by_role("heading", name="Schedules")).to_be_visible()
    nav(other, "Files")
    expect(other.get_by_role("heading", name="Sign in to DataSync")).to_be_visible()
    expect(other.get_by_text("Your session has ended")).to_be_visible()
    other.get_by_label("Email").fill(email)
    other.get_by_label("Password").fill(password)
    other.get_by_role("button", name="Sign in").click()
    expect(other.get_by_text("Wrong email or password")).to_be_visible()
    sign_in(other, email, changed)


@pytest.fixture
def closed_server(service_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """A second API process on the suite's store, with REGISTRATION=closed."""
    port = free_port()
    log = tmp_path / "closed-api.log"
    process = start_process(
        ["serve"], {**service_env, "PORT": str(port), "REGISTRATION": "closed"}, log
    )
    try:
        wait_for_port(port, timeout=30)
    except TimeoutError:
        stop_process(process)
        raise AssertionError(log.read_text()) from None
    yield f"http://127.0.0.1:{port}"
    stop_process(process)


def test_the_sign_up_form_shows_why_when_registration_is_closed(
    browser: Browser, closed_server: str, tmp_path: Path
) -> None:
    browser.base_url = closed_server
    page = browser.new_page()
    page.goto("/#/register")
    page.get_by_label("Email").fill(new_email(tmp_path, "late"))
    page.get_by_label("Password").fill(new_password())
    page.get_by_role("button", name="Create account").click()

    summary = page.locator(".form-errors")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Registration is closed on this server")
    expect(page.get_by_role("heading", name="Create your DataSync account")).to_be_visible()
