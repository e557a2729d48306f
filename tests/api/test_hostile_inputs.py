"""Hostile or unusual input gets a clear 4xx in the error envelope, never a 500: file names
outside Latin-1 in downloads, JSON nested thousands of levels deep, integers past what the
store can hold, NUL characters (PostgreSQL refuses them in text), times past year 9999 and
path ids of any length."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from litestar.testing import TestClient

from app.files.downloads import attachment_disposition
from tests.conftest import ApiUser, register
from tests.sync.tables import read_csv, write_table

ENVELOPE = {"success", "error", "message", "requestId"}
HOOK_URL = "http://127.0.0.1/datasync-hook"


def assert_refused(response: httpx.Response, status: int) -> dict[str, Any]:
    """`status` in the envelope; nothing internal in the message."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) - {"details"} == ENVELOPE
    assert body["success"] is False
    assert body["requestId"] == response.headers["x-request-id"]
    for leak in ("Traceback", "sqlalchemy", "/work/", ".py", "SELECT "):
        assert leak not in body["message"]
    return body


def assert_invalid(response: httpx.Response, field: str, message: str) -> dict[str, Any]:
    """400 whose `details` name exactly `field`, saying `message`."""
    body = assert_refused(response, 400)
    assert body["details"] == [{"field": field, "message": message}]
    return body


@dataclass
class Refs:
    """One user's data source, file, schedule and webhook, to aim requests at."""

    user: ApiUser
    source_id: str
    file_id: str
    schedule_id: str
    webhook_id: str

    def fill(self, template: str) -> str:
        return template.format(
            source=self.source_id,
            file=self.file_id,
            schedule=self.schedule_id,
            webhook=self.webhook_id,
        )

    def body(self, template: dict[str, Any]) -> dict[str, Any]:
        """`template` with the values "{source}" and "{file}" replaced by the ids."""
        ids = {"{source}": self.source_id, "{file}": self.file_id}
        return {
            key: ids.get(value, value) if isinstance(value, str) else value
            for key, value in template.items()
        }


@pytest.fixture(scope="module")
def refs(client: TestClient[Any]) -> Refs:
    user = register(client)
    source_id = user.data_source()
    file_id = user.target_file()
    schedule_id = user.schedule(source_id, file_id, path="/tmp/hostile.csv")
    webhook = user.ok("POST", "/api/webhooks", json={"url": HOOK_URL, "events": ["sync.success"]})
    return Refs(user, source_id, file_id, schedule_id, webhook["webhook"]["id"])


# Downloads of files named outside Latin-1


def filename_star(disposition: str) -> str:
    """The RFC 5987 `filename*` of a Content-Disposition header, decoded."""
    match = re.search(r"filename\*=UTF-8''([^;\s]+)", disposition)
    assert match, disposition
    return unquote(match.group(1), encoding="utf-8", errors="strict")


def ascii_filename(disposition: str) -> str:
    """The quoted `filename` of a Content-Disposition header, unescaped."""
    match = re.search(r'filename="((?:[^"\\]|\\.)*)"', disposition)
    assert match, disposition
    return re.sub(r"\\(.)", r"\1", match.group(1))


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("données €.csv", "donnees _.csv"),
        ("日本語.csv", "___.csv"),
        ("Zürich; Q1 100%.csv", "Zurich; Q1 100%.csv"),
        ("sales-data.csv", "sales-data.csv"),
    ],
)
def test_download_names_the_file_in_filename_star_with_an_ascii_fallback(
    user: ApiUser, name: str, fallback: str
) -> None:
    file_id = user.target_file(name)

    response = user.get(f"/api/files/{file_id}/content")

    assert response.status_code == 200, response.text
    assert response.content == b""  # a new file is empty
    disposition = response.headers["content-disposition"]
    assert disposition.isascii()
    assert disposition.startswith("attachment; ")
    assert filename_star(disposition) == name
    assert ascii_filename(disposition) == fallback


@pytest.mark.usefixtures("worker")
def test_synced_file_named_in_japanese_downloads_its_content_and_its_versions(
    user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", ["id", "city"], [["1", "東京"], ["2", "Zürich"]])
    file_id = user.target_file("日本語.csv")
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table))
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    version = user.ok("GET", f"/api/files/{file_id}/versions")["versions"][0]["version"]

    current = user.get(f"/api/files/{file_id}/content")
    kept = user.get(f"/api/files/{file_id}/versions/{version}/content")

    for response in (current, kept):
        assert response.status_code == 200, response.text
        assert read_csv(response.content.decode("utf-8")) == [
            ["id", "city"],
            ["1", "東京"],
            ["2", "Zürich"],
        ]
        assert filename_star(response.headers["content-disposition"]) == "日本語.csv"
        assert ascii_filename(response.headers["content-disposition"]) == "___.csv"


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ('say "hi".csv', 'say "hi".csv'),
        ("back\\slash.csv", "back\\slash.csv"),
        ("split\r\nSet-Cookie: x=1.csv", "splitSet-Cookie: x=1.csv"),
        ("tab\there.csv", "tab_here.csv"),
    ],
)
def test_content_disposition_escapes_quotes_and_drops_line_breaks(name: str, fallback: str) -> None:
    # The API refuses such names; the header stays well-formed for them all the same.
    disposition = attachment_disposition(name)

    assert "\r" not in disposition and "\n" not in disposition
    assert ascii_filename(disposition) == fallback
    assert filename_star(disposition) == name.replace("\r\n", "")


