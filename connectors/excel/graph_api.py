"""All network I/O of the Excel connector: msal token acquisition and Microsoft Graph calls,
under one retry policy for throttling (429/503/504) and dropped connections.

msal traps handled here: it returns errors as dicts instead of raising; it should be built
once per credential per process (its token cache lives in the application object); it
blocks (the engine calls connectors from worker threads); and building an application
already fetches the authority's OpenID configuration over the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import msal
import requests

from connectors.base import JSON, AuthError, ConfigError, TransientError

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({429, 503, 504})


# --- retry policy -------------------------------------------------------------------------


class RetryableFailure(Exception):
    """A failure worth another attempt, with the server's Retry-After hint if it sent one."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """Retries throttled and dropped calls inside a bounded budget, then gives up with
    TransientError so the engine's own backoff takes over (it retries the whole run later).

    A server's Retry-After is honoured as a minimum; without one the wait grows
    exponentially with full jitter, so parallel workers do not retry in lockstep.
    """

    max_attempts: int = 6
    budget_seconds: float = 90.0
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = random.random

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        if retry_after is not None:
            # A little jitter on top, never below the server's hint.
            return float(retry_after + self.jitter() * min(1.0, 0.1 * retry_after))
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * 2**attempt)
        return float(self.jitter() * ceiling)

    def call(self, operation: Callable[[], T]) -> T:
        deadline = self.clock() + self.budget_seconds
        attempt = 0
        while True:
            try:
                return operation()
            except RetryableFailure as failure:
                wait = self.delay(attempt, failure.retry_after)
                attempt += 1
                if attempt >= self.max_attempts or self.clock() + wait > deadline:
                    raise TransientError(
                        f"{failure.message}; gave up after {attempt} attempt"
                        f"{'s' if attempt > 1 else ''}, will retry later",
                        retry_after=failure.retry_after,
                    ) from None
                self.sleep(wait)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


# --- HTTP -----------------------------------------------------------------------------------


class _TimeoutSession(requests.Session):
    """A requests session with a default timeout: msal and requests have none, and a hung
    socket would hold a worker thread forever."""

    def __init__(self, timeout_seconds: float) -> None:
        super().__init__()
        self._timeout_seconds = timeout_seconds
        # Trust: REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (requests reads them per request and
        # they win), else SSL_CERT_FILE / the OS store as OpenSSL resolves them, else
        # certifi. Operators behind TLS-inspecting proxies rely on these variables.
        self.verify = ssl.get_default_verify_paths().cafile or True

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout_seconds)
        return super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]


def new_http_session(timeout_seconds: float) -> requests.Session:
    return _TimeoutSession(timeout_seconds)


def untrusted_certificate(exc: requests.exceptions.SSLError) -> ConfigError:
    """A TLS failure is no passing fault: retrying would not make the certificate trusted."""
    url = exc.request.url if exc.request is not None else None
    host = urlsplit(url).hostname if isinstance(url, str) else None
    return ConfigError(
        f"could not verify the TLS certificate of {host or 'the Microsoft endpoint'}; if an "
        "operator CA or a TLS-inspecting proxy is in the way, point REQUESTS_CA_BUNDLE or "
        "SSL_CERT_FILE at a bundle that includes its CA"
    )


# --- tokens ---------------------------------------------------------------------------------


def without_secrets(text: str, secrets: Iterable[str]) -> str:
    """Microsoft's error_description, first line only (the rest is trace and correlation
    ids), with any secret that might be echoed replaced."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    for secret in secrets:
        if secret and len(secret) >= 4:
            line = line.replace(secret, "***")
    return line


class TokenSource(Protocol):
    def access_token(self) -> str: ...

    def discard_access_token(self) -> None:
        """Forget a token Graph rejected so the next call gets a fresh one."""
        ...


