"""Signed webhooks for sync events, delivered by the worker to a real HTTP receiver."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.webhooks.addresses import pinned_request
from tests.conftest import ApiUser
from tests.sync.tables import write_table
from tests.webhooks.receiver import Receiver, start_receiver

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()


def synced_schedule(
    user: ApiUser, tmp_path: Path, rows: list[list[str]], **config: Any
) -> tuple[str, Path]:
    table = write_table(tmp_path / "t.csv", ["id", "name"], rows)
    return user.schedule(user.data_source(), user.target_file(), path=str(table), **config), table


def webhook(user: ApiUser, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = user.ok(
        "POST", "/api/webhooks", json={"url": url, "events": events, **extra}
    )["webhook"]
    return body


def test_a_changing_sync_sends_signed_success_and_changed_events_once(
    user: ApiUser, receiver: Receiver, tmp_path: Path
) -> None:
    hook = webhook(user, receiver.url, ["sync.success", "sync.changed", "sync.failure"])
    schedule_id, _ = synced_schedule(user, tmp_path, [["1", "a"], ["2", "b"]])

    result = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")["syncResult"]

    received = receiver.wait_for(2)
    time.sleep(1)  # nothing more may arrive
    assert len(receiver.received) == 2
    assert sorted(r.event["type"] for r in received) == ["sync.changed", "sync.success"]
    for delivery in received:
        assert delivery.signature_valid(hook["secret"])
        assert delivery.headers["x-datasync-event"] == delivery.event["type"]
        assert delivery.headers["x-datasync-delivery"] == delivery.event["id"]
        data = delivery.event["data"]
        assert data["runId"] == result["runId"] and data["scheduleId"] == schedule_id
        assert data["status"] == "success" and data["rowCount"] == 2
        assert data["changes"] == {"added": 2, "updated": 0, "deleted": 0}
        assert data["fileVersion"] == 1 and data["error"] is None


def readme_hmac(secret: str, timestamp: str, body: bytes) -> str:
    """The README's scheme, written out here rather than borrowed from the service or the
    receiver: hex HMAC-SHA256 with the webhook's secret over "<t>." and the raw body."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_the_service_signs_the_timestamp_and_raw_body_and_a_tampered_body_fails(
    user: ApiUser, receiver: Receiver, tmp_path: Path
) -> None:
    hook = webhook(user, receiver.url, ["sync.success"])
    schedule_id, _ = synced_schedule(user, tmp_path, [["1", "a"]])
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    (delivery,) = receiver.wait_for(1)

    header = delivery.headers["x-datasync-signature"]
    signed = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header)
    assert signed, header
    timestamp, mac = signed.groups()
    assert abs(time.time() - int(timestamp)) < 60
    assert hmac.compare_digest(mac, readme_hmac(hook["secret"], timestamp, delivery.body))
    tampered = delivery.body.replace(b'"success"', b'"error"')
    assert tampered != delivery.body
    assert not hmac.compare_digest(mac, readme_hmac(hook["secret"], timestamp, tampered))
    later = str(int(timestamp) + 1)
    assert not hmac.compare_digest(mac, readme_hmac(hook["secret"], later, delivery.body))


def test_an_unchanged_sync_sends_success_without_changed(
    user: ApiUser, receiver: Receiver, tmp_path: Path
) -> None:
    schedule_id, _ = synced_schedule(user, tmp_path, [["1", "a"]])
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    webhook(user, receiver.url, ["sync.success", "sync.changed"])
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    received = receiver.wait_for(1)
    time.sleep(1)
    assert [r.event["type"] for r in receiver.received] == ["sync.success"]
    assert received[0].event["data"]["changes"] == {"added": 0, "updated": 0, "deleted": 0}


def test_a_held_sync_sends_failure_and_held(
    user: ApiUser, receiver: Receiver, tmp_path: Path
) -> None:
    schedule_id, table = synced_schedule(user, tmp_path, [[str(i), "x"] for i in range(10)])
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    webhook(user, receiver.url, ["sync.failure", "sync.held"])
    write_table(table, ["id", "name"], [["1", "x"]])
    assert user.post(f"/api/sync/schedules/{schedule_id}/sync").status_code == 500
    received = receiver.wait_for(2)
    assert sorted(r.event["type"] for r in received) == ["sync.failure", "sync.held"]
    assert all("Safety hold" in r.event["data"]["error"] for r in received)


def test_a_receiver_failing_twice_gets_three_attempts_all_logged(
    user: ApiUser, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.statuses = [500, 500]
    hook = webhook(user, receiver.url, ["sync.success"])
    schedule_id, _ = synced_schedule(user, tmp_path, [["1", "a"]])
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")

    received = receiver.wait_for(3, timeout=30)

    assert len(received) == 3
    assert len({r.headers["x-datasync-delivery"] for r in received}) == 1  # one event, three tries
    assert [r.headers["x-datasync-attempt"] for r in received] == ["1", "2", "3"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log = user.ok("GET", f"/api/webhooks/{hook['id']}/deliveries")["deliveries"]
        if log and log[0]["status"] == "success":
            break
        time.sleep(0.2)
    assert [(d["attempt"], d["status"], d["statusCode"]) for d in reversed(log)] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "success", 200),
    ]
    assert log[-1]["responseBody"] == "receiver is down" and log[-1]["durationMs"] is not None


@pytest.fixture
def control() -> Iterator[Receiver]:
    """A second receiver, for an enabled webhook that must get the event in the same window
    as the one that must not: proof that deliveries work at all while we look for nothing."""
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()