# JSON nested too deep


def nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def nested_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


DEEP = 5000
TOO_DEEP = "nests deeper than 32 levels"

DEEP_BODIES = [
    pytest.param(
        "POST",
        "/api/data-sources",
        {"name": "Deep", "type": "test-table", "credentials": {"token": "t"}},
        "settings",
        nested_objects(DEEP),
        id="create-data-source-settings",
    ),
    pytest.param(
        "PATCH",
        "/api/data-sources/{source}",
        {},
        "settings",
        nested_objects(DEEP),
        id="update-data-source-settings",
    ),
    pytest.param(
        "POST",
        "/api/sync/schedules",
        {
            "name": "Deep",
            "dataSourceId": "{source}",
            "targetFileId": "{file}",
            "frequency": "hourly",
        },
        "config",
        nested_objects(DEEP),
        id="create-schedule-config",
    ),
    pytest.param(
        "PUT",
        "/api/sync/schedules/{schedule}",
        {},
        "config",
        nested_objects(DEEP),
        id="update-schedule-config",
    ),
    pytest.param(
        "POST",
        "/api/webhooks",
        {"url": HOOK_URL},
        "events",
        nested_arrays(DEEP),
        id="create-webhook-events",
    ),
    pytest.param(
        "PATCH",
        "/api/webhooks/{webhook}",
        {},
        "events",
        nested_arrays(DEEP),
        id="update-webhook-events",
    ),
    pytest.param(
        "POST",
        "/api/files",
        {"name": "deep.csv"},
        "header",
        nested_objects(DEEP),
        id="create-file",
    ),
    pytest.param(
        "POST",
        "/api/auth/register",
        {"email": "deep@example.com", "password": "correct horse battery"},
        "name",
        nested_arrays(DEEP),
        id="register",
    ),
]


def with_raw_value(body: dict[str, Any], field: str, raw_json: str) -> bytes:
    """`body` as JSON with `field` holding `raw_json` (which json.dumps could not build)."""
    return json.dumps({**body, field: "<raw>"}).replace('"<raw>"', raw_json).encode()


@pytest.mark.parametrize(("method", "path", "body", "field", "deep_json"), DEEP_BODIES)
def test_a_body_nested_thousands_deep_is_400_naming_the_field(
    refs: Refs, method: str, path: str, body: dict[str, Any], field: str, deep_json: str
) -> None:
    response = refs.user.request(
        method,
        refs.fill(path),
        content=with_raw_value(refs.body(body), field, deep_json),
        headers={"Content-Type": "application/json"},
    )

    envelope = assert_invalid(response, field, TOO_DEEP)
    assert envelope["message"] == "JSON in a request body may nest at most 32 levels deep"


def test_a_body_at_the_depth_limit_is_accepted_and_one_level_more_is_not(refs: Refs) -> None:
    def create(settings_depth: int) -> httpx.Response:
        # The body is level 1, so `settings` holding 31 nested objects reaches level 32.
        body = {"name": "Deep", "type": "test-table", "credentials": {"token": "t"}}
        content = with_raw_value(body, "settings", nested_objects(settings_depth))
        return refs.user.post("/api/data-sources", content=content)

    at_limit = create(31)
    over_limit = create(32)

    assert at_limit.status_code == 200, at_limit.text
    assert at_limit.json()["dataSource"]["settings"] == json.loads(nested_objects(31))
    assert_invalid(over_limit, "settings", TOO_DEEP)


def test_a_deep_array_as_the_whole_body_is_400_naming_the_body(refs: Refs) -> None:
    response = refs.user.post("/api/sync/schedules", content=nested_arrays(100_000).encode())

    assert_invalid(response, "body", TOO_DEEP)


def test_brackets_inside_strings_do_not_count_as_nesting(refs: Refs) -> None:
    response = refs.user.patch(
        f"/api/data-sources/{refs.source_id}", json={"settings": {"note": "[{" * 5000}}
    )

    assert response.status_code == 200, response.text
    assert response.json()["dataSource"]["settings"]["note"] == "[{" * 5000


