"""The Sheets API calls one sync run makes (token, spreadsheet metadata, values), each
raising only ConnectorError. Credentials are in `credentials.py`, the HTTP client and its
retry policy in `http_client.py`, the wording of failures in `failures.py`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import google.auth.exceptions
from google.auth.credentials import Credentials
from gspread.exceptions import APIError
from gspread.http_client import ParamsType
from gspread.urls import SPREADSHEET_VALUES_URL
from gspread.utils import quote

from connectors.base import ChangeDetectionUnavailable, ConfigError
from connectors.google_sheets.credentials import (
    SHEETS_READING_SCOPES,
    TokenEndpointOnly,
    service_account_email,
)
from connectors.google_sheets.failures import SheetsFailures
from connectors.google_sheets.http_client import SheetsHTTPClient, retryable
from connectors.google_sheets.token_cache import TokenCache
from connectors.toolkit.retry import Retrier, RetriesExhausted


@dataclass(frozen=True, slots=True)
class SheetInfo:
    title: str
    sheet_id: int
    row_count: int
    column_count: int


@dataclass(frozen=True, slots=True)
class SpreadsheetInfo:
    spreadsheet_id: str
    title: str
    sheets: list[SheetInfo] = field(default_factory=list)

    def sheet(self, title: str) -> SheetInfo:
        """The sheet with exactly this title; ConfigError listing the titles otherwise."""
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        titles = ", ".join(repr(s.title) for s in self.sheets) or "(none)"
        near = [s.title for s in self.sheets if s.title.strip().lower() == title.strip().lower()]
        hint = f" (did you mean {near[0]!r}? titles are exact)" if near else ""
        raise ConfigError(
            f"Spreadsheet {self.title!r} has no sheet named {title!r}{hint}. "
            f"Its sheets are: {titles}.",
            field="config.sheetName",
        )


@dataclass(frozen=True, slots=True)
class ValuesRead:
    rows: list[list[Any]]
    response_bytes: int


@dataclass(frozen=True, slots=True)
class CachedToken:
    """Where this client's access token is kept between runs (token_cache.py)."""

    cache: TokenCache
    key: str


