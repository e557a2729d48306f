"""What the stand-in answers: the Microsoft identity platform (v2.0 endpoints) and the
Graph drive/workbook endpoints, over plain request → response functions with no sockets.

State changes go through the methods of `GraphService`; the same methods back the HTTP
control API (`/_standin/...`) that tests use when the stand-in runs in another process.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from tests.standins.graph.workbook import (
    Worksheet,
    column_letters,
    parse_address,
    worksheet_from_definition,
)

GRAPH_PREFIX = "/v1.0"


@dataclass
class Response:
    status: int
    body: Any  # JSON-able
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


@dataclass
class App:
    client_id: str
    tenant_id: str
    secret: str | None  # None: a public client (delegated refresh tokens only)
    denied: bool = False  # Graph answers 403 accessDenied for this app's tokens


@dataclass
class Principal:
    """Who an access token speaks for."""

    client_id: str
    tenant_id: str
    user_id: str | None  # None: app-only
    expires_at: float


@dataclass
class Fault:
    """An injected failure for requests whose path contains `path_contains`."""

    status: int
    times: int | None  # None: every matching request until cleared
    retry_after: float | None = None
    path_contains: str = GRAPH_PREFIX
    code: str = ""
    delay_seconds: float = 0.0


@dataclass
class Item:
    name: str
    worksheets: list[Worksheet] | None  # None: a drive item that is not a workbook
    # The driveItem's cTag ("c:{guid},N") and eTag ("{guid},N") count its content
    # versions: every change through the control API moves both on, as a saved edit does.
    guid: str = field(default_factory=lambda: str(uuid.uuid4()).upper())
    version: int = 1
    modified_at: float = field(default_factory=time.time)

    def edited(self, previous: Item | None) -> Item:
        """This item as the next version of `previous` (None: newly created)."""
        if previous is not None:
            self.guid, self.version = previous.guid, previous.version + 1
        self.modified_at = time.time()
        return self

    def metadata(self, item_id: str) -> dict[str, Any]:
        """The driveItem resource as Graph answers `GET …/items/{id}` (the properties the
        stand-in has)."""
        modified = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.modified_at))
        return {
            "id": item_id,
            "name": self.name,
            "cTag": f'"c:{{{self.guid}}},{self.version}"',
            "eTag": f'"{{{self.guid}}},{self.version}"',
            "lastModifiedDateTime": modified,
            "file": {
                "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                if self.worksheets is not None
                else "application/octet-stream"
            },
        }


_ERROR_CODES = {
    400: "badRequest",
    401: "InvalidAuthenticationToken",
    403: "accessDenied",
    404: "itemNotFound",
    429: "tooManyRequests",
    503: "serviceNotAvailable",
    504: "gatewayTimeout",
}


class GraphService:
    def __init__(self, base_url: str = "", max_cells_per_response: int = 100_000) -> None:
        self.base_url = base_url  # set once the server knows its port
        self.max_cells_per_response = max_cells_per_response
        self.token_lifetime_seconds = 3600
        self._lock = threading.RLock()
        self._apps: dict[str, App] = {}
        self._tenants: set[str] = set()
        self._refresh_tokens: dict[str, tuple[str, str, str]] = {}  # rt → client, tenant, user
        self._access_tokens: dict[str, Principal] = {}
        self._drives: dict[str, dict[str, Item]] = {}
        self._drive_aliases: dict[str, str] = {}  # "users/u1" / "sites/s1" / "me/u1" → drive id
        self._faults: list[Fault] = []
        # Item metadata requests (…/items/{id} itself) answer 403, as for an app whose
        # permission reaches the workbook API but not the drive item.
        self.item_metadata_refused = False
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) answered

    # --- control -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything but the address: apps, tokens, drives, faults, the log."""
        with self._lock:
            self._apps.clear()
            self._tenants.clear()
            self._refresh_tokens.clear()
            self._access_tokens.clear()
            self._drives.clear()
            self._drive_aliases.clear()
            self._faults.clear()
            self.item_metadata_refused = False
            self.requests.clear()

    def configure(
        self,
        max_cells_per_response: int | None = None,
        token_lifetime_seconds: int | None = None,
    ) -> None:
        with self._lock:
            if max_cells_per_response is not None:
                self.max_cells_per_response = max_cells_per_response
            if token_lifetime_seconds is not None:
                self.token_lifetime_seconds = token_lifetime_seconds

    def add_app(self, tenant_id: str, client_id: str, secret: str | None = None) -> None:
        with self._lock:
            self._tenants.add(tenant_id)
            self._apps[client_id] = App(client_id, tenant_id, secret)

    def deny_app(self, client_id: str, denied: bool = True) -> None:
        with self._lock:
            self._apps[client_id].denied = denied

    def issue_refresh_token(self, client_id: str, user_id: str) -> str:
        """A refresh token as an interactive sign-in would have left it."""
        with self._lock:
            app = self._apps[client_id]
            token = "rt-" + secrets.token_urlsafe(24)
            self._refresh_tokens[token] = (client_id, app.tenant_id, user_id)
            return token

    def add_drive(
        self, drive_id: str, user_id: str | None = None, site_id: str | None = None
    ) -> None:
        """A drive, reachable as /drives/{id}, and as /users/{user}/drive and /me/drive (for
        that user's delegated tokens) or /sites/{site}/drive."""
        with self._lock:
            self._drives.setdefault(drive_id, {})
            if user_id:
                self._drive_aliases[f"users/{user_id}"] = drive_id
                self._drive_aliases[f"me/{user_id}"] = drive_id
            if site_id:
                self._drive_aliases[f"sites/{site_id}"] = drive_id

    def set_workbook(self, drive_id: str, item_id: str, workbook: Mapping[str, Any]) -> None:
        """Replace a workbook: `{"name"?, "worksheets": [worksheet definitions]}` (see
        `worksheet_from_definition`)."""
        sheets = [worksheet_from_definition(d) for d in workbook["worksheets"]]
        self.put_worksheets(drive_id, item_id, sheets, str(workbook.get("name", f"{item_id}.xlsx")))

    def put_worksheets(
        self, drive_id: str, item_id: str, worksheets: list[Worksheet], name: str = "book.xlsx"
    ) -> None:
        for position, sheet in enumerate(worksheets):
            sheet.position = position
            sheet.id = sheet.id or "{" + str(uuid.uuid4()).upper() + "}"
        with self._lock:
            items = self._drives.setdefault(drive_id, {})
            items[item_id] = Item(name, worksheets).edited(items.get(item_id))

    def set_worksheet_rows(
        self, drive_id: str, item_id: str, worksheet: str, rows: list[list[Any]]
    ) -> None:
        """Edit one worksheet's values in place (formats kept), as a user editing it would."""
        with self._lock:
            item = self._drives[drive_id][item_id]
            sheet = self._find_sheet(item, worksheet)
            assert sheet is not None, f"no worksheet {worksheet}"
            sheet.values = rows
            sheet.__post_init__()
            item.edited(item)

    def refuse_item_metadata(self, refused: bool = True) -> None:
        with self._lock:
            self.item_metadata_refused = refused

    def add_file(self, drive_id: str, item_id: str, name: str) -> None:
        """A drive item that is not a workbook (e.g. a .docx)."""
        with self._lock:
            self._drives.setdefault(drive_id, {})[item_id] = Item(name, None)

    def add_fault(
        self,
        status: int = 429,
        times: int | None = 1,
        retry_after: float | None = None,
        path_contains: str = GRAPH_PREFIX,
        code: str = "",
        delay_seconds: float = 0.0,
    ) -> None:
        """Fail the next `times` matching requests (None: all of them) with `status`."""
        with self._lock:
            self._faults.append(
                Fault(status, times, retry_after, path_contains, code, delay_seconds)
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def revoke_grants(self, user_id: str) -> None:
        """The user's consent is revoked (or the account disabled): every refresh token issued
        for the user answers invalid_grant from now on, as Entra ID's AADSTS50173 does."""
        with self._lock:
            for token, owner in list(self._refresh_tokens.items()):
                if owner[2] == user_id:
                    del self._refresh_tokens[token]

    def revoke_access_tokens(self) -> None:
        """Every access token issued so far stops working (as after a password reset or
        token revocation); clients holding cached tokens get 401 and must get new ones."""
        with self._lock:
            self._access_tokens.clear()

    def clear_request_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def request_log(self) -> list[tuple[str, str, int]]:
        with self._lock:
            return list(self.requests)

    def request_counts(self) -> dict[str, int]:
        """Requests answered since the log was cleared, by "METHOD /path" (no query)."""
        counts: dict[str, int] = {}
        with self._lock:
            for method, raw_path, _status in self.requests:
                key = f"{method} {unquote(raw_path.partition('?')[0])}"
                counts[key] = counts.get(key, 0) + 1
        return counts

    # --- dispatch ----------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        path, _, query = raw_path.partition("?")
        path = unquote(path)
        response = self._injected_fault(path) or self._route(method, path, query, headers, body)
        with self._lock:
            self.requests.append((method, raw_path, response.status))
        return response

    def _injected_fault(self, path: str) -> Response | None:
        with self._lock:
            for fault in self._faults:
                if fault.path_contains in path and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    headers = {}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = f"{fault.retry_after:g}"
                    code = fault.code or _ERROR_CODES.get(fault.status, "generalException")
                    return Response(
                        fault.status,
                        _graph_error_body(code, "Injected by the test."),
                        headers,
                        fault.delay_seconds,
                    )
        return None

    def _route(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        if match := re.fullmatch(r"/([^/]+)/v2\.0/\.well-known/openid-configuration", path):
            return self._openid_configuration(match.group(1))
        if match := re.fullmatch(r"/([^/]+)/oauth2/v2\.0/token", path):
            if method != "POST":
                return Response(405, {"error": "invalid_request"})
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            return self._token(match.group(1), form)
        if path.startswith(GRAPH_PREFIX + "/") and method == "GET":
            return self._graph(path[len(GRAPH_PREFIX) + 1 :], parse_qs(query), headers)
        return Response(404, _graph_error_body("UnknownError", f"No route for {path}"))

    # --- identity platform -------------------------------------------------------------------

    def _openid_configuration(self, tenant: str) -> Response:
        with self._lock:
            known = tenant in self._tenants
        if not known:
            return _aad_error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud.",
            )
        root = f"{self.base_url}/{tenant}"
        return Response(
            200,
            {
                "issuer": f"{root}/v2.0",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "token_endpoint": f"{root}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
                "jwks_uri": f"{root}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                "tenant_region_scope": "EU",
            },
        )

    def _token(self, tenant: str, form: dict[str, str]) -> Response:
        grant = form.get("grant_type")
        client_id = form.get("client_id", "")
        with self._lock:
            app = self._apps.get(client_id)
            if tenant not in self._tenants:
                return _aad_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
            if app is None or app.tenant_id != tenant:
                return _aad_error(
                    400,
                    "unauthorized_client",
                    700016,
                    f"Application with identifier '{client_id}' was not found in the directory "
                    f"'{tenant}'.",
                )
            if grant == "client_credentials":
                if app.secret is None or form.get("client_secret") != app.secret:
                    return _aad_error(
                        401,
                        "invalid_client",
                        7000215,
                        "Invalid client secret provided. Ensure the secret being sent in the "
                        "request is the client secret value, not the client secret ID, for a "
                        f"secret added to app '{client_id}'.",
                    )
                return Response(
                    200, self._access_token_answer(Principal(client_id, tenant, None, 0.0))
                )
            if grant == "refresh_token":
                presented = form.get("refresh_token", "")
                owner = self._refresh_tokens.pop(presented, None)
                if owner is None or owner[0] != client_id:
                    return _aad_error(
                        400,
                        "invalid_grant",
                        70000,
                        "The provided grant is invalid or malformed: the refresh token has been "
                        "revoked, used already or was issued to another client.",
                    )
                user_id = owner[2]
                # Rotation: the presented token is spent; the answer carries its successor.
                successor = "rt-" + secrets.token_urlsafe(24)
                self._refresh_tokens[successor] = owner
                answer = self._access_token_answer(Principal(client_id, tenant, user_id, 0.0))
                answer.update(
                    refresh_token=successor,
                    scope=form.get("scope", ""),
                    client_info=_b64({"uid": user_id, "utid": tenant}),
                    id_token=_unsigned_jwt(
                        {
                            "aud": client_id,
                            "iss": f"{self.base_url}/{tenant}/v2.0",
                            "iat": int(time.time()),
                            "exp": int(time.time()) + 3600,
                            "oid": user_id,
                            "sub": user_id,
                            "tid": tenant,
                            "preferred_username": f"{user_id}@example.test",
                        }
                    ),
                )
                return Response(200, answer)
        return _aad_error(
            400, "unsupported_grant_type", 70003, f"grant_type {grant!r} is not supported."
        )

    def _access_token_answer(self, principal: Principal) -> dict[str, Any]:
        token = "at-" + secrets.token_urlsafe(24)
        principal.expires_at = time.time() + self.token_lifetime_seconds
        self._access_tokens[token] = principal
        return {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime_seconds,
            "ext_expires_in": self.token_lifetime_seconds,
            "access_token": token,
        }

    # --- Graph -------------------------------------------------------------------------------

    def _graph(
        self, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> Response:
        auth = headers.get("authorization", "")  # names arrive lower-cased
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        with self._lock:
            principal = self._access_tokens.get(token)
            if principal is None or principal.expires_at < time.time():
                return Response(
                    401,
                    _graph_error_body(
                        "InvalidAuthenticationToken",
                        "Access token is empty."
                        if not token
                        else "Access token has expired or is not yet valid.",
                    ),
                )
            if self._apps[principal.client_id].denied:
                return Response(403, _graph_error_body("accessDenied", "Access denied"))
            return self._drive_request(principal, path, query)

    def _drive_request(
        self, principal: Principal, path: str, query: dict[str, list[str]]
    ) -> Response:
        match = re.fullmatch(
            r"(drives/[^/]+|users/[^/]+/drive|sites/[^/]+/drive|me/drive)(/.*)?", path
        )
        if not match:
            return Response(
                400,
                _graph_error_body(
                    "BadRequest", f"Resource not found for the segment '{path.split('/')[0]}'."
                ),
            )
        root, rest = match.group(1), match.group(2) or ""
        if root == "me/drive":
            if principal.user_id is None:
                return Response(
                    400,
                    _graph_error_body(
                        "BadRequest",
                        "/me request is only valid with delegated authentication flow.",
                    ),
                )
            drive_id = self._drive_aliases.get(f"me/{principal.user_id}")
        elif root.startswith("drives/"):
            drive_id = root.split("/")[1]
        else:
            drive_id = self._drive_aliases.get(root.rsplit("/drive", 1)[0])
        drive = self._drives.get(drive_id or "")
        if drive is None:
            return Response(
                404, _graph_error_body("itemNotFound", "The resource could not be found.")
            )
        if rest in ("", "/"):
            return Response(200, {"id": drive_id, "driveType": "business", "name": "Documents"})
        match = re.fullmatch(r"/items/([^/]+)(/.*)?", rest)
        if not match:
            return Response(400, _graph_error_body("BadRequest", "Unsupported segment."))
        item = drive.get(match.group(1))
        if item is None:
            return Response(
                404, _graph_error_body("itemNotFound", "The resource could not be found.")
            )
        rest = match.group(2) or ""
        if rest in ("", "/"):
            if self.item_metadata_refused:
                return Response(403, _graph_error_body("accessDenied", "Access denied"))
            return Response(200, _select(item.metadata(match.group(1)), query))
        if not rest.startswith("/workbook"):
            return Response(400, _graph_error_body("BadRequest", "Unsupported segment."))
        if item.worksheets is None:
            return Response(
                400,
                _graph_error_body(
                    "badRequest",
                    "The requested workbook is not supported or is not a workbook.",
                    inner="unsupportedWorkbook",
                ),
            )
        return self._workbook_request(item.worksheets, rest[len("/workbook") :], query)

    def _workbook_request(
        self, sheets: list[Worksheet], rest: str, query: dict[str, list[str]]
    ) -> Response:
        if rest in ("/worksheets", "/worksheets/"):
            return Response(
                200,
                _select(
                    {
                        "value": [
                            {
                                "id": s.id,
                                "name": s.name,
                                "position": s.position,
                                "visibility": "Visible",
                            }
                            for s in sheets
                        ]
                    },
                    query,
                    listing=True,
                ),
            )
        match = re.fullmatch(r"/worksheets(?:\('((?:[^']|'')*)'\)|/([^/]+))(/.*)?", rest)
        if not match:
            return Response(400, _graph_error_body("BadRequest", "Unsupported segment."))
        key = match.group(1).replace("''", "'") if match.group(1) is not None else match.group(2)
        sheet = self._find_sheet_in(sheets, key)
        if sheet is None:
            return Response(
                404,
                _graph_error_body(
                    "itemNotFound", "The requested resource doesn't exist.", inner="itemNotFound"
                ),
            )
        action = match.group(3) or ""
        if action in ("", "/"):
            return Response(200, {"id": sheet.id, "name": sheet.name, "position": sheet.position})
        if re.fullmatch(r"/usedRange(\(valuesOnly=(true|false)\))?", action):
            return self._range(sheet, sheet.used_address(), query)
        if match := re.fullmatch(r"/range\(address='([^']*)'\)", action):
            bounds = parse_address(match.group(1))
            if bounds is None:
                return Response(
                    400,
                    _graph_error_body(
                        "InvalidArgument",
                        "The argument is invalid or missing or has an incorrect format.",
                    ),
                )
            return self._range(sheet, bounds, query)
        return Response(400, _graph_error_body("BadRequest", "Unsupported segment."))

    def _range(
        self, sheet: Worksheet, bounds: tuple[int, int, int, int], query: dict[str, list[str]]
    ) -> Response:
        first_row, first_col, last_row, last_col = bounds
        cells = (last_row - first_row + 1) * (last_col - first_col + 1)
        selected = _selected_fields(query)
        wants_cells = selected is None or bool(
            selected & {"values", "text", "numberFormat", "valueTypes", "formulas"}
        )
        if wants_cells and cells > self.max_cells_per_response:
            return Response(
                400,
                _graph_error_body(
                    "ResponsePayloadSizeLimitExceeded",
                    "The size of the payload exceeded the limit.",
                    inner="responsePayloadSizeLimitExceeded",
                ),
            )
        if not wants_cells:
            # Only the shape was asked for: answer without building the grids.
            answer = sheet.range_answer(first_row, first_col, first_row, first_col)
            answer.update(
                address=answer["address"].rsplit("!", 1)[0] + "!" + _address(bounds),
                rowCount=last_row - first_row + 1,
                columnCount=last_col - first_col + 1,
                cellCount=cells,
            )
        else:
            answer = sheet.range_answer(first_row, first_col, last_row, last_col)
        return Response(200, _select(answer, query))

    def _find_sheet(self, item: Item, key: str) -> Worksheet | None:
        return self._find_sheet_in(item.worksheets or [], key)

    @staticmethod
    def _find_sheet_in(sheets: list[Worksheet], key: str) -> Worksheet | None:
        # Excel worksheet names are case-insensitive; ids are the {GUID} form.
        for sheet in sheets:
            if sheet.name.lower() == key.lower() or sheet.id == key:
                return sheet
        return None


def _selected_fields(query: dict[str, list[str]]) -> set[str] | None:
    raw = (query.get("$select") or query.get("select") or [""])[0]
    return {f.strip() for f in raw.split(",")} if raw else None


def _select(
    answer: dict[str, Any], query: dict[str, list[str]], listing: bool = False
) -> dict[str, Any]:
    selected = _selected_fields(query)
    if selected is None:
        return answer
    if listing:
        return {
            "value": [{k: v for k, v in row.items() if k in selected} for row in answer["value"]]
        }
    return {k: v for k, v in answer.items() if k in selected or k.startswith("@odata")}


def _address(bounds: tuple[int, int, int, int]) -> str:
    r1, c1, r2, c2 = bounds
    return f"{column_letters(c1)}{r1}:{column_letters(c2)}{r2}"


def _graph_error_body(code: str, message: str, inner: str | None = None) -> dict[str, Any]:
    inner_error: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": str(uuid.uuid4()),
        "client-request-id": str(uuid.uuid4()),
    }
    if inner:
        inner_error["code"] = inner
    return {"error": {"code": code, "message": message, "innerError": inner_error}}


def _aad_error(status: int, error: str, number: int, description: str) -> Response:
    trace = uuid.uuid4()
    correlation = uuid.uuid4()
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    return Response(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{number}: {description}\r\nTrace ID: {trace}\r\n"
            f"Correlation ID: {correlation}\r\nTimestamp: {stamp}",
            "error_codes": [number],
            "timestamp": stamp,
            "trace_id": str(trace),
            "correlation_id": str(correlation),
            "error_uri": "https://login.microsoftonline.com/error?code=" + str(number),
        },
    )


def _b64(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    """An id_token's shape; msal decodes its claims without checking a signature."""
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
