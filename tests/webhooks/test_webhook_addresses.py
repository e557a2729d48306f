"""Where webhooks may point, through the API: with the defaults (WEBHOOK_ALLOW_PRIVATE=false,
WEBHOOK_ALLOWED_PORTS=80,443) only public hosts on ports 80 and 443, whatever form the
address is written in; checked on save and again before every delivery."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from app.settings import Settings
from tests.api.apps import app_with
from tests.conftest import ApiUser, register
from tests.webhooks.receiver import Receiver, start_receiver

LOOPBACK = "a loopback address (this machine)"
LINK_LOCAL = "a link-local address (cloud metadata, neighbours)"


@pytest.fixture(scope="module")
def strict_client(service_env: dict[str, str], settings: Settings) -> Iterator[TestClient[Any]]:
    """An app with the operator's defaults; `settings` has migrated the suite's store."""
    with app_with(service_env, WEBHOOK_ALLOW_PRIVATE="false", WEBHOOK_ALLOWED_PORTS="80,443") as c:
        yield c


@pytest.fixture
def strict_user(strict_client: TestClient[Any]) -> ApiUser:
    return register(strict_client)


def refusal(user: ApiUser, url: str) -> str:
    response = user.post("/api/webhooks", json={"url": url, "events": ["sync.success"]})
    assert response.status_code == 400, response.text
    (detail,) = response.json()["details"]
    assert detail["field"] == "url"
    return str(detail["message"])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/x", LOOPBACK),
        ("http://localhost/x", LOOPBACK),
        ("http://[::1]/x", LOOPBACK),
        ("http://0.0.0.0/x", "an unspecified address"),
        ("http://169.254.169.254/latest/meta-data", LINK_LOCAL),
        ("http://10.0.0.8/x", "a private (non-public) address"),
        ("http://192.168.1.20/x", "a private (non-public) address"),
        # IPv6 forms that carry an IPv4 address are that address.
        ("http://[::ffff:127.0.0.1]/x", LOOPBACK),
        ("http://[::127.0.0.1]/x", LOOPBACK),
        ("http://[64:ff9b::7f00:1]/x", LOOPBACK),
        ("http://[64:ff9b::a9fe:a9fe]/latest/meta-data", LINK_LOCAL),
        ("http://[2002:7f00:1::1]/x", LOOPBACK),
    ],
)
def test_webhooks_to_non_public_addresses_are_refused_naming_the_kind(
    strict_user: ApiUser, url: str, reason: str
) -> None:
    message = refusal(strict_user, url)
    assert reason in message
    assert "WEBHOOK_ALLOW_PRIVATE=true" in message


@pytest.mark.parametrize("url", ["https://8.8.8.8:6379/", "http://8.8.8.8:22/x"])
def test_webhooks_on_other_ports_are_refused_naming_the_allowed_ports_and_the_setting(
    strict_user: ApiUser, url: str
) -> None:
    message = refusal(strict_user, url)
    assert "port(s) 80, 443" in message and "WEBHOOK_ALLOWED_PORTS" in message


@pytest.mark.parametrize(
    "url", ["https://8.8.8.8/hook", "http://8.8.8.8:80/hook", "https://[2001:4860:4860::8888]/"]
)
def test_public_addresses_on_ports_80_and_443_are_accepted(strict_user: ApiUser, url: str) -> None:
    strict_user.ok("POST", "/api/webhooks", json={"url": url, "events": ["sync.success"]})


def test_changing_a_webhook_to_a_refused_url_is_refused(strict_user: ApiUser) -> None:
    hook = strict_user.ok(
        "POST", "/api/webhooks", json={"url": "https://8.8.8.8/", "events": ["sync.success"]}
    )["webhook"]
    response = strict_user.patch(
        f"/api/webhooks/{hook['id']}", json={"url": "http://[64:ff9b::a9fe:a9fe]/"}
    )
    assert response.status_code == 400
    assert [d["field"] for d in response.json()["details"]] == ["url"]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[fe80::1]/",
    ],
)
def test_allowing_private_addresses_still_refuses_link_local_ones(user: ApiUser, url: str) -> None:
    """The suite's app runs with WEBHOOK_ALLOW_PRIVATE=true (its receivers are on loopback)."""
    assert LINK_LOCAL in refusal(user, url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()


def test_a_host_that_resolves_to_loopback_by_delivery_time_gets_nothing(
    service_env: dict[str, str],
    settings: Settings,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: public when saved, this machine when delivered. The delivery checks
    again and connects only to the address it checked."""
    port = receiver.url.split(":")[2].split("/")[0]
    answer = {"hooks.rebind.test": "93.184.216.34"}
    resolve = socket.getaddrinfo

    def rebinding_dns(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answer:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer[host], int(port)))]
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    with app_with(
        service_env, WEBHOOK_ALLOW_PRIVATE="false", WEBHOOK_ALLOWED_PORTS="any"
    ) as client:
        user = register(client)
        hook = user.ok(
            "POST",
            "/api/webhooks",
            json={"url": f"http://hooks.rebind.test:{port}/hook", "events": ["sync.success"]},
        )["webhook"]
        answer["hooks.rebind.test"] = "127.0.0.1"

        delivery = user.ok("POST", f"/api/webhooks/{hook['id']}/test")["delivery"]

    assert delivery["status"] == "failed" and delivery["statusCode"] is None
    assert delivery["error"].startswith("URL refused: 'hooks.rebind.test' resolves to 127.0.0.1")
    assert LOOPBACK in delivery["error"]
    assert receiver.received == []