_apps: dict[tuple[str, ...], msal.ClientApplication] = {}
_apps_lock = threading.Lock()
# One refresh-token redemption at a time per delegated application: two schedules of one
# data source running at once must not both spend the same refresh token.
_redemption_locks: dict[tuple[str, ...], threading.Lock] = {}
# Delegated credentials: digest of the refresh token the data source holds now → msal
# account id, so a later run in this process finds its cached tokens.
_delegated_accounts: dict[str, str] = {}


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _msal_app(
    key: tuple[str, ...], build: Callable[[], msal.ClientApplication]
) -> msal.ClientApplication:
    with _apps_lock:
        app = _apps.get(key)
    if app is not None:
        return app
    # Built outside the lock: construction fetches the OpenID configuration, and a slow
    # authority must not block every other data source's run.
    try:
        app = build()
    except requests.exceptions.SSLError as exc:
        raise untrusted_certificate(exc) from None
    except ValueError as exc:  # msal: "Unable to get authority configuration for …"
        raise AuthError(
            "The Microsoft identity platform did not recognise the tenant; check "
            "credentials.tenantId and settings.authorityHost"
        ) from exc
    except requests.RequestException as exc:
        raise TransientError(
            f"could not reach the Microsoft identity platform ({type(exc).__name__})"
        ) from exc
    with _apps_lock:
        return _apps.setdefault(key, app)


def _raise_for_msal_error(result: JSON, secrets: Iterable[str]) -> None:
    error = str(result.get("error", "unknown_error"))
    description = without_secrets(str(result.get("error_description", "")), secrets)
    if error in ("temporarily_unavailable", "server_error"):
        raise TransientError(f"Microsoft identity platform: {error}: {description}")
    hint = {
        "invalid_client": "check credentials.clientId and credentials.clientSecret (use the "
        "secret's value, not its id)",
        "unauthorized_client": "check credentials.clientId and that the app is registered in "
        "this tenant",
        "invalid_grant": "the refresh token is expired or revoked; sign in again and store "
        "a new credentials.refreshToken",
    }.get(error, "check the data source's credentials")
    raise AuthError(f"Microsoft sign-in failed ({error}: {description}); {hint}")


def _acquire(call: Callable[[], JSON | None]) -> JSON | None:
    """msal raises only for transport failures; everything else comes back as a dict."""
    try:
        return call()
    except requests.exceptions.SSLError as exc:
        raise untrusted_certificate(exc) from None
    except requests.RequestException as exc:
        raise TransientError(
            f"could not reach the Microsoft identity platform ({type(exc).__name__})"
        ) from exc


class AppOnlyTokens:
    """Client credentials (`tenantId`, `clientId`, `clientSecret`); msal caches the token
    until shortly before it expires."""

    def __init__(
        self,
        authority: str,
        credentials: JSON,
        scopes: list[str],
        timeout_seconds: float,
        instance_discovery: bool,
    ) -> None:
        self._client_id = str(credentials["clientId"])
        self._secret = str(credentials["clientSecret"])
        self._scopes = scopes
        key = ("app-only", authority, self._client_id, _digest(self._secret))
        self._app = _msal_app(
            key,
            lambda: msal.ConfidentialClientApplication(
                self._client_id,
                client_credential=self._secret,
                authority=authority,
                http_client=new_http_session(timeout_seconds),
                instance_discovery=instance_discovery,
            ),
        )

    def access_token(self) -> str:
        result = _acquire(lambda: self._app.acquire_token_for_client(scopes=self._scopes))
        if not result or "access_token" not in result:
            _raise_for_msal_error(result or {}, [self._secret])
        return str(result["access_token"])  # type: ignore[index]

    def discard_access_token(self) -> None:
        # acquire_token_for_client refuses force_refresh; dropping the cached token through
        # the cache's public API has the same effect.
        cache = self._app.token_cache
        stale = list(  # materialised: search() is a generator over the dict remove_at edits
            cache.search(
                msal.TokenCache.CredentialType.ACCESS_TOKEN, query={"client_id": self._client_id}
            )
        )
        for item in stale:
            cache.remove_at(item)


