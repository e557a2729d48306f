"""A local stand-in for Google's OAuth token endpoint and the Sheets API v4, over real HTTP.

Google side (what gspread and google-auth talk to):
- `POST /token`: the service-account JWT-bearer grant (the assertion's RS256 signature is
  checked against the registered public key) and the refresh_token grant
  (`invalid_client`, `invalid_grant` "Token has been expired or revoked.").
- `GET /v4/spreadsheets/{id}`: metadata; `GET /v4/spreadsheets/{id}/values/{range}` and
  `GET /v4/spreadsheets/{id}/values:batchGet?ranges=…`: values, trailing empty cells and
  rows left out, FORMATTED_VALUE / UNFORMATTED_VALUE, SERIAL_NUMBER / FORMATTED_STRING.
- `GET /drive/v3/files/{id}?fields=modifiedTime,version`: Drive's file metadata, for change
  detection; needs a Drive scope (drive.metadata.readonly or wider), else 403 with Google's
  insufficient-scope body, as does every request while `driveMetadataRefused` is set.
- Errors with Google's body shape: 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404
  NOT_FOUND, 400 INVALID_ARGUMENT, 429 RESOURCE_EXHAUSTED with `Retry-After`.

Test side, under `/_standin/` (see `control.py` for a client): set spreadsheets and sheet
contents (each change moves the file's Drive version on), register service-account keys,
OAuth clients and refresh tokens, queue faults (429/5xx/slow responses), expire access
tokens, refuse Drive metadata, read the request log and the request counts per path, reset.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt

from tests.standins.sheets.sheet_data import (
    RangeError,
    Sheet,
    Spreadsheet,
    a1,
    grid_bounds,
    read_values,
    split_range,
)

GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
READ_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/spreadsheets.readonly",
        "https://www.googleapis.com/auth/spreadsheets",
        "https://www.googleapis.com/auth/drive.readonly",
        "https://www.googleapis.com/auth/drive",
    }
)
DRIVE_METADATA_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/drive.metadata.readonly",
        "https://www.googleapis.com/auth/drive.metadata",
        "https://www.googleapis.com/auth/drive.readonly",
        "https://www.googleapis.com/auth/drive",
    }
)
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_DEFAULT_MESSAGES = {
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute "
    "per user' of service 'sheets.googleapis.com' for consumer 'project_number:000000000000'.",
    500: "Internal error encountered.",
    502: "The service is currently unavailable.",
    503: "The service is currently unavailable.",
    504: "The service is currently unavailable.",
}


@dataclass
class Fault:
    """Answer the next `times` matching requests (None: all of them) with `status`, or just
    delay them by `delaySeconds` when status is None."""

    status: int | None = 429
    times: int | None = 1
    retry_after: float | None = None
    match: str | None = None  # substring of the request path; None matches API requests
    delay_seconds: float = 0.0

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Fault:
        return cls(
            status=body.get("status", 429),
            times=body.get("times", 1),
            retry_after=body.get("retryAfter"),
            match=body.get("match"),
            delay_seconds=float(body.get("delaySeconds", 0.0)),
        )


@dataclass
class _AccessToken:
    principal: str
    scopes: frozenset[str]
    expires_at: float
    refresh_token: str | None = None  # the OAuth grant it was issued from


@dataclass
class StandInState:
    spreadsheets: dict[str, Spreadsheet] = field(default_factory=dict)
    service_accounts: dict[str, dict[str, str]] = field(default_factory=dict)
    oauth_clients: dict[str, dict[str, str]] = field(default_factory=dict)
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_lifetime_seconds: int = 3600
    read_quota_per_minute: int | None = None  # like Google's 60 reads/min per user when set
    faults: list[Fault] = field(default_factory=list)
    access_tokens: dict[str, _AccessToken] = field(default_factory=dict)
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10_000))
    reads: dict[str, deque[float]] = field(default_factory=dict)
    # Drive answers every metadata request 403 insufficient scope (a token without the
    # Drive scope, or an operator who never granted it).
    drive_metadata_refused: bool = False

    def load(self, body: dict[str, Any]) -> None:
        """Replaces spreadsheets and identities with the state-file / control-API shape."""
        self.spreadsheets = {
            sid: Spreadsheet.from_json(sid, s) for sid, s in body.get("spreadsheets", {}).items()
        }
        self.service_accounts = dict(body.get("serviceAccounts", {}))
        self.oauth_clients = dict(body.get("oauthClients", {}))
        self.refresh_tokens = dict(body.get("refreshTokens", {}))
        self.token_lifetime_seconds = int(body.get("tokenLifetimeSeconds", 3600))
        self.read_quota_per_minute = body.get("readQuotaPerMinute")
        self.faults = [Fault.from_json(f) for f in body.get("faults", [])]
        self.drive_metadata_refused = bool(body.get("driveMetadataRefused", False))

    def dump(self) -> dict[str, Any]:
        return {
            "spreadsheets": {sid: s.to_json() for sid, s in self.spreadsheets.items()},
            "serviceAccounts": self.service_accounts,
            "oauthClients": self.oauth_clients,
            "refreshTokens": self.refresh_tokens,
            "tokenLifetimeSeconds": self.token_lifetime_seconds,
            "readQuotaPerMinute": self.read_quota_per_minute,
            "driveMetadataRefused": self.drive_metadata_refused,
        }


class _Reply(Exception):
    """Ends handling with this status, JSON body and headers."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def google_error(
    status: int,
    message: str | None = None,
    reason: str | None = None,
    service: str = "sheets.googleapis.com",
) -> _Reply:
    error: dict[str, Any] = {
        "code": status,
        "message": message or _DEFAULT_MESSAGES.get(status, HTTPStatus(status).phrase),
        "status": _STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if reason:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
                "metadata": {"service": service},
            }
        ]
    return _Reply(status, {"error": error})


