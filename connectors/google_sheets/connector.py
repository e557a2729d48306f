"""The `google-sheets` source type: one sheet of a Google spreadsheet as a table."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from connectors.base import JSON, ConfigError, Environment, Problem, ProgressCallback, Table
from connectors.credential_health import CredentialHealth, expiry_health, proved
from connectors.declaration import SourceTypeDeclaration
from connectors.google_sheets.a1 import spreadsheet_id_from
from connectors.google_sheets.api import CachedToken, GoogleSheetsAPI
from connectors.google_sheets.credentials import build_credentials, oauth_scopes, token_endpoint
from connectors.google_sheets.declaration import DECLARATION
from connectors.google_sheets.endpoints import DEFAULT_DRIVE_API_ROOT, DEFAULT_SHEETS_API_ROOT
from connectors.google_sheets.http_client import sheets_retry_policy
from connectors.google_sheets.reader import SheetReader
from connectors.google_sheets.selection import (
    credentials_problems,
    parse_selection,
    selection_problems,
)
from connectors.google_sheets.token_cache import TokenCache
from connectors.toolkit.problems import raise_first_problem
from connectors.toolkit.retry import Retrier, RetryBudget

# How long before a refresh token's known end its source is reported as expiring.
REFRESH_TOKEN_WARNING = timedelta(days=2)


class GoogleSheetsConnector:
    """Reads a sheet through the Sheets API v4 with gspread's HTTP client and google-auth.

    Values are strings as the sheet shows them (FORMATTED_VALUE), or with
    `valueRender: "unformatted"` raw numbers and ISO 8601 dates; an empty cell is "".
    Short rows are padded to the header's width; blank rows between data rows are kept,
    blank rows after the last data row are not. `headerRow` counts from the range's top
    (1 to 10,000,000, Sheets' row limit).
    Data source settings: `sheetsBaseUrl` and `tokenUri` override Google's endpoints
    (Google's own hosts for each over https, or hosts on ENDPOINT_ALLOWLIST),
    `retryBudgetSeconds` bounds the time spent backing off from 429/5xx in one run
    (default 60, at most 600). Both are checked again before every run and connection test,
    so a data source saved under older rules cannot reach a host refused now.
    """

    type_name: ClassVar[str] = "google-sheets"
    declaration: ClassVar[SourceTypeDeclaration] = DECLARATION
    escapes_formulas_by_default: ClassVar[bool] = True  # cells typed by people
    selection_keys: ClassVar[frozenset[str]] = frozenset(
        {"spreadsheetId", "sheetName", "range", "valueRender"}
    )
    required_selection_keys: ClassVar[frozenset[str]] = frozenset({"spreadsheetId", "sheetName"})
    # The engine makes a connector per run; access tokens outlive it here (token_cache.py).
    process_tokens: ClassVar[TokenCache] = TokenCache()

    def __init__(
        self,
        credentials: JSON,
        settings: JSON,
        env: Environment,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._credentials = credentials
        self._settings = settings
        self._env = env
        self._sleep = sleep

    @classmethod
    def validate_credentials(
        cls, credentials: JSON, settings: JSON, env: Environment
    ) -> list[Problem]:
        return credentials_problems(credentials, settings, env.allowed_hosts)

    @classmethod
    def validate_selection(cls, selection: JSON, env: Environment) -> list[Problem]:
        return selection_problems(selection)

    def test(self, selection: JSON) -> JSON:
        api = self._api()
        try:
            return self._test(api, selection)
        finally:
            api.close()

    def credential_health(self) -> CredentialHealth:
        """Mints an access token; `expiring` two days before a refresh token's known end
        (Google tells it for apps in testing mode, whose grants last 7 days)."""
        oauth = "serviceAccountInfo" not in self._credentials
        fix = (
            "Authorise DataSync again and PATCH /api/data-sources/{id} with the new "
            "credentials.refreshToken"
            if oauth
            else "Create a new key for the service account and PATCH /api/data-sources/{id} "
            "with it as credentials.serviceAccountInfo"
        )

        def attempt() -> CredentialHealth:
            api = self._api()
            try:
                api.obtain_token()
            finally:
                api.close()
            now = datetime.now(UTC)
            seconds = api.refresh_token_expires_in
            expires_at = None if seconds is None else now + timedelta(seconds=seconds)
            return expiry_health(expires_at, now, REFRESH_TOKEN_WARNING, fix)

        return proved(attempt, fix)

    def _test(self, api: GoogleSheetsAPI, selection: JSON) -> JSON:
        api.obtain_token()
        details: JSON = {"account": api.account or "OAuth user credentials"}
        spreadsheet = selection.get("spreadsheetId")
        if not spreadsheet:
            return details
        spreadsheet_id = spreadsheet_id_from(str(spreadsheet))
        if spreadsheet_id is None:
            raise ConfigError(
                "config.spreadsheetId must be a spreadsheet id or its URL",
                field="config.spreadsheetId",
            )
        info = api.spreadsheet(spreadsheet_id)
        if selection.get("sheetName"):
            info.sheet(str(selection["sheetName"]))  # ConfigError listing the titles
        details.update(
            spreadsheetId=spreadsheet_id,
            spreadsheetTitle=info.title,
            sheetNames=[sheet.title for sheet in info.sheets],
        )
        return details

    def change_marker(self, selection: JSON) -> str | None:
        """The spreadsheet's Drive version (Drive API `files.get`): one request, and no
        token request while the process holds a fresh token for these credentials."""
        parsed = parse_selection(selection)
        api = self._api()
        try:
            return api.drive_file_marker(parsed.spreadsheet_id)
        finally:
            api.close()

    def fetch(self, selection: JSON, progress: ProgressCallback) -> Table:
        parsed = parse_selection(selection)
        api = self._api()
        try:
            sheet = api.spreadsheet(parsed.spreadsheet_id).sheet(parsed.sheet_name)
            # The reader closes the API once its batches are consumed.
            return SheetReader(api, parsed, sheet, progress).table()
        except BaseException:
            api.close()
            raise

    def _api(self) -> GoogleSheetsAPI:
        raise_first_problem(self.validate_credentials(self._credentials, self._settings, self._env))
        token_uri = token_endpoint(self._credentials, self._settings.get("tokenUri"))
        credentials = build_credentials(self._credentials, token_uri)
        budget = self._settings.get("retryBudgetSeconds")
        policy = sheets_retry_policy() if budget is None else sheets_retry_policy(float(budget))
        api_root = self._settings.get("sheetsBaseUrl") or DEFAULT_SHEETS_API_ROOT
        scopes = oauth_scopes(self._credentials)
        return GoogleSheetsAPI(
            credentials,
            api_root=api_root,
            token_uri=token_uri,
            timeout_seconds=self._env.http_timeout_seconds,
            retrier=Retrier(policy, RetryBudget(policy.budget_seconds), sleep=self._sleep),
            # An overridden Sheets root (a private endpoint) serves Drive's metadata too;
            # where it does not, change detection is skipped with the reason, never fails.
            drive_root=self._settings.get("sheetsBaseUrl") or DEFAULT_DRIVE_API_ROOT,
            cached_token=CachedToken(
                self.process_tokens, TokenCache.key(self._credentials, token_uri, scopes)
            ),
        )
