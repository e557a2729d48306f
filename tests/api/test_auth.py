"""`/api/auth`: accounts, session tokens, API keys and the host web app's JWTs."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from litestar.testing import TestClient

from app.auth.secrets import derive_key
from app.settings import Settings
from tests.api.apps import app_with
from tests.api.store import stored_rows
from tests.conftest import ApiUser, register

PASSWORD = "correct horse battery"
HOST_ISSUER = "https://webapp.example"
HOST_AUDIENCE = "datasync"


def assert_unauthorized(response: Any, message_part: str = "") -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert (body["success"], body["error"]) == (False, "Unauthorized")
    assert message_part in body["message"]
    assert body["requestId"] == response.headers["x-request-id"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- accounts and session tokens ----------------------------------------------------------


def test_register_login_and_me_return_the_same_user(client: TestClient[Any]) -> None:
    email = f"Ada-{secrets.token_hex(4)}@Example.com"

    registered = client.post(
        "/api/auth/register", json={"email": email, "password": PASSWORD, "name": "Ada"}
    )
    login = client.post("/api/auth/login", json={"email": email.lower(), "password": PASSWORD})
    me = client.get("/api/auth/me", headers=bearer(login.json()["token"]))

    assert registered.status_code == 200, registered.text
    body = registered.json()
    assert body["success"] is True and body["message"]
    assert set(body["user"]) == {"id", "email", "name", "createdAt", "isAdmin"}
    assert (body["user"]["email"], body["user"]["name"]) == (email.lower(), "Ada")
    assert login.status_code == 200
    expiry = datetime.fromisoformat(login.json()["expiry"].replace("Z", "+00:00"))
    assert timedelta(minutes=59) < expiry - datetime.now(UTC) <= timedelta(minutes=60)
    assert me.status_code == 200
    assert me.json() == {"success": True, "user": body["user"]}


def test_token_endpoint_answers_oauth_style_fields_too(
    client: TestClient[Any], user: ApiUser
) -> None:
    response = client.post("/api/auth/token", json={"email": user.email, "password": user.password})

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["access_token"] == body["token"]
    assert client.get("/api/auth/me", headers=bearer(body["access_token"])).status_code == 200


@pytest.mark.parametrize(
    ("email", "password", "fields"),
    [
        pytest.param("weak@example.com", "short", {"password"}, id="password-under-10-characters"),
        pytest.param("not-an-email", PASSWORD, {"email"}, id="not-an-email"),
        pytest.param("nope", "123", {"email", "password"}, id="both-at-once"),
    ],
)
def test_register_refuses_bad_input_naming_each_field(
    client: TestClient[Any], email: str, password: str, fields: set[str]
) -> None:
    response = client.post("/api/auth/register", json={"email": email, "password": password})

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert {d["field"] for d in body["details"]} == fields


def test_registering_a_taken_email_answers_like_a_new_account_and_changes_nothing(
    client: TestClient[Any], user: ApiUser
) -> None:
    """Whether an email has an account must not be learnt from registration."""
    taken = client.post(
        "/api/auth/register",
        json={"email": user.email.upper(), "password": "another long passphrase"},
    )
    fresh = client.post(
        "/api/auth/register",
        json={"email": f"new-{secrets.token_hex(4)}@example.com", "password": PASSWORD},
    )

    assert taken.status_code == fresh.status_code == 200
    assert set(taken.json()) == set(fresh.json())
    assert set(taken.json()["user"]) == set(fresh.json()["user"])
    assert taken.json()["message"] == fresh.json()["message"]
    # The owner's password still works, the attempted one does not.
    assert (
        client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD}).status_code
        == 200
    )
    assert (
        client.post(
            "/api/auth/login", json={"email": user.email, "password": "another long passphrase"}
        ).status_code
        == 401
    )


@pytest.mark.parametrize("who", ["known-user", "unknown-user"])
def test_login_with_a_wrong_password_or_unknown_email_is_401_without_saying_which(
    client: TestClient[Any], user: ApiUser, who: str
) -> None:
    email = user.email if who == "known-user" else f"ghost-{secrets.token_hex(4)}@example.com"

    response = client.post("/api/auth/login", json={"email": email, "password": "wrong password!"})

    assert_unauthorized(response, "Wrong email or password")


def _session_token(settings: Settings, **claims: Any) -> str:
    now = datetime.now(UTC)
    base = {
        "iss": "datasync",
        "aud": "datasync-session",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": secrets.token_hex(16),
    }
    return jwt.encode({**base, **claims}, derive_key(settings.secret_key, "session-jwt"), "HS256")


def test_expired_session_token_is_401_telling_to_log_in_again(
    client: TestClient[Any], settings: Settings, user: ApiUser
) -> None:
    me = user.ok("GET", "/api/auth/me")["user"]
    expired = _session_token(settings, sub=me["id"], exp=datetime.now(UTC) - timedelta(seconds=5))

    assert_unauthorized(client.get("/api/auth/me", headers=bearer(expired)), "Token expired")


def test_tampered_session_token_is_401(
    client: TestClient[Any], user: ApiUser, other_user: ApiUser
) -> None:
    token = user.headers["Authorization"].removeprefix("Bearer ")
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["sub"] = other_user.ok("GET", "/api/auth/me")["user"]["id"]
    forged_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")

    assert_unauthorized(
        client.get("/api/auth/me", headers=bearer(f"{header}.{forged_payload}.{signature}")),
        "Invalid token",
    )
    assert_unauthorized(
        client.get("/api/auth/me", headers=bearer(f"{header}.{payload}.{flipped}")), "Invalid token"
    )


def test_session_token_signed_with_another_secret_is_401(
    client: TestClient[Any], user: ApiUser
) -> None:
    me = user.ok("GET", "/api/auth/me")["user"]
    other = Settings(secret_key=secrets.token_urlsafe(48))

    assert_unauthorized(
        client.get("/api/auth/me", headers=bearer(_session_token(other, sub=me["id"]))),
        "Invalid token",
    )


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="no-header"),
        pytest.param("Bearer ", id="empty-bearer"),
        pytest.param("Basic dXNlcjpwYXNz", id="basic-scheme"),
        pytest.param("Bearer not-a-token", id="garbage"),
    ],
)
def test_missing_or_malformed_authorization_is_401(
    client: TestClient[Any], header: str | None
) -> None:
    headers = {"Authorization": header} if header is not None else {}

    assert_unauthorized(client.get("/api/sync/schedules", headers=headers))


# --- API keys ------------------------------------------------------------------------------


def test_api_key_is_shown_once_listed_without_key_and_stored_only_as_hash(
    client: TestClient[Any], settings: Settings, user: ApiUser
) -> None:
    name = f"ci-{secrets.token_hex(4)}"

    created = user.ok("POST", "/api/auth/api-keys", json={"name": name})

    key = created["apiKey"]
    assert key["key"].startswith("ds_live_") and len(key["key"]) > 40
    assert {"id", "name", "key", "createdAt"} <= key.keys()
    assert "not shown again" in created["message"]
    assert (
        client.get("/api/auth/me", headers=bearer(key["key"])).json()["user"]["email"] == user.email
    )
    listed = user.ok("GET", "/api/auth/api-keys")
    assert [k["id"] for k in listed["apiKeys"]] == [key["id"]]
    assert "key" not in listed["apiKeys"][0]
    assert key["key"] not in json.dumps(listed)
    (row,) = stored_rows(
        settings, "SELECT key_hash, prefix FROM api_keys WHERE name = :name", name=name
    )
    assert row["key_hash"] == hashlib.sha256(key["key"].encode()).hexdigest()
    assert key["key"] not in json.dumps(row)


def test_revoked_api_key_is_refused_at_once(client: TestClient[Any], user: ApiUser) -> None:
    key = user.ok("POST", "/api/auth/api-keys", json={"name": "to revoke"})["apiKey"]
    assert client.get("/api/sync/schedules", headers=bearer(key["key"])).status_code == 200

    revoked = user.ok("DELETE", f"/api/auth/api-keys/{key['id']}")

    assert revoked["success"] is True
    assert_unauthorized(
        client.get("/api/sync/schedules", headers=bearer(key["key"])), "Invalid or revoked API key"
    )
    assert user.ok("GET", "/api/auth/api-keys")["apiKeys"] == []
    assert user.delete(f"/api/auth/api-keys/{key['id']}").status_code == 404


def test_made_up_api_key_is_401(client: TestClient[Any]) -> None:
    assert_unauthorized(
        client.get("/api/auth/me", headers=bearer("ds_live_" + secrets.token_urlsafe(32))),
        "API key",
    )


def test_api_key_name_is_required(user: ApiUser) -> None:
    response = user.post("/api/auth/api-keys", json={"name": "  "})

    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "name"


# --- host web app JWTs -----------------------------------------------------------------------


def _host_claims(subject: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "iss": HOST_ISSUER,
        "aud": HOST_AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "name": "Host User",
    }
    return {**claims, **changes}


@pytest.fixture
def hs256_app(
    service_env: dict[str, str], settings: Settings
) -> Iterator[tuple[TestClient[Any], str]]:
    secret = secrets.token_urlsafe(32)
    with app_with(
        service_env, JWT_SECRET=secret, JWT_ISSUER=HOST_ISSUER, JWT_AUDIENCE=HOST_AUDIENCE
    ) as client:
        yield client, secret


def test_host_hs256_token_creates_the_user_on_first_sight_and_finds_it_again(
    hs256_app: tuple[TestClient[Any], str],
) -> None:
    client, secret = hs256_app
    subject = f"webapp-user-{uuid.uuid4()}"

    first = client.get(
        "/api/auth/me", headers=bearer(jwt.encode(_host_claims(subject), secret, "HS256"))
    )
    second = client.get(
        "/api/auth/me", headers=bearer(jwt.encode(_host_claims(subject, jti="2"), secret, "HS256"))
    )

    assert first.status_code == 200, first.text
    assert first.json()["user"]["name"] == "Host User"
    assert second.json()["user"]["id"] == first.json()["user"]["id"]
    source = client.post(
        "/api/data-sources",
        json={"name": "t", "type": "test-table", "credentials": {"token": "t"}},
        headers=bearer(jwt.encode(_host_claims(subject), secret, "HS256")),
    )
    assert source.status_code == 200


def test_host_users_are_told_apart_by_subject(hs256_app: tuple[TestClient[Any], str]) -> None:
    client, secret = hs256_app
    ids = {
        client.get(
            "/api/auth/me",
            headers=bearer(jwt.encode(_host_claims(f"s-{n}-{uuid.uuid4()}"), secret, "HS256")),
        ).json()["user"]["id"]
        for n in range(2)
    }

    assert len(ids) == 2


@pytest.mark.parametrize(
    ("changes", "message_part"),
    [
        pytest.param({"aud": "another-service"}, "wrong audience", id="wrong-audience"),
        pytest.param({"iss": "https://evil.example"}, "wrong issuer", id="wrong-issuer"),
        pytest.param(
            {"exp": datetime.now(UTC) - timedelta(minutes=1)}, "Token expired", id="expired"
        ),
        pytest.param({"aud": None}, "Invalid token", id="no-audience"),
    ],
)
def test_host_hs256_token_with_bad_claims_is_401(
    hs256_app: tuple[TestClient[Any], str], changes: dict[str, Any], message_part: str
) -> None:
    client, secret = hs256_app
    claims = {
        k: v for k, v in _host_claims(f"u-{uuid.uuid4()}", **changes).items() if v is not None
    }

    assert_unauthorized(
        client.get("/api/auth/me", headers=bearer(jwt.encode(claims, secret, "HS256"))),
        message_part,
    )


def test_host_token_signed_with_another_secret_is_401(
    hs256_app: tuple[TestClient[Any], str],
) -> None:
    client, _secret = hs256_app
    token = jwt.encode(_host_claims("intruder"), secrets.token_urlsafe(32), "HS256")

    assert_unauthorized(client.get("/api/auth/me", headers=bearer(token)), "Invalid token")


def test_session_tokens_and_api_keys_still_work_when_host_tokens_are_enabled(
    hs256_app: tuple[TestClient[Any], str], user: ApiUser
) -> None:
    client, _secret = hs256_app
    key = user.ok("POST", "/api/auth/api-keys", json={"name": "k"})["apiKey"]["key"]

    assert client.get("/api/auth/me", headers=user.headers).json()["user"]["email"] == user.email
    assert client.get("/api/auth/me", headers=bearer(key)).json()["user"]["email"] == user.email


class _JwksServer:
    """Serves a JSON Web Key Set on 127.0.0.1, as a host app's identity provider would."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        body = json.dumps({"keys": keys}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def rs256_app(
    service_env: dict[str, str], settings: Settings
) -> Iterator[tuple[TestClient[Any], rsa.RSAPrivateKey]]:
    key = _rsa_key()
    jwk = {
        **json.loads(RSAAlgorithm.to_jwk(key.public_key())),
        "kid": "host-key-1",
        "use": "sig",
        "alg": "RS256",
    }
    jwks = _JwksServer([jwk])
    try:
        with app_with(
            service_env, JWT_JWKS_URL=jwks.url, JWT_ISSUER=HOST_ISSUER, JWT_AUDIENCE=HOST_AUDIENCE
        ) as client:
            yield client, key
    finally:
        jwks.close()


