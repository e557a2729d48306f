"""What a person does in the dashboard, step by step, shared by the browser tests.

Screenshots go to `artifacts/screenshots/` (look at them)."""

from __future__ import annotations

from tests.browser.conftest import CHROMIUM
from tests.conftest import ROOT

SCREENSHOTS = ROOT / "artifacts" / "screenshots"

if CHROMIUM.exists():
    from playwright.sync_api import Page, expect


def shot(page: Page, name: str, store: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{store}-{name}.png", full_page=True)


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()


def sign_up(page: Page, email: str) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in to DataSync")).to_be_visible()
    page.get_by_role("link", name="Create one").click()
    page.get_by_label("Name (optional)").fill("Dana Dashboard")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Schedules")).to_be_visible()


def create_table_source(page: Page) -> None:
    nav(page, "Data sources")
    page.get_by_role("link", name="New data source").click()
    page.get_by_label("Name", exact=True).fill("Sales table")
    page.get_by_label("Type", exact=True).select_option(label="Test table (file)")
    page.get_by_label("Access token").fill("secret-token")
    page.get_by_role("button", name="Create data source").click()
    expect(page.get_by_text("Data source “Sales table” created")).to_be_visible()


def create_file(page: Page, name: str) -> None:
    nav(page, "Files")
    page.get_by_label("File name").fill(name)
    page.get_by_role("button", name="Create file").click()
    expect(page.get_by_text(f"File “{name}” created")).to_be_visible()


def fill_schedule(
    page: Page,
    name: str,
    sync_time: str,
    path: str,
    batch_rows: int | None = None,
    batch_delay: float | None = None,
) -> None:
    """The test-table's selection, in the fields its declaration asks for."""
    nav(page, "Schedules")
    page.get_by_role("link", name="New schedule").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Frequency").select_option("daily")
    page.get_by_label("Sync time").fill(sync_time)
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_label("Table file").fill(path)
    if batch_rows is not None:
        page.get_by_label("Rows per batch").fill(str(batch_rows))
    if batch_delay is not None:
        page.locator("details.advanced > summary", has_text="Advanced").click()
        page.get_by_label("Delay per batch (seconds)").fill(str(batch_delay))
