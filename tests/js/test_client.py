"""The JavaScript client: served by the service, and its own node:test suite run under Node
against the API as its own process with a real worker."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

CLIENT_DIR = ROOT / "app" / "dashboard" / "static" / "client"
SUITE = Path(__file__).with_name("client.test.mjs")
NODE = shutil.which("node")


def test_the_service_serves_the_client_module_and_its_types(live_server: str) -> None:
    module = httpx.get(f"{live_server}/client/datasync.js")
    assert module.status_code == 200
    assert module.headers["content-type"].startswith("text/javascript")
    assert module.text == (CLIENT_DIR / "datasync.js").read_text(encoding="utf-8")
    types = httpx.get(f"{live_server}/client/datasync.d.ts")
    assert types.status_code == 200
    assert "export declare class DataSyncClient" in types.text


@pytest.mark.skipif(
    NODE is None, reason="node is not installed (the README's test command installs Node 20)"
)
@pytest.mark.usefixtures("worker")
def test_the_client_suite_passes_under_node_against_a_live_server(
    live_server: str, tmp_path: Path
) -> None:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--test", "--test-reporter=spec", str(SUITE)],
        env={**os.environ, "DATASYNC_URL": live_server, "DATASYNC_TMP": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# fail 0" in done.stdout or "fail 0" in done.stdout, done.stdout
