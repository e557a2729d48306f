"""How runs end: safety hold, retries, permanent errors, concurrency, waiting, history."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import ApiUser
from tests.sync.tables import read_csv, write_table

pytestmark = pytest.mark.usefixtures("worker")

HEADER = ["id", "name"]


def rows(n: int, start: int = 0) -> list[list[str]]:
    return [[str(i), f"row {i}"] for i in range(start, start + n)]


def wait_until_done(user: ApiUser, run_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = user.ok("GET", f"/api/sync/runs/{run_id}")["run"]
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} still running after {timeout} s")


def test_safety_hold_keeps_the_file_when_most_rows_vanish(user: ApiUser, tmp_path: Path) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, rows(10))
    file_id = user.target_file()
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table))
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    before = user.get(f"/api/files/{file_id}/content").content
    write_table(table, HEADER, rows(4))

    held = user.post(f"/api/sync/schedules/{schedule_id}/sync")

    assert held.status_code == 500
    body = held.json()
    assert body["success"] is False and body["error"] == "Sync failed"
    assert "60% fewer than the 10" in body["message"] and "force=true" in body["message"]
    assert user.get(f"/api/files/{file_id}/content").content == before
    schedule = user.ok("GET", f"/api/sync/schedules/{schedule_id}")["schedule"]
    assert schedule["lastSyncStatus"] == "error" and "Safety hold" in schedule["lastSyncError"]

    forced = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync?force=true")["syncResult"]

    assert forced["changes"] == {"added": 0, "updated": 0, "deleted": 6}
    assert len(read_csv(user.get(f"/api/files/{file_id}/content").text)) == 5


def test_empty_source_is_held_even_on_the_first_run(user: ApiUser, tmp_path: Path) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, [])
    schedule_id = user.schedule(user.data_source(), user.target_file(), path=str(table))
    response = user.post(f"/api/sync/schedules/{schedule_id}/sync")
    assert response.status_code == 500
    assert "returned no rows" in response.json()["message"]


def test_row_drop_limit_is_configurable(user: ApiUser, tmp_path: Path) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, rows(10))
    schedule_id = user.schedule(
        user.data_source(), user.target_file(), path=str(table), maxRowDropPercent=80
    )
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    write_table(table, HEADER, rows(3))
    assert (
        user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")["syncResult"]["changes"][
            "deleted"
        ]
        == 7
    )


def test_transient_failures_are_retried_with_backoff_then_succeed(
    user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, rows(3))
    schedule_id = user.schedule(
        user.data_source(), user.target_file(), path=str(table), failTimes=2
    )

    first = user.post(f"/api/sync/schedules/{schedule_id}/sync")

    assert first.status_code == 500
    assert first.json()["message"].startswith(
        "Google Sheets API quota exceeded (attempt 1; retrying at"
    )
    assert first.json()["retryAfter"].endswith("Z")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        history = user.ok("GET", f"/api/sync/schedules/{schedule_id}/history")["history"]
        if history[0]["status"] == "success":
            break
        time.sleep(0.2)
    assert [(h["trigger"], h["attempt"], h["status"]) for h in reversed(history)] == [
        ("manual", 1, "error"),
        ("retry", 2, "error"),
        ("retry", 3, "success"),
    ]
    assert (
        user.ok("GET", f"/api/sync/schedules/{schedule_id}")["schedule"]["lastSyncStatus"]
        == "success"
    )


def wait_for_attempt(user: ApiUser, schedule_id: str, attempt: int, timeout: float = 30) -> dict:
    """The schedule's run with this attempt number, once it exists (it may still be queued)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = user.ok("GET", f"/api/sync/schedules/{schedule_id}/history")["history"]
        found = [run for run in history if run["attempt"] == attempt]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no attempt {attempt} of schedule {schedule_id} after {timeout} s")


def test_retries_stop_after_max_retries(user: ApiUser, tmp_path: Path) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, rows(3))
    schedule_id = user.schedule(
        user.data_source(), user.target_file(), path=str(table), failTimes=10
    )
    assert user.post(f"/api/sync/schedules/{schedule_id}/sync").status_code == 500

    last = wait_until_done(user, wait_for_attempt(user, schedule_id, 3)["id"])

    # A retry is stored in the same transaction that ends the run it retries: with the third
    # attempt done, a fourth would already be in the history.
    history = user.ok("GET", f"/api/sync/schedules/{schedule_id}/history")["history"]
    assert [h["attempt"] for h in history] == [3, 2, 1]  # MAX_RETRIES=2 in the test environment
    assert all(h["status"] == "error" for h in history)
    assert "retrying" not in last["error"]
    assert last["retryAfter"] is None  # no retry is coming


def test_expired_token_fails_at_once_without_retry(user: ApiUser, tmp_path: Path) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, rows(3))
    source_id = user.data_source(credentials={"token": "revoked"})
    schedule_id = user.schedule(source_id, user.target_file(), path=str(table))

    response = user.post(f"/api/sync/schedules/{schedule_id}/sync")

    assert response.status_code == 500
    assert response.json() == {
        "success": False,
        "error": "Sync failed",
        "message": "Token expired - re-authentication required",
        "runId": response.json()["runId"],
        "requestId": response.headers["x-request-id"],
    }
    # The answer comes once the run is stored as failed, with its retry if it had one.
    assert len(user.ok("GET", f"/api/sync/schedules/{schedule_id}/history")["history"]) == 1


