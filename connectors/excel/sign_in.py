"""Access tokens for Microsoft Graph through msal: app-only (client credentials) or
delegated (a user's refresh token, which Microsoft rotates).

msal traps handled here: it returns errors as dicts instead of raising; it should be built
once per credential per process (its token cache lives in the application object), which
`MsalApplications` does for whoever holds it; it blocks (the engine calls connectors from
worker threads); and building an application already fetches the authority's OpenID
configuration over the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import msal
import requests

from connectors.base import JSON, AuthError, TransientError
from connectors.excel.http_session import new_http_session, untrusted_certificate

ApplicationKey = tuple[str, ...]


class TokenSource(Protocol):
    def access_token(self) -> str: ...

    def discard_access_token(self) -> None:
        """Forget a token Graph rejected so the next call gets a fresh one."""
        ...


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class MsalApplications:
    """The msal applications of one process and what outlives a run with them: one
    application per credential (its token cache), one redemption lock per delegated
    application (two schedules of one data source running at once must not both spend the
    same refresh token), and which msal account a refresh token belongs to (so a later run
    finds its cached tokens). Thread-safe; refresh tokens are kept only as digests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._apps: dict[ApplicationKey, msal.ClientApplication] = {}
        self._redemption_locks: dict[ApplicationKey, threading.Lock] = {}
        self._accounts: dict[str, str] = {}

    def application(
        self, key: ApplicationKey, build: Callable[[], msal.ClientApplication]
    ) -> msal.ClientApplication:
        with self._lock:
            app = self._apps.get(key)
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
        with self._lock:
            return self._apps.setdefault(key, app)

    def redemption_lock(self, key: ApplicationKey) -> threading.Lock:
        with self._lock:
            return self._redemption_locks.setdefault(key, threading.Lock())

    def account_of(self, refresh_token: str) -> str | None:
        with self._lock:
            return self._accounts.get(_digest(refresh_token))

    def remember_account(self, refresh_token: str, account_id: str) -> None:
        with self._lock:
            self._accounts[_digest(refresh_token)] = account_id


def without_secrets(text: str, secrets: Iterable[str]) -> str:
    """Microsoft's error_description, first line only (the rest is trace and correlation
    ids), with any secret that might be echoed replaced."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    for secret in secrets:
        if secret and len(secret) >= 4:
            line = line.replace(secret, "***")
    return line


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


@dataclass(frozen=True, slots=True)
class SignIn:
    """Where and how a run signs in: the tenant's authority URL, the scopes to ask for,
    the HTTP timeout, whether msal may ask Microsoft about the authority (instance
    discovery: private endpoints and stand-ins are unknown there), and the process's
    msal applications."""

    applications: MsalApplications
    authority: str
    scopes: list[str]
    timeout_seconds: float
    instance_discovery: bool


class AppOnlyTokens:
    """Client credentials (`tenantId`, `clientId`, `clientSecret`); msal caches the token
    until shortly before it expires."""

    def __init__(self, sign_in: SignIn, credentials: JSON) -> None:
        self._client_id = str(credentials["clientId"])
        self._secret = str(credentials["clientSecret"])
        self._scopes = sign_in.scopes
        key = ("app-only", sign_in.authority, self._client_id, _digest(self._secret))
        self._app = sign_in.applications.application(
            key,
            lambda: msal.ConfidentialClientApplication(
                self._client_id,
                client_credential=self._secret,
                authority=sign_in.authority,
                http_client=new_http_session(sign_in.timeout_seconds),
                instance_discovery=sign_in.instance_discovery,
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
        self, sign_in: SignIn, credentials: JSON, save_credentials: Callable[[JSON], None]
    ) -> None:
        self._applications = sign_in.applications
        self._credentials = dict(credentials)
        self._scopes = sign_in.scopes
        self._save = save_credentials
        self._force_refresh = False
        client_id = str(credentials["clientId"])
        key = ("delegated", sign_in.authority, client_id)
        self._lock = self._applications.redemption_lock(key)
        self._app = self._applications.application(
            key,
            lambda: msal.PublicClientApplication(
                client_id,
                authority=sign_in.authority,
                http_client=new_http_session(sign_in.timeout_seconds),
                instance_discovery=sign_in.instance_discovery,
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
        account_id = self._applications.account_of(self._refresh_token)
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
        account_id = _home_account_id(result) or self._applications.account_of(self._refresh_token)
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
            self._applications.remember_account(self._refresh_token, account_id)
        if newest and newest != self._refresh_token:
            self._credentials["refreshToken"] = newest
            self._save(dict(self._credentials))
            if account_id:
                self._applications.remember_account(newest, account_id)


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