def deliveries_of(user: ApiUser, hook: dict[str, Any]) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = user.ok("GET", f"/api/webhooks/{hook['id']}/deliveries")[
        "deliveries"
    ]
    return log


def test_disabled_and_deleted_webhooks_get_nothing_while_an_enabled_one_gets_the_event(
    user: ApiUser, receiver: Receiver, control: Receiver, tmp_path: Path
) -> None:
    disabled = webhook(user, receiver.url, ["sync.success"])
    user.ok("PATCH", f"/api/webhooks/{disabled['id']}", json={"isEnabled": False})
    deleted = webhook(user, receiver.url, ["sync.success"])
    user.ok("DELETE", f"/api/webhooks/{deleted['id']}")
    enabled = webhook(user, control.url, ["sync.success"])
    schedule_id, _ = synced_schedule(user, tmp_path, [["1", "a"]])

    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")

    # All of a run's deliveries are stored in one transaction before any is sent: once the
    # enabled webhook has its delivery, a delivery for the others would exist too.
    heard = control.wait_for(1)
    assert [r.event["data"]["scheduleId"] for r in heard] == [schedule_id], "no delivery at all"
    assert [d["event"] for d in deliveries_of(user, enabled)] == ["sync.success"]
    assert deliveries_of(user, disabled) == []
    assert receiver.received == []


def test_a_schedule_filter_limits_events_to_those_schedules(
    user: ApiUser, receiver: Receiver, control: Receiver, tmp_path: Path
) -> None:
    watched, _ = synced_schedule(user, tmp_path, [["1", "a"]])
    other = user.schedule(
        user.data_source(), user.target_file("other.csv"), path=str(tmp_path / "t.csv")
    )
    filtered = webhook(user, receiver.url, ["sync.success"], scheduleIds=[watched])
    webhook(user, control.url, ["sync.success"])  # no filter: hears both schedules

    user.ok("POST", f"/api/sync/schedules/{other}/sync")
    user.ok("POST", f"/api/sync/schedules/{watched}/sync")

    heard = control.wait_for(2)
    assert sorted(r.event["data"]["scheduleId"] for r in heard) == sorted([other, watched])
    assert len(deliveries_of(user, filtered)) == 1
    received = receiver.wait_for(1)
    assert [r.event["data"]["scheduleId"] for r in received] == [watched]


def test_ping_is_sent_now_and_logged(user: ApiUser, receiver: Receiver) -> None:
    hook = webhook(user, receiver.url, ["sync.success"], secret="a-secret-of-my-own-choosing")
    assert "secret" in hook and hook["secret"] == "a-secret-of-my-own-choosing"
    answer = user.ok("POST", f"/api/webhooks/{hook['id']}/test")
    assert answer["delivery"]["status"] == "success" and answer["delivery"]["statusCode"] == 200
    (ping,) = receiver.received
    assert ping.event["type"] == "ping" and ping.signature_valid("a-secret-of-my-own-choosing")
    assert "secret" not in user.ok("GET", f"/api/webhooks/{hook['id']}")["webhook"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x", "events": ["sync.success"]}, "url"),
        ({"url": "not a url", "events": ["sync.success"]}, "url"),
        ({"url": "https://user:pw@example.com/x", "events": ["sync.success"]}, "url"),
        ({"url": "http://127.0.0.1:9/x", "events": ["sync.exploded"]}, "events"),
        ({"url": "http://127.0.0.1:9/x", "events": []}, "events"),
        ({"url": "http://127.0.0.1:9/x", "events": ["sync.success"], "secret": "short"}, "secret"),
        (
            {"url": "http://127.0.0.1:9/x", "events": ["sync.success"], "scheduleIds": ["nope"]},
            "scheduleIds",
        ),
    ],
)
def test_bad_webhooks_are_refused_naming_the_field(
    user: ApiUser, body: dict[str, Any], field: str
) -> None:
    response = user.post("/api/webhooks", json=body)
    assert response.status_code == 400
    assert field in [d["field"] for d in response.json()["details"]]


def test_other_users_webhooks_are_invisible(
    user: ApiUser, other_user: ApiUser, receiver: Receiver
) -> None:
    hook = webhook(user, receiver.url, ["sync.success"])
    for method in ("GET", "PATCH", "DELETE"):
        assert other_user.request(method, f"/api/webhooks/{hook['id']}", json={}).status_code == 404
    assert other_user.get(f"/api/webhooks/{hook['id']}/deliveries").status_code == 404
    assert other_user.ok("GET", "/api/webhooks")["webhooks"] == []


def test_delivery_connects_to_the_vetted_address_and_keeps_the_host_name(
    user: ApiUser, receiver: Receiver
) -> None:
    by_name = receiver.url.replace("127.0.0.1", "localhost")
    hook = webhook(user, by_name, ["sync.success"])
    assert user.ok("POST", f"/api/webhooks/{hook['id']}/test")["delivery"]["status"] == "success"
    (ping,) = receiver.received
    assert ping.headers["host"] == by_name.split("/")[2]


def test_a_pinned_https_request_keeps_the_original_name_for_tls() -> None:
    url, headers, extensions = pinned_request(
        "https://hooks.example.com:8443/x?y=1", "93.184.216.34"
    )
    assert url == "https://93.184.216.34:8443/x?y=1"
    assert headers == {"Host": "hooks.example.com:8443"}
    assert extensions == {"sni_hostname": "hooks.example.com"}
    assert (
        pinned_request("http://hooks.example.com/x", "2001:db8::1")[0] == "http://[2001:db8::1]/x"
    )
