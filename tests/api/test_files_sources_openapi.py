"""The OpenAPI document describes the target file, data source, health and metrics routes as
they answer: each success body is its struct, each status a route answers beyond the shared
ones is listed, and each request limit it states is the one the service enforces (a value
just inside is accepted, one just outside refused naming the field)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import TestClient

from connectors.registry import source_types
from tests.api.openapi_document import component, operation, served_document
from tests.conftest import ApiUser

# The document is the same on every store: read it once.
ONE_STORE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def document(client: TestClient[Any]) -> dict[str, Any]:
    return served_document(client)


def body_schema(document: dict[str, Any], method: str, path: str, status: str) -> dict[str, Any]:
    content = operation(document, method, path)["responses"][status]["content"]
    return component(document, content["application/json"]["schema"])


def request_schema(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    content = operation(document, method, path)["requestBody"]["content"]
    return component(document, content["application/json"]["schema"])


@ONE_STORE
@pytest.mark.parametrize(
    ("method", "path", "struct", "fields"),
    [
        ("post", "/api/files", "FileCreated", {"success", "file", "message"}),
        ("get", "/api/files", "FileList", {"success", "files", "totalCount", "pagination"}),
        ("get", "/api/files/{file_id}", "FileDetail", {"success", "file"}),
        ("patch", "/api/files/{file_id}", "FileUpdated", {"success", "file", "message"}),
        ("delete", "/api/files/{file_id}", "Done", {"success", "message"}),
        (
            "get",
            "/api/files/{file_id}/versions",
            "FileVersionList",
            {"success", "versions", "totalCount"},
        ),
        ("post", "/api/data-sources", "DataSourceCreated", {"success", "dataSource", "message"}),
        (
            "get",
            "/api/data-sources",
            "DataSourceList",
            {"success", "dataSources", "totalCount", "pagination"},
        ),
        ("get", "/api/data-sources/{source_id}", "DataSourceDetail", {"success", "dataSource"}),
        (
            "patch",
            "/api/data-sources/{source_id}",
            "DataSourceUpdated",
            {"success", "dataSource", "message"},
        ),
        ("delete", "/api/data-sources/{source_id}", "Done", {"success", "message"}),
        (
            "post",
            "/api/data-sources/{source_id}/test",
            "ConnectionTested",
            {"success", "message", "details"},
        ),
        ("get", "/health", "Health", {"success", "status"}),
        ("get", "/ready", "Ready", {"success", "status", "checks"}),
    ],
)
def test_each_success_body_is_its_struct_with_its_fields_required(
    document: dict[str, Any], method: str, path: str, struct: str, fields: set[str]
) -> None:
    schema = operation(document, method, path)["responses"]["200"]["content"]["application/json"]

    assert schema["schema"] == {"$ref": f"#/components/schemas/{struct}"}
    body = component(document, schema["schema"])
    assert set(body["required"]) == fields
    assert body["properties"]["success"]["const"] is True


@ONE_STORE
def test_data_source_bodies_take_credentials_and_never_return_them(
    document: dict[str, Any],
) -> None:
    created = request_schema(document, "post", "/api/data-sources")
    returned = component(document, {"$ref": "#/components/schemas/DataSourceOut"})

    assert "credentials" in created["required"]
    assert "Write-only" in created["properties"]["credentials"]["description"]
    assert "credentials" not in returned["properties"]
    assert "hasCredentials" in returned["required"]


@ONE_STORE
@pytest.mark.parametrize(
    ("method", "path", "status", "title"),
    [
        ("delete", "/api/files/{file_id}", "409", "Conflict"),
        ("delete", "/api/data-sources/{source_id}", "409", "Conflict"),
        ("post", "/api/data-sources/{source_id}/test", "400", "Connection failed"),
        ("get", "/metrics", "401", "Unauthorized"),
    ],
)
def test_the_errors_only_these_routes_answer_are_documented_with_an_example(
    document: dict[str, Any], method: str, path: str, status: str, title: str
) -> None:
    content = operation(document, method, path)["responses"][status]["content"]

    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    (example,) = content["application/json"]["examples"].values()
    assert example["value"]["error"] == title


@ONE_STORE
@pytest.mark.parametrize(
    "path", ["/api/files/{file_id}/content", "/api/files/{file_id}/versions/{version}/content"]
)
def test_file_content_is_documented_as_csv_with_its_etag_and_a_bodiless_304(
    document: dict[str, Any], path: str
) -> None:
    get = operation(document, "get", path)
    answered = get["responses"]

    assert list(answered["200"]["content"]) == ["text/csv"]
    assert {"ETag", "Content-Disposition"} <= set(answered["200"]["headers"])
    assert "content" not in answered["304"]
    assert [p["name"] for p in get["parameters"] if p["in"] == "header"] == ["If-None-Match"]


def test_a_download_sends_every_header_the_document_requires_and_304_without_a_body(
    user: ApiUser, document: dict[str, Any]
) -> None:
    answers = operation(document, "get", "/api/files/{file_id}/content")["responses"]
    required = {name for name, header in answers["200"]["headers"].items() if header["required"]}
    file_id = user.target_file()

    download = user.get(f"/api/files/{file_id}/content")
    cached = user.get(
        f"/api/files/{file_id}/content", headers={"If-None-Match": download.headers["etag"]}
    )

    assert required == {"ETag", "Content-Disposition"}
    assert download.status_code == 200
    assert all(download.headers.get(name) for name in required)
    assert (cached.status_code, cached.content) == (304, b"")


@ONE_STORE
def test_ready_documents_its_503_with_the_checks_and_metrics_its_text_format(
    document: dict[str, Any],
) -> None:
    not_ready = body_schema(document, "get", "/ready", "503")
    metrics = operation(document, "get", "/metrics")["responses"]["200"]["content"]

    assert {"success", "error", "message", "requestId", "checks"} == set(not_ready["required"])
    assert operation(document, "get", "/ready")["responses"]["503"]["headers"]["Retry-After"]
    assert list(metrics) == ["text/plain; version=0.0.4"]


@ONE_STORE
def test_request_limits_are_in_the_document(document: dict[str, Any]) -> None:
    file = request_schema(document, "post", "/api/files")["properties"]
    source = request_schema(document, "post", "/api/data-sources")["properties"]
    type_filter = next(
        p
        for p in operation(document, "get", "/api/data-sources")["parameters"]
        if p["name"] == "type"
    )

    assert (file["name"]["minLength"], file["name"]["maxLength"]) == (1, 255)
    assert file["delimiter"]["enum"] == [",", ";", "\t", "|"]
    assert file["encoding"]["enum"] == ["utf-8", "utf-8-sig"]
    assert (source["name"]["minLength"], source["name"]["maxLength"]) == (1, 200)
    assert source["type"]["enum"] == source_types()
    assert type_filter["schema"]["enum"] == source_types()
    for update in ("/api/files/{file_id}", "/api/data-sources/{source_id}"):
        name = request_schema(document, "patch", update)["properties"]["name"]
        assert "maxLength" in name and "pattern" in name


# The document's limits are the service's: each side of every bound.

FILE_NAMES = [
    ("n" * 255, True),
    ("n" * 256, False),
    (" " + "n" * 255, False),  # measured as sent, though stored stripped
    (" sales.csv ", True),
    ("   ", False),
    ("a/b.csv", False),
    ('say "hi".csv', False),
    ("a\rb.csv", False),
    ("données €.csv", True),
]


@pytest.mark.parametrize(("name", "valid"), FILE_NAMES)
def test_a_file_name_is_accepted_exactly_when_the_documented_pattern_and_length_allow_it(
    user: ApiUser, document: dict[str, Any], name: str, valid: bool
) -> None:
    limits = request_schema(document, "post", "/api/files")["properties"]["name"]
    documented = limits["minLength"] <= len(name) <= limits["maxLength"] and bool(
        re.search(limits["pattern"], name)
    )

    response = user.post("/api/files", json={"name": name})

    assert documented is valid
    assert response.status_code == (200 if valid else 400), response.text
    if valid:
        assert response.json()["file"]["name"] == name.strip()
    else:
        assert [d["field"] for d in response.json()["details"]] == ["name"]


@pytest.mark.parametrize(("name", "valid"), [("s" * 200, True), ("s" * 201, False), (" \t", False)])
def test_a_data_source_name_is_accepted_exactly_within_its_documented_limits(
    user: ApiUser, document: dict[str, Any], name: str, valid: bool
) -> None:
    limits = request_schema(document, "post", "/api/data-sources")["properties"]["name"]
    documented = limits["minLength"] <= len(name) <= limits["maxLength"] and bool(
        re.search(limits["pattern"], name)
    )
    source_id = user.data_source()

    response = user.patch(f"/api/data-sources/{source_id}", json={"name": name})

    assert documented is valid
    assert response.status_code == (200 if valid else 400), response.text
    if not valid:
        assert response.json()["details"] == [
            {"field": "name", "message": "must be 1 to 200 characters, not only spaces"}
        ]


def test_the_type_filter_lists_one_type_and_refuses_an_unregistered_one(user: ApiUser) -> None:
    table_source = user.data_source()

    listed = user.ok("GET", "/api/data-sources", params={"type": "test-table"})
    refused = user.get("/api/data-sources", params={"type": "dropbox"})

    assert table_source in {s["id"] for s in listed["dataSources"]}
    assert {s["type"] for s in listed["dataSources"]} == {"test-table"}
    assert refused.status_code == 400
    (detail,) = refused.json()["details"]
    assert detail["field"] == "type"
    assert detail["message"].startswith("must be one of: ")