# Integers past what the store holds


@pytest.mark.parametrize("version", ["99999999999999999999999", str(2**63), str(2**31), "0", "-1"])
def test_a_file_version_that_cannot_exist_is_404_naming_it(refs: Refs, version: str) -> None:
    response = refs.user.get(f"/api/files/{refs.file_id}/versions/{version}/content")

    body = assert_refused(response, 404)
    assert body["message"].startswith(f"Version {version} of this file")


LIST_PATHS = [
    "/api/files",
    "/api/data-sources",
    "/api/sync/schedules",
    "/api/sync/schedules/{schedule}/history",
    "/api/sync/runs",
    "/api/webhooks",
    "/api/webhooks/{webhook}/deliveries",
]


@pytest.mark.parametrize("path", LIST_PATHS)
@pytest.mark.parametrize("offset", ["99999999999999999999999", str(2**63), str(2**31)])
def test_an_offset_past_the_limit_is_400_naming_offset(refs: Refs, path: str, offset: str) -> None:
    response = refs.user.get(refs.fill(path), params={"offset": offset})

    assert_invalid(response, "offset", "must be `int` <= 2147483647")


@pytest.mark.parametrize("path", LIST_PATHS)
def test_the_largest_offset_answers_an_empty_page(refs: Refs, path: str) -> None:
    body = refs.user.ok("GET", refs.fill(path), params={"offset": str(2**31 - 1)})

    assert body["pagination"] == {"limit": 50, "offset": 2**31 - 1, "hasMore": False}


# NUL characters


NUL_BODIES = [
    pytest.param(
        "POST",
        "/api/data-sources",
        {"name": "Sales\0", "type": "test-table", "credentials": {"token": "t"}},
        "name",
        id="data-source-name",
    ),
    pytest.param(
        "POST",
        "/api/data-sources",
        {"name": "Sales", "type": "test-table", "credentials": {"token": "t\0"}},
        "credentials.token",
        id="data-source-credentials",
    ),
    pytest.param(
        "PATCH",
        "/api/data-sources/{source}",
        {"settings": {"sheet": "Q1\0"}},
        "settings.sheet",
        id="data-source-settings-value",
    ),
    pytest.param(
        "PATCH",
        "/api/data-sources/{source}",
        {"settings": {"nested": {"key\0": 1}}},
        "settings.nested.key\\u0000",
        id="data-source-settings-key",
    ),
    pytest.param(
        "POST",
        "/api/sync/schedules",
        {
            "name": "Nightly\0",
            "dataSourceId": "{source}",
            "targetFileId": "{file}",
            "frequency": "hourly",
            "config": {"path": "/tmp/t.csv"},
        },
        "name",
        id="schedule-name",
    ),
    pytest.param(
        "PUT",
        "/api/sync/schedules/{schedule}",
        {"config": {"path": "/tmp/t.csv\0"}},
        "config.path",
        id="schedule-config-value",
    ),
    pytest.param(
        "PUT", "/api/sync/schedules/{schedule}", {"name": "\0"}, "name", id="schedule-rename"
    ),
    pytest.param(
        "POST",
        "/api/webhooks",
        {"url": HOOK_URL + "\0", "events": ["sync.success"]},
        "url",
        id="webhook-url",
    ),
    pytest.param(
        "PATCH", "/api/webhooks/{webhook}", {"events": ["sync.success\0"]}, "events[0]", id="events"
    ),
    pytest.param("POST", "/api/files", {"name": "a\0.csv"}, "name", id="file-name"),
    pytest.param(
        "POST",
        "/api/auth/register",
        {"email": "nul\0@example.com", "password": "correct horse battery", "name": "N"},
        "email",
        id="register-email",
    ),
    pytest.param(
        "POST",
        "/api/auth/login",
        {"email": "nul\0@example.com", "password": "correct horse battery"},
        "email",
        id="login-email",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), NUL_BODIES)
def test_a_nul_in_any_body_text_is_400_naming_the_field(
    refs: Refs, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    response = refs.user.request(method, refs.fill(path), json=refs.body(body))

    envelope = assert_invalid(response, field, "must not contain NUL (\\u0000)")
    assert "NUL" in envelope["message"]


def test_a_refused_nul_changes_nothing(refs: Refs) -> None:
    before = refs.user.ok("GET", f"/api/sync/schedules/{refs.schedule_id}")["schedule"]

    refs.user.put(f"/api/sync/schedules/{refs.schedule_id}", json={"name": "Renamed\0"})

    assert refs.user.ok("GET", f"/api/sync/schedules/{refs.schedule_id}")["schedule"] == before


def test_malformed_json_with_a_nul_escape_is_still_malformed_json(refs: Refs) -> None:
    response = refs.user.post("/api/data-sources", content=b'{"name": "\\u0000",')

    assert assert_refused(response, 400)["error"] == "Malformed JSON"


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/sync/schedules", "search"),
        ("/api/sync/schedules", "dataSourceType"),
        ("/api/data-sources", "type"),
        ("/api/sync/runs", "status"),
        ("/api/sync/runs", "dataSourceType"),
        ("/api/sync/schedules/{schedule}/history", "status"),
    ],
)
def test_a_nul_in_a_query_parameter_is_400_naming_it(refs: Refs, path: str, parameter: str) -> None:
    response = refs.user.get(refs.fill(path), params={parameter: "sales\0"})

    assert_invalid(response, parameter, "must not contain NUL (%00)")


