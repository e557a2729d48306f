"""Strict tenancy: another user's objects answer exactly like objects that do not exist
(404, never 403, never a byte of their data), lists show only one's own, and nothing of
another user's can be read, changed, deleted, synced or referenced."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ApiUser
from tests.sync.tables import write_table


@dataclass
class Owned:
    source_id: str
    file_id: str
    schedule_id: str
    api_key_id: str
    run_id: str
    secrets: tuple[str, ...]


@pytest.fixture
def owned(user: ApiUser, tmp_path: Path) -> Owned:
    table = write_table(tmp_path / "private.csv", ["id"], [["1"]])
    source_id = user.data_source(credentials={"token": "owner-only-token"})
    file_id = user.target_file("owner-private.csv")
    schedule_id = user.schedule(source_id, file_id, path=str(table))
    user.ok("PUT", f"/api/sync/schedules/{schedule_id}", json={"name": "Owner private schedule"})
    api_key_id = user.ok("POST", "/api/auth/api-keys", json={"name": "owner key"})["apiKey"]["id"]
    started = user.post(f"/api/sync/schedules/{schedule_id}/sync?wait=0")
    assert started.status_code in (200, 202, 500), started.text
    run_id = started.json().get("runId") or started.json()["syncResult"]["runId"]
    return Owned(
        source_id,
        file_id,
        schedule_id,
        api_key_id,
        run_id,
        ("owner-only-token", "owner-private.csv", "Owner private schedule", str(table)),
    )


def endpoints(o: Owned) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", f"/api/data-sources/{o.source_id}", None),
        ("PATCH", f"/api/data-sources/{o.source_id}", {"name": "taken over"}),
        ("DELETE", f"/api/data-sources/{o.source_id}", None),
        ("POST", f"/api/data-sources/{o.source_id}/test", None),
        ("GET", f"/api/files/{o.file_id}", None),
        ("DELETE", f"/api/files/{o.file_id}", None),
        ("GET", f"/api/files/{o.file_id}/content", None),
        ("GET", f"/api/files/{o.file_id}/versions", None),
        ("GET", f"/api/files/{o.file_id}/versions/1/content", None),
        ("GET", f"/api/sync/schedules/{o.schedule_id}", None),
        ("PUT", f"/api/sync/schedules/{o.schedule_id}", {"name": "taken over", "enabled": False}),
        ("DELETE", f"/api/sync/schedules/{o.schedule_id}", None),
        ("POST", f"/api/sync/schedules/{o.schedule_id}/sync", None),
        ("GET", f"/api/sync/schedules/{o.schedule_id}/history", None),
        ("GET", f"/api/sync/runs/{o.run_id}", None),
        ("GET", f"/api/sync/runs/{o.run_id}/changes", None),
        ("DELETE", f"/api/auth/api-keys/{o.api_key_id}", None),
    ]


def _with_unknown_ids(path: str, o: Owned) -> str:
    for known in (o.source_id, o.file_id, o.schedule_id, o.run_id, o.api_key_id):
        path = path.replace(known, str(uuid.uuid4()))
    return path


def test_every_endpoint_answers_another_users_ids_exactly_like_unknown_ids(
    owned: Owned, other_user: ApiUser
) -> None:
    for method, path, body in endpoints(owned):
        foreign = (
            other_user.request(method, path, json=body)
            if body
            else other_user.request(method, path)
        )
        unknown = (
            other_user.request(method, _with_unknown_ids(path, owned), json=body)
            if body
            else other_user.request(method, _with_unknown_ids(path, owned))
        )

        assert foreign.status_code == 404, (method, path, foreign.status_code, foreign.text)
        assert foreign.json()["success"] is False
        assert (foreign.json()["error"], foreign.json()["message"]) == (
            unknown.json()["error"],
            unknown.json()["message"],
        ), path
        for secret in (
            *owned.secrets,
            owned.source_id,
            owned.file_id,
            owned.schedule_id,
            owned.run_id,
        ):
            assert secret not in foreign.text, (path, secret)


def test_the_owners_objects_are_untouched_after_the_attempts(
    user: ApiUser, owned: Owned, other_user: ApiUser
) -> None:
    for method, path, body in endpoints(owned):
        other_user.request(method, path, json=body) if body else other_user.request(method, path)

    schedule = user.ok("GET", f"/api/sync/schedules/{owned.schedule_id}")["schedule"]
    assert (schedule["name"], schedule["enabled"]) == ("Owner private schedule", True)
    assert (
        user.ok("GET", f"/api/data-sources/{owned.source_id}")["dataSource"]["name"]
        == "test-table source"
    )
    assert user.ok("GET", f"/api/files/{owned.file_id}")["file"]["name"] == "owner-private.csv"
    assert [k["id"] for k in user.ok("GET", "/api/auth/api-keys")["apiKeys"]] == [owned.api_key_id]


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/data-sources", "dataSources"),
        ("/api/files", "files"),
        ("/api/sync/schedules", "schedules"),
        ("/api/sync/runs", "runs"),
        ("/api/auth/api-keys", "apiKeys"),
    ],
)
def test_lists_never_show_other_users_objects(
    owned: Owned, other_user: ApiUser, path: str, key: str
) -> None:
    mine_source = other_user.data_source()
    mine_file = other_user.target_file()
    other_user.schedule(mine_source, mine_file, path="/tmp/mine.csv")
    other_user.ok("POST", "/api/auth/api-keys", json={"name": "mine"})

    body = other_user.ok("GET", path)

    raw = json.dumps(body)
    for secret in (
        *owned.secrets,
        owned.source_id,
        owned.file_id,
        owned.schedule_id,
        owned.run_id,
        owned.api_key_id,
    ):
        assert secret not in raw, secret
    assert body["totalCount"] == len(body[key])
    assert body["totalCount"] == (0 if key == "runs" else 1)


@pytest.mark.parametrize("search", ["Owner", "private"])
def test_schedule_search_does_not_reach_other_users(
    owned: Owned, other_user: ApiUser, search: str
) -> None:
    body = other_user.ok("GET", f"/api/sync/schedules?search={search}")

    assert (body["schedules"], body["totalCount"]) == ([], 0)


def test_schedule_create_with_another_users_source_or_file_is_400_naming_both(
    owned: Owned, other_user: ApiUser
) -> None:
    response = other_user.post(
        "/api/sync/schedules",
        json={
            "name": "Steal",
            "dataSourceId": owned.source_id,
            "targetFileId": owned.file_id,
            "frequency": "hourly",
            "config": {"path": "/tmp/x.csv"},
        },
    )

    assert response.status_code == 400
    assert {d["field"] for d in response.json()["details"]} == {"dataSourceId", "targetFileId"}
    assert owned.source_id not in response.text and owned.file_id not in response.text


def test_schedule_update_cannot_point_at_another_users_file(
    owned: Owned, other_user: ApiUser
) -> None:
    own_schedule = other_user.schedule(
        other_user.data_source(), other_user.target_file(), path="/tmp/x.csv"
    )

    response = other_user.put(
        f"/api/sync/schedules/{own_schedule}", json={"targetFileId": owned.file_id}
    )

    assert response.status_code == 400
    assert [d["field"] for d in response.json()["details"]] == ["targetFileId"]
