"""CSV formula escaping end to end: a target file's `escapeFormulas` decides whether text
that would run as a spreadsheet formula is written with a leading `'`; numbers never are,
and the same source keeps the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ApiUser
from tests.sync.tables import read_csv, write_table

pytestmark = pytest.mark.usefixtures("worker")

HEADER = ["id", "note", "amount"]
ROWS = [
    ["1", '=HYPERLINK("http://evil.example","x")', "-5"],
    ["2", "+cmd|' /C calc'!A0", "+1.5e3"],
    ["3", "@SUM(A1:A2)", "-0.25"],
    ["4", "plain", "7"],
]


def test_a_file_that_escapes_formulas_prefixes_them_and_leaves_numbers_alone(
    user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, ROWS)
    file_id = user.target_file(escapeFormulas=True)
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table), primaryKey="id")

    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")
    first = user.get(f"/api/files/{file_id}/content")
    again = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")["syncResult"]

    assert read_csv(first.text) == [
        HEADER,
        ["1", '\'=HYPERLINK("http://evil.example","x")', "-5"],
        ["2", "'+cmd|' /C calc'!A0", "+1.5e3"],
        ["3", "'@SUM(A1:A2)", "-0.25"],
        ["4", "plain", "7"],
    ]
    assert again["changes"] == {"added": 0, "updated": 0, "deleted": 0}
    assert user.get(f"/api/files/{file_id}/content").headers["etag"] == first.headers["etag"]


def test_turning_escaping_off_writes_the_cells_as_the_source_has_them(
    user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, ROWS)
    file_id = user.target_file(escapeFormulas=True)
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table), primaryKey="id")
    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")

    patched = user.ok("PATCH", f"/api/files/{file_id}", json={"escapeFormulas": False})
    result = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")["syncResult"]

    assert patched["file"]["escapeFormulas"] is False
    assert result["changes"] == {"added": 0, "updated": 3, "deleted": 0}
    assert read_csv(user.get(f"/api/files/{file_id}/content").text) == [HEADER, *ROWS]


def test_by_default_a_database_like_source_is_written_as_it_is(
    user: ApiUser, tmp_path: Path
) -> None:
    """The test source does not declare its cells typed by people, like the SQL sources."""
    table = write_table(tmp_path / "t.csv", HEADER, ROWS)
    file_id = user.target_file()
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table))

    user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")

    assert user.ok("GET", f"/api/files/{file_id}")["file"]["escapeFormulas"] is None
    assert read_csv(user.get(f"/api/files/{file_id}/content").text) == [HEADER, *ROWS]
