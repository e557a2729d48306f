"""The stand-in served over HTTPS on 127.0.0.1, in a thread of the test process or as its
own process (`python -m tests.standins.graph`).

One port serves everything: the identity platform at `/{tenant}/...` (so the authority
host is the server's root), Graph at `/v1.0/...`, and the control API at
`/_standin/{operation}` (POST a JSON object of keyword arguments for the `GraphService`
method of that name) for tests that cannot reach the service object directly.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.standins.graph.certificates import TlsFiles, generate_tls_files
from tests.standins.graph.service import GraphService

CONTROL_PREFIX = "/_standin/"
CONTROL_OPERATIONS = frozenset(
    {
        "reset",
        "configure",
        "add_app",
        "deny_app",
        "issue_refresh_token",
        "add_drive",
        "set_workbook",
        "set_worksheet_rows",
        "add_file",
        "add_fault",
        "clear_faults",
        "refuse_item_metadata",
        "request_counts",
        "revoke_access_tokens",
        "revoke_grants",
        "request_log",
        "clear_request_log",
    }
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Graph clients expect
    server: _StandInHTTPServer

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith(CONTROL_PREFIX):
            status, payload, headers, delay = self._control(self.path[len(CONTROL_PREFIX) :], body)
        else:
            # HTTP header names are case-insensitive: hand them over lower-cased.
            headers_in = {name.lower(): value for name, value in self.headers.items()}
            response = self.server.service.handle(method, self.path, headers_in, body)
            status, payload, headers, delay = (
                response.status,
                response.body,
                response.headers,
                response.delay_seconds,
            )
        if delay:
            time.sleep(delay)
        data = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _control(self, operation: str, body: bytes) -> tuple[int, Any, dict[str, str], float]:
        if operation not in CONTROL_OPERATIONS:
            return 404, {"error": f"unknown control operation {operation!r}"}, {}, 0.0
        kwargs = json.loads(body or b"{}")
        try:
            result = getattr(self.server.service, operation)(**kwargs)
        except (KeyError, TypeError, AssertionError) as exc:
            return 400, {"error": repr(exc)}, {}, 0.0
        return 200, {"result": result}, {}, 0.0

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the service keeps a request log; stderr noise helps nobody


class _StandInHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, service: GraphService, tls: TlsFiles) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.service = service
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls.cert_file, tls.key_file)
        # The handshake runs in the request's thread, not the accept loop.
        self.socket = context.wrap_socket(
            self.socket, server_side=True, do_handshake_on_connect=False
        )

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-answer (a timeout test) are expected


class GraphStandIn:
    """The stand-in on a port. `base_url` is both the authority host and (with `/v1.0`) the
    Graph base URL; `tls.bundle_file` is what clients should trust."""

    def __init__(
        self, tls_directory: Path, port: int = 0, max_cells_per_response: int = 100_000
    ) -> None:
        self.tls = generate_tls_files(tls_directory)
        self.service = GraphService(max_cells_per_response=max_cells_per_response)
        self._server = _StandInHTTPServer(port, self.service, self.tls)
        self.port = self._server.server_address[1]
        self.base_url = f"https://127.0.0.1:{self.port}"
        self.service.base_url = self.base_url
        self._thread: threading.Thread | None = None

    @property
    def authority_host(self) -> str:
        return self.base_url

    @property
    def graph_base_url(self) -> str:
        return f"{self.base_url}/v1.0"

    def start(self) -> GraphStandIn:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="graph-standin", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def describe(self) -> dict[str, Any]:
        """What another process needs to use this stand-in."""
        return {
            "baseUrl": self.base_url,
            "authorityHost": self.authority_host,
            "graphBaseUrl": self.graph_base_url,
            "port": self.port,
            "caFile": str(self.tls.ca_file),
            "caBundle": str(self.tls.bundle_file),
            "controlUrl": self.base_url + CONTROL_PREFIX,
        }
