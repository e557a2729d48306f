"""OAuth 2.0 client credentials (RFC 6749 §4.4) for machine clients: a user's clients, the
token endpoint and its errors (§5.2), the scopes every route is held to, and what the OpenAPI
document tells generated clients about them."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import secrets
import uuid
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from litestar.testing import TestClient

from app.auth.middleware import PUBLIC_PATHS
from app.auth.oauth.access_tokens import issue_access_token
from app.auth.scopes import FULL_ACCESS, SCOPE_DESCRIPTIONS, Scope, required_scope
from app.settings import Settings
from tests.api.apps import app_with
from tests.api.openapi_document import operation, served_document
from tests.api.store import stored_rows
from tests.conftest import ApiUser

ENVELOPE = {"success", "error", "message", "requestId"}
READER = ["schedules:read", "files:read"]
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def create_client(user: ApiUser, scopes: list[str], name: str = "Reporting backend") -> Any:
    response = user.post("/api/auth/clients", json={"name": name, "scopes": scopes})
    assert response.status_code == 200, response.text
    return response.json()["client"]


def basic(client_id: str, secret: str) -> dict[str, str]:
    """HTTP Basic as RFC 6749 §2.3.1 has it: each part form-encoded, then the pair base64."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}


def request_token(
    http: TestClient[Any], form: dict[str, str], headers: dict[str, str] | None = None
) -> httpx.Response:
    return http.post("/oauth/token", data=form, headers=headers or {})


def token_for(http: TestClient[Any], client: Any, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
    response = request_token(http, form, basic(client["clientId"], client["clientSecret"]))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def as_client(http: TestClient[Any], token: str) -> ApiUser:
    return ApiUser(http, "", "", token)


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert response.headers["cache-control"] == "no-store"
    return str(body["error_description"])


def assert_envelope(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ENVELOPE and body["success"] is False
    return body


# --- clients --------------------------------------------------------------------------------


def test_a_new_client_shows_its_secret_once_and_the_list_never_does(user: ApiUser) -> None:
    created = create_client(user, ["files:read", "schedules:read", "files:read"])

    listed = user.ok("GET", "/api/auth/clients")

    assert created["clientSecret"].startswith("ds_secret_")
    assert created["scopes"] == READER  # each once, in the order of the scope list
    assert uuid.UUID(created["clientId"])
    assert listed["totalCount"] == 1
    assert listed["clients"] == [{k: v for k, v in created.items() if k != "clientSecret"}]
    assert created["clientSecret"] not in str(listed)


def test_a_client_secret_is_stored_only_as_its_hash(user: ApiUser, settings: Settings) -> None:
    name = f"stored-{secrets.token_hex(4)}"
    created = create_client(user, READER, name)

    (row,) = stored_rows(settings, "SELECT * FROM api_clients WHERE name = :name", name=name)

    secret = created["clientSecret"]
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in str(value) for value in row.values())


def test_a_client_secret_has_at_least_256_bits_of_randomness(user: ApiUser) -> None:
    secret = create_client(user, READER)["clientSecret"]

    random_part = secret.removeprefix("ds_secret_")
    assert len(base64.urlsafe_b64decode(random_part + "=" * (-len(random_part) % 4))) >= 32


@pytest.mark.parametrize(
    "body",
    [
        {"name": "no scopes", "scopes": []},
        {"name": "unknown scope", "scopes": ["admin"]},
        {"name": "   ", "scopes": ["files:read"]},
        {"scopes": ["files:read"]},
    ],
)
def test_a_client_needs_a_name_and_known_scopes(user: ApiUser, body: dict[str, Any]) -> None:
    response = user.post("/api/auth/clients", json=body)

    assert response.status_code == 400, response.text
    fields = {d["field"].split("[")[0] for d in response.json()["details"]}
    assert fields and fields <= {"name", "scopes"}


def test_another_users_client_is_not_found_and_not_listed(
    user: ApiUser, other_user: ApiUser
) -> None:
    created = create_client(user, READER)

    deleted = other_user.delete(f"/api/auth/clients/{created['clientId']}")

    assert assert_envelope(deleted, 404)["message"] == "OAuth client not found"
    assert other_user.ok("GET", "/api/auth/clients")["clients"] == []
    assert len(user.ok("GET", "/api/auth/clients")["clients"]) == 1


# --- the token endpoint ----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["basic", "body"])
def test_a_client_gets_a_bearer_token_with_all_its_scopes(
    client: TestClient[Any], user: ApiUser, how: str
) -> None:
    created = create_client(user, READER)
    form = {"grant_type": "client_credentials"}
    if how == "basic":
        answer = request_token(client, form, basic(created["clientId"], created["clientSecret"]))
    else:
        credentials = {"client_id": created["clientId"], "client_secret": created["clientSecret"]}
        answer = request_token(client, form | credentials)

    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == (
        "Bearer",
        3600,
        "schedules:read files:read",
    )


def test_a_token_acts_for_the_clients_owner_on_the_routes_of_its_scopes(
    client: TestClient[Any], user: ApiUser
) -> None:
    file_id = user.target_file("owner.csv")
    machine = as_client(client, token_for(client, create_client(user, READER)))

    files = machine.ok("GET", "/api/files")

    assert [f["id"] for f in files["files"]] == [file_id]
    assert machine.get(f"/api/files/{file_id}/content").status_code == 200
    assert machine.ok("GET", "/api/sync/schedules")["totalCount"] == 0


def test_a_call_outside_the_tokens_scopes_is_403_naming_the_missing_scope(
    client: TestClient[Any], user: ApiUser
) -> None:
    machine = as_client(client, token_for(client, create_client(user, READER)))

    refused = machine.post("/api/files", json={"name": "new.csv"})

    body = assert_envelope(refused, 403)
    assert body["error"] == "Insufficient scope"
    assert "`schedules:write`" in body["message"] and "POST /api/files" in body["message"]
    assert refused.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="schedules:write"'
    )
    assert user.ok("GET", "/api/files")["totalCount"] == 0