def _rs256(key: rsa.RSAPrivateKey, claims: dict[str, Any], kid: str = "host-key-1") -> str:
    return jwt.encode(claims, key, "RS256", headers={"kid": kid})


def test_host_rs256_token_verified_with_the_jwks_key_creates_then_finds_the_user(
    rs256_app: tuple[TestClient[Any], rsa.RSAPrivateKey],
) -> None:
    client, key = rs256_app
    subject = f"oidc|{uuid.uuid4()}"

    first = client.get("/api/auth/me", headers=bearer(_rs256(key, _host_claims(subject))))
    second = client.get(
        "/api/auth/me", headers=bearer(_rs256(key, _host_claims(subject, jti="again")))
    )

    assert first.status_code == 200, first.text
    assert second.json()["user"]["id"] == first.json()["user"]["id"]


@pytest.mark.parametrize(
    ("changes", "message_part"),
    [
        pytest.param({"aud": "another-service"}, "wrong audience", id="wrong-audience"),
        pytest.param({"iss": "https://evil.example"}, "wrong issuer", id="wrong-issuer"),
    ],
)
def test_host_rs256_token_with_wrong_audience_or_issuer_is_401(
    rs256_app: tuple[TestClient[Any], rsa.RSAPrivateKey], changes: dict[str, Any], message_part: str
) -> None:
    client, key = rs256_app

    assert_unauthorized(
        client.get("/api/auth/me", headers=bearer(_rs256(key, _host_claims("x", **changes)))),
        message_part,
    )


@pytest.mark.parametrize("kid", ["host-key-1", "unknown-key"])
def test_host_rs256_token_signed_by_a_key_not_in_the_jwks_is_401(
    rs256_app: tuple[TestClient[Any], rsa.RSAPrivateKey], kid: str
) -> None:
    client, _key = rs256_app

    token = _rs256(_rsa_key(), _host_claims("impostor"), kid=kid)

    assert_unauthorized(client.get("/api/auth/me", headers=bearer(token)), "Invalid token")


def test_a_second_registration_does_not_log_the_first_user_out(client: TestClient[Any]) -> None:
    first = register(client)
    register(client)

    assert first.ok("GET", "/api/auth/me")["user"]["email"] == first.email
