"""`/api/auth`: accounts, session tokens and API keys."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.middleware import Principal
from app.auth.schemas import ApiKeyCreate, ApiKeyOut, Login, Register, UserOut
from app.auth.secrets import hash_api_key, hash_password, new_api_key, verify_password
from app.auth.tokens import issue_session_token
from app.db.models import ApiKey, User
from app.errors import ApiError, InvalidInput, not_found
from app.schema import isoformat
from app.settings import Settings
from app.tenancy import owned

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10


def user_out(user: User) -> UserOut:
    return UserOut(
        id=str(user.id),
        email=user.email,
        name=user.name,
        created_at=isoformat(user.created_at) or "",
    )


def api_key_out(key: ApiKey, plain: str | None = None) -> ApiKeyOut:
    return ApiKeyOut(
        id=str(key.id),
        name=key.name,
        prefix=key.prefix,
        created_at=isoformat(key.created_at) or "",
        key=plain,
    )


class AuthController(Controller):
    path = "/api/auth"
    tags = ["Authentication"]

    @post("/register", operation_id="register", exclude_from_auth=True, status_code=200)
    async def register(
        self, data: JSONBody[Register], db_session: NamedDependency[AsyncSession]
    ) -> dict[str, Any]:
        email = data.email.strip().lower()
        problems = []
        if not _EMAIL.match(email):
            problems.append(
                {"field": "email", "message": "must be an email address like name@example.com"}
            )
        if len(data.password) < MIN_PASSWORD:
            problems.append(
                {"field": "password", "message": f"must be at least {MIN_PASSWORD} characters"}
            )
        if problems:
            raise InvalidInput(problems, "Cannot register: see details")
        if await db_session.scalar(select(User.id).where(User.email == email)):
            raise InvalidInput(
                [{"field": "email", "message": "is already registered; log in instead"}],
                "An account with this email already exists",
            )
        user = User(
            email=email,
            name=(data.name or "").strip() or None,
            password_hash=hash_password(data.password),
        )
        db_session.add(user)
        await db_session.flush()
        return {"success": True, "user": user_out(user), "message": "Account created successfully"}

    @post("/login", operation_id="login", exclude_from_auth=True, status_code=200)
    async def login(
        self,
        data: JSONBody[Login],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        token, expiry = await _session_token_for(data, db_session, app_settings)
        return {"success": True, "token": token, "expiry": isoformat(expiry)}

    @post("/token", operation_id="issueToken", exclude_from_auth=True, status_code=200)
    async def token(
        self,
        data: JSONBody[Login],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        """Login with OAuth2-style `access_token` fields too, for generic clients."""
        token, expiry = await _session_token_for(data, db_session, app_settings)
        return {
            "success": True,
            "token": token,
            "expiry": isoformat(expiry),
            "access_token": token,
            "token_type": "bearer",
        }

    @get("/me", operation_id="me")
    async def me(
        self, request: Request[Principal, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> dict[str, Any]:
        user = await db_session.get(User, request.user.user_id)
        if user is None:
            raise not_found("User")
        return {"success": True, "user": user_out(user)}

    @post("/api-keys", operation_id="createApiKey", status_code=200)
    async def create_api_key(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[ApiKeyCreate],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        name = data.name.strip()
        if not name or len(name) > 200:
            raise InvalidInput(
                [{"field": "name", "message": "must be 1 to 200 characters"}],
                "Invalid API key name",
            )
        plain = new_api_key()
        key = ApiKey(
            user_id=request.user.user_id, name=name, key_hash=hash_api_key(plain), prefix=plain[:12]
        )
        db_session.add(key)
        await db_session.flush()
        return {
            "success": True,
            "apiKey": api_key_out(key, plain),
            "message": "API key created: copy it now, it is not shown again",
        }

    @get("/api-keys", operation_id="listApiKeys")
    async def list_api_keys(
        self, request: Request[Principal, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> dict[str, Any]:
        keys = (
            await db_session.scalars(
                select(ApiKey)
                .where(ApiKey.user_id == request.user.user_id)
                .order_by(ApiKey.created_at)
            )
        ).all()
        return {"success": True, "apiKeys": [api_key_out(k) for k in keys], "totalCount": len(keys)}

    @delete("/api-keys/{key_id:str}", operation_id="revokeApiKey", status_code=200)
    async def revoke_api_key(
        self,
        request: Request[Principal, Any, Any],
        key_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        key = await owned(db_session, ApiKey, request.user.user_id, key_id, "API key")
        await db_session.delete(key)
        return {"success": True, "message": "API key revoked"}


async def _session_token_for(
    data: JSONBody[Login],
    db_session: NamedDependency[AsyncSession],
    app_settings: NamedDependency[Settings],
) -> tuple[str, datetime]:
    user = await db_session.scalar(select(User).where(User.email == data.email.strip().lower()))
    if (
        user is None
        or not user.password_hash
        or not verify_password(data.password, user.password_hash)
    ):
        raise ApiError(401, "Wrong email or password")
    return issue_session_token(app_settings, user.id)
