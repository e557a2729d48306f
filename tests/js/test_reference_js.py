"""The reference page's JavaScript examples, run by Node's `fetch` against the API as its
own process with a real worker: a real client of the published contract, not the test
client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ApiUser, register
from tests.sync.tables import read_csv, write_table

EXAMPLES = Path(__file__).with_name("reference_examples.mjs")
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(
        NODE is None, reason="node is not installed (the README's test command installs Node 20)"
    ),
    pytest.mark.usefixtures("worker"),
]


@pytest.fixture
def live_user(live_server: str) -> Any:
    with httpx.Client(base_url=live_server, timeout=60) as http:
        yield register(http)


def run_examples(
    live_server: str, user: ApiUser, data_source_id: str, target_file_id: str
) -> dict[str, Any]:
    token = user.headers["Authorization"].removeprefix("Bearer ")
    env = {
        **os.environ,
        "DATASYNC_URL": live_server,
        "DATASYNC_TOKEN": token,
        "DATA_SOURCE_ID": data_source_id,
        "TARGET_FILE_ID": target_file_id,
    }
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(EXAMPLES)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_reference_page_javascript_creates_lists_syncs_reads_history_and_deletes(
    live_server: str, live_user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(
        tmp_path / "sales.csv",
        ["id", "region", "amount"],
        [["1", "North", "10.50"], ["2", "South", "7"]],
    )
    # createHourlySync sends no config: the data source's settings hold the selection.
    source_id = live_user.data_source(path=str(table))
    file_id = live_user.target_file("sales-data.csv")

    result = run_examples(live_server, live_user, source_id, file_id)

    created = result["created"]
    assert created["success"] is True, created
    assert created["message"] == "Sync schedule created successfully"
    schedule = created["schedule"]
    assert (schedule["name"], schedule["frequency"], schedule["enabled"]) == (
        "Hourly Data Sync",
        "hourly",
        True,
    )
    assert (schedule["dataSourceId"], schedule["targetFileId"]) == (source_id, file_id)
    assert schedule["nextSyncAt"].endswith(":00:00Z")

    assert [s["id"] for s in result["listed"]] == [schedule["id"]]
    assert result["listed"][0]["dataSourceType"] == "test-table"

    synced = result["synced"]
    assert synced["success"] is True, synced
    assert synced["message"] == "Manual sync completed successfully"
    sync_result = synced["syncResult"]
    assert (sync_result["scheduleId"], sync_result["status"]) == (schedule["id"], "success")
    assert (sync_result["rowCount"], sync_result["columnCount"]) == (2, 3)
    assert sync_result["changes"] == {"added": 2, "updated": 0, "deleted": 0}

    history = result["history"]
    assert history and all(entry["scheduleId"] == schedule["id"] for entry in history)
    manual = next(entry for entry in history if entry["id"] == sync_result["runId"])
    assert (manual["status"], manual["rowCount"], manual["changes"]) == (
        "success",
        2,
        {"added": 2, "updated": 0, "deleted": 0},
    )

    assert result["deleted"] == {"success": True, "message": "Sync schedule deleted successfully"}
    assert result["listedAfterDelete"] == []
    # "Does not delete target CSV file": the synced content is still there.
    content = live_user.get(f"/api/files/{file_id}/content")
    assert read_csv(content.text) == [
        ["id", "region", "amount"],
        ["1", "North", "10.50"],
        ["2", "South", "7"],
    ]


def test_reference_page_javascript_sees_the_error_body_when_the_selection_is_incomplete(
    live_server: str, live_user: ApiUser
) -> None:
    # A data source without a default selection: the page's no-config body cannot work.
    result = run_examples(live_server, live_user, live_user.data_source(), live_user.target_file())

    created = result["created"]
    assert created["success"] is False
    assert created["error"] == "Invalid schedule configuration"
    assert [d["field"] for d in created["details"]] == ["config.path"]
    assert result["listed"] == [] and result["synced"] is None
