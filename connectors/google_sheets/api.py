"""Every call DataSync makes to Google for a Sheets data source: credentials, the HTTP
client (endpoint root, timeout, the one retry policy for 429/5xx) and the translation of
Google's failures into the connector errors the engine understands.

gspread and google-auth do the protocol work. Two of their gaps are closed here: gspread
has no timeout by default, and its `BackOffHTTPClient` retries without a budget or jitter
and without honouring `Retry-After`, so it is not used.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import google.auth.exceptions
import requests
from google.auth.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession
from google.auth.transport.requests import Request as GoogleAuthRequest
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from gspread.exceptions import APIError
from gspread.http_client import FileType, HTTPClient, ParamsType
from gspread.urls import SPREADSHEET_VALUES_URL
from gspread.utils import quote

from connectors.base import (
    JSON,
    AuthError,
    ConfigError,
    ConnectorError,
    NotFoundError,
    TransientError,
)
from connectors.google_sheets.endpoints import DEFAULT_SHEETS_API_ROOT, DEFAULT_TOKEN_URI

READONLY_SCOPE = "https://www.googleapis.com/auth/spreadsheets.readonly"
# gspread's URL constants are absolute; this is the part the `sheetsBaseUrl` setting swaps.
_GSPREAD_API_ROOT = "https://sheets.googleapis.com"
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

REAUTHORISE_HINT = (
    "Re-authorise DataSync with your Google account and save the new refresh token in this "
    "data source. Note that Google expires the refresh tokens of apps whose OAuth consent "
    'screen is in "Testing" publishing status after 7 days; publish the app ("In production") '
    "to keep them valid."
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter for 429/5xx and dropped connections, inside a time
    budget shared by all requests of one connector instance (one sync run), so a throttled
    run ends in bounded time and the engine's own run-level retry takes over."""

    budget_seconds: float = 60.0
    base_delay: float = 1.0
    max_delay: float = 32.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number `attempt` (0-based). Google's `Retry-After`
        is a floor; the jittered exponential spreads concurrent workers apart."""
        ceiling = min(self.max_delay, self.base_delay * 2**attempt)
        jittered = ceiling / 2 + rng.uniform(0, ceiling / 2)
        return max(retry_after or 0.0, float(jittered))


class RetryBudgetExhausted(Exception):
    """Raised inside the HTTP client when waiting once more would exceed the budget.
    `retry_after` is Google's `Retry-After` when it sent one, else our next backoff;
    `google_asked` says which."""

    def __init__(
        self, cause: Exception, retry_after: float, waited: float, google_asked: bool
    ) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.retry_after = retry_after
        self.waited = waited
        self.google_asked = google_asked


def retry_after_seconds(header: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date; None when absent/invalid."""
    if not header:
        return None
    header = header.strip()
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)


