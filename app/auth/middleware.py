"""Authenticates every request but the public ones from its bearer token.

Four kinds of token: API keys (`ds_live_…`), our session JWTs, the access tokens of OAuth
clients (app/auth/oauth/), and the host web app's JWTs (the user is created on first sight of
its `sub`). An OAuth client's token, and an API key created with scopes, carry scopes that
app/auth/scopes.py holds each route to; the others have full access. A client is looked up
on every use of its token, so deleting it ends its tokens at once.

The dashboard carries its session JWT in an HttpOnly cookie instead of a header; a write
authenticated by that cookie must also carry `X-Requested-With: DataSync`, a header no other
site's page can add without the CORS preflight this service refuses it (with SameSite=Strict,
a second lock on cross-site requests). A session token is accepted only while its user's token version is the one it
was issued with (a password change ends every session) and it was not logged out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import anyio
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware.authentication import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
)
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.accounts import note_api_key_use, session_is_current
from app.auth.oauth.access_tokens import is_access_token, verify_access_token
from app.auth.secrets import API_KEY_PREFIX, hash_api_key
from app.auth.tokens import (
    HostTokenVerifier,
    SessionClaims,
    TokenRejected,
    is_session_token,
    verify_session_token,
)
from app.db.models import ApiClient, ApiKey, User
from app.settings import Settings

# Operations endpoints and the dashboard's static files: no token, and no rate limit either.
UNMETERED_PATHS = [
    "^/health$",
    "^/ready$",
    "^/metrics$",
    "^/schema",
    "^/$",
    "^/static/",
    "^/client/",
]
PUBLIC_PATHS = [
    "^/api/auth/register$",
    "^/api/auth/login$",
    "^/api/auth/token$",
    "^/api/auth/session$",
    "^/oauth/token$",
    *UNMETERED_PATHS,
]
SESSION_COOKIE = "datasync_session"
CSRF_HEADER, CSRF_VALUE = "x-requested-with", "DataSync"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: every query is scoped to `user_id`."""

    user_id: uuid.UUID
    via: str  # session | api-key | oauth-client | host-jwt
    session: SessionClaims | None = None  # for session tokens: which one, until when
    by_cookie: bool = False
    scopes: frozenset[str] | None = None  # None: full access


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        by_cookie = not header and bool(connection.cookies.get(SESSION_COOKIE))
        if by_cookie:
            token = connection.cookies[SESSION_COOKIE]
            method = connection.scope.get("method", "GET")
            if method not in _SAFE_METHODS and connection.headers.get(CSRF_HEADER) != CSRF_VALUE:
                raise PermissionDeniedException(
                    f"A change made with the session cookie must carry the header "
                    f"`X-Requested-With: {CSRF_VALUE}`"
                )
        elif scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException(
                "Missing bearer token: send `Authorization: Bearer <token>` "
                "(log in at POST /api/auth/login or create an API key)"
            )
        token = token.strip()
        state = connection.app.state
        settings: Settings = state.settings
        sessions: async_sessionmaker[AsyncSession] = state.session_maker
        try:
            if token.startswith(API_KEY_PREFIX):
                principal = await _from_api_key(sessions, token)
            elif not by_cookie and is_access_token(token):
                principal = await _from_access_token(sessions, settings, token)
            elif by_cookie or is_session_token(token) or not settings.host_jwt_enabled:
                principal = await _from_session_token(sessions, settings, token, by_cookie)
            else:
                verifier: HostTokenVerifier = state.host_token_verifier
                identity = await anyio.to_thread.run_sync(verifier.verify, token)
                user_id = await _user_for_subject(sessions, identity.subject, identity.name)
                principal = Principal(user_id, "host-jwt")
        except TokenRejected as rejected:
            raise NotAuthorizedException(str(rejected)) from None
        connection.scope.setdefault("state", {})["user_id"] = str(principal.user_id)
        return AuthenticationResult(user=principal, auth=principal.via)


async def _from_api_key(sessions: async_sessionmaker[AsyncSession], token: str) -> Principal:
    async with sessions() as db:
        found = (
            await db.execute(
                select(ApiKey.id, ApiKey.user_id, ApiKey.last_used_at, ApiKey.scopes).where(
                    ApiKey.key_hash == hash_api_key(token)
                )
            )
        ).first()
        if found is None:
            raise TokenRejected("Invalid or revoked API key")
        await note_api_key_use(db, found.id, found.last_used_at)
    scopes = None if found.scopes is None else frozenset(found.scopes)
    return Principal(found.user_id, "api-key", scopes=scopes)


async def _from_access_token(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, token: str
) -> Principal:
    claims = verify_access_token(settings, token)
    async with sessions() as db:
        owner = await db.scalar(select(ApiClient.user_id).where(ApiClient.id == claims.client_id))
    if owner is None:
        raise TokenRejected("OAuth client deleted: its tokens no longer work")
    return Principal(owner, "oauth-client", scopes=claims.scopes)


async def _from_session_token(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, token: str, by_cookie: bool
) -> Principal:
    claims = verify_session_token(settings, token)
    async with sessions() as db:
        if not await session_is_current(db, claims):
            raise TokenRejected(
                "Session ended (logged out, password changed or user removed): log in again"
            )
    return Principal(claims.user_id, "session", claims, by_cookie)


async def _user_for_subject(
    sessions: async_sessionmaker[AsyncSession], subject: str, name: str | None
) -> uuid.UUID:
    async with sessions() as db:
        existing = await db.scalar(select(User.id).where(User.external_id == subject))
        if existing is not None:
            return existing
        user = User(external_id=subject, name=name)
        db.add(user)
        try:
            await db.commit()
        except IntegrityError:
            # Another request created the same user a moment ago.
            await db.rollback()
            found = await db.scalar(select(User.id).where(User.external_id == subject))
            if found is None:
                raise
            return found
        return user.id
