"""Starting the Sheets stand-in (in a thread or as its own process) and driving it through
its `/_standin/` control API, the same way from either."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from tests.standins.sheets.keys import ServiceAccountKey
from tests.standins.sheets.server import SheetsStandInServer, StandInState

REPO_ROOT = Path(__file__).resolve().parents[3]


class SheetsStandInControl:
    """Client of the control API. `url` is the stand-in's root: give it to the connector as
    `sheetsBaseUrl`, and `token_uri` as `tokenUri`."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.token_uri = self.url + "/token"
        # Never through a proxy, whatever the environment says: the stand-in is local.
        self._http = requests.Session()
        self._http.trust_env = False

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, f"{self.url}/_standin/{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def health(self) -> bool:
        return bool(self._call("GET", "health").get("ok"))

    def reset(self) -> None:
        self._call("POST", "reset")

    def load_state(self, state: dict[str, Any]) -> None:
        self._call("PUT", "state", state)

    def put_spreadsheet(
        self,
        spreadsheet_id: str,
        title: str,
        sheets: dict[str, list[list[Any]]] | list[dict[str, Any]],
        readers: list[str] | None = None,
    ) -> None:
        """`sheets` maps titles to rows, or lists full sheet objects (`generate`, grid size)."""
        if isinstance(sheets, dict):
            sheets = [{"title": t, "rows": rows} for t, rows in sheets.items()]
        self._call(
            "PUT",
            f"spreadsheets/{quote(spreadsheet_id, safe='')}",
            {"title": title, "sheets": sheets, "readers": readers},
        )

    def put_sheet(self, spreadsheet_id: str, title: str, rows: list[list[Any]]) -> None:
        """Edits one sheet in place (a user changing the sheet between syncs)."""
        self._call(
            "PUT",
            f"spreadsheets/{quote(spreadsheet_id, safe='')}/sheets/{quote(title, safe='')}",
            {"rows": rows},
        )

    def put_generated_sheet(
        self, spreadsheet_id: str, title: str, rows: int, columns: int, seed: int = 0
    ) -> None:
        """A header `col1…colN` and `rows` rows of `r{i}c{j}`, generated server-side."""
        self._call(
            "PUT",
            f"spreadsheets/{quote(spreadsheet_id, safe='')}/sheets/{quote(title, safe='')}",
            {"generate": {"rows": rows, "columns": columns, "seed": seed}},
        )

    def delete_spreadsheet(self, spreadsheet_id: str) -> None:
        self._call("DELETE", f"spreadsheets/{quote(spreadsheet_id, safe='')}")

    def register_service_account(self, key: ServiceAccountKey) -> None:
        self._call("PUT", f"service-accounts/{quote(key.email, safe='')}", key.registration())

    def register_oauth_client(self, client_id: str, client_secret: str) -> None:
        self._call(
            "PUT", f"oauth-clients/{quote(client_id, safe='')}", {"clientSecret": client_secret}
        )

    def put_refresh_token(
        self,
        token: str,
        client_id: str,
        user: str = "alice@example.com",
        revoked: bool = False,
        scopes: list[str] | None = None,
        expires_in_seconds: int | None = None,
    ) -> None:
        """A refresh token as Google would have issued it; `scopes` granted (default: the
        Sheets and Drive scopes), `revoked` makes the grant answer invalid_grant (putting
        a token again with `revoked=True` revokes its grant), `expires_in_seconds` is told
        in every token answer as `refresh_token_expires_in` (apps in testing mode)."""
        self._call(
            "PUT",
            f"refresh-tokens/{quote(token, safe='')}",
            {
                "clientId": client_id,
                "user": user,
                "revoked": revoked,
                "scopes": scopes,
                "expiresInSeconds": expires_in_seconds,
            },
        )

    def add_fault(
        self,
        status: int | None = 429,
        times: int | None = 1,
        retry_after: float | None = None,
        match: str | None = None,
        delay_seconds: float = 0.0,
    ) -> None:
        """The next `times` API requests (None: every one) whose path contains `match`
        answer `status` (None: answer normally, only `delay_seconds` late)."""
        self._call(
            "POST",
            "faults",
            {
                "status": status,
                "times": times,
                "retryAfter": retry_after,
                "match": match,
                "delaySeconds": delay_seconds,
            },
        )

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def expire_access_tokens(self) -> None:
        self._call("POST", "expire-access-tokens")

    def settings(self, **values: Any) -> None:
        """`tokenLifetimeSeconds`, `readQuotaPerMinute`, `driveMetadataRefused`."""
        self._call("PUT", "settings", values)

    def refuse_drive_metadata(self, refused: bool = True) -> None:
        """Drive's metadata requests answer 403 insufficient scope (the scope not granted)."""
        self.settings(driveMetadataRefused=refused)

    def request_counts(self) -> dict[str, int]:
        """API and token requests seen since the log was last cleared, by "METHOD /path"."""
        return dict(self._call("GET", "request-counts")["counts"])

    def requests(self) -> list[dict[str, Any]]:
        """API and token requests seen, oldest first: method, path, query, status."""
        return list(self._call("GET", "requests")["requests"])

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")


class InThreadStandIn(SheetsStandInControl):
    def __init__(self, server: SheetsStandInServer) -> None:
        super().__init__(server.url)
        self.server = server
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@contextmanager
def standin_in_thread(
    port: int = 0, state: dict[str, Any] | None = None
) -> Iterator[InThreadStandIn]:
    initial = StandInState()
    if state:
        initial.load(state)
    standin = InThreadStandIn(SheetsStandInServer(port, initial))
    try:
        yield standin
    finally:
        standin.stop()


class StandInProcess(SheetsStandInControl):
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        super().__init__(url)
        self.process = process

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def start_standin_process(
    port: int = 0, state_file: Path | None = None, timeout: float = 15.0
) -> StandInProcess:
    """`python -m tests.standins.sheets` in its own process; returns once it answers."""
    command = [sys.executable, "-m", "tests.standins.sheets", "--port", str(port)]
    if state_file is not None:
        command += ["--state-file", str(state_file)]
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    line = process.stdout.readline()  # "SHEETS_STANDIN_URL=http://127.0.0.1:PORT"
    if not line.startswith("SHEETS_STANDIN_URL="):
        process.kill()
        raise RuntimeError(f"sheets stand-in did not start: {line!r}")
    standin = StandInProcess(process, line.strip().split("=", 1)[1])
    while time.monotonic() < deadline:
        try:
            if standin.health():
                return standin
        except requests.ConnectionError:
            time.sleep(0.05)
    standin.stop()
    raise RuntimeError("sheets stand-in did not answer in time")


def write_state_file(path: Path, state: dict[str, Any]) -> Path:
    path.write_text(json.dumps(state))
    return path
