"""Previewing a sync: a dry run on a real worker against the `test-table` source. It answers
what a sync would write and trip over, and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.preview import service
from app.settings import Settings
from tests.conftest import ApiUser, IsolatedService
from tests.sync.tables import write_table

pytestmark = pytest.mark.usefixtures("live_worker")


HEADER = ["id", "name", "amount"]


def codes(preview: dict[str, Any]) -> list[str]:
    return [warning["code"] for warning in preview["warnings"]]


def unsaved(user: ApiUser, body: dict[str, Any], **params: Any) -> Any:
    return user.post("/api/sync/preview", json=body, params=params)


def test_a_new_target_previews_every_row_as_added(user: ApiUser, tmp_path: Path) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, [["1", "Ann", "10.50"], ["2", "Bob", ""]])
    body = {
        "dataSourceId": user.data_source(),
        "targetFileId": user.target_file(),
        "config": {"path": str(table), "primaryKey": "id"},
    }

    response = unsaved(user, body)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "preview": {
            "columns": HEADER,
            "rows": [["1", "Ann", "10.50"], ["2", "Bob", ""]],
            "rowCount": 2,
            "changes": {"added": 2, "updated": 0, "deleted": 0},
            "columnsAdded": [],
            "columnsRemoved": [],
            "warnings": [],
        },
    }


def test_a_saved_schedule_previews_the_counts_its_next_sync_then_reports(
    user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, [["1", "Ann", "1"], ["2", "Bob", "2"]])
    schedule_id = user.schedule(
        user.data_source(), user.target_file(), path=str(table), primaryKey="id"
    )
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    write_table(table, [*HEADER, "note"], [["2", "Bobby", "2", ""], ["3", "Cid", "3", "x"]])

    preview = user.ok("POST", f"/api/sync/schedules/{schedule_id}/preview")["preview"]
    synced = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")["syncResult"]

    assert preview["changes"] == {k: synced["changes"][k] for k in ("added", "updated", "deleted")}
    assert preview["changes"] == {"added": 1, "updated": 1, "deleted": 1}
    assert preview["rowCount"] == synced["rowCount"] == 2
    assert (preview["columnsAdded"], preview["columnsRemoved"]) == (["note"], [])
    assert preview["rows"] == [["2", "Bobby", "2", ""], ["3", "Cid", "3", "x"]]


def test_a_preview_writes_no_version_history_run_webhook_or_byte(
    user: ApiUser, tmp_path: Path, settings: Settings
) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, [["1", "Ann", "1"]])
    file_id = user.target_file()
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table))
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    hook = user.ok(
        "POST", "/api/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["sync.success"]}
    )["webhook"]
    write_table(table, HEADER, [["1", "Ann", "1"], ["2", "Bob", "2"]])
    before = {
        "content": user.get(f"/api/files/{file_id}/content").content,
        "versions": user.ok("GET", f"/api/files/{file_id}/versions"),
        "history": user.ok("GET", f"/api/sync/schedules/{schedule_id}/history"),
        "runs": user.ok("GET", "/api/sync/runs"),
        "file": user.ok("GET", f"/api/files/{file_id}"),
    }
    folder = Path(settings.files_dir)
    files_before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    assert any(p.suffix == ".csv" for p in files_before)

    preview = user.ok("POST", f"/api/sync/schedules/{schedule_id}/preview")["preview"]

    assert preview["changes"] == {"added": 1, "updated": 0, "deleted": 0}
    assert before == {
        "content": user.get(f"/api/files/{file_id}/content").content,
        "versions": user.ok("GET", f"/api/files/{file_id}/versions"),
        "history": user.ok("GET", f"/api/sync/schedules/{schedule_id}/history"),
        "runs": user.ok("GET", "/api/sync/runs"),
        "file": user.ok("GET", f"/api/files/{file_id}"),
    }
    assert user.ok("GET", f"/api/webhooks/{hook['id']}/deliveries")["deliveries"] == []
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == files_before


def test_limit_defaults_to_50_goes_up_to_500_and_is_refused_beyond(
    user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, [[str(i), "n", "1"] for i in range(600)])
    body = {"dataSourceId": user.data_source(), "config": {"path": str(table)}}

    default = unsaved(user, body).json()["preview"]
    most = unsaved(user, body, limit=500).json()["preview"]
    refused = unsaved(user, body, limit=501)

    assert (len(default["rows"]), default["rowCount"]) == (50, 600)
    assert len(most["rows"]) == 500 and most["rows"][499][0] == "499"
    assert refused.status_code == 400, refused.text
    assert refused.json()["success"] is False
    assert "limit" in refused.text


def test_duplicate_keys_and_blank_or_repeated_headers_are_warned_with_what_a_run_would_do(
    user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", ["id", "", "id"], [["1", "a", "x"], ["1", "b", "y"]])
    body = {
        "dataSourceId": user.data_source(),
        "config": {"path": str(table), "primaryKey": "id"},
    }

    preview = user.ok("POST", "/api/sync/preview", json=body)["preview"]

    assert preview["columns"] == ["id", "column_2", "id_2"]
    assert preview["rows"] == [["1", "a", "x"], ["1", "b", "y"]]
    warnings = {w["code"]: w["message"] for w in preview["warnings"]}
    assert set(warnings) == {"blank_header", "duplicate_header", "primary_key"}
    assert "column_2" in warnings["blank_header"]
    assert "id_2" in warnings["duplicate_header"]
    assert warnings["primary_key"].startswith("A sync would fail")


def test_a_preview_warns_of_the_safety_hold_and_of_numbers_turned_to_text(
    user: ApiUser, tmp_path: Path
) -> None:
    rows = [[str(i), "n", str(i * 2)] for i in range(10)]
    table = write_table(tmp_path / "t.csv", HEADER, rows)
    schedule_id = user.schedule(user.data_source(), user.target_file(), path=str(table))
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    write_table(table, HEADER, [["1", "n", "about ten"]])

    preview = user.ok("POST", f"/api/sync/schedules/{schedule_id}/preview")["preview"]

    warnings = {w["code"]: w["message"] for w in preview["warnings"]}
    assert set(warnings) == {"safety_hold", "type_changed"}
    assert "90% fewer than the 10" in warnings["safety_hold"]
    assert "'amount'" in warnings["type_changed"] and "about ten" in warnings["type_changed"]
    write_table(table, HEADER, [])
    empty = user.ok("POST", f"/api/sync/schedules/{schedule_id}/preview")["preview"]
    assert codes(empty) == ["safety_hold"] and "no rows" in empty["warnings"][0]["message"]


def test_a_connector_error_answers_as_a_failed_manual_sync_and_leaves_no_file(
    user: ApiUser, tmp_path: Path, settings: Settings
) -> None:
    schedule_id = user.schedule(
        user.data_source(), user.target_file(), path=str(tmp_path / "gone.csv")
    )
    folder = Path(settings.files_dir)
    files_before = sorted(folder.rglob("*"))

    preview = user.post(f"/api/sync/schedules/{schedule_id}/preview")
    files_after = sorted(folder.rglob("*"))
    sync = user.post(f"/api/sync/schedules/{schedule_id}/sync")

    assert preview.status_code == sync.status_code == 500
    assert preview.json()["error"] == sync.json()["error"] == "Sync failed"
    assert preview.json()["message"] == sync.json()["message"] == "no table file at gone.csv"
    assert files_after == files_before


def test_unknown_and_foreign_schedules_answer_404(
    user: ApiUser, other_user: ApiUser, tmp_path: Path
) -> None:
    schedule_id = user.schedule(
        user.data_source(), user.target_file(), path=str(tmp_path / "t.csv")
    )

    foreign = other_user.post(f"/api/sync/schedules/{schedule_id}/preview")
    unknown = user.post("/api/sync/schedules/00000000-0000-4000-8000-000000000000/preview")

    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["message"] == unknown.json()["message"]


def test_an_unsaved_schedule_is_validated_as_creating_it_would_be(
    user: ApiUser, other_user: ApiUser
) -> None:
    source_id = user.data_source()
    config = {"path": "table.txt", "minute": 75}
    created = user.post(
        "/api/sync/schedules",
        json={
            "name": "s",
            "dataSourceId": source_id,
            "targetFileId": user.target_file(),
            "frequency": "hourly",
            "config": config,
        },
    )

    refused = unsaved(user, {"dataSourceId": source_id, "config": config})
    foreign = unsaved(other_user, {"dataSourceId": source_id, "config": {"path": "t.csv"}})

    assert refused.status_code == created.status_code == 400
    assert refused.json()["details"] == created.json()["details"]
    assert {d["field"] for d in refused.json()["details"]} == {"config.path", "config.minute"}
    assert foreign.status_code == 400
    assert foreign.json()["details"][0]["field"] == "dataSourceId"


def test_a_preview_that_outlasts_the_wait_answers_504(
    user: ApiUser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, [["1", "Ann", "1"]])
    monkeypatch.setattr(service.worker_side, "PREVIEW_TIMEOUT_SECONDS", 1)
    body = {"dataSourceId": user.data_source(), "config": {"path": str(table), "sleepSeconds": 3}}

    response = unsaved(user, body)

    assert response.status_code == 504, response.text
    assert response.json()["success"] is False
    assert "within 1 s" in response.json()["message"]


def test_a_target_that_escapes_formulas_previews_the_escaped_cells_and_says_so(
    user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, [["1", "=HYPERLINK(1)", "-5"]])
    body = {
        "dataSourceId": user.data_source(),
        "targetFileId": user.target_file(escapeFormulas=True),
        "config": {"path": str(table)},
    }

    preview = user.ok("POST", "/api/sync/preview", json=body)["preview"]

    assert preview["rows"] == [["1", "'=HYPERLINK(1)", "-5"]]
    assert codes(preview) == ["formulas_escaped"]
    assert "'name'" in preview["warnings"][0]["message"]


def test_without_a_worker_a_preview_answers_503_with_retry_after(
    isolated_service: Callable[..., IsolatedService], tmp_path: Path
) -> None:
    service = isolated_service()  # a queue of its own, that no worker serves
    table = write_table(tmp_path / "t.csv", HEADER, [["1", "Ann", "1"]])
    body = {"dataSourceId": service.user.data_source(), "config": {"path": str(table)}}

    response = unsaved(service.user, body)

    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert response.json()["success"] is False


def test_a_blank_key_value_is_warned_with_the_error_the_following_sync_then_fails_with(
    user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, [["1", "Ann", "1"], ["", "Bob", "2"]])
    schedule_id = user.schedule(
        user.data_source(), user.target_file(), path=str(table), primaryKey="id"
    )

    preview = user.ok("POST", f"/api/sync/schedules/{schedule_id}/preview")["preview"]
    sync = user.post(f"/api/sync/schedules/{schedule_id}/sync")

    assert sync.status_code == 500
    assert codes(preview) == ["primary_key"]
    assert preview["warnings"][0]["message"].startswith("A sync would fail: ")
    assert sync.json()["message"] in preview["warnings"][0]["message"]
    assert preview["rowCount"] == 2 and preview["changes"]["added"] == 2