# Times and path ids at the edges


@pytest.mark.parametrize("path", ["/api/sync/runs", "/api/sync/schedules/{schedule}/history"])
@pytest.mark.parametrize(
    ("parameter", "value"),
    [("from", "0001-01-01T00:00:00+14:00"), ("to", "9999-12-31T23:59:59-14:00")],
)
def test_a_time_beyond_years_1_to_9999_in_utc_is_the_first_or_last_moment_there_is(
    refs: Refs, path: str, parameter: str, value: str
) -> None:
    response = refs.user.get(refs.fill(path), params={parameter: value})

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/api/sync/runs", "/api/sync/schedules/{schedule}/history"])
@pytest.mark.parametrize(
    "value", ["0.5", "1760000000", "2026-02-12", "yesterday", "2026-13-01T00:00Z"]
)
def test_a_time_that_is_not_iso_8601_is_400_naming_it_not_read_as_a_timestamp(
    refs: Refs, path: str, value: str
) -> None:
    response = refs.user.get(refs.fill(path), params={"to": value})

    assert response.status_code == 400, response.text
    assert [d["field"] for d in response.json()["details"]] == ["to"]


def test_a_time_without_an_offset_is_read_as_utc(user: ApiUser) -> None:
    schedule_id = user.schedule(user.data_source(), user.target_file(), path="/tmp/none.csv")
    started = user.post(f"/api/sync/schedules/{schedule_id}/sync", params={"wait": "0"})
    run_id = started.json().get("runId") or started.json()["syncResult"]["runId"]
    now = datetime.now(UTC).replace(tzinfo=None)

    def runs_from(moment: datetime) -> list[str]:
        params = {"from": moment.isoformat(timespec="seconds")}
        return [run["id"] for run in user.ok("GET", "/api/sync/runs", params=params)["runs"]]

    assert runs_from(now - timedelta(minutes=5)) == [run_id]
    assert runs_from(now + timedelta(minutes=5)) == []


@pytest.mark.parametrize(
    ("path", "what"),
    [
        ("/api/files/{id}", "File"),
        ("/api/data-sources/{id}", "Data source"),
        ("/api/sync/schedules/{id}", "Schedule"),
        ("/api/sync/runs/{id}", "Run"),
        ("/api/webhooks/{id}", "Webhook"),
    ],
)
@pytest.mark.parametrize(
    "raw_id", ["x" * 60_000, "a%00b", "%F0%9F%92%A3"], ids=["long", "nul", "emoji"]
)
def test_any_path_id_that_is_not_an_id_is_404(
    refs: Refs, path: str, what: str, raw_id: str
) -> None:
    response = refs.user.get(path.replace("{id}", raw_id))

    assert assert_refused(response, 404)["message"] == f"{what} not found"


LONG_TEXT_BODIES = [
    pytest.param(
        "POST",
        "/api/data-sources",
        {"name": "s", "type": "test-table", "credentials": {"token": "x" * 100_001}},
        "credentials.token",
        id="credential",
    ),
    pytest.param(
        "PUT",
        "/api/sync/schedules/{schedule}",
        {"config": {"path": "p" * 100_001 + ".csv"}},
        "config.path",
        id="schedule-config",
    ),
    pytest.param(
        "POST",
        "/api/webhooks",
        {"url": "https://hooks.example.com/x", "events": ["sync.success"], "secret": "s" * 100_001},
        "secret",
        id="webhook-secret",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), LONG_TEXT_BODIES)
def test_text_over_100_000_characters_anywhere_in_a_body_is_400_naming_the_field(
    refs: Refs, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    response = refs.user.request(method, refs.fill(path), json=refs.body(body))

    assert_invalid(response, field, "must be at most 100000 characters")


def test_a_webhook_secret_over_256_characters_is_400_naming_it(refs: Refs) -> None:
    response = refs.user.post(
        "/api/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["sync.success"], "secret": "s" * 257},
    )

    assert_invalid(response, "secret", "must be 16 to 256 characters (or leave it out to get one)")
