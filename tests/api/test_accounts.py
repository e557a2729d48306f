"""Accounts on a server exposed to the Internet: who may register, which passwords pass,
how guessing is slowed down, how sessions end, and how the dashboard's cookie is guarded."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from app.auth import accounts
from app.auth.secrets import hash_password, verify_password
from app.main import create_app
from tests.api.apps import app_with
from tests.conftest import ROOT, ApiUser, isolated_stack, register

PASSWORD = "correct horse battery"

pytestmark = pytest.mark.usefixtures("settings")


@contextmanager
def fresh_server(
    database_url: str, service_env: dict[str, str], tmp_path: Path, **env: str
) -> Iterator[tuple[TestClient[Any], dict[str, str]]]:
    """An app on an empty store of its own, configured with `env`."""
    with (
        isolated_stack(database_url, service_env, tmp_path, **env) as (settings, stack_env),
        TestClient(create_app(settings), raise_server_exceptions=False) as client,
    ):
        yield client, stack_env


def _register(client: TestClient[Any], email: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/api/auth/register", json={"email": email, "password": password})


def _login(client: TestClient[Any], email: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/api/auth/login", json={"email": email, "password": password})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- who may register ---------------------------------------------------------------------


def test_first_user_policy_lets_exactly_the_first_account_in_and_makes_it_admin(
    database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    with fresh_server(database_url, service_env, tmp_path, REGISTRATION="first-user") as (
        client,
        _,
    ):
        first = _register(client, "owner@example.com")
        second = _register(client, "stranger@example.com")

        assert first.status_code == 200, first.text
        assert first.json()["user"]["isAdmin"] is True
        assert second.status_code == 403
        message = second.json()["message"]
        assert "POST /api/auth/users" in message and "datasync create-user" in message
        assert _login(client, "stranger@example.com").status_code == 401


def test_first_user_policy_admits_one_of_many_registrations_racing_on_an_empty_store(
    database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    with (
        fresh_server(database_url, service_env, tmp_path, REGISTRATION="first-user") as (
            client,
            _,
        ),
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        answers = list(pool.map(lambda i: _register(client, f"racer-{i}@example.com"), range(8)))

    assert sorted(a.status_code for a in answers) == [200] + [403] * 7


def test_closed_registration_refuses_even_the_first_account(
    database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    with fresh_server(database_url, service_env, tmp_path, REGISTRATION="closed") as (client, _):
        refused = _register(client, "owner@example.com")

    assert refused.status_code == 403
    assert refused.json()["success"] is False


def test_the_admin_adds_accounts_and_nobody_else_can(
    database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    with fresh_server(database_url, service_env, tmp_path, REGISTRATION="first-user") as (
        client,
        _,
    ):
        _register(client, "admin@example.com")
        admin = _bearer(_login(client, "admin@example.com").json()["token"])
        body = {"email": "colleague@example.com", "password": PASSWORD, "name": "Colleague"}

        created = client.post("/api/auth/users", json=body, headers=admin)
        again = client.post("/api/auth/users", json=body, headers=admin)
        colleague = _bearer(_login(client, "colleague@example.com").json()["token"])
        by_colleague = client.post(
            "/api/auth/users",
            json={**body, "email": "third@example.com"},
            headers=colleague,
        )
        weak = client.post(
            "/api/auth/users",
            json={**body, "email": "weak@example.com", "password": "x"},
            headers=admin,
        )

    assert created.status_code == 200, created.text
    assert created.json()["user"]["isAdmin"] is False
    assert again.status_code == 409
    assert by_colleague.status_code == 403
    assert weak.status_code == 400
    assert [d["field"] for d in weak.json()["details"]] == ["password"]


def test_create_user_command_adds_an_account_when_registration_is_closed(
    database_url: str, service_env: dict[str, str], tmp_path: Path
) -> None:
    with fresh_server(database_url, service_env, tmp_path, REGISTRATION="closed") as (
        client,
        env,
    ):
        given = subprocess.run(
            [sys.executable, "-m", "app.cli", "create-user", "ops@example.com", "--password-stdin"],
            input=f"{PASSWORD}\n",
            env={**os.environ, **env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        generated = subprocess.run(
            [sys.executable, "-m", "app.cli", "create-user", "robot@example.com"],
            env={**os.environ, **env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        shown = generated.stdout.rsplit(": ", 1)[-1].strip()

        assert given.returncode == 0, given.stderr
        assert _login(client, "ops@example.com").status_code == 200
        assert generated.returncode == 0, generated.stderr
        assert _login(client, "robot@example.com", shown).status_code == 200


# --- passwords and lengths ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        pytest.param({"password": "short pass1"}, "password", "at least 12", id="11-characters"),
        pytest.param({"password": "password1234"}, "password", "too easy", id="common-password"),
        pytest.param({"password": "aaaaaaaaaaaa"}, "password", "too easy", id="repeats"),
        pytest.param({"password": "x" * 1025}, "password", "1024", id="over-1024-characters"),
        pytest.param({"password": "y" * 100_000}, "password", "1024", id="100-kB-password"),
        pytest.param({"name": "n" * 201}, "name", "200", id="name-over-200"),
        pytest.param({"email": "e" * 310 + "@example.com"}, "email", "320", id="email-over-320"),
    ],
)
def test_registration_refuses_weak_passwords_and_overlong_strings_naming_the_field(
    client: TestClient[Any], body: dict[str, str], field: str, fragment: str
) -> None:
    sent = {"email": f"new-{secrets.token_hex(4)}@example.com", "password": PASSWORD, **body}

    answer = client.post("/api/auth/register", json=sent)

    assert answer.status_code == 400, answer.text
    details = answer.json()["details"]
    assert [d["field"] for d in details] == [field]
    assert fragment in details[0]["message"]


def test_a_strong_password_of_12_characters_is_accepted(client: TestClient[Any]) -> None:
    answer = _register(client, f"new-{secrets.token_hex(4)}@example.com", "xK9#mP2$vL5@")
    assert answer.status_code == 200, answer.text


# --- guessing -----------------------------------------------------------------------------


@pytest.fixture
def own_namespace_client(service_env: dict[str, str]) -> Iterator[TestClient[Any]]:
    """Failure counts are per deployment (queue name): a namespace no other test shares."""
    with app_with(service_env, QUEUE_NAME=f"datasync-test:{secrets.token_hex(6)}") as client:
        yield client


@pytest.mark.parametrize("who", ["existing-account", "unknown-email"])
def test_after_five_wrong_passwords_login_backs_off_with_429_the_same_for_any_email(
    own_namespace_client: TestClient[Any], who: str
) -> None:
    client = own_namespace_client
    user = register(client)
    email = user.email if who == "existing-account" else f"ghost-{secrets.token_hex(4)}@example.com"

    wrong = [_login(client, email, "wrong passphrase!").status_code for _ in range(5)]
    held = _login(client, email, user.password)

    assert wrong == [401] * 5
    assert held.status_code == 429
    assert int(held.headers["retry-after"]) >= 1
    assert held.json()["success"] is False
    if who == "existing-account":
        time.sleep(int(held.headers["retry-after"]) + 0.1)
        assert _login(client, email, user.password).status_code == 200
        # A success clears the account's count: the next mistake is a plain 401.
        assert _login(client, email, "wrong passphrase!").status_code == 401


def test_one_address_guessing_many_accounts_is_held_back_too(
    own_namespace_client: TestClient[Any],
) -> None:
    client = own_namespace_client
    answers = [
        _login(client, f"target-{i}@example.com", "wrong passphrase!").status_code
        for i in range(21)
    ]
    assert answers[:20] == [401] * 20
    assert answers[20] == 429


def test_an_unknown_email_costs_as_long_as_a_wrong_password(
    own_namespace_client: TestClient[Any],
) -> None:
    client = own_namespace_client
    user = register(client)

    ghost = f"ghost-{secrets.token_hex(4)}@example.com"
    times: dict[str, list[float]] = {user.email: [], ghost: []}
    for _ in range(4):
        for email in times:
            started = time.perf_counter()
            assert _login(client, email, "wrong passphrase!").status_code == 401
            times[email].append(time.perf_counter() - started)
    # Load on the machine only ever adds time, so the fastest answer of each kind is at
    # least what the server must spend on it: for both, a whole password verification.
    one_verification = min(
        _seconds(verify_password, PASSWORD, hash_password(PASSWORD)) for _ in range(3)
    )
    for email, kind in ((user.email, "wrong password"), (ghost, "unknown email")):
        fastest = min(times[email])
        # Without the stand-in hash an unknown email answered in ~5 ms against ~50 ms.
        assert fastest > 0.8 * one_verification, (
            f"{kind}: {fastest * 1000:.0f} ms, one verification {one_verification * 1000:.0f} ms"
        )


def _seconds(call: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    call(*args)
    return time.perf_counter() - started


def test_passwords_are_hashed_and_verified_off_the_event_loop(
    own_namespace_client: TestClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """scrypt takes ~50 ms a hash: on the event loop, 40 logins at once held /health up for
    ~41 ms (median). It runs in threads of its own, where no event loop runs; the latency
    figures are a benchmark (`bench/run-login-burst`), not a timed test."""
    seen: list[tuple[str, bool]] = []

    def where(call: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(*args: Any) -> Any:
            try:
                asyncio.get_running_loop()
                on_loop = True
            except RuntimeError:
                on_loop = False
            seen.append((threading.current_thread().name, on_loop))
            return call(*args)

        return recorded

    monkeypatch.setattr(accounts, "hash_password", where(accounts.hash_password))
    monkeypatch.setattr(accounts, "verify_password", where(accounts.verify_password))
    user = register(own_namespace_client)  # hashes once, verifies once
    _login(own_namespace_client, user.email, "wrong passphrase!")
    _login(own_namespace_client, f"ghost-{secrets.token_hex(4)}@example.com")

    assert len(seen) == 4
    assert all(name.startswith("password-hashing") and not on_loop for name, on_loop in seen)


# --- sessions -----------------------------------------------------------------------------


def test_logout_ends_the_token_in_use_and_only_that_one(
    client: TestClient[Any], user: ApiUser
) -> None:
    other = _login(client, user.email, user.password).json()["token"]

    logged_out = user.post("/api/auth/logout")

    assert logged_out.status_code == 200
    assert user.get("/api/auth/me").status_code == 401
    assert client.get("/api/auth/me", headers=_bearer(other)).status_code == 200


def test_changing_the_password_ends_every_session_but_api_keys_keep_working(
    client: TestClient[Any], user: ApiUser
) -> None:
    other_session = _bearer(_login(client, user.email, user.password).json()["token"])
    key = user.ok("POST", "/api/auth/api-keys", json={"name": "ci"})["apiKey"]["key"]
    new_password = "a brand new passphrase"

    changed = user.post(
        "/api/auth/password",
        json={"currentPassword": user.password, "newPassword": new_password},
    )

    assert changed.status_code == 200, changed.text
    assert user.get("/api/auth/me").status_code == 401
    assert client.get("/api/auth/me", headers=other_session).status_code == 401
    assert client.get("/api/auth/me", headers=_bearer(changed.json()["token"])).status_code == 200
    assert client.get("/api/auth/me", headers=_bearer(key)).status_code == 200
    listed = client.get("/api/auth/api-keys", headers=_bearer(key)).json()["apiKeys"]
    assert listed[0]["lastUsedAt"] is not None
    assert _login(client, user.email, user.password).status_code == 401
    assert _login(client, user.email, new_password).status_code == 200


@pytest.mark.parametrize(
    ("current", "new", "field"),
    [
        pytest.param("not my password!", "a brand new passphrase", "currentPassword", id="wrong"),
        pytest.param(PASSWORD, "password1234", "newPassword", id="weak-new"),
    ],
)
def test_a_password_change_is_refused_naming_the_field(
    user: ApiUser, current: str, new: str, field: str
) -> None:
    refused = user.post("/api/auth/password", json={"currentPassword": current, "newPassword": new})

    assert refused.status_code == 400
    assert [d["field"] for d in refused.json()["details"]] == [field]
    assert user.get("/api/auth/me").status_code == 200


# --- the dashboard's cookie ---------------------------------------------------------------


def test_a_browser_session_lives_in_an_httponly_strict_cookie_and_writes_need_the_header(
    client: TestClient[Any], user: ApiUser
) -> None:
    started = client.post(
        "/api/auth/session", json={"email": user.email, "password": user.password}
    )
    cookie = started.headers["set-cookie"]

    assert started.status_code == 200
    assert "token" not in started.json()
    assert started.json()["user"]["email"] == user.email
    assert "datasync_session=" in cookie
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/" in cookie

    assert client.get("/api/auth/me").status_code == 200
    forged = client.post("/api/auth/api-keys", json={"name": "from another site"})
    assert forged.status_code == 403
    assert "X-Requested-With" in forged.json()["message"]
    allowed = client.post(
        "/api/auth/api-keys", json={"name": "dashboard"}, headers={"X-Requested-With": "DataSync"}
    )
    assert allowed.status_code == 200

    out = client.post("/api/auth/logout", headers={"X-Requested-With": "DataSync"})
    assert out.status_code == 200
    assert "Max-Age=0" in out.headers["set-cookie"]
    client.cookies.clear()
    assert client.get("/api/auth/me").status_code == 401