class SheetsHTTPClient(HTTPClient):
    """gspread's HTTP client aimed at a configurable API root, with a timeout on every
    request and our retry policy. gspread checks `isinstance(…, HTTPClient)` and builds
    URLs from module constants copied at import time, so rewriting the root here (not
    patching `gspread.urls`) is what makes `sheetsBaseUrl` work."""

    def __init__(
        self,
        auth: Credentials,
        *,
        api_root: str = DEFAULT_SHEETS_API_ROOT,
        token_uri: str = DEFAULT_TOKEN_URI,
        timeout: tuple[float, float] = (10.0, 60.0),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        # google-auth refreshes tokens through the session's `auth_request`; ours reaches
        # the token endpoint only (see TokenEndpointOnly for why).
        fence = TokenEndpointOnly(token_uri, timeout)
        session = AuthorizedSession(auth, auth_request=fence)  # type: ignore[no-untyped-call]
        super().__init__(auth, session=session)
        self.auth = auth  # gspread sets it only when it builds the session itself
        self.set_timeout(timeout)
        self.api_root = api_root.rstrip("/")
        self.token_uri = token_uri
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.waited = 0.0  # seconds spent backing off so far, against retry.budget_seconds

    def url(self, gspread_url: str) -> str:
        if gspread_url.startswith(_GSPREAD_API_ROOT):
            return self.api_root + gspread_url[len(_GSPREAD_API_ROOT) :]
        return gspread_url

    def request(
        self,
        method: str,
        endpoint: str,
        params: ParamsType | None = None,
        data: bytes | None = None,
        json: Mapping[str, Any] | None = None,
        files: FileType = None,
        headers: Any = None,
    ) -> requests.Response:
        url = self.url(endpoint)
        attempt = 0
        while True:
            try:
                return super().request(method, url, params, data, json, files, headers)
            except APIError as error:
                if error.response.status_code not in RETRYABLE_STATUSES:
                    raise
                hint = retry_after_seconds(error.response.headers.get("Retry-After"))
                failure: Exception = error
            except google.auth.exceptions.RefreshError as error:
                # google-auth already retried the token endpoint a few times; a still
                # retryable failure (token endpoint 5xx/429) is throttling like any other.
                if not error.retryable:
                    raise
                hint, failure = None, error
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,  # connection dropped mid-body
            ) as error:
                hint, failure = None, error
            except google.auth.exceptions.TransportError as error:
                hint, failure = None, error
            self.back_off(attempt, hint, failure)
            attempt += 1

    def back_off(self, attempt: int, retry_after: float | None, failure: Exception) -> None:
        """Sleeps before retry number `attempt`, or raises RetryBudgetExhausted when that
        sleep would overrun the run's budget (no point sleeping only to give up)."""
        wait = self.retry.delay(attempt, retry_after, self._rng)
        if self.waited + wait > self.retry.budget_seconds:
            raise RetryBudgetExhausted(
                failure,
                retry_after if retry_after is not None else wait,
                self.waited,
                google_asked=retry_after is not None,
            )
        self._sleep(wait)
        self.waited += wait


def token_endpoint(credentials: JSON, token_uri: str | None) -> str:
    """Where tokens come from: the `tokenUri` setting, else the key's own `token_uri`,
    else Google's."""
    if token_uri:
        return token_uri
    key_uri = credentials.get("serviceAccountInfo", {}).get("token_uri")
    return key_uri if isinstance(key_uri, str) and key_uri else DEFAULT_TOKEN_URI


def build_credentials(credentials: JSON, token_uri: str | None) -> Credentials:
    """google-auth credentials for the data source, read-only scope. Raises AuthError when
    the key cannot even be loaded (a mangled private key)."""
    if "serviceAccountInfo" in credentials:
        info = dict(credentials["serviceAccountInfo"])
        info.setdefault("type", "service_account")
        info["token_uri"] = token_endpoint(credentials, token_uri)
        try:
            return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call,no-any-return]
                info, scopes=[READONLY_SCOPE]
            )
        except (ValueError, google.auth.exceptions.GoogleAuthError) as error:
            raise AuthError(
                "The service account key in this data source cannot be loaded "
                f"({type(error).__name__}): paste the whole JSON key file Google gave you."
            ) from None
    oauth = credentials["oauth"]
    return user_credentials.Credentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token=oauth["refreshToken"],
        token_uri=token_endpoint(credentials, token_uri),
        client_id=oauth["clientId"],
        client_secret=oauth["clientSecret"],
        scopes=[READONLY_SCOPE],
    )


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