def test_duplicate_primary_keys_fail_naming_examples(user: ApiUser, tmp_path: Path) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, [["1", "a"], ["1", "b"], ["2", "c"]])
    schedule_id = user.schedule(
        user.data_source(), user.target_file(), path=str(table), primaryKey="id"
    )
    response = user.post(f"/api/sync/schedules/{schedule_id}/sync")
    assert response.status_code == 500
    assert (
        "primary key id is not unique" in response.json()["message"]
        and "e.g. 1" in response.json()["message"]
    )


def test_slow_sync_answers_202_then_can_be_followed(user: ApiUser, tmp_path: Path) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, rows(5))
    schedule_id = user.schedule(
        user.data_source(), user.target_file(), path=str(table), sleepSeconds=2
    )

    accepted = user.post(f"/api/sync/schedules/{schedule_id}/sync?wait=0")

    assert accepted.status_code == 202
    run_id = accepted.json()["runId"]
    assert accepted.json()["syncResult"]["status"] == "running"  # as API.md says, queued or not
    conflict = user.post(f"/api/sync/schedules/{schedule_id}/sync?wait=0")
    assert conflict.status_code == 409
    assert conflict.json()["runId"] == run_id and run_id in conflict.json()["message"]
    live = user.ok("GET", f"/api/sync/runs/{run_id}")["run"]
    assert live["progress"]["phase"] in ("queued", "fetching")
    done = wait_until_done(user, run_id)
    assert done["status"] == "success" and done["progress"] is None and done["rowCount"] == 5


def test_disabled_schedules_can_still_be_synced_by_hand(user: ApiUser, tmp_path: Path) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, rows(2))
    schedule_id = user.schedule(
        user.data_source(), user.target_file(), enabled=False, path=str(table)
    )
    assert (
        user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")["syncResult"]["status"]
        == "success"
    )
    assert user.ok("GET", f"/api/sync/schedules/{schedule_id}")["schedule"]["nextSyncAt"] is None


def test_added_and_removed_columns_are_reported_not_every_row_updated(
    user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(
        tmp_path / "t.csv", ["id", "name", "old"], [["1", "a", "x"], ["2", "b", "y"]]
    )
    schedule_id = user.schedule(
        user.data_source(), user.target_file(), path=str(table), primaryKey="id"
    )
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    write_table(table, ["id", "name", "new"], [["1", "a", "p"], ["2", "B", "q"]])

    result = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")["syncResult"]

    assert result["changes"] == {
        "added": 0,
        "updated": 1,
        "deleted": 0,
        "columnsAdded": ["new"],
        "columnsRemoved": ["old"],
    }


def test_file_options_shape_the_csv_bytes(user: ApiUser, tmp_path: Path) -> None:
    table = write_table(tmp_path / "t.csv", ["id", "", "id"], [["1", 'say "hi"', "a;b"]])
    file_id = user.target_file(delimiter=";", encoding="utf-8-sig")
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table))
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    content = user.get(f"/api/files/{file_id}/content").content
    assert content == '\ufeffid;column_2;id_2\n1;"say ""hi""";"a;b"\n'.encode()


def test_only_values_that_need_it_are_quoted_and_null_differs_from_empty(
    user: ApiUser, tmp_path: Path
) -> None:
    table = tmp_path / "t.parquet"
    pq.write_table(
        pa.table({"id": ["1", "2"], "note": ["", None], "text": ["a,b", "plain"]}), table
    )
    file_id = user.target_file()
    user.ok(
        "POST",
        f"/api/sync/schedules/{user.schedule(user.data_source(), file_id, path=str(table))}/sync",
    )
    assert (
        user.get(f"/api/files/{file_id}/content").content == b'id,note,text\n1,"","a,b"\n2,,plain\n'
    )


def test_only_the_configured_number_of_versions_is_kept(
    user: ApiUser, tmp_path: Path, settings
) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, rows(2))
    file_id = user.target_file()
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table))
    for i in range(settings.file_versions_kept + 2):
        write_table(table, HEADER, rows(2, start=i))
        user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync?force=true")
    versions = user.ok("GET", f"/api/files/{file_id}/versions")["versions"]
    numbers = [v["version"] for v in versions]
    assert numbers == list(range(settings.file_versions_kept + 2, 2, -1))
    oldest = user.get(f"/api/files/{file_id}/versions/{numbers[-1]}/content")
    assert oldest.status_code == 200 and read_csv(oldest.text)[1] == ["2", "row 2"]
    assert user.get(f"/api/files/{file_id}/versions/1/content").status_code == 404
    on_disk = sorted(p.name for p in (settings.files_dir / file_id).glob("v*.csv"))
    assert len(on_disk) == settings.file_versions_kept


def test_history_and_runs_filter_by_status(user: ApiUser, tmp_path: Path) -> None:
    good = write_table(tmp_path / "good.csv", HEADER, rows(2))
    schedule_id = user.schedule(user.data_source(), user.target_file(), path=str(good))
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    revoked = user.data_source(credentials={"token": "revoked"})
    bad_schedule = user.schedule(revoked, user.target_file("b.csv"), path=str(good))
    user.post(f"/api/sync/schedules/{bad_schedule}/sync")

    errors = user.ok("GET", "/api/sync/runs?status=error")
    history = user.ok("GET", f"/api/sync/schedules/{schedule_id}/history?status=success")

    assert [r["scheduleId"] for r in errors["runs"]] == [bad_schedule]
    assert errors["totalCount"] == 1
    assert history["totalCount"] == 1 and history["pagination"] == {
        "limit": 50,
        "offset": 0,
        "hasMore": False,
    }
    entry = history["history"][0]
    assert set(entry) >= {
        "id",
        "scheduleId",
        "status",
        "startedAt",
        "completedAt",
        "duration",
        "rowCount",
        "columnCount",
        "changes",
    }
