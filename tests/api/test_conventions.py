"""API.md "Conventions" and the supporting resources' rules: the error envelope everywhere,
request ids, CORS, rate limits, OpenAPI, health, pagination, list filters, partial updates,
delete conflicts, file content caching and credentials that never leave the vault."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient

from app.credential_vault import CredentialVault
from app.settings import Settings
from tests.api.apps import app_with
from tests.api.real_sources import BY_TYPE, SECRET_MARKER, create_source
from tests.api.store import stored_rows
from tests.conftest import ApiUser, register
from tests.sync.tables import read_csv, write_table

ENVELOPE = {"success", "error", "message", "requestId"}
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ALLOWED_ORIGIN = "http://localhost:5173"  # the suite's CORS_ORIGINS


def assert_envelope(response: Any, status: int, extra: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == ENVELOPE | extra
    assert body["success"] is False
    assert body["requestId"] == response.headers["x-request-id"]
    for leak in ("Traceback", "sqlalchemy", "/work/", ".py", "SELECT "):
        assert leak not in body["message"]
    return body


# --- the error envelope ----------------------------------------------------------------------


def test_unknown_route_is_404_in_the_envelope(user: ApiUser) -> None:
    body = assert_envelope(user.get("/api/no-such-thing"), 404)

    assert body["message"] == "No such endpoint: GET /api/no-such-thing"


def test_wrong_method_is_405_naming_the_allowed_ones(user: ApiUser) -> None:
    body = assert_envelope(user.patch("/api/sync/schedules"), 405)

    assert body["error"] == "Method not allowed"
    assert "GET" in body["message"] and "POST" in body["message"]


def test_malformed_json_is_400_malformed_json(user: ApiUser) -> None:
    response = user.post(
        "/api/sync/schedules",
        content=b'{"name": "x",',
        headers={"Content-Type": "application/json"},
    )

    body = assert_envelope(response, 400)
    assert body["error"] == "Malformed JSON"
    assert "Content-Type: application/json" in body["message"]


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"],
)
def test_a_body_that_is_not_json_is_415(user: ApiUser, content_type: str) -> None:
    response = user.post(
        "/api/files", content=b"name=sales.csv", headers={"Content-Type": content_type}
    )

    body = assert_envelope(response, 415)
    assert body["error"] == "Unsupported media type"
    assert "application/json" in body["message"]


def test_json_without_content_type_is_accepted(user: ApiUser) -> None:
    response = user.post("/api/files", content=b'{"name": "plain.csv"}')

    assert response.status_code == 200, response.text


def test_oversize_body_is_413(user: ApiUser, settings: Settings) -> None:
    padding = "x" * (settings.max_body_bytes + 1)

    body = assert_envelope(
        user.post("/api/files", json={"name": "big.csv", "padding": padding}), 413
    )

    assert body["error"] == "Request body too large"
    assert str(settings.max_body_bytes) in body["message"]


def test_missing_token_is_401_telling_how_to_authenticate(client: TestClient[Any]) -> None:
    body = assert_envelope(client.get("/api/sync/schedules"), 401)

    assert "Authorization: Bearer" in body["message"]


def test_validation_error_adds_details(user: ApiUser) -> None:
    response = user.post("/api/files", json={"name": "x.csv", "delimiter": "::"})

    assert_envelope(response, 400, extra={"details"})


# --- request ids -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "authenticated"),
    [
        ("GET", "/api/sync/schedules", True),
        ("GET", "/api/sync/schedules", False),
        ("GET", "/api/nowhere", True),
        ("DELETE", "/health", False),
        ("GET", "/health", False),
    ],
)
def test_request_id_is_echoed_on_success_and_on_every_error(
    user: ApiUser, method: str, path: str, authenticated: bool
) -> None:
    sent = f"trace-{secrets.token_hex(6)}"
    client = user if authenticated else user.client

    response = client.request(method, path, headers={"X-Request-ID": sent})

    assert response.headers["x-request-id"] == sent
    if response.status_code >= 400:
        assert response.json()["requestId"] == sent


@pytest.mark.parametrize("sent", [None, "has spaces in it", "x" * 129, "<script>"])
def test_request_id_is_generated_when_absent_or_unsafe(
    client: TestClient[Any], sent: str | None
) -> None:
    headers = {"X-Request-ID": sent} if sent else {}

    first = client.get("/api/nowhere", headers=headers)
    second = client.get("/api/nowhere", headers=headers)

    generated = first.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", generated)
    assert first.json()["requestId"] == generated
    assert second.headers["x-request-id"] != generated


# --- CORS --------------------------------------------------------------------------------------


def _preflight(client: TestClient[Any], origin: str, method: str = "POST") -> Any:
    return client.options(
        "/api/sync/schedules",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_preflight_from_an_allowed_origin_allows_authorization_and_content_type(
    client: TestClient[Any], method: str
) -> None:
    response = _preflight(client, ALLOWED_ORIGIN, method)

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    allowed_headers = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "content-type"} <= allowed_headers
    assert method in response.headers["access-control-allow-methods"]


def test_cross_origin_response_exposes_request_id_and_rate_limit_headers(user: ApiUser) -> None:
    response = user.get("/api/sync/schedules", headers={"Origin": ALLOWED_ORIGIN})

    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    exposed = response.headers["access-control-expose-headers"].lower()
    assert (
        "x-request-id" in exposed
        and "x-ratelimit-remaining" in exposed
        and "retry-after" in exposed
    )


def test_preflight_from_another_origin_is_refused_in_the_envelope(client: TestClient[Any]) -> None:
    response = _preflight(client, "https://evil.example")

    body = assert_envelope(response, 400)
    assert "access-control-allow-origin" not in response.headers
    assert "CORS_ORIGINS" in body["message"]


def test_request_from_another_origin_is_answered_as_usual_without_an_allow_origin_header(
    user: ApiUser,
) -> None:
    """The browser, not the server, keeps another site's page from reading the answer: the
    request is served as without an Origin, only the header that would let a page read it
    is missing."""
    schedule_id = user.schedule(user.data_source(), user.target_file(), path="/tmp/x.csv")

    response = user.get("/api/sync/schedules", headers={"Origin": "https://evil.example"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert [s["id"] for s in body["schedules"]] == [schedule_id] and body["totalCount"] == 1
    assert body == user.ok("GET", "/api/sync/schedules")
    assert "access-control-allow-origin" not in response.headers


# --- rate limiting -------------------------------------------------------------------------------


def _rate_headers(response: Any) -> tuple[int, int, int]:
    return (
        int(response.headers["x-ratelimit-limit"]),
        int(response.headers["x-ratelimit-remaining"]),
        int(response.headers["x-ratelimit-reset"]),
    )


def test_every_authenticated_response_carries_rate_limit_headers(user: ApiUser) -> None:
    limit, remaining, reset = _rate_headers(user.get("/api/sync/schedules"))

    assert limit == 100000 and 0 <= remaining < limit and 0 <= reset <= 60


def test_rate_limit_answers_429_with_retry_after_once_the_budget_is_spent(
    client: TestClient[Any], service_env: dict[str, str]
) -> None:
    limited = register(client)  # through the suite's app: its budget is not the one tested
    with app_with(service_env, RATE_LIMIT_PER_MINUTE="3") as low_limit:
        limited.client = low_limit
        answers = [limited.get("/api/sync/schedules") for _ in range(4)]

    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert [_rate_headers(a)[:2] for a in answers[:3]] == [(3, 2), (3, 1), (3, 0)]
    body = assert_envelope(answers[3], 429)
    assert body["error"] == "Rate limit exceeded"
    assert 1 <= int(answers[3].headers["retry-after"]) <= 60
    assert answers[3].headers["x-ratelimit-remaining"] == "0"


def test_rate_limit_budget_is_shared_by_two_api_processes_on_one_redis(
    client: TestClient[Any], service_env: dict[str, str]
) -> None:
    limited, unaffected = register(client), register(client)
    with (
        app_with(service_env, RATE_LIMIT_PER_MINUTE="4") as first,
        app_with(service_env, RATE_LIMIT_PER_MINUTE="4") as second,
    ):
        statuses = [
            api.get("/api/auth/me", headers=limited.headers).status_code
            for api in (first, second, first, second, first)
        ]
        other_user_status = second.get("/api/auth/me", headers=unaffected.headers).status_code

    assert statuses == [200, 200, 200, 200, 429]
    assert other_user_status == 200  # budgets are per user


# --- OpenAPI, health, readiness -------------------------------------------------------------------


def test_openapi_document_is_3_1_and_lists_the_reference_pages_paths(
    client: TestClient[Any],
) -> None:
    response = client.get("/schema/openapi.json")

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    for path in (
        "/api/sync/schedules",
        "/api/sync/schedules/{schedule_id}",
        "/api/sync/schedules/{schedule_id}/sync",
        "/api/sync/schedules/{schedule_id}/history",
    ):
        assert path in document["paths"], path
    assert document["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    operation_ids = {
        op.get("operationId")
        for item in document["paths"].values()
        for op in item.values()
        if isinstance(op, dict)
    }
    assert {
        "createSchedule",
        "listSchedules",
        "getSchedule",
        "updateSchedule",
        "deleteSchedule",
    } <= operation_ids


def test_interactive_docs_are_served_at_schema(client: TestClient[Any]) -> None:
    response = client.get("/schema")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


def test_health_answers_without_a_token(client: TestClient[Any]) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"success": True, "status": "ok"}


def test_ready_checks_the_database_and_redis(client: TestClient[Any]) -> None:
    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "status": "ready",
        "checks": {"database": "ok", "redis": "ok"},
    }


def test_ready_is_503_with_retry_after_when_redis_is_unreachable(
    service_env: dict[str, str], user: ApiUser
) -> None:
    with app_with(service_env, REDIS_URL="redis://127.0.0.1:1/0") as dead_redis:
        ready = dead_redis.get("/ready")
        api = dead_redis.get("/api/sync/schedules", headers=user.headers)

    body = assert_envelope(ready, 503, extra={"checks"})
    assert body["checks"] == {"database": "ok", "redis": "unreachable"}
    assert ready.headers["retry-after"] == "5"
    # Every request needs its rate-limit budget from Redis: dependency down, not a 500.
    body = assert_envelope(api, 503)
    assert body["message"] == "Redis is unreachable; try again shortly"
    assert api.headers["retry-after"] == "5"


# --- pagination and list filters -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "count", "pagination"),
    [
        ("", 5, {"limit": 50, "offset": 0, "hasMore": False}),
        ("?limit=2", 2, {"limit": 2, "offset": 0, "hasMore": True}),
        ("?limit=2&offset=2", 2, {"limit": 2, "offset": 2, "hasMore": True}),
        ("?limit=2&offset=4", 1, {"limit": 2, "offset": 4, "hasMore": False}),
        ("?limit=200&offset=10", 0, {"limit": 200, "offset": 10, "hasMore": False}),
    ],
)
@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/files", "files"),
        ("/api/sync/schedules", "schedules"),
        ("/api/data-sources", "dataSources"),
    ],
)
def test_pagination_with_limit_offset_and_has_more(
    user: ApiUser, path: str, key: str, query: str, count: int, pagination: dict[str, Any]
) -> None:
    source_id = user.data_source()
    created = []
    for n in range(5):
        file_id = user.target_file(f"file-{n}.csv")
        created.append(
            {
                "files": file_id,
                "schedules": user.schedule(source_id, file_id, path=f"/tmp/{n}.csv"),
                "dataSources": None,
            }[key]
        )
    if key == "dataSources":
        created = [source_id] + [user.data_source() for _ in range(4)]

    body = user.ok("GET", f"{path}{query}")

    assert (len(body[key]), body["totalCount"], body["pagination"]) == (count, 5, pagination)
    offset = pagination["offset"]
    assert [item["id"] for item in body[key]] == created[
        offset : offset + count
    ]  # oldest first, stable


@pytest.fixture(scope="module")
def filter_user(client: TestClient[Any]) -> ApiUser:
    return register(client)


@pytest.fixture(scope="module")
def filtered(
    filter_user: ApiUser, worker: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Schedules differing in enabled, source type, last status and name (made once)."""
    user, tmp_path = filter_user, tmp_path_factory.mktemp("filters")
    good = write_table(tmp_path / "good.csv", ["id"], [["1"]])
    table_source = user.data_source()
    ids = {
        "ok": user.schedule(table_source, user.target_file(), path=str(good)),
        "failed": user.schedule(
            table_source, user.target_file(), path=str(tmp_path / "missing.csv")
        ),
        "never": user.schedule(
            create_source(user, "google-sheets"),
            user.target_file(),
            spreadsheetId="1ABC-DEF",
            sheetName="S",
        ),
        "disabled": user.schedule(table_source, user.target_file(), enabled=False, path=str(good)),
    }
    names = {
        "ok": "Sales 100% daily",
        "failed": "Orders_hourly",
        "never": "SALES sheet",
        "disabled": "Archive",
    }
    for key, schedule_id in ids.items():
        user.ok("PUT", f"/api/sync/schedules/{schedule_id}", json={"name": names[key]})
    assert user.post(f"/api/sync/schedules/{ids['ok']}/sync").status_code == 200
    assert user.post(f"/api/sync/schedules/{ids['failed']}/sync").status_code == 500
    return ids


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("enabled=true", {"ok", "failed", "never"}),
        ("enabled=false", {"disabled"}),
        ("dataSourceType=google-sheets", {"never"}),
        ("dataSourceType=test-table", {"ok", "failed", "disabled"}),
        ("dataSourceType=sql-server", set()),
        ("status=success", {"ok"}),
        ("status=error", {"failed"}),
        ("status=never", {"never", "disabled"}),
        ("search=sales", {"ok", "never"}),
        ("search=100%25", {"ok"}),
        ("search=a_e", set()),  # `_` is a literal, not a wildcard ("sales" would match)
        ("search=orders_", {"failed"}),
        ("enabled=true&status=never", {"never"}),
    ],
)
def test_schedule_list_filters(
    filter_user: ApiUser, filtered: dict[str, str], query: str, expected: set[str]
) -> None:
    body = filter_user.ok("GET", f"/api/sync/schedules?{query}")

    names = {
        key
        for key, schedule_id in filtered.items()
        if schedule_id in {s["id"] for s in body["schedules"]}
    }
    assert names == expected
    assert body["totalCount"] == len(expected)


