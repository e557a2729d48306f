"""What the OpenAPI document tells a generated client about the auth and webhook routes:
typed answers, the statuses only these routes answer, and request limits that are exactly the
ones the service holds (a value just outside each documented limit is refused naming its
field, a value at the limit is not)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from app.auth.accounts import REGISTRATION_CLOSED
from app.webhooks.events import EVENTS
from tests.api.openapi_document import component, served_document
from tests.conftest import ApiUser

HOOK_URL = "http://127.0.0.1:9/hook"


@pytest.fixture(scope="module")
def document(client: TestClient[Any]) -> dict[str, Any]:
    return served_document(client)


def body_field(document: dict[str, Any], method: str, path: str, name: str) -> dict[str, Any]:
    """The schema of one request body field; of a nullable field, its non-null form together
    with what the document says of the field as a whole."""
    body = document["paths"][path][method]["requestBody"]["content"]["application/json"]
    field: dict[str, Any] = component(document, body["schema"])["properties"][name]
    branches = [b for b in field.get("oneOf", []) if b.get("type") != "null"]
    if len(branches) == 1:
        field = {**{k: v for k, v in field.items() if k != "oneOf"}, **branches[0]}
    return field


@pytest.mark.parametrize(
    ("method", "path", "struct", "required"),
    [
        ("post", "/api/auth/register", "AccountCreated", {"user", "message"}),
        ("post", "/api/auth/users", "AccountCreated", {"user", "message"}),
        ("post", "/api/auth/login", "SessionToken", {"token", "expiry"}),
        ("post", "/api/auth/token", "IssuedToken", {"token", "access_token", "token_type"}),
        ("post", "/api/auth/session", "BrowserSession", {"user", "expiry"}),
        ("post", "/api/auth/logout", "Done", {"message"}),
        ("post", "/api/auth/password", "PasswordChanged", {"message", "expiry"}),
        ("get", "/api/auth/me", "CurrentUser", {"user"}),
        ("post", "/api/auth/api-keys", "ApiKeyCreated", {"apiKey", "message"}),
        ("get", "/api/auth/api-keys", "ApiKeyList", {"apiKeys", "totalCount"}),
        ("delete", "/api/auth/api-keys/{key_id}", "Done", {"message"}),
        ("post", "/api/webhooks", "WebhookCreated", {"webhook", "message"}),
        ("get", "/api/webhooks", "WebhookList", {"webhooks", "totalCount", "pagination"}),
        ("get", "/api/webhooks/{webhook_id}", "WebhookDetail", {"webhook"}),
        ("patch", "/api/webhooks/{webhook_id}", "WebhookUpdated", {"webhook", "message"}),
        ("delete", "/api/webhooks/{webhook_id}", "Done", {"message"}),
        (
            "get",
            "/api/webhooks/{webhook_id}/deliveries",
            "DeliveryList",
            {"deliveries", "totalCount", "pagination"},
        ),
        ("post", "/api/webhooks/{webhook_id}/test", "PingSent", {"delivery", "message"}),
    ],
)
def test_each_success_answer_is_a_struct_whose_fields_are_required(
    document: dict[str, Any], method: str, path: str, struct: str, required: set[str]
) -> None:
    answer = document["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    schema = component(document, answer["schema"])

    assert schema["title"] == struct
    assert {"success", *required} <= set(schema["required"])
    assert schema["properties"]["success"]["const"] is True


def test_a_password_change_answers_a_token_only_to_callers_without_the_cookie(
    document: dict[str, Any],
) -> None:
    changed = document["components"]["schemas"]["PasswordChanged"]

    assert "token" in changed["properties"] and "token" not in changed["required"]


@pytest.mark.parametrize(
    ("shown_once", "listed", "secret"),
    [("NewApiKeyOut", "ApiKeyOut", "key"), ("NewWebhookOut", "WebhookOut", "secret")],
)
def test_a_secret_is_in_the_answer_that_created_it_and_in_no_other(
    document: dict[str, Any], shown_once: str, listed: str, secret: str
) -> None:
    schemas = document["components"]["schemas"]

    assert secret in schemas[shown_once]["required"]
    assert secret not in schemas[listed]["properties"]
    assert set(schemas[listed]["required"]) < set(schemas[shown_once]["required"])


@pytest.mark.parametrize(
    ("method", "path", "status", "example"),
    [
        ("post", "/api/auth/register", 403, REGISTRATION_CLOSED),
        ("post", "/api/auth/users", 403, "Only the admin can create accounts"),
        ("post", "/api/auth/users", 409, "An account for ana@example.com already exists"),
        ("post", "/api/auth/login", 401, "Wrong email or password"),
        ("post", "/api/auth/login", 429, "Too many failed logins: try again in 8 s"),
        ("post", "/api/auth/token", 401, "Wrong email or password"),
        ("post", "/api/auth/session", 401, "Wrong email or password"),
        ("post", "/api/auth/logout", 400, "Only session tokens log out"),
        ("post", "/api/auth/password", 400, "The current password is wrong"),
        ("get", "/api/auth/me", 404, "User not found"),
    ],
)
def test_the_statuses_only_these_routes_answer_are_documented_with_a_message_they_send(
    document: dict[str, Any], method: str, path: str, status: int, example: str
) -> None:
    response = document["paths"][path][method]["responses"][str(status)]
    content = response["content"]["application/json"]
    (shown,) = content["examples"].values()

    assert component(document, content["schema"])["title"] == "ErrorBody"
    assert shown["value"]["message"].startswith(example)


def test_the_cookie_routes_document_the_session_cookie(document: dict[str, Any]) -> None:
    for path in ("/api/auth/session", "/api/auth/logout", "/api/auth/password"):
        headers = document["paths"][path]["post"]["responses"]["200"]["headers"]
        (cookie,) = headers["Set-Cookie"]["schema"]["allOf"]
        assert cookie["example"].startswith("datasync_session=")


def test_the_documented_limits_are_those_of_the_rules(document: dict[str, Any]) -> None:
    """Each limit below is also shown enforced at its edge by the tests that follow."""
    assert body_field(document, "post", "/api/auth/register", "email")["maxLength"] == 320
    assert "pattern" in body_field(document, "post", "/api/auth/register", "email")
    password = body_field(document, "post", "/api/auth/register", "password")
    assert (password["minLength"], password["maxLength"]) == (12, 1024)
    new_password = body_field(document, "post", "/api/auth/password", "newPassword")
    assert (new_password["minLength"], new_password["maxLength"]) == (12, 1024)
    assert body_field(document, "post", "/api/auth/login", "password")["maxLength"] == 1024
    assert "minLength" not in body_field(document, "post", "/api/auth/login", "password")
    key_name = body_field(document, "post", "/api/auth/api-keys", "name")
    assert (key_name["minLength"], key_name["maxLength"]) == (1, 200)
    for method, path in (("post", "/api/webhooks"), ("patch", "/api/webhooks/{webhook_id}")):
        assert body_field(document, method, path, "url")["maxLength"] == 2048
        events = body_field(document, method, path, "events")
        assert events["minItems"] == 1 and events["items"]["enum"] == list(EVENTS)
    secret = body_field(document, "post", "/api/webhooks", "secret")
    assert (secret["minLength"], secret["maxLength"]) == (16, 256)
    deliveries = document["paths"]["/api/webhooks/{webhook_id}/deliveries"]["get"]
    limit = next(p for p in deliveries["parameters"] if p["name"] == "limit")["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, 200)


def refused_fields(response: httpx.Response) -> set[str]:
    if response.status_code == 200:
        return set()
    assert response.status_code == 400, response.text
    return {d["field"] for d in response.json()["details"]}


def email_of_length(length: int) -> str:
    domain = f"@{secrets.token_hex(4)}.example.com"
    return "a" * (length - len(domain)) + domain


@pytest.mark.parametrize(
    ("build", "refused"),
    [
        pytest.param(lambda n: n, False, id="at-maxLength"),
        pytest.param(lambda n: n + 1, True, id="over-maxLength"),
    ],
)
def test_an_email_is_refused_past_its_documented_length_and_taken_up_to_it(
    client: TestClient[Any], document: dict[str, Any], build: Callable[[int], int], refused: bool
) -> None:
    limit = body_field(document, "post", "/api/auth/register", "email")["maxLength"]
    body = {"email": email_of_length(build(limit)), "password": secrets.token_urlsafe(16)}

    answer = client.post("/api/auth/register", json=body)

    assert ("email" in refused_fields(answer)) is refused


@pytest.mark.parametrize(
    ("email", "refused"),
    [("  Ana@Example.com ", False), ("ana@example", True), ("a b@example.com", True)],
)
def test_an_email_is_refused_exactly_when_it_does_not_match_the_documented_pattern(
    client: TestClient[Any], document: dict[str, Any], email: str, refused: bool
) -> None:
    pattern = body_field(document, "post", "/api/auth/register", "email")["pattern"]
    assert (re.search(pattern, email) is None) is refused
    unique = email.replace("Ana", f"ana-{secrets.token_hex(4)}")

    answer = client.post(
        "/api/auth/register", json={"email": unique, "password": secrets.token_urlsafe(16)}
    )

    assert ("email" in refused_fields(answer)) is refused


@pytest.mark.parametrize(("offset", "refused"), [(-1, True), (0, False)])
def test_a_new_password_is_refused_under_its_documented_minimum_length(
    client: TestClient[Any], document: dict[str, Any], offset: int, refused: bool
) -> None:
    minimum = body_field(document, "post", "/api/auth/register", "password")["minLength"]
    # Random text is hard to guess at any length, so only the length decides.
    password = secrets.token_urlsafe(minimum)[: minimum + offset]
    body = {"email": f"new-{secrets.token_hex(4)}@example.com", "password": password}

    assert ("password" in refused_fields(client.post("/api/auth/register", json=body))) is refused


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        pytest.param("", True, id="empty"),
        pytest.param("   ", True, id="only-spaces"),
        pytest.param("k", False, id="one-character"),
        pytest.param("k" * 200, False, id="at-maxLength"),
        pytest.param("k" * 201, True, id="over-maxLength"),
    ],
)
def test_an_api_key_name_is_held_to_its_documented_limits(
    user: ApiUser, document: dict[str, Any], name: str, refused: bool
) -> None:
    documented = body_field(document, "post", "/api/auth/api-keys", "name")
    within = (
        documented["minLength"] <= len(name) <= documented["maxLength"]
        and re.search(documented["pattern"], name) is not None
    )
    assert within is not refused

    answer = user.post("/api/auth/api-keys", json={"name": name})

    assert ("name" in refused_fields(answer)) is refused


def url_of_length(length: int) -> str:
    return HOOK_URL + "x" * (length - len(HOOK_URL))


@pytest.mark.parametrize(
    ("field", "value_for", "refused"),
    [
        pytest.param("url", lambda f: url_of_length(f["maxLength"]), False, id="url-at-maxLength"),
        pytest.param("url", lambda f: url_of_length(f["maxLength"] + 1), True, id="url-over"),
        pytest.param("events", lambda f: [], True, id="events-under-minItems"),
        pytest.param("events", lambda f: ["sync.exploded"], True, id="events-not-in-enum"),
        pytest.param("events", lambda f: f["items"]["enum"], False, id="events-every-enum-value"),
        pytest.param("secret", lambda f: "s" * (f["minLength"] - 1), True, id="secret-under"),
        pytest.param("secret", lambda f: "s" * f["minLength"], False, id="secret-at-minLength"),
        pytest.param("secret", lambda f: "s" * f["maxLength"], False, id="secret-at-maxLength"),
        pytest.param("secret", lambda f: "s" * (f["maxLength"] + 1), True, id="secret-over"),
    ],
)
def test_a_webhook_is_held_to_its_documented_limits(
    user: ApiUser,
    document: dict[str, Any],
    field: str,
    value_for: Callable[[dict[str, Any]], Any],
    refused: bool,
) -> None:
    value = value_for(body_field(document, "post", "/api/webhooks", field))
    body = {"url": HOOK_URL, "events": ["sync.success"], field: value}

    assert (field in refused_fields(user.post("/api/webhooks", json=body))) is refused
