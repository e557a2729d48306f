"""The client credentials grant (RFC 6749 §4.4): who the client is (HTTP Basic or the body,
§2.3.1), which scopes its token holds, and the errors of §5.2.

Failed client authentications are slowed down like failed logins (app/auth/login_throttle.py),
per client id and per address, in a namespace of their own.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote_plus

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.login_throttle import LoginThrottle
from app.auth.oauth.access_tokens import issue_access_token
from app.auth.oauth.clients import authenticated_client
from app.auth.oauth.schemas import OAuthErrorCode, TokenRequest, TokenResponse
from app.auth.scopes import Scope, granted
from app.errors import ApiError
from app.settings import Settings

GRANT_TYPE = "client_credentials"
# RFC 7617 asks for a realm; the charset says the credentials may be UTF-8.
BASIC_CHALLENGE = 'Basic realm="DataSync", charset="UTF-8"'


class OAuthError(Exception):
    """An error of the token endpoint, answered as RFC 6749 §5.2 has it."""

    def __init__(
        self,
        error: OAuthErrorCode,
        description: str,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error: OAuthErrorCode = error
        self.description = description
        self.status = status
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    secret: str
    by_basic: bool  # a failure is then answered with a Basic challenge

    def refused(self) -> OAuthError:
        return OAuthError(
            "invalid_client",
            "Client authentication failed: unknown client, wrong secret, or a deleted client",
            status=401,
            headers={"WWW-Authenticate": BASIC_CHALLENGE} if self.by_basic else None,
        )


def client_credentials(authorization: str, form: TokenRequest) -> ClientCredentials:
    """The credentials the client sent, one way or the other (§2.3: never both)."""
    scheme, _, encoded = authorization.partition(" ")
    in_body = form.client_id is not None or form.client_secret is not None
    if scheme.lower() == "basic":
        if in_body:
            raise OAuthError(
                "invalid_request",
                "Send the client's credentials one way: HTTP Basic, or client_id and "
                "client_secret in the body, not both",
            )
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        raw_id, colon, raw_secret = decoded.partition(":")
        if not colon:
            raise OAuthError(
                "invalid_client",
                "HTTP Basic credentials must be base64 of client_id:client_secret",
                status=401,
                headers={"WWW-Authenticate": BASIC_CHALLENGE},
            )
        # §2.3.1: each part is form-encoded before the pair is base64-encoded.
        return ClientCredentials(unquote_plus(raw_id), unquote_plus(raw_secret), by_basic=True)
    if form.client_id and form.client_secret:
        return ClientCredentials(form.client_id, form.client_secret, by_basic=False)
    raise OAuthError(
        "invalid_client",
        "Client authentication missing: send client_id and client_secret with HTTP Basic "
        "or in the form body",
        status=401,
    )


def token_scopes(requested: str | None, allowed: list[str]) -> list[str]:
    """The scopes the token holds: those asked for, or all the client's when none are."""
    asked = (requested or "").split()
    if not asked:
        return granted(allowed)
    known = {scope.value for scope in Scope}
    unknown = sorted({s for s in asked if s not in known})
    if unknown:
        raise OAuthError(
            "invalid_scope",
            f"Unknown scope {', '.join(unknown)}; the scopes are {', '.join(Scope)}",
        )
    beyond = sorted({s for s in asked if s not in allowed})
    if beyond:
        raise OAuthError(
            "invalid_scope",
            f"This client was not granted {', '.join(beyond)}; it may ask for "
            f"{', '.join(granted(allowed))}",
        )
    return granted(asked)


async def issue_token(
    db: AsyncSession,
    settings: Settings,
    redis: Redis,
    form: TokenRequest,
    authorization: str,
    address: str,
) -> TokenResponse:
    if form.grant_type != GRANT_TYPE:
        raise OAuthError("unsupported_grant_type", f"Only grant_type={GRANT_TYPE} is served here")
    credentials = client_credentials(authorization, form)
    throttle = LoginThrottle(redis, f"{settings.queue_name}:oauth-clients")
    wait = await throttle.seconds_to_wait(credentials.client_id, address)
    if wait:
        raise ApiError(
            429,
            f"Too many failed client authentications: try again in {wait} s",
            title="Too Many Requests",
            headers={"Retry-After": str(wait)},
        )
    client = await authenticated_client(db, credentials.client_id, credentials.secret)
    if client is None:
        await throttle.failed(credentials.client_id, address)
        raise credentials.refused()
    await throttle.succeeded(credentials.client_id, address)
    scopes = token_scopes(form.scope, client.scopes)
    token, lifetime = issue_access_token(settings, client.id, scopes)
    return TokenResponse(
        access_token=token, token_type="Bearer", expires_in=lifetime, scope=" ".join(scopes)
    )