def test_a_scoped_token_cannot_manage_the_accounts_credentials(
    client: TestClient[Any], user: ApiUser
) -> None:
    every_scope = [scope.value for scope in Scope]
    machine = as_client(client, token_for(client, create_client(user, every_scope)))

    attempts = [
        machine.post("/api/auth/api-keys", json={"name": "wider"}),
        machine.post("/api/auth/clients", json={"name": "wider", "scopes": every_scope}),
        machine.get("/api/auth/clients"),
        machine.get("/api/auth/me"),
    ]

    for refused in attempts:
        assert "needs full access" in assert_envelope(refused, 403)["message"]


def test_a_narrowed_token_holds_only_the_scopes_asked_for(
    client: TestClient[Any], user: ApiUser
) -> None:
    created = create_client(user, READER)

    answer = request_token(
        client,
        {"grant_type": "client_credentials", "scope": "files:read"},
        basic(created["clientId"], created["clientSecret"]),
    )
    machine = as_client(client, answer.json()["access_token"])

    assert answer.json()["scope"] == "files:read"
    assert machine.get("/api/files").status_code == 200
    assert "`schedules:read`" in assert_envelope(machine.get("/api/sync/schedules"), 403)["message"]


@pytest.mark.parametrize(
    ("credentials", "why"),
    [
        (lambda c: (c["clientId"], c["clientSecret"] + "x"), "wrong secret"),
        (lambda c: (str(uuid.uuid4()), c["clientSecret"]), "unknown id"),
        (lambda c: ("not-a-uuid", c["clientSecret"]), "malformed id"),
    ],
)
@pytest.mark.parametrize("how", ["basic", "body"])
def test_a_client_that_fails_to_authenticate_gets_invalid_client_401(
    client: TestClient[Any], user: ApiUser, credentials: Any, why: str, how: str
) -> None:
    client_id, secret = credentials(create_client(user, READER))
    form = {"grant_type": "client_credentials"}

    if how == "basic":
        answer = request_token(client, form, basic(client_id, secret))
    else:
        answer = request_token(client, form | {"client_id": client_id, "client_secret": secret})

    assert_oauth_error(answer, 401, "invalid_client")
    expected_challenge = 'Basic realm="DataSync", charset="UTF-8"' if how == "basic" else None
    assert answer.headers.get("www-authenticate") == expected_challenge


