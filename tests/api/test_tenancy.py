"""Strict tenancy: another user's objects answer exactly like objects that do not exist
(404, never 403, never a byte of their data), lists show only one's own, and nothing of
another user's can be read, changed, deleted, synced or referenced."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from app.auth.middleware import PUBLIC_PATHS
from tests.conftest import ApiUser
from tests.sync.tables import write_table
from tests.webhooks.receiver import start_receiver

# The owner's objects are real: a run that wrote file version 1 and has a change set.
pytestmark = pytest.mark.usefixtures("worker")

FIXTURE_HINT = (
    "create one such object for the owner in the `owned` fixture of tests/api/test_tenancy.py "
    "and map the path parameter's name to its id"
)
BODY_HINT = "add a minimal valid body for it to BODIES in tests/api/test_tenancy.py"
ENVELOPE = {"success", "error", "message", "requestId"}
PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass
class Owned:
    ids: dict[str, str]  # path parameter name -> the owner's object it names
    secrets: tuple[str, ...]  # the owner's ids and texts no other user may see


@pytest.fixture
def owned(user: ApiUser, tmp_path: Path) -> Iterator[Owned]:
    """One of each kind of object the API names by id, all the owner's (`user`)."""
    receiver, server = start_receiver()
    try:
        table = write_table(tmp_path / "private.csv", ["id"], [["1"]])
        source_id = user.data_source(credentials={"token": "owner-only-token"})
        file_id = user.target_file("owner-private.csv")
        schedule_id = user.schedule(source_id, file_id, path=str(table))
        user.ok(
            "PUT", f"/api/sync/schedules/{schedule_id}", json={"name": "Owner private schedule"}
        )
        run = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")["syncResult"]
        api_key_id = user.ok("POST", "/api/auth/api-keys", json={"name": "owner key"})["apiKey"][
            "id"
        ]
        client_id = user.post(
            "/api/auth/clients", json={"name": "owner client", "scopes": ["files:read"]}
        ).json()["client"]["clientId"]
        webhook_id = user.ok(
            "POST", "/api/webhooks", json={"url": receiver.url, "events": ["sync.success"]}
        )["webhook"]["id"]
        delivery_id = user.ok("POST", f"/api/webhooks/{webhook_id}/test")["delivery"]["id"]
        ids = {
            "source_id": source_id,
            "file_id": file_id,
            "version": str(run["fileVersion"]),
            "schedule_id": schedule_id,
            "run_id": run["runId"],
            "key_id": api_key_id,
            "client_id": client_id,
            "webhook_id": webhook_id,
            "delivery_id": delivery_id,  # named by no route yet; ready for one that does
        }
        texts = ("owner-only-token", "owner-private.csv", "Owner private schedule", str(table))
        yield Owned(ids, (*texts, *(v for v in ids.values() if _is_uuid(v)), receiver.url))
    finally:
        server.shutdown()


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# Bodies for routes that take one: valid (the owner's own request with it succeeds, see
# test_the_bodies_sent_are_valid_for_the_owner) and each trying to change something visible.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/api/data-sources/{source_id}"): {"name": "taken over"},
    ("PATCH", "/api/files/{file_id}"): {"name": "taken-over.csv", "escapeFormulas": True},
    ("PUT", "/api/sync/schedules/{schedule_id}"): {"name": "taken over", "enabled": False},
    ("PATCH", "/api/webhooks/{webhook_id}"): {"isEnabled": False, "events": ["sync.failure"]},
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str  # "/api/files/{file_id}/versions/{version}/content"
    takes_body: bool

    @property
    def parameters(self) -> list[str]:
        return PARAMETER.findall(self.template)

    def path(self, ids: dict[str, str]) -> str:
        return PARAMETER.sub(lambda match: ids[match.group(1)], self.template)

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def _is_public(path: str) -> bool:
    return any(re.search(pattern, path) for pattern in PUBLIC_PATHS)


def authenticated_endpoints(app: Litestar) -> list[Endpoint]:
    """Every method of every route a token is needed for, read from the app itself, so a
    route added tomorrow is in the list without anyone editing this file. OPTIONS is left
    out: it is Litestar's CORS preflight, answered before authentication."""
    found = []
    for route in app.routes:
        template = PARAMETER.sub(r"{\1}", route.path)
        if _is_public(template):
            continue
        for handler in getattr(route, "route_handlers", []):
            if handler.opt.get("exclude_from_auth"):
                continue
            takes_body = "data" in handler.parsed_fn_signature.parameters
            for method in sorted(handler.http_methods - {"OPTIONS"}):
                found.append(Endpoint(method, template, takes_body))
    return sorted(found, key=lambda e: (e.template, e.method))


def endpoints_with_ids(app: Litestar) -> list[Endpoint]:
    return [e for e in authenticated_endpoints(app) if e.parameters]


def uncovered(endpoints: list[Endpoint], owned: Owned) -> list[str]:
    """Why each endpoint the tenancy check cannot exercise is left out, for the developer."""
    problems = []
    for endpoint in endpoints:
        unknown = [p for p in endpoint.parameters if p not in owned.ids]
        if unknown:
            problems.append(f"{endpoint}: no owned object for {', '.join(unknown)}; {FIXTURE_HINT}")
        if endpoint.takes_body and (endpoint.method, endpoint.template) not in BODIES:
            problems.append(f"{endpoint}: takes a body; {BODY_HINT}")
    return problems


