"""The schedule form's Preview button: a dry run of the form as filled in, before saving,
showing the first rows, the counts and the warnings; its errors beside the fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM
from tests.browser.steps import create_file, create_table_source, fill_schedule, shot, sign_up
from tests.sync.tables import write_table

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is missing (the README's test command installs Debian's chromium)",
    ),
    pytest.mark.usefixtures("worker"),
    # The page is the same on every store.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

if CHROMIUM.exists():
    from playwright.sync_api import Page, expect


def test_preview_shows_the_unsaved_forms_rows_counts_and_warnings_and_saves_nothing(
    page: Page, live_server: str, store: str, tmp_path: Path
) -> None:
    rows = [[str(i), f"name {i}", str(i * 10)] for i in range(1, 4)]
    table = write_table(tmp_path / "sales.csv", ["id", "", "amount"], rows)
    sign_up(page, f"pia-{store}-{tmp_path.name[-12:]}@example.com")
    create_table_source(page)
    create_file(page, "preview.csv")

    # A bad sync time is shown beside its field, as saving would show it.
    fill_schedule(page, "Preview me", "25:00", str(table))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator('[data-field="config.syncTime"] .field-error')).to_contain_text("HH:MM")

    page.get_by_label("Sync time").fill("06:00")
    page.get_by_role("button", name="Preview").click()

    panel = page.get_by_role("region", name="Sync preview")
    expect(panel.locator(".preview-counts")).to_contain_text(
        "3 rows: 3 added, 0 updated, 0 deleted"
    )
    table_el = panel.get_by_role("table")
    expect(table_el.get_by_role("columnheader")).to_have_text(["id", "column_2", "amount"])
    expect(table_el.locator("tbody tr")).to_have_count(3)
    expect(table_el.locator("tbody tr").first.get_by_role("cell")).to_have_text(
        ["1", "name 1", "10"]
    )
    expect(panel.locator('[data-code="blank_header"]')).to_contain_text("column_2")
    shot(page, "schedule-preview", store)

    # Previewing saved nothing: the form is still open, and no schedule exists.
    expect(page.get_by_role("button", name="Create schedule")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_text("Preview me")).to_have_count(0)
