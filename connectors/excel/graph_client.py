"""Microsoft Graph GET requests under one drive's root, with bearer tokens from a
TokenSource, each request under the run's retry policy for throttling (429/503/504),
dropped connections and malformed answers."""

from __future__ import annotations

from dataclasses import dataclass, field

import requests

from connectors.base import JSON, TransientError
from connectors.excel.http_session import untrusted_certificate
from connectors.excel.sign_in import TokenSource
from connectors.toolkit.retry import (
    Retrier,
    RetriesExhausted,
    Retryable,
    RetryPolicy,
    retry_after_seconds,
)

RETRYABLE_STATUSES = frozenset({429, 503, 504})
# Graph's throttling guidance: honour Retry-After, else back off exponentially.
GRAPH_RETRY_POLICY = RetryPolicy(
    max_attempts=6, budget_seconds=90.0, base_delay_seconds=1.0, max_delay_seconds=30.0
)


class GraphUnavailable(Exception):
    """Graph did not answer usefully this time (throttled, unavailable, unreachable)."""


@dataclass
class GraphError(Exception):
    """A non-retryable Graph error answer, for the connector to translate in context."""

    status: int
    code: str
    message: str
    inner_codes: list[str] = field(default_factory=list)

    def has_code(self, *codes: str) -> bool:
        wanted = {c.lower() for c in codes}
        return any(c.lower() in wanted for c in [self.code, *self.inner_codes])


class GraphClient:
    """GET requests under one drive's root (`…/drives/{id}`, `…/me/drive`, …)."""

    def __init__(
        self,
        drive_url: str,
        tokens: TokenSource,
        session: requests.Session,
        retrier: Retrier,
    ) -> None:
        self._drive_url = drive_url.rstrip("/")
        self._tokens = tokens
        self._session = session
        self._retrier = retrier

    def get(self, path: str, params: dict[str, str] | None = None) -> JSON:
        url = f"{self._drive_url}/{path.lstrip('/')}" if path else self._drive_url
        try:
            return self._retrier.call(lambda: self._attempt(url, params))
        except RetriesExhausted as exhausted:
            attempts = exhausted.attempts
            raise TransientError(
                f"{exhausted.cause}; gave up after {attempts} attempt"
                f"{'s' if attempts > 1 else ''}, will retry later",
                retry_after=exhausted.last.retry_after,
            ) from None

    def _attempt(self, url: str, params: dict[str, str] | None) -> JSON:
        response = self._send(url, params)
        if response.status_code == 401:
            # An access token can be revoked or expire early; one fresh token per attempt.
            self._tokens.discard_access_token()
            response = self._send(url, params)
        if response.status_code in RETRYABLE_STATUSES:
            raise Retryable(
                GraphUnavailable(
                    f"Microsoft Graph is throttling or unavailable (HTTP {response.status_code})"
                ),
                retry_after_seconds(response.headers.get("Retry-After")),
            )
        if response.status_code >= 400:
            raise _graph_error(response)
        try:
            body: JSON = response.json()
        except ValueError:
            raise Retryable(GraphUnavailable("Microsoft Graph sent a malformed answer")) from None
        return body

    def _send(self, url: str, params: dict[str, str] | None) -> requests.Response:
        headers = {
            "Authorization": f"Bearer {self._tokens.access_token()}",
            "Accept": "application/json",
        }
        try:
            return self._session.get(url, params=params, headers=headers)
        except requests.exceptions.SSLError as exc:
            raise untrusted_certificate(exc) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Retryable(
                GraphUnavailable(f"could not reach Microsoft Graph ({type(exc).__name__})")
            ) from None


def _graph_error(response: requests.Response) -> GraphError:
    code, message, inner = "", response.reason or "", []
    try:
        error = response.json().get("error", {})
        code = str(error.get("code", ""))
        message = str(error.get("message", message))
        inner_error = error.get("innerError") or error.get("innererror") or {}
        while isinstance(inner_error, dict) and inner_error.get("code"):
            inner.append(str(inner_error["code"]))
            inner_error = inner_error.get("innerError") or inner_error.get("innererror")
    except ValueError:
        pass
    return GraphError(response.status_code, code, message, inner)
