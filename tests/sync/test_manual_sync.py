"""Manual sync through the API and a real worker process: the reference page's
`syncResult`, exact change counts, the file's content, versions and change sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ApiUser
from tests.sync.tables import read_csv, write_table

pytestmark = pytest.mark.usefixtures("worker")

HEADER = ["id", "name", "amount"]


def test_first_sync_writes_the_file_and_counts_every_row_as_added(
    user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, [["1", "Ann", "10.50"], ["2", "Bob", ""]])
    file_id = user.target_file()
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table))

    response = user.post(f"/api/sync/schedules/{schedule_id}/sync")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["message"] == "Manual sync completed successfully"
    result = body["syncResult"]
    assert result["scheduleId"] == schedule_id
    assert result["status"] == "success"
    assert (result["rowCount"], result["columnCount"]) == (2, 3)
    assert result["changes"] == {"added": 2, "updated": 0, "deleted": 0}
    assert result["duration"].endswith("s") and isinstance(result["durationMs"], int)
    assert result["fileVersion"] == 1
    content = user.get(f"/api/files/{file_id}/content")
    assert read_csv(content.text) == [HEADER, ["1", "Ann", "10.50"], ["2", "Bob", ""]]


def test_second_sync_reports_exact_changes_by_primary_key(user: ApiUser, tmp_path: Path) -> None:
    table = write_table(
        tmp_path / "t.csv", HEADER, [["1", "Ann", "1"], ["2", "Bob", "2"], ["3", "Cid", "3"]]
    )
    schedule_id = user.schedule(
        user.data_source(), user.target_file(), path=str(table), primaryKey="id"
    )
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    write_table(table, HEADER, [["3", "Cid", "3"], ["2", "Bobby", "2"], ["4", "Dee", "4"]])

    result = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")["syncResult"]

    assert result["changes"] == {"added": 1, "updated": 1, "deleted": 1}
    changes = read_csv(user.get(f"/api/sync/runs/{result['runId']}/changes").text)
    assert changes[0] == ["_change", *HEADER]
    assert sorted(changes[1:]) == [
        ["added", "4", "Dee", "4"],
        ["deleted", "1", "Ann", "1"],
        ["updated", "2", "Bobby", "2"],
    ]


def test_unchanged_source_keeps_file_checksum_etag_and_version(
    user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, [["1", "Ann", "1"]])
    file_id = user.target_file()
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table))
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    before = user.get(f"/api/files/{file_id}/content")

    result = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")["syncResult"]

    after = user.get(f"/api/files/{file_id}/content")
    assert result["changes"] == {"added": 0, "updated": 0, "deleted": 0}
    assert result["fileVersion"] == 1
    assert after.headers["etag"] == before.headers["etag"]
    assert after.content == before.content
    not_modified = user.get(
        f"/api/files/{file_id}/content", headers={"If-None-Match": before.headers["etag"]}
    )
    assert not_modified.status_code == 304
    assert len(user.ok("GET", f"/api/files/{file_id}/versions")["versions"]) == 1
