"""The data source and schedule forms, built from what the server says each source type asks
for (GET /api/source-types), in a real Chromium against the API and a real worker: a
PostgreSQL source on the machine's PostgreSQL and the `test-table` plugin, each created and
synced through the forms alone; errors beside the field they are about; the history at
phone width."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyodbc
import pytest

from tests.browser.conftest import CHROMIUM
from tests.browser.steps import create_file, nav, shot, sign_up
from tests.services import create_postgres_database
from tests.sync.tables import write_table

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is missing (the README's test command installs Debian's chromium)",
    ),
    pytest.mark.usefixtures("worker"),
    # The forms are the same whatever the service stores in; the stores have their own tests.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

if CHROMIUM.exists():
    from playwright.sync_api import Page, Request, Route, expect

PHONE = {"width": 390, "height": 844}

ORDERS = """
CREATE TABLE orders (
    order_id integer PRIMARY KEY,
    customer text NOT NULL,
    amount numeric(12,2) NOT NULL
);
INSERT INTO orders VALUES (1, 'Ada Lovelace', 120.50), (2, 'Grace Hopper', 99.99), (3, 'Linus', 10.00);
"""
# A row changed, one removed, one added: what a primary key lets a run report by key.
ORDERS_CHANGED = """
UPDATE orders SET amount = 130.00 WHERE order_id = 1;
DELETE FROM orders WHERE order_id = 3;
INSERT INTO orders VALUES (4, 'Ken Thompson', 5.00);
"""


@dataclass(frozen=True)
class Database:
    server: str
    port: int
    username: str
    name: str
    odbc: str

    def run(self, sql: str) -> None:
        with pyodbc.connect(self.odbc, autocommit=True) as connection:
            connection.execute(sql)


@pytest.fixture
def orders_database() -> Iterator[Database]:
    """A throwaway database on the machine's PostgreSQL with an `orders` table; trust
    authentication on 127.0.0.1, so any password logs in."""
    url, drop = create_postgres_database()
    parts = urlsplit(url)
    assert parts.hostname and parts.port and parts.username
    name = parts.path.lstrip("/")
    database = Database(
        server=parts.hostname,
        port=parts.port,
        username=parts.username,
        name=name,
        odbc=(
            f"DRIVER={{PostgreSQL Unicode}};SERVER={parts.hostname};PORT={parts.port};"
            f"DATABASE={name};UID={parts.username}"
        ),
    )
    try:
        database.run(ORDERS)
        yield database
    finally:
        drop()


def new_email(who: str, store: str) -> str:
    return f"{who}-{store}-{secrets.token_hex(4)}@example.com"


def posted(request: Request, path: str) -> bool:
    return request.method == "POST" and urlsplit(request.url).path == path


def new_source_form(page: Page, type_label: str) -> None:
    nav(page, "Data sources")
    page.get_by_role("link", name="New data source").click()
    page.get_by_label("Type", exact=True).select_option(label=type_label)


def test_a_postgresql_source_and_a_schedule_made_in_the_forms_sync_by_primary_key(
    page: Page, store: str, orders_database: Database
) -> None:
    db = orders_database
    sign_up(page, new_email("pat", store))

    # The PostgreSQL form: its declared fields, labelled, each with its control.
    new_source_form(page, "PostgreSQL")
    expect(page.get_by_role("radio", name="Server and login")).to_be_checked()
    port = page.get_by_label("Port", exact=True)
    expect(port).to_have_attribute("type", "number")
    expect(port).to_have_attribute("min", "1")
    expect(port).to_have_attribute("max", "65535")
    expect(port).to_have_attribute("placeholder", "5432")
    expect(page.locator('[data-field="credentials.port"] .hint')).to_have_text("Default 5432.")
    password = page.get_by_label("Password", exact=True)
    expect(password).to_have_attribute("type", "password")
    expect(password).to_have_attribute("autocomplete", "new-password")
    tls = page.get_by_label("TLS (sslmode)")
    expect(tls.locator("option:checked")).to_have_text("Default: prefer")
    expect(tls.locator("option")).to_have_count(7)

    # The other way to sign in shows only its own field.
    page.get_by_role("radio", name="Connection string").check()
    expect(page.get_by_label("Server", exact=True)).to_be_hidden()
    connection_string = page.get_by_role("textbox", name="Connection string")
    expect(connection_string).to_be_visible()
    expect(connection_string).to_have_attribute("type", "password")
    page.get_by_role("radio", name="Server and login").check()
    expect(connection_string).to_be_hidden()

    # Settings are all advanced: folded until asked for.
    batch_rows = page.get_by_label("Rows per batch")
    expect(batch_rows).to_be_hidden()
    page.get_by_text("Advanced settings").click()
    expect(batch_rows).to_be_visible()
    expect(batch_rows).to_have_attribute("type", "number")
    shot(page, "20-postgresql-source-form", store)

    page.get_by_label("Name", exact=True).fill("Orders DB")
    page.get_by_label("Server", exact=True).fill(db.server)
    port.fill("70000")
    page.get_by_label("User name").fill(db.username)
    password.fill("unused-fake")
    page.get_by_label("Database", exact=True).fill(db.name)
    batch_rows.fill("500")

    # The API's refusal, beside the field, in words, linked to it; gone once edited.
    page.get_by_role("button", name="Create data source").click()
    port_error = page.locator('[data-field="credentials.port"] .field-error')
    expect(port_error).to_have_text(re.compile(r"^Port must be .+ from 1 to 65,?535$"))
    expect(port).to_have_attribute("aria-invalid", "true")
    expect(port).to_be_focused()
    describedby = (port.get_attribute("aria-describedby") or "").split()
    assert port_error.get_attribute("id") in describedby
    shot(page, "21-postgresql-field-error", store)
    port.fill(str(db.port))
    expect(port_error).to_be_hidden()
    expect(port).not_to_have_attribute("aria-invalid", "true")

    with page.expect_request(lambda r: posted(r, "/api/data-sources")) as sent:
        page.get_by_role("button", name="Create data source").click()
    body = sent.value.post_data_json
    # Typed and without the fields left empty (sslmode keeps its default).
    assert body["credentials"] == {
        "server": db.server,
        "port": db.port,
        "username": db.username,
        "password": "unused-fake",
        "database": db.name,
    }
    assert body["settings"] == {"batchRows": 500}
    expect(page.get_by_text("Data source “Orders DB” created")).to_be_visible()

    card = page.get_by_role("listitem").filter(has_text="Orders DB")
    expect(card.locator(".tag")).to_have_text("PostgreSQL")
    expect(card.locator('[data-setting="batchRows"]')).to_have_text("Rows per batch: 500")
    card.get_by_role("button", name="Test connection").click()
    result = card.get_by_role("status")
    expect(result).to_contain_text("Connection OK", timeout=30_000)
    version = result.locator('[data-detail="serverVersion"]')
    expect(version.locator("dt")).to_have_text("Server version")
    expect(version.locator("dd")).to_have_text(re.compile(r"^PostgreSQL \d+"))
    expect(result.locator('[data-detail="database"] dt')).to_have_text("Database")
    expect(result.locator('[data-detail="database"] dd')).to_have_text(db.name)
    # The full banner is the short one's tooltip, not a second entry.
    expect(result.locator("dt")).to_have_text(["Server version", "Database"])
    expect(result).not_to_contain_text("serverVersion")
    shot(page, "22-postgresql-test-connection", store)

    # The schedule form asks for the type's selection: the query in a code editor, the
    # primary key among the main fields.
    create_file(page, "orders.csv")
    nav(page, "Schedules")
    page.get_by_role("link", name="New schedule").click()
    expect(page.locator("fieldset.selection legend")).to_have_text("What to sync (PostgreSQL)")
    query = page.get_by_label("Query", exact=True)
    expect(query).to_have_attribute("placeholder", "SELECT * FROM public.orders")
    assert query.evaluate("el => el.tagName") == "TEXTAREA"
    assert "mono" in query.evaluate("el => getComputedStyle(el).fontFamily").lower()
    expect(page.get_by_label("Query timeout (seconds)")).to_be_hidden()
    primary_key = page.get_by_label("Primary key column(s)")
    expect(primary_key).to_be_visible()
    assert primary_key.evaluate("el => el.closest('details') === null")
    expect(page.locator('[data-field="config.primaryKey"] .hint')).to_contain_text(
        "each run reports the rows added, changed and removed by key; without one, rows are "
        "compared whole"
    )
    page.get_by_label("Name", exact=True).fill("Orders nightly")
    query.fill("SELECT order_id, customer, amount\nFROM orders\nORDER BY order_id")
    primary_key.fill("order_id")
    shot(page, "23-postgresql-schedule-form", store)
    with page.expect_request(lambda r: posted(r, "/api/sync/schedules")) as sent:
        page.get_by_role("button", name="Create schedule").click()
    config = sent.value.post_data_json["config"]
    assert config["query"] == "SELECT order_id, customer, amount\nFROM orders\nORDER BY order_id"
    assert config["primaryKey"] == "order_id"
    assert "databaseName" not in config and "queryTimeoutSeconds" not in config
    expect(page.get_by_text("Schedule “Orders nightly” created")).to_be_visible()

    schedule = page.get_by_role("listitem").filter(has_text="Orders nightly")
    expect(schedule.locator('[data-fact="source"]')).to_contain_text("Orders DB · PostgreSQL")
    # Editing brings the selection back into its fields.
    schedule.get_by_role("link", name="Edit Orders nightly").click()
    expect(page.get_by_label("Query", exact=True)).to_have_value(
        "SELECT order_id, customer, amount\nFROM orders\nORDER BY order_id"
    )
    expect(page.get_by_label("Primary key column(s)")).to_have_value("order_id")
    nav(page, "Schedules")
    schedule.get_by_role("button", name="Sync Orders nightly now").click()
    expect(schedule.locator(".sync-progress .notice-success")).to_contain_text(
        "3 added", timeout=30_000
    )

    db.run(ORDERS_CHANGED)
    page.get_by_role("link", name="Orders nightly", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Orders nightly")).to_be_visible()
    page.get_by_role("button", name="Sync Orders nightly now").click()
    outcome = page.locator(".sync-progress .notice-success")
    expect(outcome).to_contain_text("1 added", timeout=30_000)
    expect(outcome).to_contain_text("1 updated")
    expect(outcome).to_contain_text("1 deleted")
    expect(page.locator("table.history tbody tr")).to_have_count(2)

    # At phone width each run is a card: its counts labelled and inside the screen.
    page.set_viewport_size(PHONE)
    latest = page.locator("table.history tbody tr").first
    for label, value in [("Rows", "3"), ("Added", "1"), ("Updated", "1"), ("Deleted", "1")]:
        cell = latest.locator(f'td[data-label="{label}"]')
        expect(cell).to_have_text(value)
        expect(cell).to_be_visible()
        box = cell.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        shown = cell.evaluate("el => getComputedStyle(el, '::before').content")
        assert shown == f'"{label}"'
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    latest.scroll_into_view_if_needed()
    shot(page, "24-phone-history-cards", store)


def test_the_test_table_plugin_gets_a_form_from_its_declaration(
    page: Page, store: str, tmp_path: Path
) -> None:
    table = write_table(
        tmp_path / "sales.csv", ["id", "region"], [["1", "North"], ["2", "South"], ["3", "East"]]
    )
    sign_up(page, new_email("tess", store))

    nav(page, "Data sources")
    page.get_by_role("link", name="New data source").click()
    types = page.get_by_label("Type", exact=True).locator("option")
    for name in ("Google Sheets", "PostgreSQL", "Test table (file)"):
        expect(types.filter(has_text=name)).to_have_count(1)
    page.get_by_label("Type", exact=True).select_option(label="Test table (file)")
    # One way to sign in: no choice offered.
    expect(page.get_by_role("radio")).to_have_count(0)
    token = page.get_by_label("Access token")
    expect(token).to_have_attribute("type", "password")
    expect(page.locator('[data-field="credentials.token"] .hint')).to_have_text(
        'Any text; "revoked" fails as an expired token would.'
    )
    shot(page, "25-plugin-source-form", store)
    page.get_by_label("Name", exact=True).fill("Sales table")
    token.fill("tt-token")
    with page.expect_request(lambda r: posted(r, "/api/data-sources")) as sent:
        page.get_by_role("button", name="Create data source").click()
    assert sent.value.post_data_json == {
        "name": "Sales table",
        "type": "test-table",
        "credentials": {"token": "tt-token"},
        "settings": {},
    }
    expect(page.get_by_text("Data source “Sales table” created")).to_be_visible()
    card = page.get_by_role("listitem").filter(has_text="Sales table")
    expect(card.locator(".tag")).to_have_text("Test table (file)")
    card.get_by_role("button", name="Test connection").click()
    result = card.get_by_role("status")
    expect(result.locator('[data-detail="source"] dt')).to_have_text("Source")
    expect(result.locator('[data-detail="source"] dd')).to_have_text("test-table")

    # Editing: the secret is never shown, and left empty it is kept (no credentials sent).
    card.get_by_role("link", name="Edit Sales table").click()
    expect(page.get_by_label("Access token")).to_have_value("")
    expect(page.get_by_text("Leave them empty to keep the stored ones.")).to_be_visible()
    with page.expect_request(lambda r: r.method == "PATCH") as sent:
        page.get_by_role("button", name="Save changes").click()
    assert "credentials" not in sent.value.post_data_json
    expect(page.get_by_text("Data source “Sales table” saved")).to_be_visible()

    create_file(page, "sales-data.csv")
    nav(page, "Schedules")
    page.get_by_role("link", name="New schedule").click()
    expect(page.locator("fieldset.selection legend")).to_have_text(
        "What to sync (Test table (file))"
    )
    path = page.get_by_label("Table file")
    expect(path).to_have_attribute("placeholder", "/data/sales.csv")
    batch = page.get_by_label("Rows per batch")
    expect(batch).to_have_attribute("type", "number")
    expect(batch).to_have_attribute("min", "1")
    page.locator("details.advanced > summary", has_text="Advanced").click()
    expect(page.get_by_label("Failure", exact=True).locator("option")).to_have_text(
        ["Default", "Transient", "Expired token", "Unknown sheet"]
    )
    page.get_by_label("Name", exact=True).fill("Sales daily")
    path.fill(str(table.with_suffix(".txt")))
    batch.fill("2")

    # The connector's own refusal lands beside the field it names, and goes when edited.
    page.get_by_role("button", name="Create schedule").click()
    path_error = page.locator('[data-field="config.path"] .field-error')
    expect(path_error).to_have_text("Table file must name a .csv or .parquet file")
    expect(path).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".form-errors")).not_to_contain_text("config.path")
    shot(page, "26-plugin-schedule-field-error", store)
    path.fill(str(table))
    expect(path_error).to_be_hidden()

    with page.expect_request(lambda r: posted(r, "/api/sync/schedules")) as sent:
        page.get_by_role("button", name="Create schedule").click()
    config = sent.value.post_data_json["config"]
    assert config["path"] == str(table)
    assert config["batchRows"] == 2 and isinstance(config["batchRows"], int)
    assert "failKind" not in config and "primaryKey" not in config
    expect(page.get_by_text("Schedule “Sales daily” created")).to_be_visible()
    schedule = page.get_by_role("listitem").filter(has_text="Sales daily")
    schedule.get_by_role("button", name="Sync Sales daily now").click()
    expect(schedule.locator(".sync-progress .notice-success")).to_contain_text(
        "3 added", timeout=30_000
    )


def refusing_creates(
    sent: list[dict[str, Any]], message: str, details: list[dict[str, str]]
) -> Callable[[Route], None]:
    """A stand-in for the service that records each create's body in `sent` and answers it
    with a 400 of `message` and `details`; other requests pass through."""

    def refuse(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        sent.append(route.request.post_data_json)
        route.fulfill(
            status=400,
            json={
                "success": False,
                "error": "Invalid data source",
                "message": message,
                "requestId": "req-stand-in",
                "details": details,
            },
        )

    return refuse


def test_dotted_keys_are_sent_nested_and_each_error_is_shown_by_its_label(page: Page) -> None:
    """Google Sheets' OAuth way to sign in (`oauth.clientId` …). The service's answer is
    stood in for: a 400 naming one shown field and one of the way not chosen."""
    sent: list[dict[str, Any]] = []
    refuse = refusing_creates(
        sent,
        "The source refused these credentials",
        [
            {"field": "credentials.oauth.refreshToken", "message": "was refused: invalid_grant"},
            {"field": "credentials.serviceAccountInfo", "message": "is required"},
        ],
    )

    sign_up(page, new_email("gus", "oauth"))
    page.route("**/api/data-sources", refuse)
    new_source_form(page, "Google Sheets")
    page.get_by_role("radio", name="OAuth user (refresh token)").check()
    expect(page.get_by_label("Service account JSON key")).to_be_hidden()
    page.get_by_label("Name", exact=True).fill("Sheets by OAuth")
    page.get_by_label("OAuth client ID").fill("client-1")
    page.get_by_label("OAuth client secret").fill("secret-1")
    refresh = page.get_by_label("Refresh token", exact=True)
    refresh.fill("refresh-1")
    page.get_by_role("button", name="Create data source").click()

    expect(page.locator(".form-errors")).to_contain_text("The source refused these credentials")
    assert sent[0]["credentials"] == {
        "oauth": {"clientId": "client-1", "clientSecret": "secret-1", "refreshToken": "refresh-1"}
    }
    beside = page.locator('[data-field="credentials.oauth.refreshToken"] .field-error')
    expect(beside).to_have_text("Refresh token was refused: invalid_grant")
    expect(refresh).to_have_attribute("aria-invalid", "true")
    # No input shows it: the summary lists it, by its label.
    expect(page.locator(".form-errors li")).to_have_text(["Service account JSON key is required"])
    expect(page.locator(".form-errors")).not_to_contain_text("serviceAccountInfo")
    refresh.fill("refresh-2")
    expect(beside).to_be_hidden()
    expect(refresh).not_to_have_attribute("aria-invalid", "true")


def test_a_type_that_cannot_load_is_listed_disabled_with_its_reason(page: Page) -> None:
    """A plugin whose module fails to import: the service lists it unavailable (stood in for
    here, beside the real types)."""

    def with_a_broken_plugin(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body["sourceTypes"].append(
            {
                "type": "vendor-crm",
                "displayName": "vendor-crm",
                "available": False,
                "unavailableReason": "No module named 'vendor_sdk'",
                "credentialVariants": [],
                "settings": [],
                "selection": [],
                "endpointHosts": [],
                "schemas": {
                    "credentials": {"type": "object"},
                    "settings": {"type": "object"},
                    "selection": {"type": "object"},
                },
            }
        )
        route.fulfill(response=response, json=body)

    page.route("**/api/source-types", with_a_broken_plugin)
    sign_up(page, new_email("una", "broken"))
    nav(page, "Data sources")
    page.get_by_role("link", name="New data source").click()
    broken = page.get_by_label("Type", exact=True).locator('option[value="vendor-crm"]')
    expect(broken).to_have_text("vendor-crm (not available)")
    expect(broken).to_be_disabled()
    expect(page.locator(".unavailable-types")).to_contain_text(
        "vendor-crm — No module named 'vendor_sdk'"
    )


def test_a_tri_state_choice_and_a_checkbox_are_sent_as_booleans(page: Page) -> None:
    """SQL Server's encryption (true, false or the driver's default) and its certificate
    checkbox; the service's answer is stood in for, as no SQL Server runs here."""
    sent: list[dict[str, Any]] = []
    capture = refusing_creates(sent, "Stood in", [])

    sign_up(page, new_email("sol", "booleans"))
    page.route("**/api/data-sources", capture)
    new_source_form(page, "SQL Server")
    encryption = page.get_by_label("Encryption")
    expect(encryption.locator("option")).to_have_text(["Default", "Require encryption", "Off"])
    trust = page.get_by_label("Trust the server certificate (self-signed servers)")
    expect(trust).to_have_attribute("type", "checkbox")
    page.get_by_label("Name", exact=True).fill("Warehouse")
    page.get_by_label("Server", exact=True).fill("sql.example.com")
    page.get_by_label("User name").fill("reader")
    page.get_by_label("Password", exact=True).fill("pw")
    encryption.select_option(label="Off")
    trust.check()
    page.get_by_role("button", name="Create data source").click()
    expect(page.locator(".form-errors")).to_contain_text("Stood in")
    assert sent[0]["credentials"] == {
        "server": "sql.example.com",
        "username": "reader",
        "password": "pw",
        "encrypt": False,
        "trustServerCertificate": True,
    }

    # Back to the driver's default: neither key is sent.
    encryption.select_option(label="Default")
    trust.uncheck()
    with page.expect_request(lambda r: posted(r, "/api/data-sources")):
        page.get_by_role("button", name="Create data source").click()
    expect(page.get_by_role("button", name="Create data source")).to_be_enabled()
    assert len(sent) == 2
    assert "encrypt" not in sent[1]["credentials"]
    assert "trustServerCertificate" not in sent[1]["credentials"]