def oauth_error(status: int, error: str, description: str) -> _Reply:
    return _Reply(status, {"error": error, "error_description": description})


class SheetsStandInServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0, state: StandInState | None = None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = state or StandInState()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: SheetsStandInServer
    protocol_version = "HTTP/1.1"  # keep-alive: requests' sessions reuse the connection

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; with Nagle's algorithm on, the body
        # waits for the client's delayed ACK (~40 ms per response on keep-alive).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is kept in state, readable through /_standin/requests

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- plumbing --------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        segments = [unquote(s) for s in parts.path.split("/")[1:]]
        query = parse_qs(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        status, data, headers = 500, b"", {}
        try:
            try:
                self._route(method, segments, query, raw_body)
            except (KeyError, ValueError, TypeError) as error:
                raise google_error(400, f"stand-in could not use the request: {error!r}") from None
        except _Reply as reply:
            status, headers = reply.status, reply.headers
            data = (
                b""
                if reply.body is None
                else json.dumps(reply.body, separators=(",", ":")).encode()
            )
        finally:
            # Logged before the answer goes out: a client holding its answer finds its
            # request in the log.
            if segments and segments[0] != "_standin":
                with self.server.lock:
                    self.server.state.requests.append(
                        {
                            "method": method,
                            "path": unquote(parts.path),
                            "query": query,
                            "status": status,
                            "bytes": len(data),
                            "at": time.time(),
                        }
                    )
        self._send(status, data, headers)

    def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        # A client that gave up (a timeout test) is not told anything.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def _route(
        self, method: str, segments: list[str], query: dict[str, list[str]], raw: bytes
    ) -> None:
        if segments[:1] == ["_standin"]:
            self._control(method, segments[1:], raw)
        if method == "POST" and segments == ["token"]:
            self._apply_faults("/token")
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            raise _Reply(200, self._grant(form))
        if method == "GET" and segments[:2] == ["v4", "spreadsheets"] and len(segments) >= 3:
            self._apply_faults("/" + "/".join(segments))
            principal = self._authenticate()
            spreadsheet = self._readable(segments[2], principal)
            if len(segments) == 3:
                raise _Reply(200, spreadsheet.metadata())
            if len(segments) == 4 and segments[3] == "values:batchGet":
                ranges = query.get("ranges", [])
                value_ranges = [self._values(spreadsheet, r, query) for r in ranges]
                raise _Reply(
                    200,
                    {"spreadsheetId": spreadsheet.spreadsheet_id, "valueRanges": value_ranges},
                )
            if len(segments) == 5 and segments[3] == "values":
                raise _Reply(200, self._values(spreadsheet, segments[4], query))
        if method == "GET" and segments[:3] == ["drive", "v3", "files"] and len(segments) == 4:
            self._apply_faults("/" + "/".join(segments))
            raise _Reply(200, self._drive_file(segments[3], query))
        raise google_error(404, f"stand-in has no route {method} /{'/'.join(segments)}")

    # -- Google side -----------------------------------------------------------------------

    def _apply_faults(self, path: str) -> None:
        state = self.server.state
        with self.server.lock:
            fault = next(
                (
                    f
                    for f in state.faults
                    if (f.match is None and path != "/token")
                    or (f.match is not None and f.match in path)
                ),
                None,
            )
            if fault is not None and fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    state.faults.remove(fault)
        if fault is None:
            return
        if fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        if fault.status is None:
            return
        if path == "/token":
            raise oauth_error(fault.status, "internal_failure", "stand-in fault")
        reply = google_error(
            fault.status, reason="RATE_LIMIT_EXCEEDED" if fault.status == 429 else None
        )
        if fault.retry_after is not None:
            reply.headers["Retry-After"] = f"{fault.retry_after:g}"
        raise reply

    def _drive_file(self, file_id: str, query: dict[str, list[str]]) -> dict[str, Any]:
        access = self._authenticate(scopes=DRIVE_METADATA_SCOPES, service="drive.googleapis.com")
        with self.server.lock:
            spreadsheet = self.server.state.spreadsheets.get(file_id)
        if spreadsheet is None or (
            spreadsheet.readers is not None and access.principal not in spreadsheet.readers
        ):
            # Drive answers a file the caller may not see as not found, never as forbidden.
            raise google_error(404, f"File not found: {file_id}.", service="drive.googleapis.com")
        return spreadsheet.drive_file(query.get("fields", [""])[0])

    def _authenticate(
        self, scopes: frozenset[str] = READ_SCOPES, service: str = "sheets.googleapis.com"
    ) -> _AccessToken:
        header = self.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        with self.server.lock:
            access = self.server.state.access_tokens.get(token)
        if access is None or access.expires_at <= time.time():
            reply = google_error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
                reason="ACCESS_TOKEN_EXPIRED" if access else "CREDENTIALS_MISSING",
            )
            reply.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
            raise reply
        refused = scopes is DRIVE_METADATA_SCOPES and self.server.state.drive_metadata_refused
        if refused or not access.scopes & scopes:
            raise google_error(
                403,
                "Request had insufficient authentication scopes.",
                reason="ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                service=service,
            )
        self._count_read(access.principal)
        return access

    def _count_read(self, principal: str) -> None:
        state = self.server.state
        if not state.read_quota_per_minute:
            return
        now = time.time()
        with self.server.lock:
            window = state.reads.setdefault(principal, deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= state.read_quota_per_minute:
                reply = google_error(429, reason="RATE_LIMIT_EXCEEDED")
                reply.headers["Retry-After"] = str(max(1, int(window[0] + 60 - now) + 1))
                raise reply
            window.append(now)

    def _readable(self, spreadsheet_id: str, access: _AccessToken) -> Spreadsheet:
        with self.server.lock:
            spreadsheet = self.server.state.spreadsheets.get(spreadsheet_id)
        if spreadsheet is None:
            raise google_error(404)
        if spreadsheet.readers is not None and access.principal not in spreadsheet.readers:
            raise google_error(403)
        return spreadsheet

    def _values(
        self, spreadsheet: Spreadsheet, range_text: str, query: dict[str, list[str]]
    ) -> dict[str, Any]:
        major = query.get("majorDimension", ["ROWS"])[0]
        if major != "ROWS":
            raise google_error(400, "stand-in supports majorDimension=ROWS only")
        value_render = query.get("valueRenderOption", ["FORMATTED_VALUE"])[0]
        date_render = query.get("dateTimeRenderOption", ["SERIAL_NUMBER"])[0]
        try:
            title, cells = split_range(range_text)
            sheet = spreadsheet.sheet(title)
            if sheet is None:
                raise RangeError(f"Unable to parse range: {range_text}")
            bounds = grid_bounds(cells, sheet, range_text)
        except RangeError as error:
            raise google_error(400, str(error)) from None
        body: dict[str, Any] = {
            "range": f"'{sheet.title.replace(chr(39), chr(39) * 2)}'!{a1(*bounds)}",
            "majorDimension": "ROWS",
        }
        values = read_values(sheet, bounds, value_render, date_render)
        if values:
            body["values"] = values  # Google leaves the key out of an empty read
        return body

    def _grant(self, form: dict[str, str]) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        refresh_token = None
        if grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            principal, scopes = self._verify_assertion(form.get("assertion", ""))
        elif grant_type == "refresh_token":
            principal, scopes = self._verify_refresh(form)
            refresh_token = form.get("refresh_token")
        else:
            raise oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        token = "ya29.standin-" + secrets.token_urlsafe(24)
        state = self.server.state
        with self.server.lock:
            state.access_tokens[token] = _AccessToken(
                principal,
                frozenset(scopes),
                time.time() + state.token_lifetime_seconds,
                refresh_token,
            )
        answer: dict[str, Any] = {
            "access_token": token,
            "expires_in": state.token_lifetime_seconds,
            "scope": " ".join(sorted(scopes)),
            "token_type": "Bearer",
        }
        with self.server.lock:
            grant = state.refresh_tokens.get(refresh_token or "") or {}
        if grant.get("expiresInSeconds") is not None:
            # Google's answer for an app in testing mode: the grant ends 7 days after consent.
            answer["refresh_token_expires_in"] = grant["expiresInSeconds"]
        return answer

    def _verify_assertion(self, assertion: str) -> tuple[str, set[str]]:
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise oauth_error(400, "invalid_grant", "Invalid JWT Signature.") from None
        issuer = str(claims.get("iss", ""))
        with self.server.lock:
            account = self.server.state.service_accounts.get(issuer)
        if account is None:
            raise oauth_error(400, "invalid_grant", "Invalid grant: account not found")
        if account.get("keyId") and header.get("kid") != account["keyId"]:
            raise oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        try:
            # google-auth always signs for Google's token audience, whatever token_uri says.
            claims = jwt.decode(
                assertion,
                account["publicKeyPem"],
                algorithms=["RS256"],
                audience=[GOOGLE_TOKEN_AUDIENCE, self.server.url + "/token"],
                options={"require": ["iss", "aud", "exp", "iat"]},
                leeway=60,
            )
        except jwt.InvalidSignatureError:
            raise oauth_error(400, "invalid_grant", "Invalid JWT Signature.") from None
        except jwt.PyJWTError:
            raise oauth_error(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe. Check your iat and exp values in the JWT claim.",
            ) from None
        if claims["exp"] - claims["iat"] > 3600:
            raise oauth_error(400, "invalid_grant", "Invalid JWT: Token must be short-lived.")
        scopes = set(str(claims.get("scope", "")).split())
        if not scopes:
            raise oauth_error(
                400, "invalid_scope", "Invalid OAuth scope or ID token audience provided."
            )
        return issuer, scopes

    def _verify_refresh(self, form: dict[str, str]) -> tuple[str, set[str]]:
        state = self.server.state
        with self.server.lock:
            client = state.oauth_clients.get(form.get("client_id", ""))
            grant = state.refresh_tokens.get(form.get("refresh_token", ""))
        if client is None or client.get("clientSecret") != form.get("client_secret"):
            raise oauth_error(401, "invalid_client", "Unauthorized")
        if grant is None or grant.get("revoked") or grant.get("clientId") != form.get("client_id"):
            raise oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        granted = set(grant.get("scopes") or READ_SCOPES)
        requested = set(form.get("scope", "").split()) or granted
        if not requested <= granted:
            raise oauth_error(400, "invalid_scope", "Bad Request")
        return str(grant.get("user", "user@example.com")), requested

    # -- test side -------------------------------------------------------------------------

    def _control(self, method: str, path: list[str], raw: bytes) -> None:
        body = json.loads(raw) if raw else {}
        state, lock = self.server.state, self.server.lock
        with lock:
            match method, path:
                case "GET", ["health"]:
                    raise _Reply(200, {"ok": True})
                case "GET", ["state"]:
                    raise _Reply(200, state.dump())
                case "PUT", ["state"]:
                    state.load(body)
                case "POST", ["reset"]:
                    state.load({})
                    state.access_tokens.clear()
                    state.requests.clear()
                    state.reads.clear()
                case "PUT", ["spreadsheets", spreadsheet_id]:
                    state.spreadsheets[spreadsheet_id] = Spreadsheet.from_json(
                        spreadsheet_id, body
                    ).edited(state.spreadsheets.get(spreadsheet_id))
                case "DELETE", ["spreadsheets", spreadsheet_id]:
                    state.spreadsheets.pop(spreadsheet_id, None)
                case "PUT", ["spreadsheets", spreadsheet_id, "sheets", title]:
                    self._put_sheet(state.spreadsheets[spreadsheet_id], title, body)
                case "PUT", ["service-accounts", email]:
                    state.service_accounts[email] = body
                case "PUT", ["oauth-clients", client_id]:
                    state.oauth_clients[client_id] = body
                case "PUT", ["refresh-tokens", token]:
                    state.refresh_tokens[token] = body
                    if body.get("revoked"):
                        # Revoking a grant ends the access tokens issued from it, as
                        # Google's revocation does.
                        for access in state.access_tokens.values():
                            if access.refresh_token == token:
                                access.expires_at = 0
                case "POST", ["faults"]:
                    state.faults.append(Fault.from_json(body))
                case "DELETE", ["faults"]:
                    state.faults.clear()
                case "POST", ["expire-access-tokens"]:
                    for access in state.access_tokens.values():
                        access.expires_at = 0
                case "PUT", ["settings"]:
                    if "tokenLifetimeSeconds" in body:
                        state.token_lifetime_seconds = int(body["tokenLifetimeSeconds"])
                    if "readQuotaPerMinute" in body:
                        state.read_quota_per_minute = body["readQuotaPerMinute"]
                    if "driveMetadataRefused" in body:
                        state.drive_metadata_refused = bool(body["driveMetadataRefused"])
                case "GET", ["requests"]:
                    raise _Reply(200, {"requests": list(state.requests)})
                case "GET", ["request-counts"]:
                    counts: dict[str, int] = {}
                    for seen in state.requests:
                        key = f"{seen['method']} {seen['path']}"
                        counts[key] = counts.get(key, 0) + 1
                    raise _Reply(200, {"counts": counts})
                case "DELETE", ["requests"]:
                    state.requests.clear()
                case _:
                    raise _Reply(404, {"error": f"no control route {method} {'/'.join(path)}"})
        raise _Reply(200, {"ok": True})

    @staticmethod
    def _put_sheet(spreadsheet: Spreadsheet, title: str, body: dict[str, Any]) -> None:
        """Replaces (or adds) one sheet's contents, keeping its sheetId: an edit in place."""
        existing = spreadsheet.sheet(title)
        sheet_id = existing.sheet_id if existing else len(spreadsheet.sheets)
        sheet = Sheet.from_json({**body, "title": title, "sheetId": sheet_id}, sheet_id)
        if existing:
            spreadsheet.sheets[spreadsheet.sheets.index(existing)] = sheet
        else:
            spreadsheet.sheets.append(sheet)
        spreadsheet.edited(spreadsheet)