# --- partial update, enable/disable, deletes -----------------------------------------------------------


def _next_local(moment: datetime, hour: int, minute: int, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local:
        candidate = (candidate + timedelta(days=1)).replace(hour=hour, minute=minute)
    candidate = datetime.combine(candidate.date(), candidate.time(), tzinfo=ZoneInfo(zone))
    return f"{candidate.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def test_put_is_partial_merges_config_and_recomputes_next_sync(user: ApiUser) -> None:
    schedule_id = user.schedule(
        user.data_source(),
        user.target_file(),
        frequency="daily",
        path="/tmp/t.csv",
        syncTime="06:00",
        timezone="Europe/Berlin",
        primaryKey="id",
    )
    user.ok("PUT", f"/api/sync/schedules/{schedule_id}", json={"name": "Berlin morning"})

    before = datetime.now(UTC)
    updated = user.ok(
        "PUT", f"/api/sync/schedules/{schedule_id}", json={"config": {"syncTime": "07:30"}}
    )["schedule"]
    after = datetime.now(UTC)

    assert updated["name"] == "Berlin morning"
    assert (updated["frequency"], updated["enabled"]) == ("daily", True)
    assert updated["config"] == {
        "path": "/tmp/t.csv",
        "syncTime": "07:30",
        "timezone": "Europe/Berlin",
        "primaryKey": "id",
    }
    assert updated["nextSyncAt"] in {
        _next_local(before, 7, 30, "Europe/Berlin"),
        _next_local(after, 7, 30, "Europe/Berlin"),
    }
    assert updated["updatedAt"] >= updated["createdAt"]


def test_put_with_null_config_key_removes_it(user: ApiUser) -> None:
    schedule_id = user.schedule(
        user.data_source(),
        user.target_file(),
        frequency="daily",
        path="/tmp/t.csv",
        syncTime="06:00",
        timezone="Asia/Tokyo",
    )

    updated = user.ok(
        "PUT", f"/api/sync/schedules/{schedule_id}", json={"config": {"timezone": None}}
    )["schedule"]

    assert updated["config"] == {"path": "/tmp/t.csv", "syncTime": "06:00"}
    assert updated["nextSyncAt"].endswith("T06:00:00Z")


def test_disabled_schedule_has_no_next_sync_until_enabled_again(user: ApiUser) -> None:
    schedule_id = user.schedule(user.data_source(), user.target_file(), path="/tmp/t.csv")

    disabled = user.ok("PUT", f"/api/sync/schedules/{schedule_id}", json={"enabled": False})[
        "schedule"
    ]
    fetched = user.ok("GET", f"/api/sync/schedules/{schedule_id}")["schedule"]
    enabled = user.ok("PUT", f"/api/sync/schedules/{schedule_id}", json={"enabled": True})[
        "schedule"
    ]

    assert (disabled["enabled"], disabled["nextSyncAt"]) == (False, None)
    assert fetched["nextSyncAt"] is None
    assert enabled["nextSyncAt"].endswith(":00:00Z")


def test_created_disabled_schedule_has_no_next_sync(user: ApiUser) -> None:
    body = user.ok(
        "POST",
        "/api/sync/schedules",
        json={
            "name": "Off",
            "dataSourceId": user.data_source(),
            "targetFileId": user.target_file(),
            "frequency": "weekly",
            "enabled": False,
            "config": {"path": "/tmp/t.csv"},
        },
    )

    assert body["schedule"]["nextSyncAt"] is None


@pytest.mark.usefixtures("worker")
def test_delete_schedule_takes_its_history_and_keeps_the_file_and_its_content(
    user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", ["id", "name"], [["1", "Ann"]])
    file_id = user.target_file()
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table))
    run_id = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")["syncResult"]["runId"]

    user.ok("DELETE", f"/api/sync/schedules/{schedule_id}")

    assert user.get(f"/api/sync/schedules/{schedule_id}/history").status_code == 404
    assert user.get(f"/api/sync/runs/{run_id}").status_code == 404
    assert read_csv(user.get(f"/api/files/{file_id}/content").text) == [
        ["id", "name"],
        ["1", "Ann"],
    ]


