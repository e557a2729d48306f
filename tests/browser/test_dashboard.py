"""The dashboard in a real headless Chromium against the API as its own process and a real
worker, with the `test-table` source: what a person does, screen by screen.

Screenshots of the main screens go to `artifacts/screenshots/` (look at them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM
from tests.browser.steps import create_file, create_table_source, fill_schedule, nav, shot, sign_up
from tests.sync.tables import read_csv, write_table

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is missing (the README's test command installs Debian's chromium)",
    ),
    pytest.mark.usefixtures("worker"),
]

if CHROMIUM.exists():
    from playwright.sync_api import Page, expect


def test_sign_up_connect_sync_now_see_progress_and_counts_download_the_csv_and_see_history(
    page: Page, live_server: str, store: str, tmp_path: Path
) -> None:
    rows = [[str(i), ["North", "South", "East"][i % 3], f"{i * 2.5:.2f}"] for i in range(1, 13)]
    table = write_table(tmp_path / "sales.csv", ["id", "region", "amount"], rows)

    page.goto("/")
    shot(page, "01-sign-in", store)
    sign_up(page, f"dana-{store}-{tmp_path.name[-12:]}@example.com")

    # Each type's form is built from its declaration: the Google Sheets form asks for the
    # service-account key, the Excel one for an app registration.
    nav(page, "Data sources")
    page.get_by_role("link", name="New data source").click()
    expect(page.get_by_label("Service account JSON key")).to_be_visible()
    page.get_by_label("Type", exact=True).select_option("microsoft-excel")
    expect(page.get_by_label("Tenant ID")).to_be_visible()
    expect(page.get_by_role("radio", name="App-only (client secret)")).to_be_checked()
    expect(page.get_by_label("Client secret", exact=True)).to_have_attribute("type", "password")
    expect(page.get_by_label("Drive ID")).to_be_visible()
    shot(page, "02-data-source-form-excel", store)
    create_table_source(page)
    card = page.get_by_role("listitem").filter(has_text="Sales table")
    card.get_by_role("button", name="Test connection").click()
    expect(card.get_by_role("status")).to_contain_text("Connection OK")
    shot(page, "03-data-sources", store)

    create_file(page, "sales-data.csv")

    # A bad sync time is reported beside the sync time input, from the API's details.
    fill_schedule(page, "Sales daily", "25:00", str(table), batch_rows=3, batch_delay=0.9)
    page.get_by_role("button", name="Create schedule").click()
    sync_time = page.get_by_label("Sync time")
    expect(sync_time).to_have_attribute("aria-invalid", "true")
    beside = page.locator('[data-field="config.syncTime"] .field-error')
    expect(beside).to_be_visible()
    expect(beside).to_have_text("Sync time must be HH:MM (24h), e.g. 06:00")
    expect(sync_time).to_be_focused()
    shot(page, "04-schedule-validation-error", store)
    sync_time.fill("06:30")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.get_by_text("Schedule “Sales daily” created")).to_be_visible()

    schedule = page.get_by_role("listitem").filter(has_text="Sales daily")
    expect(schedule.locator('[data-fact="when"]')).to_contain_text("Daily at 06:30 (Europe/Berlin)")
    expect(schedule.locator(".badge")).to_have_text("Never run")
    # Next run in the viewer's local time, UTC on hover.
    next_run = schedule.locator('[data-fact="next-run"] time')
    expect(next_run).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$"))
    shot(page, "05-schedules", store)

    # Sync now: progress (phase and rows fetched; the worker reports it every 2 s) while it
    # runs, then the counts.
    schedule.get_by_role("button", name="Sync Sales daily now").click()
    progress = schedule.locator(".sync-progress")
    expect(progress.locator(".rows-fetched")).to_have_text(re.compile(r"^[1-9]\d* rows fetched$"))
    expect(progress.locator(".phase")).to_have_text("Fetching rows")
    expect(progress).to_have_attribute("aria-live", "polite")
    shot(page, "06-sync-progress", store)
    expect(progress.locator(".notice-success")).to_contain_text("12 added", timeout=30_000)
    expect(progress).to_contain_text("0 updated")
    expect(progress).to_contain_text("0 deleted")
    expect(progress).to_contain_text("12 rows in")
    expect(schedule.locator(".badge")).to_have_text("Success")
    expect(schedule.locator('[data-fact="rows"]')).to_contain_text("12")
    expect(schedule.locator('[data-fact="last-run"] time')).to_have_attribute(
        "title", re.compile("UTC$")
    )
    shot(page, "07-sync-result", store)

    # Download the CSV (fetched by the page with its session cookie) and compare it with the table.
    nav(page, "Files")
    file_card = page.get_by_role("listitem").filter(has_text="sales-data.csv")
    expect(file_card.locator("dd").first).to_have_text("12")
    with page.expect_download() as download:
        file_card.get_by_role("button", name="Download sales-data.csv").click()
    assert download.value.suggested_filename == "sales-data.csv"
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    assert read_csv(saved) == [["id", "region", "amount"], *rows]
    file_card.get_by_role("button", name="Versions").click()
    expect(file_card.locator("table tbody tr")).to_have_count(1)
    shot(page, "08-files", store)

    # A second sync after the table changed: the history table and chart grow.
    write_table(table, ["id", "region", "amount"], [*rows, ["13", "West", "99.00"]])
    nav(page, "Schedules")
    page.get_by_role("link", name="Sales daily", exact=True).click()
    # Level 1: the list's cards have "Sales daily" headings too.
    expect(page.get_by_role("heading", level=1, name="Sales daily")).to_be_visible()
    page.get_by_role("button", name="Sync Sales daily now").click()
    expect(page.locator(".sync-progress .notice-success")).to_contain_text(
        "1 added", timeout=30_000
    )
    expect(page.locator("table.history tbody tr")).to_have_count(2)
    chart = page.locator("svg.run-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.bar")).to_have_count(2)
    expect(chart.locator("circle.duration-dot")).to_have_count(2)
    expect(chart).to_have_attribute("role", "img")
    shot(page, "09-history", store)

    # A failing run: the error on the card, and in the failed-runs view.
    table.unlink()
    page.get_by_role("button", name="Sync Sales daily now").click()
    expect(page.locator(".sync-progress .notice-error")).to_contain_text(
        "no table file", timeout=30_000
    )
    expect(page.locator("svg.run-chart rect.bar-error")).to_have_count(1)
    nav(page, "Failed runs")
    expect(page.get_by_role("heading", name="Failed runs")).to_be_visible()
    failed = page.locator("table tbody tr")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("Sales daily")
    expect(failed).to_contain_text("no table file")
    shot(page, "10-failed-runs", store)

    # Phone width: nothing wider than the screen; the main actions still there.
    page.set_viewport_size({"width": 375, "height": 812})
    nav(page, "Schedules")
    expect(page.get_by_role("button", name="Sync Sales daily now")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot(page, "11-phone-schedules", store)
    page.get_by_role("link", name="Sales daily", exact=True).click()
    expect(page.locator("svg.run-chart")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot(page, "12-phone-history", store)


def test_keyboard_only_delete_asks_first_and_an_expired_session_returns_to_sign_in(
    page: Page, store: str, tmp_path: Path
) -> None:
    sign_up(page, f"kim-{store}-{tmp_path.name[-12:]}@example.com")
    create_table_source(page)
    create_file(page, "orders.csv")
    fill_schedule(page, "Orders", "07:00", "/nowhere/orders.csv")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.get_by_text("Schedule “Orders” created")).to_be_visible()

    # Edit: the form comes back filled in; the change shows on the schedule's page.
    page.get_by_role("link", name="Edit Orders").click()
    expect(page.get_by_label("Sync time")).to_have_value("07:00")
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Berlin")
    page.get_by_label("Frequency").select_option("weekly")
    page.get_by_label("Day of the week").select_option("friday")
    page.get_by_label("Sync time").fill("18:15")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Schedule “Orders” saved")).to_be_visible()
    expect(page.locator('[data-fact="when"]')).to_have_text(
        re.compile("Weekly on Friday at 18:15 \\(Europe/Berlin\\)")
    )
    nav(page, "Schedules")

    # Keyboard: focus the card's Delete button, Enter opens the dialog on "Cancel".
    delete = page.get_by_role("button", name="Delete Orders")
    delete.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    shot(page, "13-confirm-delete", store)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(delete).to_be_focused()
    expect(page.get_by_role("listitem").filter(has_text="Orders")).to_have_count(1)

    # Enable/disable from the card: the next run goes away while disabled.
    page.get_by_role("button", name="Disable Orders").click()
    expect(page.locator('[data-fact="next-run"]')).to_contain_text("Disabled")
    page.get_by_role("button", name="Enable Orders").click()
    expect(page.locator('[data-fact="next-run"] time')).to_be_visible()

    delete.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Delete")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Schedule “Orders” deleted")).to_be_visible()
    expect(page.get_by_text("No schedules yet.")).to_be_visible()

    # API keys: shown once, listed by prefix.
    nav(page, "Account")
    page.get_by_label("Key name").fill("nightly export")
    page.get_by_role("button", name="Create API key").click()
    expect(page.get_by_role("textbox", name="API key", exact=True)).to_have_value(
        re.compile("^ds_live_")
    )
    expect(page.get_by_role("button", name="Revoke nightly export")).to_be_visible()
    shot(page, "14-account-api-key", store)
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("button", name="Revoke nightly export")).to_be_visible()

    # Nothing is stored in the page (the session is an HttpOnly cookie); when the session
    # ends elsewhere (here: logged out with the same cookie), the next view returns to sign in.
    assert page.evaluate("[Object.keys(localStorage), Object.keys(sessionStorage)]") == [[], []]
    ended = page.context.request.post("/api/auth/logout", headers={"X-Requested-With": "DataSync"})
    assert ended.status == 200, ended.text()
    nav(page, "Schedules")
    expect(page.get_by_role("heading", name="Sign in to DataSync")).to_be_visible()
    expect(page.get_by_text("Your session has ended")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Sign in to DataSync")).to_be_visible()