class GoogleSheetsAPI:
    """One run's client: its retry budget is shared by every call it makes."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_root: str,
        token_uri: str,
        timeout_seconds: float,
        retrier: Retrier,
        drive_root: str = "https://www.googleapis.com",
        cached_token: CachedToken | None = None,
    ) -> None:
        self.credentials = credentials
        self.drive_root = drive_root.rstrip("/")
        self.cached_token = cached_token
        if cached_token is not None:
            cached_token.cache.lend(cached_token.key, credentials)
        # Connecting should take seconds even when reading a large chunk takes a minute.
        timeout = (min(timeout_seconds, 15.0), timeout_seconds)
        self.http = SheetsHTTPClient(
            credentials, api_root=api_root, token_uri=token_uri, timeout=timeout, retrier=retrier
        )
        self.failures = SheetsFailures(self.account)
        # From the last token answer (TokenEndpointOnly.refresh_token_expires_in).
        self.refresh_token_expires_in: float | None = None

    def close(self) -> None:
        if self.cached_token is not None:
            self.cached_token.cache.keep(self.cached_token.key, self.credentials)
        self.http.session.close()

    @property
    def account(self) -> str | None:
        """The service account's email (what users share sheets with); None for OAuth."""
        return service_account_email(self.credentials)

    def obtain_token(self) -> None:
        """Fetches an access token now, so a credentials problem surfaces on its own."""
        # Not through the AuthorizedSession: it would refresh the credentials itself
        # before sending the refresh request (gspread's own `login()` does that).
        request = TokenEndpointOnly(self.http.token_uri, self.http.timeout)

        def attempt() -> None:
            try:
                self.credentials.refresh(request)  # type: ignore[no-untyped-call]
            except google.auth.exceptions.GoogleAuthError as error:
                failure = retryable(error)
                if failure is None:
                    raise
                raise failure from None

        try:
            self.http.retrier.call(attempt)
        except (google.auth.exceptions.RefreshError, RetriesExhausted) as error:
            raise self.failures.translate(error) from None
        self.refresh_token_expires_in = request.refresh_token_expires_in
        # OAuth refreshes ask for no scope (credentials.oauth_scopes): what the user
        # consented to is only known from the answer.
        granted = request.granted_scopes
        if self.account is None and granted is not None and not SHEETS_READING_SCOPES & granted:
            raise self.failures.scope_not_granted()

    def drive_file_marker(self, spreadsheet_id: str) -> str:
        """Drive's `version` and `modifiedTime` of the spreadsheet's file: one `files.get`
        request, no cell data. Drive moves `version` on with every change to the file,
        which is what change detection compares (`modifiedTime` is kept beside it for
        whoever reads the marker). ChangeDetectionUnavailable when Drive refuses (the
        Drive metadata scope not granted, the Drive API disabled in the project) or does
        not find the file (the fetch then says why in its own words)."""
        url = f"{self.drive_root}/drive/v3/files/{quote(spreadsheet_id, safe='')}"
        params: ParamsType = {"fields": "modifiedTime,version", "supportsAllDrives": "true"}
        try:
            body = self.http.request("get", url, params=params).json()
        except APIError as error:
            status = error.response.status_code
            if status in (403, 404):
                raise self.failures.drive_metadata_refused(error) from None
            raise self.failures.translate(error, spreadsheet_id=spreadsheet_id) from None
        except Exception as error:
            raise self.failures.translate(error, spreadsheet_id=spreadsheet_id) from None
        version = body.get("version") if isinstance(body, dict) else None
        if not version:
            raise ChangeDetectionUnavailable("Google Drive returned no version for the file")
        return f"drive:{version}@{body.get('modifiedTime', '')}"

    def spreadsheet(self, spreadsheet_id: str) -> SpreadsheetInfo:
        """Title and sheets (with grid sizes) of a spreadsheet, without cell data."""
        params: ParamsType = {
            "includeGridData": "false",
            "fields": "spreadsheetId,properties.title,"
            "sheets.properties(sheetId,title,sheetType,gridProperties(rowCount,columnCount))",
        }
        try:
            body = self.http.fetch_sheet_metadata(spreadsheet_id, params=params)
        except Exception as error:
            raise self.failures.translate(error, spreadsheet_id=spreadsheet_id) from None
        sheets = []
        for sheet in body.get("sheets", []):
            props = sheet.get("properties", {})
            if props.get("sheetType", "GRID") != "GRID":
                continue  # charts and data-source sheets have no cells to read
            grid = props.get("gridProperties", {})
            sheets.append(
                SheetInfo(
                    title=props.get("title", ""),
                    sheet_id=int(props.get("sheetId", 0)),
                    row_count=int(grid.get("rowCount", 0)),
                    column_count=int(grid.get("columnCount", 0)),
                )
            )
        title = body.get("properties", {}).get("title", "")
        return SpreadsheetInfo(spreadsheet_id, title, sheets)

    def values(
        self, spreadsheet_id: str, a1_range: str, *, unformatted: bool, dates_as_text: bool
    ) -> ValuesRead:
        """`values.get` of one range, rows major. The raw response size is returned too:
        chunk sizes are tuned to it."""
        params: ParamsType = {
            "majorDimension": "ROWS",
            "valueRenderOption": "UNFORMATTED_VALUE" if unformatted else "FORMATTED_VALUE",
            "dateTimeRenderOption": "FORMATTED_STRING" if dates_as_text else "SERIAL_NUMBER",
        }
        url = SPREADSHEET_VALUES_URL % (spreadsheet_id, quote(a1_range))
        try:
            response = self.http.request("get", url, params=params)
            body = response.json()
        except Exception as error:
            raise self.failures.translate(
                error, spreadsheet_id=spreadsheet_id, a1_range=a1_range
            ) from None
        return ValuesRead(rows=body.get("values", []), response_bytes=len(response.content))