def test_data_source_delete_is_409_while_a_schedule_uses_it(user: ApiUser) -> None:
    source_id = user.data_source()
    schedule_id = user.schedule(source_id, user.target_file(), path="/tmp/t.csv")

    body = assert_envelope(user.delete(f"/api/data-sources/{source_id}"), 409)

    assert body["error"] == "Conflict"
    assert "1 schedule" in body["message"]
    user.ok("DELETE", f"/api/sync/schedules/{schedule_id}")
    assert user.ok("DELETE", f"/api/data-sources/{source_id}")["success"] is True
    assert user.get(f"/api/data-sources/{source_id}").status_code == 404


def test_file_delete_is_409_while_a_schedule_targets_it(user: ApiUser) -> None:
    file_id = user.target_file()
    schedule_id = user.schedule(user.data_source(), file_id, path="/tmp/t.csv")

    body = assert_envelope(user.delete(f"/api/files/{file_id}"), 409)

    assert "1 schedule" in body["message"]
    user.ok("DELETE", f"/api/sync/schedules/{schedule_id}")
    assert user.ok("DELETE", f"/api/files/{file_id}")["success"] is True
    assert user.get(f"/api/files/{file_id}").status_code == 404


# --- target file content -------------------------------------------------------------------------------


def test_new_file_has_empty_content_with_etag_and_answers_304_to_if_none_match(
    user: ApiUser,
) -> None:
    file = user.ok("POST", "/api/files", json={"name": "sales-data.csv"})["file"]

    content = user.get(f"/api/files/{file['id']}/content")
    cached = user.get(
        f"/api/files/{file['id']}/content", headers={"If-None-Match": content.headers["etag"]}
    )
    stale = user.get(f"/api/files/{file['id']}/content", headers={"If-None-Match": '"0123"'})

    assert (file["version"], file["sizeBytes"], file["rowCount"], file["checksum"]) == (
        0,
        0,
        0,
        EMPTY_SHA256,
    )
    assert content.status_code == 200
    assert content.headers["content-type"].startswith("text/csv")
    assert content.headers["etag"] == f'"{EMPTY_SHA256}"'
    assert content.content == b""
    assert (cached.status_code, cached.content) == (304, b"")
    assert cached.headers["etag"] == content.headers["etag"]
    assert stale.status_code == 200
    assert user.ok("GET", f"/api/files/{file['id']}/versions") == {
        "success": True,
        "versions": [],
        "totalCount": 0,
    }


