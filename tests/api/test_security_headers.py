"""Browser security headers: nosniff and a referrer policy on every response; on HTML pages a
Content-Security-Policy that admits only this service's own files, and no inline script,
style or event handler in the pages themselves (the browser tests check the running pages)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from litestar.testing import TestClient

from app.security_headers import CONTENT_SECURITY_POLICY
from tests.api.apps import app_with
from tests.conftest import ApiUser

ALLOWED_ORIGIN = "http://localhost:5173"  # the suite's CORS_ORIGINS

EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def assert_every_response_headers(response: Any) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-request-id"]


def assert_html_page_headers(response: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert_every_response_headers(response)
    assert response.headers["content-security-policy"] == EXPECTED_CSP
    assert response.headers["x-frame-options"] == "DENY"


class PageResources(HTMLParser):
    """What a page's markup asks the browser to run or load."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts: list[str] = []
        self.style_elements = 0
        self.style_attributes: list[str] = []
        self.event_handlers: list[str] = []
        self.urls: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self._in_inline_script = "src" not in values
            if self._in_inline_script:
                self.inline_scripts.append("")
        if tag == "style":
            self.style_elements += 1
        for name, value in attrs:
            if name == "style":
                self.style_attributes.append(f"<{tag} style={value!r}>")
            if name.startswith("on"):
                self.event_handlers.append(f"<{tag} {name}={value!r}>")
            if name in {"src", "href"} and value:
                self.urls.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script:
            self.inline_scripts[-1] += data


def resources_of(html: str) -> PageResources:
    parser = PageResources()
    parser.feed(html)
    return parser


def test_the_policy_is_the_one_documented() -> None:
    assert CONTENT_SECURITY_POLICY == EXPECTED_CSP


def test_dashboard_page_has_the_policy_and_nothing_inline(client: TestClient[Any]) -> None:
    response = client.get("/")

    assert_html_page_headers(response)
    page = resources_of(response.text)
    assert page.inline_scripts == []
    assert (page.style_elements, page.style_attributes, page.event_handlers) == (0, [], [])
    # Relative URLs (the service may sit under a prefix) and the empty data: favicon only.
    assert all(not url.startswith(("http:", "https:", "//")) for url in page.urls), page.urls


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
def test_api_docs_page_has_the_policy_and_loads_only_this_services_files(
    client: TestClient[Any], path: str
) -> None:
    response = client.get(path)

    assert_html_page_headers(response)
    page = resources_of(response.text)
    assert page.inline_scripts == []
    assert (page.style_elements, page.style_attributes, page.event_handlers) == (0, [], [])
    assert "/schema/assets/swagger-ui-bundle.js" in page.urls
    assert "/schema/assets/swagger-init.js" in page.urls
    assert all(url.startswith(("/schema/", "data:")) for url in page.urls), page.urls
    assert 'data-spec-url="/schema/openapi.json"' in response.text


@pytest.mark.parametrize(
    ("asset", "media_type"),
    [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-init.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("api-docs.css", "text/css"),
    ],
)
def test_api_docs_assets_are_served_by_the_service(
    client: TestClient[Any], asset: str, media_type: str
) -> None:
    response = client.get(f"/schema/assets/{asset}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert_every_response_headers(response)
    assert len(response.content) > 100


def test_an_unknown_api_docs_asset_is_404_in_the_envelope(client: TestClient[Any]) -> None:
    response = client.get("/schema/assets/swagger-editor-bundle.js")

    assert response.status_code == 404
    assert response.json()["success"] is False
    assert_every_response_headers(response)


def test_api_json_responses_carry_nosniff_and_the_referrer_policy(user: ApiUser) -> None:
    response = user.get("/api/auth/me")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert_every_response_headers(response)


def test_a_404_keeps_the_envelope_and_carries_the_headers(client: TestClient[Any]) -> None:
    response = client.get("/api/no-such-thing")

    assert response.status_code == 404
    body = response.json()
    assert body["success"] is False
    assert body["requestId"] == response.headers["x-request-id"]
    assert_every_response_headers(response)


def test_a_cors_preflight_keeps_its_cors_headers_and_gets_nosniff(client: TestClient[Any]) -> None:
    response = client.options(
        "/api/sync/schedules",
        headers={
            "Origin": ALLOWED_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )

    assert response.status_code in {200, 204}
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert_every_response_headers(response)


def test_csv_downloads_are_not_sniffed(user: ApiUser) -> None:
    file_id = user.target_file("plain.csv")

    response = user.get(f"/api/files/{file_id}/content")

    assert response.status_code in {200, 204, 404}, response.text
    assert_every_response_headers(response)


def test_api_docs_off_leaves_the_openapi_document_and_no_page(
    service_env: dict[str, str],
) -> None:
    with app_with(service_env, API_DOCS="false") as client:
        document = client.get("/schema/openapi.json")
        root = client.get("/schema")
        swagger = client.get("/schema/swagger")
        asset = client.get("/schema/assets/swagger-ui-bundle.js")

    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.1")
    assert_every_response_headers(document)
    # /schema answers the document itself: no page, nothing to run.
    assert root.status_code == 200
    assert not root.headers["content-type"].startswith("text/html")
    assert root.json()["info"]["title"] == "DataSync API"
    assert (swagger.status_code, asset.status_code) == (404, 404)
