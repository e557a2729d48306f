"""The access tokens OAuth clients get: JWTs in the shape of RFC 9068 (`typ: at+jwt`; `sub`
and `client_id` the client, `scope` space-separated), signed with a key of their own purpose
derived from SECRET_KEY, so a session token never passes for one nor the other way round.

A token says which client it was issued to, not which user: the client is looked up on every
use, which is what makes deleting a client end its tokens at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from app.auth.secrets import derive_key
from app.auth.tokens import SESSION_ISSUER, TokenRejected
from app.settings import Settings

CLIENT_AUDIENCE = "datasync-api"
TOKEN_TYPE = "at+jwt"
_PURPOSE = "oauth-client-jwt"
_RENEW = "get a new one from POST /oauth/token"


@dataclass(frozen=True, slots=True)
class ClientClaims:
    client_id: uuid.UUID
    scopes: frozenset[str]


def issue_access_token(
    settings: Settings, client_id: uuid.UUID, scopes: list[str]
) -> tuple[str, int]:
    """The token and its lifetime in seconds."""
    lifetime = timedelta(minutes=settings.oauth_token_minutes)
    now = datetime.now(UTC)
    claims = {
        "iss": SESSION_ISSUER,
        "aud": CLIENT_AUDIENCE,
        "sub": str(client_id),
        "client_id": str(client_id),
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(
        claims, derive_key(settings.secret_key, _PURPOSE), "HS256", headers={"typ": TOKEN_TYPE}
    )
    return token, int(lifetime.total_seconds())


def is_access_token(token: str) -> bool:
    """Whether `token` claims to be one of ours (checked for real by `verify_access_token`)."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return False
    return header.get("typ") == TOKEN_TYPE and claims.get("iss") == SESSION_ISSUER


def verify_access_token(settings: Settings, token: str) -> ClientClaims:
    try:
        decoded = jwt.decode_complete(
            token,
            derive_key(settings.secret_key, _PURPOSE),
            algorithms=["HS256"],
            audience=CLIENT_AUDIENCE,
            issuer=SESSION_ISSUER,
            options={"require": ["exp", "iat", "sub", "scope"], "strict_aud": True},
        )
        claims = decoded["payload"]
        if decoded["header"].get("typ") != TOKEN_TYPE or not isinstance(claims["scope"], str):
            raise jwt.InvalidTokenError
        return ClientClaims(uuid.UUID(claims["sub"]), frozenset(claims["scope"].split()))
    except jwt.ExpiredSignatureError:
        raise TokenRejected(f"Access token expired: {_RENEW}") from None
    except (jwt.InvalidTokenError, ValueError):
        raise TokenRejected(f"Invalid access token: {_RENEW}") from None