def checked_endpoints(app: Litestar, owned: Owned) -> list[Endpoint]:
    """The endpoints to try. Fails, saying what to add, when one cannot be tried: a route
    this check cannot fill in must not slip through untested."""
    endpoints = endpoints_with_ids(app)
    problems = uncovered(endpoints, owned)
    assert endpoints, "no route with a path parameter found: is the app's route table read?"
    assert not problems, "\n".join(problems)
    return endpoints


def send(user: ApiUser, endpoint: Endpoint, path: str) -> Any:
    body = BODIES.get((endpoint.method, endpoint.template))
    return (
        user.request(endpoint.method, path, json=body)
        if body
        else user.request(endpoint.method, path)
    )


def with_unknown_ids(owned: Owned) -> dict[str, str]:
    return {name: str(uuid.uuid4()) if _is_uuid(v) else v for name, v in owned.ids.items()}


def owner_view(user: ApiUser, app: Litestar, owned: Owned) -> dict[str, Any]:
    """What the owner reads from every GET endpoint (lists and objects)."""
    view: dict[str, Any] = {}
    for endpoint in authenticated_endpoints(app):
        if endpoint.method == "GET":
            path = endpoint.path(owned.ids)
            response = user.get(path)
            view[path] = (response.status_code, response.text)
    return view


def test_every_route_with_an_id_is_covered_by_the_tenancy_check(
    client: TestClient[Any], owned: Owned
) -> None:
    checked_endpoints(client.app, owned)


def test_every_route_answers_another_users_ids_with_404_exactly_like_unknown_ids(
    client: TestClient[Any], owned: Owned, other_user: ApiUser
) -> None:
    endpoints = checked_endpoints(client.app, owned)
    unknown_ids = with_unknown_ids(owned)

    failures = []
    for endpoint in endpoints:
        foreign = send(other_user, endpoint, endpoint.path(owned.ids))
        unknown = send(other_user, endpoint, endpoint.path(unknown_ids))
        body = (
            foreign.json()
            if foreign.headers.get("content-type", "").startswith("application/json")
            else None
        )
        leaked = [s for s in owned.secrets if s in foreign.text]
        if (
            foreign.status_code != 404
            or body is None
            or set(body) != ENVELOPE
            or body["success"] is not False
            or body["requestId"] != foreign.headers.get("x-request-id")
            or (unknown.status_code, body["error"], body["message"])
            != (404, unknown.json()["error"], unknown.json()["message"])
            or leaked
        ):
            failures.append(
                f"{endpoint}: {foreign.status_code} {foreign.text[:200]} leaked={leaked}"
            )

    assert not failures, "\n".join(failures)


def test_another_users_attempts_change_nothing_of_the_owners(
    client: TestClient[Any], user: ApiUser, owned: Owned, other_user: ApiUser
) -> None:
    endpoints = checked_endpoints(client.app, owned)
    before = owner_view(user, client.app, owned)
    assert all(status == 200 for status, _ in before.values()), before

    for endpoint in endpoints:
        send(other_user, endpoint, endpoint.path(owned.ids))

    after = owner_view(user, client.app, owned)
    changed = [path for path in before if before[path] != after[path]]
    assert changed == [], "\n".join(f"{p}:\n  {before[p]}\n  {after[p]}" for p in changed)


def test_the_bodies_sent_are_valid_for_the_owner(
    client: TestClient[Any], user: ApiUser, owned: Owned
) -> None:
    """Otherwise the attempts above could fail on validation and change nothing whoever
    sends them."""
    endpoints = [e for e in endpoints_with_ids(client.app) if e.takes_body]

    answers = {str(e): send(user, e, e.path(owned.ids)).status_code for e in endpoints}

    assert answers == {str(e): 200 for e in endpoints}
    assert {f"{method} {template}" for method, template in BODIES} == set(answers)


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/data-sources", "dataSources"),
        ("/api/files", "files"),
        ("/api/sync/schedules", "schedules"),
        ("/api/sync/runs", "runs"),
        ("/api/auth/api-keys", "apiKeys"),
        ("/api/auth/clients", "clients"),
    ],
)
def test_lists_never_show_other_users_objects(
    owned: Owned, other_user: ApiUser, path: str, key: str
) -> None:
    mine_source = other_user.data_source()
    mine_file = other_user.target_file()
    other_user.schedule(mine_source, mine_file, path="/tmp/mine.csv")
    other_user.ok("POST", "/api/auth/api-keys", json={"name": "mine"})
    other_user.post("/api/auth/clients", json={"name": "mine", "scopes": ["files:read"]})

    body = other_user.ok("GET", path)

    raw = json.dumps(body)
    for secret in owned.secrets:
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
            "dataSourceId": owned.ids["source_id"],
            "targetFileId": owned.ids["file_id"],
            "frequency": "hourly",
            "config": {"path": "/tmp/x.csv"},
        },
    )

    assert response.status_code == 400
    assert {d["field"] for d in response.json()["details"]} == {"dataSourceId", "targetFileId"}
    assert owned.ids["source_id"] not in response.text and owned.ids["file_id"] not in response.text


def test_schedule_update_cannot_point_at_another_users_file(
    owned: Owned, other_user: ApiUser
) -> None:
    own_schedule = other_user.schedule(
        other_user.data_source(), other_user.target_file(), path="/tmp/x.csv"
    )

    response = other_user.put(
        f"/api/sync/schedules/{own_schedule}", json={"targetFileId": owned.ids["file_id"]}
    )

    assert response.status_code == 400
    assert [d["field"] for d in response.json()["details"]] == ["targetFileId"]