class TokenEndpointOnly(GoogleAuthRequest):
    """google-auth's transport with our timeout (its own default is 120 s) that sends
    nothing anywhere but the data source's token endpoint.

    Why the fence: since 2.55 google-auth's service-account credentials start a background
    "Regional Access Boundary" (formerly "trust boundary") lookup after a token refresh:
    `GET https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{email}/
    allowedLocations` carrying the access token, through this transport. The host is fixed
    whatever `token_uri` says, so a deployment using private endpoints (`sheetsBaseUrl`,
    `tokenUri`) would still send its tokens to a public Google host, and a worker without
    Internet access would wait on it. There is no public switch to turn the lookup off (as of
    google-auth 2.62): the opt-in variable GOOGLE_AUTH_TRUST_BOUNDARY_ENABLED is deprecated
    and ignored; only a non-default universe domain skips it, and that also replaces the
    token endpoint with self-signed JWTs. So the lookup is refused here, before any network
    I/O; google-auth treats that as a failed lookup (it logs at debug level, backs off for
    15 minutes, and sends requests without the optional `x-allowed-locations` header),
    which is what it does whenever the lookup endpoint is unreachable."""

    def __init__(self, token_uri: str, timeout: Any) -> None:
        super().__init__()
        self.token_uri = token_uri
        self._token_host = (urlsplit(token_uri).hostname or "").lower()
        self._timeout = timeout

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        host = (urlsplit(url).hostname or "").lower()
        if host != self._token_host:
            raise google.auth.exceptions.TransportError(  # type: ignore[no-untyped-call]
                f"DataSync sends Google credentials only to the token endpoint "
                f"{self.token_uri}; refused {method} {url.split('?', 1)[0]}"
            )
        return super().__call__(  # type: ignore[no-untyped-call]
            url, method, body, headers, timeout=timeout or self._timeout, **kwargs
        )