# --- credentials -----------------------------------------------------------------------------------------


def _secrets_of(value: Any) -> list[str]:
    text = json.dumps(value)
    return re.findall(rf"{SECRET_MARKER}[-a-z]*", text)


@pytest.mark.parametrize("type_name", list(BY_TYPE))
def test_credentials_are_never_returned_by_any_data_source_endpoint(
    user: ApiUser, type_name: str
) -> None:
    body = BY_TYPE[type_name]
    secrets_sent = _secrets_of(body["credentials"])
    assert secrets_sent
    created = user.post("/api/data-sources", json=body)
    source_id = created.json()["dataSource"]["id"]
    rotated = {**body["credentials"]}
    responses = [
        created,
        user.get(f"/api/data-sources/{source_id}"),
        user.get("/api/data-sources"),
        user.get(f"/api/data-sources?type={type_name}"),
        user.patch(f"/api/data-sources/{source_id}", json={"name": "renamed"}),
        user.patch(f"/api/data-sources/{source_id}", json={"credentials": rotated}),
        user.patch(
            f"/api/data-sources/{source_id}", json={"credentials": {**rotated, "tenantId": ""}}
        ),  # refused
        # Cannot connect: the reason, no secret. (SQL Server's login timeout makes this
        # slow there; its error text is covered by the connector's own tests.)
        user.post(f"/api/data-sources/{source_id}/test")
        if type_name != "sql-server"
        else user.get(f"/api/data-sources/{source_id}"),
        user.post(
            "/api/sync/schedules",
            json={
                "name": "x",
                "dataSourceId": source_id,
                "targetFileId": user.target_file(),
                "frequency": "hourly",
            },
        ),
        user.delete(f"/api/data-sources/{source_id}"),
    ]

    assert responses[0].json()["dataSource"]["hasCredentials"] is True
    assert "credentials" not in responses[1].json()["dataSource"]
    if type_name != "sql-server":
        assert responses[7].status_code == 400
        assert responses[7].json()["error"] == "Connection failed"
    for response in responses:
        assert SECRET_MARKER not in response.text, response.request.url
        for header in response.headers.values():
            assert SECRET_MARKER not in header


def test_credentials_are_stored_encrypted_with_a_key_from_secret_key(
    user: ApiUser, settings: Settings
) -> None:
    source_id = create_source(user, "sql-server")
    name = f"sealed-{secrets.token_hex(4)}"
    user.ok("PATCH", f"/api/data-sources/{source_id}", json={"name": name})

    (row,) = stored_rows(
        settings,
        "SELECT credentials_encrypted, settings FROM data_sources WHERE name = :name",
        name=name,
    )

    sealed = row["credentials_encrypted"]
    assert SECRET_MARKER not in sealed and "datasync_reader" not in sealed
    assert CredentialVault(settings.secret_key).open(sealed) == BY_TYPE["sql-server"]["credentials"]
    assert SECRET_MARKER not in json.dumps(row["settings"])
