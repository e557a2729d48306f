"""The credential banner in a real headless Chromium: a data source whose credentials check
failed is named on the data sources page with the check's message and a link to its edit
form, and its card shows the status."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import update

from app.db.engine import create_engine
from app.db.models import DataSource, utcnow
from app.settings import Settings
from tests.browser.conftest import CHROMIUM
from tests.browser.steps import create_table_source, nav, sign_up

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing (the README's test command installs Debian's chromium)",
)

if CHROMIUM.exists():
    from playwright.sync_api import Page, expect

MESSAGE = "Sign-in failed (invalid_grant). Authorise DataSync again"


def mark_failed(settings: Settings, source_id: str) -> None:
    async def mark() -> None:
        engine = create_engine(settings)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    update(DataSource)
                    .where(DataSource.id == uuid.UUID(source_id))
                    .values(
                        credential_status="failed",
                        credential_message=MESSAGE,
                        credential_checked_at=utcnow(),
                    )
                )
        finally:
            await engine.dispose()

    # Playwright's sync API keeps an event loop running on this thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, mark()).result()


def test_a_failed_source_is_named_in_the_banner_with_a_link_to_fix_it(
    page: Page, store: str, settings: Settings, tmp_path: Path
) -> None:
    sign_up(page, f"cora-{store}-{tmp_path.name[-12:]}@example.com")
    create_table_source(page)
    expect(page.locator(".credential-banner")).to_have_count(0)
    expect(page.get_by_text("Not checked yet")).to_be_visible()

    sources = page.context.request.get("/api/data-sources").json()["dataSources"]
    mark_failed(settings, sources[0]["id"])
    nav(page, "Schedules")
    nav(page, "Data sources")

    banner = page.get_by_role("alert").filter(has_text="credentials were rejected")
    expect(banner).to_contain_text("Sales table")
    expect(banner).to_contain_text(MESSAGE)
    expect(page.locator("dd.credential-failed")).to_contain_text("Rejected")
    banner.get_by_role("link", name="Update the credentials of Sales table").click()
    expect(page).to_have_url(f"{page.url.split('#')[0]}#/sources/{sources[0]['id']}/edit")


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_check_credentials_shows_the_outcome_on_the_card_and_names_the_fix(
    page: Page, store: str, tmp_path: Path
) -> None:
    sign_up(page, f"carl-{store}-{tmp_path.name[-12:]}@example.com")
    create_table_source(page)
    card = page.locator(".card").filter(has_text="Sales table")
    expect(card.locator("dd.credential-unchecked")).to_have_text("Not checked yet")

    card.get_by_role("button", name="Check the credentials of Sales table").click()
    expect(card.get_by_role("status")).to_contain_text("✓ The credentials work.")
    expect(card.locator("dd.credential-ok")).to_contain_text("Working")

    # The grant is revoked at the source: the next check says so, and how to fix it.
    source_id = page.context.request.get("/api/data-sources").json()["dataSources"][0]["id"]
    answer = page.context.request.patch(
        f"/api/data-sources/{source_id}",
        data={"credentials": {"token": "revoked"}},
        headers={"X-Requested-With": "DataSync"},
    )
    assert answer.ok, answer.text()
    nav(page, "Schedules")
    nav(page, "Data sources")
    # New credentials reset the status: this is the page drawn afresh, not the one before,
    # which stays up until the new one is ready and would be replaced under the click.
    expect(card.locator("dd.credential-unchecked")).to_have_text("Not checked yet")
    card.get_by_role("button", name="Check the credentials of Sales table").click()
    expect(card.get_by_role("status")).to_contain_text(
        "✗ The credentials were rejected: Token expired - re-authentication required. "
        "Enter a new access token"
    )
    expect(card.locator("dd.credential-failed")).to_contain_text("Rejected")
    card.get_by_role("link", name="Update the credentials").click()
    expect(page).to_have_url(f"{page.url.split('#')[0]}#/sources/{source_id}/edit")