class GoogleSheetsAPI:
    """The Sheets API calls one sync run makes, each raising only ConnectorError."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_root: str,
        token_uri: str,
        timeout_seconds: float,
        retry: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.credentials = credentials
        # Connecting should take seconds even when reading a large chunk takes a minute.
        timeout = (min(timeout_seconds, 15.0), timeout_seconds)
        self.http = SheetsHTTPClient(
            credentials,
            api_root=api_root,
            token_uri=token_uri,
            timeout=timeout,
            retry=retry,
            sleep=sleep,
        )

    def close(self) -> None:
        self.http.session.close()

    @property
    def account(self) -> str | None:
        """The service account's email (what users share sheets with); None for OAuth."""
        email_address = getattr(self.credentials, "service_account_email", None)
        return email_address if isinstance(email_address, str) else None

    def obtain_token(self) -> None:
        """Fetches an access token now, so a credentials problem surfaces on its own."""
        # Not through the AuthorizedSession: it would refresh the credentials itself
        # before sending the refresh request (gspread's own `login()` does that).
        request = TokenEndpointOnly(self.http.token_uri, self.http.timeout)
        attempt = 0
        while True:
            try:
                self.credentials.refresh(request)  # type: ignore[no-untyped-call]
                return
            except google.auth.exceptions.RefreshError as error:
                if not error.retryable:
                    raise self._auth_error(error) from None
                failure: Exception = error
            except google.auth.exceptions.TransportError as error:
                failure = error
            try:
                self.http.back_off(attempt, None, failure)
            except RetryBudgetExhausted as exhausted:
                raise self._budget_error(exhausted) from None
            attempt += 1

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
            raise self._translate(error, spreadsheet_id=spreadsheet_id) from None
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
            raise self._translate(error, spreadsheet_id=spreadsheet_id, a1_range=a1_range) from None
        return ValuesRead(rows=body.get("values", []), response_bytes=len(response.content))

    # -- failures -------------------------------------------------------------------------

    def _translate(
        self, error: Exception, *, spreadsheet_id: str = "", a1_range: str = ""
    ) -> ConnectorError:
        if isinstance(error, ConnectorError):
            return error
        if isinstance(error, RetryBudgetExhausted):
            return self._budget_error(error)
        if isinstance(error, google.auth.exceptions.RefreshError):
            return self._auth_error(error)
        if isinstance(error, APIError):
            return self._api_error(error, spreadsheet_id, a1_range)
        if isinstance(error, requests.RequestException | google.auth.exceptions.TransportError):
            return TransientError(f"Could not reach Google Sheets ({type(error).__name__}).")
        if isinstance(error, ValueError):  # a body that is not JSON: a proxy's error page?
            return TransientError("Google Sheets answered with a body that is not JSON.")
        raise error

    def _budget_error(self, error: RetryBudgetExhausted) -> TransientError:
        cause = error.cause
        if isinstance(cause, APIError) and cause.response.status_code == 429:
            what = (
                "Google Sheets kept answering 429 RESOURCE_EXHAUSTED (read quota: 60 requests "
                "per minute per user, 300 per project)"
            )
        elif isinstance(cause, APIError):
            what = f"Google Sheets kept failing with HTTP {cause.response.status_code}"
        elif isinstance(cause, google.auth.exceptions.RefreshError):
            what = "Google's token endpoint kept failing"
        else:
            what = f"Google Sheets could not be reached ({type(cause).__name__})"
        # Worded for both callers: a sync run (the engine adds when it will retry, or that it
        # will not) and a connection test (where "will be retried" would be untrue).
        when = (
            f"Google asked to wait {error.retry_after:g} s before trying again."
            if error.google_asked
            else "Try again in a few minutes."
        )
        return TransientError(
            f"{what}; gave up after {error.waited:.1f} s of retries. {when}",
            retry_after=error.retry_after,
        )

    def _auth_error(self, error: google.auth.exceptions.RefreshError) -> AuthError:
        code, description = _oauth_error(error)
        if self.account is None:  # OAuth user credentials
            if code == "invalid_grant":
                return AuthError(
                    f"Google refused the OAuth refresh token ({description or code}): it has "
                    f"expired or been revoked. {REAUTHORISE_HINT}"
                )
            if code == "invalid_scope":
                return AuthError(
                    "The OAuth refresh token was not granted read access to Google Sheets "
                    f"(scope {READONLY_SCOPE}). Re-authorise DataSync and allow it to see "
                    "your spreadsheets."
                )
            if code in ("invalid_client", "unauthorized_client"):
                return AuthError(
                    f"Google rejected the OAuth client ({code}): check "
                    "credentials.oauth.clientId and credentials.oauth.clientSecret."
                )
            return AuthError(f"Google refused the OAuth credentials ({code}: {description}).")
        return AuthError(
            f"Google refused the service account key of {self.account} ({code}: {description}). "
            "The key may have been deleted or disabled in Google Cloud, or the worker's clock "
            "is wrong; create a new JSON key for the service account and save it here."
        )

    def _api_error(self, error: APIError, spreadsheet_id: str, a1_range: str) -> ConnectorError:
        status = error.response.status_code
        google_says = str(error.error.get("message", "")).strip()
        if status == 404:
            return NotFoundError(
                f"Google Sheets has no spreadsheet with id {spreadsheet_id!r}: check "
                "config.spreadsheetId (the part of the sheet's URL between /d/ and /edit)."
            )
        if status == 403:
            if "has not been used" in google_says or "SERVICE_DISABLED" in str(error.error):
                return AuthError(
                    "The Google Sheets API is disabled in the Google Cloud project of these "
                    f"credentials: enable it there. Google said: {google_says}"
                )
            if "ACCESS_TOKEN_SCOPE_INSUFFICIENT" in str(error.error):
                return AuthError(
                    "The access token Google issued lacks the scope to read spreadsheets "
                    f"({READONLY_SCOPE}): re-authorise DataSync granting it."
                )
            if self.account:
                return AuthError(
                    f"The service account {self.account} may not open spreadsheet "
                    f"{spreadsheet_id!r}: in Google Sheets click Share and add "
                    f"{self.account} as a Viewer."
                )
            return AuthError(
                f"The Google account that authorised DataSync may not open spreadsheet "
                f"{spreadsheet_id!r}: ask the owner to share it with that account, or "
                "re-authorise with an account that has access."
            )
        if status == 401:
            return AuthError(
                "Google rejected the access token for these credentials. "
                + ("" if self.account else REAUTHORISE_HINT)
            )
        if status == 400 and a1_range:
            return ConfigError(
                f"Google could not read {a1_range}: {google_says}", field="config.range"
            )
        return ConnectorError(f"Google Sheets answered HTTP {status}: {google_says}")


def _oauth_error(error: google.auth.exceptions.RefreshError) -> tuple[str, str]:
    """(error, error_description) of a token endpoint refusal, as google-auth kept them."""
    body = error.args[1] if len(error.args) > 1 else None
    if isinstance(body, Mapping):
        return str(body.get("error", "")), str(body.get("error_description", "") or "")
    text = str(error.args[0]) if error.args else ""
    code, _, description = text.partition(":")
    return code.strip(), description.strip()
