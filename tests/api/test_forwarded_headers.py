"""X-Forwarded-For decides who the client is only when it comes from a proxy the operator
named in FORWARDED_ALLOW_IPS: otherwise any client could pick a fresh address, and with it a
fresh rate-limit budget and login backoff, on every request."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

from tests.conftest import start_process, stop_process
from tests.services import free_port, wait_for_port


def _fourth_login_after_three(env: dict[str, str], tmp_path: Path, spoofed: str) -> int:
    """Status of a 4th login attempt, sent with `X-Forwarded-For: spoofed`, after three
    plain ones against a limit of three requests a minute."""
    port = free_port()
    server = start_process(
        ["serve"],
        {
            **env,
            "PORT": str(port),
            "RATE_LIMIT_PER_MINUTE": "3",
            "QUEUE_NAME": f"datasync-test:{secrets.token_hex(6)}",
        },
        tmp_path / f"api-{port}.log",
    )
    try:
        wait_for_port(port, timeout=60)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

            def login(headers: dict[str, str]) -> int:
                email = f"nobody-{secrets.token_hex(4)}@example.com"
                body = {"email": email, "password": "not the password"}
                return client.post("/api/auth/login", json=body, headers=headers).status_code

            assert [login({}) for _ in range(3)] == [401, 401, 401]
            return login({"X-Forwarded-For": spoofed})
    finally:
        stop_process(server)


@pytest.mark.usefixtures("settings")
def test_a_spoofed_forwarded_for_gets_no_fresh_budget_by_default(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in service_env.items() if k != "FORWARDED_ALLOW_IPS"}
    assert _fourth_login_after_three(env, tmp_path, "203.0.113.7") == 429


@pytest.mark.usefixtures("settings")
def test_a_listed_proxy_is_believed_about_the_client_address(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**service_env, "FORWARDED_ALLOW_IPS": "127.0.0.1"}
    assert _fourth_login_after_three(env, tmp_path, "203.0.113.7") == 401
