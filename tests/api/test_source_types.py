"""`GET /api/source-types` serves each installed type's own declaration, and the API checks
data sources and schedules against that same declaration: a limit the page states is the
limit a request meets."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from app.source_types import controllers
from connectors.registry import UnavailableSourceType, source_types
from tests.conftest import ApiUser

ONE_STORE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def described(user: ApiUser) -> dict[str, dict[str, Any]]:
    response = user.get("/api/source-types")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return {item["type"]: item for item in body["sourceTypes"]}


def fields_of(fields: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {field["key"]: field for field in fields}


@ONE_STORE
def test_every_installed_type_is_described_plugins_included(user: ApiUser) -> None:
    types = described(user)
    assert list(types) == source_types()
    assert types["postgresql"]["displayName"] == "PostgreSQL"
    assert types["test-table"]["displayName"] == "Test table (file)"
    assert all(item["available"] and item["unavailableReason"] is None for item in types.values())


@ONE_STORE
def test_postgresql_is_described_as_form_fields(user: ApiUser) -> None:
    postgresql = described(user)["postgresql"]
    variants = {v["key"]: v for v in postgresql["credentialVariants"]}
    assert list(variants) == ["fields", "connectionString"]
    login = fields_of(variants["fields"]["fields"])
    assert login["password"]["kind"] == "secret" and login["password"]["secret"] is True
    assert login["server"]["required"] is True
    assert (login["port"]["minimum"], login["port"]["maximum"], login["port"]["default"]) == (
        1,
        65535,
        5432,
    )
    assert [c["value"] for c in login["sslmode"]["choices"]][:2] == ["disable", "allow"]
    query = fields_of(postgresql["selection"])["query"]
    assert query["kind"] == "query" and query["required"] is True
    assert fields_of(postgresql["settings"])["batchRows"]["advanced"] is True


@ONE_STORE
def test_each_type_comes_with_json_schemas(user: ApiUser) -> None:
    types = described(user)
    credentials = types["postgresql"]["schemas"]["credentials"]
    assert [v["title"] for v in credentials["oneOf"]] == ["Server and login", "Connection string"]
    assert credentials["oneOf"][1]["required"] == ["connectionString"]
    assert types["test-table"]["schemas"]["selection"]["required"] == ["path"]
    assert types["google-sheets"]["endpointHosts"] == sorted(
        types["google-sheets"]["endpointHosts"]
    )
    assert "oauth2.googleapis.com" in types["google-sheets"]["endpointHosts"]


@ONE_STORE
def test_the_list_needs_a_login(client: TestClient[Any]) -> None:
    assert client.get("/api/source-types").status_code == 401


def test_a_type_that_cannot_load_is_listed_as_unavailable_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(type_name: str) -> Any:
        raise UnavailableSourceType(type_name, "No module named 'vendor_sdk'")

    monkeypatch.setattr(controllers, "source_types", lambda: ["vendor"])
    monkeypatch.setattr(controllers, "connector_class", broken)
    (vendor,) = controllers.described_types.__wrapped__().source_types
    assert (vendor.type, vendor.available) == ("vendor", False)
    assert vendor.unavailable_reason and "vendor_sdk" in vendor.unavailable_reason
    assert vendor.credential_variants == vendor.settings == vendor.selection == []


def detail(response: Any, field: str) -> str:
    assert response.status_code == 400, response.text
    messages = {d["field"]: d["message"] for d in response.json()["details"]}
    assert field in messages, messages
    return messages[field]


@ONE_STORE
def test_a_declared_bound_is_the_bound_a_new_source_meets(user: ApiUser) -> None:
    port = fields_of(described(user)["postgresql"]["credentialVariants"][0]["fields"])["port"]
    credentials = {"server": "db.example.com", "username": "u", "password": "p"}

    def create(port_value: Any) -> Any:
        return user.post(
            "/api/data-sources",
            json={
                "name": "warehouse",
                "type": "postgresql",
                "credentials": credentials | {"port": port_value},
            },
        )

    assert create(port["maximum"]).status_code == 200
    message = detail(create(port["maximum"] + 1), "credentials.port")
    assert "1 to 65535" in message.replace(",", "")
    assert detail(create("5432"), "credentials.port") == message


@ONE_STORE
def test_a_declared_selection_field_is_checked_for_a_schedule(user: ApiUser) -> None:
    batch = fields_of(described(user)["test-table"]["selection"])["batchRows"]
    source = user.post(
        "/api/data-sources",
        json={"name": "table", "type": "test-table", "credentials": {"token": "t"}},
    )
    assert source.status_code == 200, source.text
    file = user.post("/api/files", json={"name": "table.csv"})
    assert file.status_code == 200, file.text

    def schedule(config: dict[str, Any]) -> Any:
        return user.post(
            "/api/sync/schedules",
            json={
                "name": "table",
                "dataSourceId": source.json()["dataSource"]["id"],
                "targetFileId": file.json()["file"]["id"],
                "frequency": "daily",
                "config": {"syncTime": "06:00", "path": "/data/t.csv"} | config,
            },
        )

    assert batch["minimum"] == 1
    assert detail(schedule({"batchRows": 0}), "config.batchRows") == (
        "must be a whole number of at least 1"
    )
    assert detail(schedule({"path": None}), "config.path") == (
        "required (in the schedule's config or the data source's settings)"
    )