def test_a_deleted_client_gets_no_token_and_its_tokens_stop_working(
    client: TestClient[Any], user: ApiUser
) -> None:
    created = create_client(user, READER)
    machine = as_client(client, token_for(client, created))
    assert machine.get("/api/files").status_code == 200

    user.ok("DELETE", f"/api/auth/clients/{created['clientId']}")

    assert "deleted" in assert_envelope(machine.get("/api/files"), 401)["message"]
    assert_oauth_error(
        request_token(
            client,
            {"grant_type": "client_credentials"},
            basic(created["clientId"], created["clientSecret"]),
        ),
        401,
        "invalid_client",
    )


def test_an_expired_token_is_401_telling_where_to_get_a_new_one(
    client: TestClient[Any], user: ApiUser, settings: Settings
) -> None:
    created = create_client(user, READER)
    expired, _ = issue_access_token(
        dataclasses.replace(settings, oauth_token_minutes=-1),
        uuid.UUID(created["clientId"]),
        READER,
    )

    body = assert_envelope(as_client(client, expired).get("/api/files"), 401)

    assert "expired" in body["message"] and "POST /oauth/token" in body["message"]


def test_a_token_signed_with_another_key_is_401(
    client: TestClient[Any], user: ApiUser, settings: Settings
) -> None:
    created = create_client(user, [scope.value for scope in Scope])
    forged, _ = issue_access_token(
        dataclasses.replace(settings, secret_key=secrets.token_urlsafe(48)),
        uuid.UUID(created["clientId"]),
        [scope.value for scope in Scope],
    )

    assert_envelope(as_client(client, forged).get("/api/files"), 401)


@pytest.mark.parametrize(
    ("scope", "named"),
    [("files:read admin", "admin"), ("webhooks:write", "webhooks:write")],
    ids=["unknown", "not-granted"],
)
def test_a_scope_unknown_or_not_granted_is_invalid_scope(
    client: TestClient[Any], user: ApiUser, scope: str, named: str
) -> None:
    created = create_client(user, READER)

    answer = request_token(
        client,
        {"grant_type": "client_credentials", "scope": scope},
        basic(created["clientId"], created["clientSecret"]),
    )

    assert named in assert_oauth_error(answer, 400, "invalid_scope")


def test_another_grant_type_is_unsupported_grant_type(
    client: TestClient[Any], user: ApiUser
) -> None:
    created = create_client(user, READER)

    answer = request_token(
        client,
        {"grant_type": "password", "username": "ana", "password": "x"},
        basic(created["clientId"], created["clientSecret"]),
    )

    assert "client_credentials" in assert_oauth_error(answer, 400, "unsupported_grant_type")


