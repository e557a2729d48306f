"""Authenticates every request but the public ones from its bearer token.

Three kinds of token: API keys (`ds_live_…`), our session JWTs, and the host web app's JWTs
(the user is created on first sight of its `sub`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import anyio
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware.authentication import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
)
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.secrets import API_KEY_PREFIX, hash_api_key
from app.auth.tokens import HostTokenVerifier, TokenRejected, is_session_token, verify_session_token
from app.db.models import ApiKey, User
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
PUBLIC_PATHS = ["^/api/auth/register$", "^/api/auth/login$", "^/api/auth/token$", *UNMETERED_PATHS]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: every query is scoped to `user_id`."""

    user_id: uuid.UUID
    via: str  # session | api-key | host-jwt


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
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
            elif is_session_token(token) or not settings.host_jwt_enabled:
                principal = await _from_session_token(sessions, settings, token)
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
        user_id = await db.scalar(
            select(ApiKey.user_id).where(ApiKey.key_hash == hash_api_key(token))
        )
    if user_id is None:
        raise TokenRejected("Invalid or revoked API key")
    return Principal(user_id, "api-key")


async def _from_session_token(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, token: str
) -> Principal:
    user_id = verify_session_token(settings, token)
    async with sessions() as db:
        if await db.get(User, user_id) is None:
            raise TokenRejected("Invalid token: the user no longer exists")
    return Principal(user_id, "session")


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