class DelegatedTokens:
    """A user's refresh token (`tenantId`, `clientId`, `refreshToken`) for /me/drive.

    Microsoft rotates refresh tokens: each redemption returns a new one and the old one may
    stop working, so whenever the newest token differs from the stored one it is saved back
    through `save_credentials` before it is used.
    """

    def __init__(
        self,
        authority: str,
        credentials: JSON,
        scopes: list[str],
        timeout_seconds: float,
        instance_discovery: bool,
        save_credentials: Callable[[JSON], None],
    ) -> None:
        self._credentials = dict(credentials)
        self._scopes = scopes
        self._save = save_credentials
        self._force_refresh = False
        client_id = str(credentials["clientId"])
        key = ("delegated", authority, client_id)
        with _apps_lock:
            self._lock = _redemption_locks.setdefault(key, threading.Lock())
        self._app = _msal_app(
            key,
            lambda: msal.PublicClientApplication(
                client_id,
                authority=authority,
                http_client=new_http_session(timeout_seconds),
                instance_discovery=instance_discovery,
            ),
        )

    @property
    def _refresh_token(self) -> str:
        return str(self._credentials["refreshToken"])

    def access_token(self) -> str:
        with self._lock:
            return self._access_token_locked()

    def _access_token_locked(self) -> str:
        result: JSON | None = None
        account_id = _delegated_accounts.get(_digest(self._refresh_token))
        account = (
            next(
                (a for a in self._app.get_accounts() if a.get("home_account_id") == account_id),
                None,
            )
            if account_id
            else None
        )
        if account is not None:
            force = self._force_refresh
            result = _acquire(
                lambda: self._app.acquire_token_silent_with_error(
                    self._scopes, account, force_refresh=force
                )
            )
        if not result or "access_token" not in result:
            # No usable cached account: redeem the stored refresh token.
            result = _acquire(
                lambda: self._app.acquire_token_by_refresh_token(self._refresh_token, self._scopes)
            )
        if not result or "access_token" not in result:
            _raise_for_msal_error(result or {}, [self._refresh_token])
        assert result is not None
        self._force_refresh = False
        self._keep_newest_refresh_token(result)
        return str(result["access_token"])

    def discard_access_token(self) -> None:
        self._force_refresh = True

    def _keep_newest_refresh_token(self, result: JSON) -> None:
        account_id = _home_account_id(result) or _delegated_accounts.get(
            _digest(self._refresh_token)
        )
        newest = str(result.get("refresh_token") or "")
        if account_id and not newest:
            # A silent refresh rotates the token inside msal's cache without returning it.
            for item in self._app.token_cache.search(
                msal.TokenCache.CredentialType.REFRESH_TOKEN,
                query={"home_account_id": account_id},
            ):
                newest = str(item.get("secret", ""))
        if account_id:
            # The spent token maps to the account too: a run that started with it (or a
            # save that failed) still finds msal's cache, which holds the newest token.
            _delegated_accounts[_digest(self._refresh_token)] = account_id
        if newest and newest != self._refresh_token:
            self._credentials["refreshToken"] = newest
            self._save(dict(self._credentials))
            if account_id:
                _delegated_accounts[_digest(newest)] = account_id


def _home_account_id(result: JSON) -> str | None:
    """`uid.utid` from the token response's client_info, msal's key for the account."""
    raw = result.get("client_info")
    if not isinstance(raw, str):
        return None
    try:
        info = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return f"{info['uid']}.{info['utid']}"
    except (ValueError, KeyError, TypeError):
        return None


# --- Graph ----------------------------------------------------------------------------------


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
    """GET requests under one drive's root (`…/drives/{id}`, `…/me/drive`, …), with bearer
    tokens from `tokens` and the retry policy around each request."""

    def __init__(
        self,
        drive_url: str,
        tokens: TokenSource,
        session: requests.Session,
        retry: RetryPolicy,
    ) -> None:
        self._drive_url = drive_url.rstrip("/")
        self._tokens = tokens
        self._session = session
        self._retry = retry

    def get(self, path: str, params: dict[str, str] | None = None) -> JSON:
        url = f"{self._drive_url}/{path.lstrip('/')}" if path else self._drive_url
        return self._retry.call(lambda: self._attempt(url, params))

    def _attempt(self, url: str, params: dict[str, str] | None) -> JSON:
        response = self._send(url, params)
        if response.status_code == 401:
            # An access token can be revoked or expire early; one fresh token per attempt.
            self._tokens.discard_access_token()
            response = self._send(url, params)
        if response.status_code in RETRYABLE_STATUSES:
            raise RetryableFailure(
                f"Microsoft Graph is throttling or unavailable (HTTP {response.status_code})",
                parse_retry_after(response.headers.get("Retry-After")),
            )
        if response.status_code >= 400:
            raise _graph_error(response)
        try:
            body: JSON = response.json()
        except ValueError as exc:
            raise RetryableFailure("Microsoft Graph sent a malformed answer", None) from exc
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
            raise RetryableFailure(
                f"could not reach Microsoft Graph ({type(exc).__name__})", None
            ) from exc


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
