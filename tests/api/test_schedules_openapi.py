"""What the OpenAPI document tells a generated client about the reference page's routes:
the page's bodies as examples, typed answers, every status, and the limits the service holds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.api.openapi_document import component, operation, served_document
from tests.conftest import ApiUser

PAGE = Path(__file__).resolve().parents[3] / "shared/reference/data-sync-api-schedules.txt"


@pytest.fixture(scope="module")
def document(client: TestClient[Any]) -> dict[str, Any]:
    return served_document(client)


def page_json_blocks() -> list[Any]:
    """Every JSON body the page prints (one value per line, blank lines between)."""
    lines = [line for line in PAGE.read_text().splitlines() if line.strip()]
    blocks, depth, current = [], 0, []
    for line in lines:
        if depth == 0 and line.strip() != "{":
            continue
        current.append(line)
        depth += line.count("{") + line.count("[") - line.count("}") - line.count("]")
        if depth == 0:
            blocks.append(json.loads("\n".join(current)))
            current = []
    return blocks


def examples_of(document: dict[str, Any]) -> list[Any]:
    values = []
    for item in document["paths"].values():
        for op in item.values():
            if not isinstance(op, dict):
                continue
            bodies = [op.get("requestBody", {}), *op.get("responses", {}).values()]
            for body in bodies:
                for media in body.get("content", {}).values():
                    values += [e["value"] for e in media.get("examples", {}).values()]
                    values += media.get("schema", {}).get("examples", [])
    return values


def test_every_json_body_of_the_reference_page_is_an_example_in_the_document(
    document: dict[str, Any],
) -> None:
    blocks = page_json_blocks()
    # Three create bodies and their answer, list, get, update and its answer, delete,
    # manual sync and its failure, history, and the three frequency snippets.
    assert len(blocks) >= 12
    documented = examples_of(document)
    frequency_snippets = [b for b in blocks if set(b) <= {"frequency", "config"}]
    missing = [b for b in blocks if b not in documented and b not in frequency_snippets]
    assert missing == []


def test_schedule_answers_are_typed_with_every_field_the_page_shows(
    document: dict[str, Any],
) -> None:
    created = operation(document, "post", "/api/sync/schedules")["responses"]["200"]
    envelope = component(document, created["content"]["application/json"]["schema"])
    assert set(envelope["required"]) == {"success", "schedule", "message"}
    assert envelope["properties"]["success"]["const"] is True
    schedule = component(document, envelope["properties"]["schedule"])
    assert {
        "id",
        "name",
        "dataSourceId",
        "dataSourceType",
        "dataSourceName",
        "targetFileId",
        "targetFileName",
        "frequency",
        "enabled",
        "config",
        "lastSyncAt",
        "nextSyncAt",
        "lastSyncStatus",
        "lastSyncRowCount",
        "lastSyncError",
        "lastSyncDuration",
        "nextRetryAt",
        "createdAt",
        "updatedAt",
    } <= set(schedule["required"])

    listed = operation(document, "get", "/api/sync/schedules")["responses"]["200"]
    page = component(document, listed["content"]["application/json"]["schema"])
    assert set(page["required"]) == {"success", "schedules", "totalCount", "pagination"}


def test_request_bodies_carry_the_limits_the_service_checks(document: dict[str, Any]) -> None:
    create = document["components"]["schemas"]["ScheduleCreate"]
    assert create["properties"]["name"]["maxLength"] == 200
    assert create["properties"]["name"]["minLength"] == 1
    assert create["properties"]["frequency"]["enum"] == ["hourly", "daily", "weekly"]
    config = create["properties"]["config"]["properties"]
    pattern = re.compile(config["syncTime"]["pattern"])
    assert [t for t in ("06:00", "23:59", "24:00", "6:00", "06:60") if pattern.match(t)] == [
        "06:00",
        "23:59",
    ]
    assert (config["minute"]["minimum"], config["minute"]["maximum"]) == (0, 59)
    assert "monday" in config["dayOfWeek"]["enum"]
    update = document["components"]["schemas"]["ScheduleUpdate"]
    assert None in update["properties"]["frequency"]["enum"]  # null keeps the frequency


def test_a_name_longer_than_documented_is_refused_naming_the_field(user: ApiUser) -> None:
    response = user.post(
        "/api/sync/schedules",
        json={
            "name": "n" * 200 + " ",
            "dataSourceId": "0b6f6f0e-0000-4000-8000-000000000000",
            "targetFileId": "0b6f6f0e-0000-4000-8000-000000000001",
            "frequency": "hourly",
        },
    )
    assert response.status_code == 400
    assert {"field": "name", "message": "must be 1 to 200 characters"} in response.json()["details"]


def test_manual_sync_documents_its_answers(document: dict[str, Any]) -> None:
    responses = operation(document, "post", "/api/sync/schedules/{schedule_id}/sync")["responses"]
    assert {"200", "202", "404", "409", "429", "500"} <= set(responses)
    failed = responses["500"]["content"]["application/json"]
    assert failed["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert "Retry-After" in responses["429"]["headers"]
    error = document["components"]["schemas"]["ErrorBody"]
    assert {"runId", "retryAfter", "details"} <= set(error["properties"])
    assert set(error["required"]) == {"success", "error", "message", "requestId"}


def test_history_filters_only_by_the_statuses_a_started_run_can_have(
    document: dict[str, Any], user: ApiUser
) -> None:
    history = operation(document, "get", "/api/sync/schedules/{schedule_id}/history")
    status = next(p for p in history["parameters"] if p["name"] == "status")
    assert "queued" not in json.dumps(status["schema"])
    runs = operation(document, "get", "/api/sync/runs")
    status = next(p for p in runs["parameters"] if p["name"] == "status")
    assert "queued" in json.dumps(status["schema"])

    refused = user.get("/api/sync/runs", params={"status": "waiting"})
    assert refused.status_code == 400
    assert refused.json()["details"][0]["field"] == "status"


def test_operations_have_stable_readable_ids(document: dict[str, Any]) -> None:
    ids = {
        (method, path): op["operationId"]
        for path, item in document["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }
    assert ids[("post", "/api/sync/schedules")] == "createSchedule"
    assert ids[("get", "/api/sync/schedules")] == "listSchedules"
    assert ids[("post", "/api/sync/schedules/{schedule_id}/sync")] == "manualSync"
    assert ids[("get", "/api/sync/schedules/{schedule_id}/history")] == "getSyncHistory"
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids.values()), ids
    assert len(set(ids.values())) == len(ids)


@pytest.mark.parametrize("enabled", ["true", 1, 0])
def test_a_value_of_another_type_than_documented_is_refused_not_converted(
    user: ApiUser, enabled: object
) -> None:
    response = user.post(
        "/api/sync/schedules",
        json={
            "name": "Loose",
            "dataSourceId": "0b6f6f0e-0000-4000-8000-000000000000",
            "targetFileId": "0b6f6f0e-0000-4000-8000-000000000001",
            "frequency": "hourly",
            "enabled": enabled,
        },
    )
    assert response.status_code == 400
    assert [d["field"] for d in response.json()["details"]] == ["enabled"]
