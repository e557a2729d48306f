"""Bearer tokens: session JWTs we issue, and JWTs issued by the host web app."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from app.auth.secrets import derive_key
from app.settings import Settings

SESSION_ISSUER = "datasync"
SESSION_AUDIENCE = "datasync-session"


class TokenRejected(Exception):
    """Why a token cannot be accepted, phrased for the caller."""


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """What a verified session token says: whose it is, which token (`jti`, for logout), the
    user's token version when it was issued (a password change bumps it) and its expiry."""

    user_id: uuid.UUID
    jti: str
    token_version: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class HostIdentity:
    subject: str
    name: str | None


def issue_session_token(
    settings: Settings, user_id: uuid.UUID, token_version: int
) -> tuple[str, datetime]:
    expiry = datetime.now(UTC) + timedelta(minutes=settings.session_token_minutes)
    claims = {
        "sub": str(user_id),
        "tv": token_version,
        "iss": SESSION_ISSUER,
        "aud": SESSION_AUDIENCE,
        "exp": expiry,
        "iat": datetime.now(UTC),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, derive_key(settings.secret_key, "session-jwt"), "HS256"), expiry


def is_session_token(token: str) -> bool:
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss") == SESSION_ISSUER
    except jwt.InvalidTokenError:
        return False


def verify_session_token(settings: Settings, token: str) -> SessionClaims:
    try:
        claims = jwt.decode(
            token,
            derive_key(settings.secret_key, "session-jwt"),
            algorithms=["HS256"],
            audience=SESSION_AUDIENCE,
            issuer=SESSION_ISSUER,
            options={"require": ["exp", "sub", "jti"]},
        )
        return SessionClaims(
            user_id=uuid.UUID(claims["sub"]),
            jti=str(claims["jti"]),
            token_version=int(claims.get("tv", 0)),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
    except jwt.ExpiredSignatureError:
        raise TokenRejected("Token expired - log in again at POST /api/auth/login") from None
    except (jwt.InvalidTokenError, ValueError):
        raise TokenRejected("Invalid token: log in again at POST /api/auth/login") from None


class HostTokenVerifier:
    """Verifies host-app tokens: HS256 with a shared secret, or RS256/ES256 keys from JWKS.

    PyJWKClient caches the key set and refetches it when a token names an unknown key id.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks = (
            jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True)
            if settings.jwt_jwks_url
            else None
        )

    def verify(self, token: str) -> HostIdentity:
        settings = self.settings
        try:
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ["RS256", "ES256"]
            elif settings.jwt_secret:
                key, algorithms = settings.jwt_secret, ["HS256"]
            else:
                raise TokenRejected(
                    "Invalid token: log in at POST /api/auth/login or use an API key"
                )
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=settings.jwt_audience or None,
                issuer=settings.jwt_issuer or None,
                options={"require": ["exp", "sub"], "verify_aud": bool(settings.jwt_audience)},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("Token expired - get a new token from your app") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("Invalid token: wrong audience") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("Invalid token: wrong issuer") from None
        except (jwt.InvalidTokenError, jwt.PyJWKClientError):
            raise TokenRejected("Invalid token: signature or claims not accepted") from None
        return HostIdentity(
            subject=str(claims["sub"]),
            name=claims.get("name") if isinstance(claims.get("name"), str) else None,
        )
