"""gspread's HTTP client as DataSync runs it: aimed at the data source's API root, with a
timeout on every request, and every request under the run's retry policy for 429/5xx and
dropped connections.

gspread has no timeout by default, and its `BackOffHTTPClient` retries without a budget or
jitter and without honouring `Retry-After`, so it is not used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import google.auth.exceptions
import requests
from google.auth.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession
from gspread.exceptions import APIError
from gspread.http_client import FileType, HTTPClient, ParamsType

from connectors.google_sheets.credentials import TokenEndpointOnly
from connectors.google_sheets.endpoints import DEFAULT_SHEETS_API_ROOT, DEFAULT_TOKEN_URI
from connectors.toolkit.retry import Retrier, Retryable, RetryBudget, RetryPolicy
from connectors.toolkit.retry import retry_after_seconds as retry_after_header

# gspread's URL constants are absolute; this is the part the `sheetsBaseUrl` setting swaps.
_GSPREAD_API_ROOT = "https://sheets.googleapis.com"
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_DROPPED = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,  # connection dropped mid-body
    google.auth.exceptions.TransportError,
)


def sheets_retry_policy(budget_seconds: float = 60.0) -> RetryPolicy:
    """Google's quota refills by the minute: waits up to 32 s, inside the run's budget."""
    return RetryPolicy(
        max_attempts=10,
        budget_seconds=budget_seconds,
        base_delay_seconds=1.0,
        max_delay_seconds=32.0,
    )


def retryable(error: Exception) -> Retryable | None:
    """`error` as a failure worth another attempt, or None when retrying cannot help."""
    if isinstance(error, APIError):
        if error.response.status_code not in RETRYABLE_STATUSES:
            return None
        return Retryable(error, retry_after_header(error.response.headers.get("Retry-After")))
    if isinstance(error, google.auth.exceptions.RefreshError):
        # google-auth already retried the token endpoint a few times; a still retryable
        # failure (token endpoint 5xx/429) is throttling like any other.
        return Retryable(error) if error.retryable else None
    if isinstance(error, _DROPPED):
        return Retryable(error)
    return None


class SheetsHTTPClient(HTTPClient):
    """gspread checks `isinstance(…, HTTPClient)` and builds URLs from module constants
    copied at import time, so rewriting the root here (not patching `gspread.urls`) is what
    makes `sheetsBaseUrl` work."""

    def __init__(
        self,
        auth: Credentials,
        *,
        api_root: str = DEFAULT_SHEETS_API_ROOT,
        token_uri: str = DEFAULT_TOKEN_URI,
        timeout: tuple[float, float] = (10.0, 60.0),
        retrier: Retrier | None = None,
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
        policy = sheets_retry_policy()
        self.retrier = retrier or Retrier(policy, RetryBudget(policy.budget_seconds))

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
        """One request under the retry policy; RetriesExhausted when it gives up."""
        url = self.url(endpoint)

        def attempt() -> requests.Response:
            try:
                return HTTPClient.request(self, method, url, params, data, json, files, headers)
            except Exception as error:
                failure = retryable(error)
                if failure is None:
                    raise
                raise failure from None

        return self.retrier.call(attempt)