@pytest.mark.parametrize(
    ("send", "mentioned"),
    [
        (lambda http, creds: request_token(http, {"scope": "files:read"}, creds), "grant_type"),
        (
            lambda http, creds: http.post(
                "/oauth/token", content=b"grant_type=a&grant_type=b", headers=creds | _FORM
            ),
            "grant_type",
        ),
        (
            lambda http, creds: http.post(
                "/oauth/token", json={"grant_type": "client_credentials"}, headers=creds
            ),
            "application/x-www-form-urlencoded",
        ),
        (
            lambda http, creds: request_token(
                http,
                {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
                creds,
            ),
            "not both",
        ),
    ],
    ids=["missing-grant-type", "grant-type-twice", "json-body", "credentials-twice"],
)
def test_a_malformed_token_request_is_invalid_request(
    client: TestClient[Any], user: ApiUser, send: Any, mentioned: str
) -> None:
    created = create_client(user, READER)

    answer = send(client, basic(created["clientId"], created["clientSecret"]))

    assert mentioned in assert_oauth_error(answer, 400, "invalid_request")


def test_no_client_authentication_is_invalid_client(client: TestClient[Any]) -> None:
    answer = request_token(client, {"grant_type": "client_credentials"})

    assert "client_id and client_secret" in assert_oauth_error(answer, 401, "invalid_client")


def test_repeated_failed_authentications_are_slowed_down_like_logins(
    service_env: dict[str, str],
) -> None:
    # A queue name of its own: the backoff counts this test's failures only.
    with app_with(service_env, QUEUE_NAME=f"datasync-test:{secrets.token_hex(6)}") as http:
        guessed = basic(str(uuid.uuid4()), "ds_secret_guess")
        form = {"grant_type": "client_credentials"}
        answers = [request_token(http, form, guessed) for _ in range(6)]

    assert [a.status_code for a in answers] == [401] * 5 + [429]
    assert_envelope(answers[-1], 429)
    assert int(answers[-1].headers["retry-after"]) >= 1


# --- scoped API keys -------------------------------------------------------------------------


def test_an_api_key_created_with_scopes_is_held_to_them_and_one_without_is_not(
    client: TestClient[Any], user: ApiUser
) -> None:
    scoped = user.ok("POST", "/api/auth/api-keys", json={"name": "ci", "scopes": ["files:read"]})
    full = user.ok("POST", "/api/auth/api-keys", json={"name": "ops"})

    scoped_key = as_client(client, scoped["apiKey"]["key"])
    full_key = as_client(client, full["apiKey"]["key"])

    assert (scoped["apiKey"]["scopes"], full["apiKey"]["scopes"]) == (["files:read"], None)
    assert scoped_key.get("/api/files").status_code == 200
    assert_envelope(scoped_key.get("/api/sync/schedules"), 403)
    assert_envelope(scoped_key.get("/api/auth/api-keys"), 403)
    assert full_key.get("/api/sync/schedules").status_code == 200
    assert full_key.get("/api/auth/api-keys").status_code == 200


# --- every route names its scope -------------------------------------------------------------


def test_every_authenticated_route_names_the_scope_it_needs(client: TestClient[Any]) -> None:
    allowed = {*Scope, FULL_ACCESS}
    missing = []
    for route in client.app.routes:
        if any(re.search(pattern, route.path) for pattern in PUBLIC_PATHS):
            continue
        for handler in getattr(route, "route_handlers", []):
            methods = ",".join(sorted(handler.http_methods - {"OPTIONS"}))
            if not methods or handler.opt.get("exclude_from_auth"):
                continue  # Litestar's own OPTIONS handler, answered before authentication
            if required_scope(handler) not in allowed:
                missing.append(f"{methods} {route.path}: {required_scope(handler)!r}")

    assert not missing, (
        "name what each route needs in its decorator, opt={'scope': Scope.…} or "
        "opt={'scope': FULL_ACCESS} (app/auth/scopes.py):\n" + "\n".join(missing)
    )


# --- what the OpenAPI document says ----------------------------------------------------------


@pytest.fixture(scope="module")
def document(client: TestClient[Any]) -> dict[str, Any]:
    return served_document(client)


def test_the_document_declares_the_client_credentials_flow_with_every_scope(
    document: dict[str, Any],
) -> None:
    scheme = document["components"]["securitySchemes"]["oauth2"]

    flow = scheme["flows"]["clientCredentials"]
    assert scheme["type"] == "oauth2"
    assert flow["tokenUrl"] == "/oauth/token"
    assert flow["scopes"] == {str(scope): text for scope, text in SCOPE_DESCRIPTIONS.items()}


@pytest.mark.parametrize(
    ("method", "path", "security"),
    [
        ("get", "/api/sync/schedules", [{"oauth2": ["schedules:read"]}, {"BearerToken": []}]),
        (
            "post",
            "/api/sync/schedules/{schedule_id}/sync",
            [{"oauth2": ["sync:run"]}, {"BearerToken": []}],
        ),
        ("get", "/api/files/{file_id}/content", [{"oauth2": ["files:read"]}, {"BearerToken": []}]),
        ("post", "/api/webhooks", [{"oauth2": ["webhooks:write"]}, {"BearerToken": []}]),
        ("post", "/api/auth/clients", [{"BearerToken": []}]),
        ("post", "/oauth/token", []),
    ],
)
def test_each_operation_names_the_credentials_it_accepts(
    document: dict[str, Any], method: str, path: str, security: list[dict[str, list[str]]]
) -> None:
    assert operation(document, method, path)["security"] == security


def test_the_token_endpoint_documents_its_form_and_its_rfc_errors(
    document: dict[str, Any],
) -> None:
    token = operation(document, "post", "/oauth/token")
    schemas = document["components"]["schemas"]

    assert list(token["requestBody"]["content"]) == ["application/x-www-form-urlencoded"]
    assert "grant_type" in schemas["TokenRequest"]["required"]
    assert set(schemas["TokenResponse"]["required"]) == {
        "access_token",
        "token_type",
        "expires_in",
        "scope",
    }
    for status in ("400", "401"):
        schema = token["responses"][status]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/OAuthErrorBody")
    assert "clientSecret" in schemas["NewClientOut"]["required"]
    assert "clientSecret" not in schemas["ClientOut"]["properties"]
