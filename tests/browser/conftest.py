"""A real headless Chromium (Debian's) per test, watching what a person would not see: script
errors, Content-Security-Policy violations, and every URL the page requests.

A test fails at teardown if its page threw, or if the browser refused anything under the
service's CSP (Chromium logs "Refused to …" and fires `securitypolicyviolation`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")

if CHROMIUM.exists():
    from playwright.sync_api import BrowserContext, ConsoleMessage, Page, sync_playwright

# Runs before the page's own scripts (Playwright injects it, so the page's CSP does not
# apply): every violation reaches the console, including ones Chromium reports only as events.
REPORT_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`
    + ` at ${event.sourceFile || '?'}:${event.lineNumber}`);
});
"""


@dataclass
class Watch:
    """What the pages of one browser context did."""

    errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or text.startswith(("Refused to", "CSP violation")):
            self.violations.append(text)

    def attach(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self.on_console)
        page.on("request", lambda request: self.requests.append(request.url))


@dataclass
class Browser:
    """Opens contexts (each its own cookie jar: another browser, as far as the service knows)."""

    base_url: str
    launch: Any
    watch: Watch
    contexts: list[BrowserContext] = field(default_factory=list)

    def new_page(self) -> Page:
        # A viewer far from UTC, so local times and their UTC titles differ.
        context = self.launch.new_context(
            base_url=self.base_url,
            viewport={"width": 1280, "height": 900},
            timezone_id="America/New_York",
            locale="en-US",
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        context.add_init_script(REPORT_VIOLATIONS)
        context.on("page", self.watch.attach)
        self.contexts.append(context)
        return context.new_page()


@pytest.fixture
def browser(live_server: str) -> Iterator[Browser]:
    # Per test, after the session's store and server exist: sync Playwright keeps an event
    # loop running in this thread while open, and the store fixtures need asyncio.run().
    watch = Watch()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        opened = Browser(live_server, launched, watch)
        yield opened
        for context in opened.contexts:
            context.close()
        launched.close()
    assert not watch.errors, f"JavaScript errors on the page: {watch.errors}"
    assert not watch.violations, f"Content-Security-Policy violations: {watch.violations}"


@pytest.fixture
def store(database_url: str) -> str:
    """The kind of store the service runs on ("sqlite", "postgresql"), to name screenshots."""
    return database_url.split(":", 1)[0]


@pytest.fixture
def page(browser: Browser) -> Page:
    return browser.new_page()


@pytest.fixture
def watch(browser: Browser) -> Watch:
    return browser.watch
