"""Driving a stand-in that runs in another process, through its control API."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests


class GraphStandInControl:
    """The `GraphService` control methods, called over HTTPS (`POST /_standin/{op}`)."""

    def __init__(self, control_url: str, ca_file: str) -> None:
        self._url = control_url.rstrip("/") + "/"
        self._session = requests.Session()
        self._session.trust_env = False  # the stand-in's own CA, whatever the environment says
        self._session.verify = ca_file

    def call(self, operation: str, **kwargs: Any) -> Any:
        response = self._session.post(self._url + operation, json=kwargs, timeout=30)
        if response.status_code != 200:
            raise RuntimeError(f"stand-in control {operation} failed: {response.text}")
        return response.json()["result"]

    def reset(self) -> None:
        self.call("reset")

    def add_app(self, tenant_id: str, client_id: str, secret: str | None = None) -> None:
        self.call("add_app", tenant_id=tenant_id, client_id=client_id, secret=secret)

    def issue_refresh_token(self, client_id: str, user_id: str) -> str:
        return str(self.call("issue_refresh_token", client_id=client_id, user_id=user_id))

    def add_drive(
        self, drive_id: str, user_id: str | None = None, site_id: str | None = None
    ) -> None:
        self.call("add_drive", drive_id=drive_id, user_id=user_id, site_id=site_id)

    def set_workbook(self, drive_id: str, item_id: str, workbook: dict[str, Any]) -> None:
        self.call("set_workbook", drive_id=drive_id, item_id=item_id, workbook=workbook)

    def set_worksheet_rows(
        self, drive_id: str, item_id: str, worksheet: str, rows: list[list[Any]]
    ) -> None:
        self.call(
            "set_worksheet_rows", drive_id=drive_id, item_id=item_id, worksheet=worksheet, rows=rows
        )

    def add_fault(
        self,
        status: int = 429,
        times: int | None = 1,
        retry_after: float | None = None,
        path_contains: str = "/v1.0",
        code: str = "",
        delay_seconds: float = 0.0,
    ) -> None:
        self.call(
            "add_fault",
            status=status,
            times=times,
            retry_after=retry_after,
            path_contains=path_contains,
            code=code,
            delay_seconds=delay_seconds,
        )

    def revoke_access_tokens(self) -> None:
        self.call("revoke_access_tokens")

    def revoke_grants(self, user_id: str) -> None:
        self.call("revoke_grants", user_id=user_id)

    def request_log(self) -> list[list[Any]]:
        return list(self.call("request_log"))

    def request_counts(self) -> dict[str, int]:
        return dict(self.call("request_counts"))

    def refuse_item_metadata(self, refused: bool = True) -> None:
        self.call("refuse_item_metadata", refused=refused)


def start_standin_process(
    tls_dir: Path, timeout_seconds: float = 20.0
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Starts `python -m tests.standins.graph` and waits for its description line. The caller
    terminates the process (`proc.terminate(); proc.wait()`)."""
    describe_file = tls_dir / "standin.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.standins.graph",
            "--port",
            "0",
            "--tls-dir",
            str(tls_dir),
            "--describe-file",
            str(describe_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if describe_file.exists():
            assert proc.stdout is not None
            return proc, json.loads(proc.stdout.readline())
        if proc.poll() is not None:
            raise RuntimeError(f"Graph stand-in exited with {proc.returncode}")
        time.sleep(0.05)
    proc.terminate()
    raise TimeoutError("Graph stand-in did not start")
