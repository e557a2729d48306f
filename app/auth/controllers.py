"""`/api/auth`: accounts, sessions (bearer tokens and the dashboard's cookie) and API keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import accounts
from app.auth.login_throttle import LoginThrottle
from app.auth.middleware import SESSION_COOKIE, Principal
from app.auth.schemas import (
    ApiKeyCreate,
    ApiKeyOut,
    Login,
    PasswordChange,
    Register,
    UserOut,
)
from app.auth.secrets import hash_api_key, new_api_key
from app.auth.tokens import issue_session_token
from app.db.models import ApiKey, User
from app.errors import ApiError, InvalidInput, not_found
from app.schema import isoformat
from app.settings import Settings
from app.tenancy import owned

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def user_out(user: User) -> UserOut:
    return UserOut(
        id=str(user.id),
        email=user.email,
        name=user.name,
        created_at=isoformat(user.created_at) or "",
        is_admin=bool(user.is_admin),
    )


def api_key_out(key: ApiKey, plain: str | None = None) -> ApiKeyOut:
    return ApiKeyOut(
        id=str(key.id),
        name=key.name,
        prefix=key.prefix,
        created_at=isoformat(key.created_at) or "",
        last_used_at=isoformat(key.last_used_at),
        key=plain,
    )


def _checked_account(data: Register) -> tuple[str, str | None]:
    """The normalised email and name of a new account; 400 listing every problem."""
    email = data.email.strip().lower()
    problems = []
    if not _EMAIL.match(email):
        problems.append(
            {"field": "email", "message": "must be an email address like name@example.com"}
        )
    password_problem = accounts.password_problem(data.password)
    if password_problem:
        problems.append({"field": "password", "message": password_problem})
    if problems:
        raise InvalidInput(problems, "Cannot create the account: see details")
    return email, (data.name or "").strip() or None


def _session_cookie(request: Request[Any, Any, Any], token: str, expiry: datetime) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        path="/",
        max_age=max(0, int((expiry - datetime.now(UTC)).total_seconds())),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _throttle(redis: Redis, settings: Settings) -> LoginThrottle:
    return LoginThrottle(redis, settings.queue_name)


def _client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class AuthController(Controller):
    path = "/api/auth"
    tags = ["Authentication"]

    @post("/register", operation_id="register", exclude_from_auth=True, status_code=200)
    async def register(
        self,
        data: JSONBody[Register],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        email, name = _checked_account(data)
        user = await accounts.register(db_session, app_settings, email, data.password, name)
        return {"success": True, "user": user_out(user), "message": "Account created successfully"}

    @post("/users", operation_id="createUser", status_code=200)
    async def create_user(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[Register],
        db_session: NamedDependency[AsyncSession],
    ) -> dict[str, Any]:
        """The admin adds an account (the only way in when registration is closed)."""
        caller = await db_session.get(User, request.user.user_id)
        if caller is None or not caller.is_admin:
            raise ApiError(403, "Only the admin can create accounts", title="Forbidden")
        email, name = _checked_account(data)
        try:
            async with db_session.begin_nested():
                user = await accounts.create_account(db_session, email, data.password, name)
        except IntegrityError:
            raise ApiError(409, f"An account for {email} already exists") from None
        return {"success": True, "user": user_out(user), "message": "Account created successfully"}

    @post("/login", operation_id="login", exclude_from_auth=True, status_code=200)
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[Login],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
        redis: NamedDependency[Redis],
    ) -> dict[str, Any]:
        token, expiry = await _log_in(request, data, db_session, app_settings, redis)
        return {"success": True, "token": token, "expiry": isoformat(expiry)}

    @post("/token", operation_id="issueToken", exclude_from_auth=True, status_code=200)
    async def token(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[Login],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
        redis: NamedDependency[Redis],
    ) -> dict[str, Any]:
        """Login with OAuth2-style `access_token` fields too, for generic clients."""
        token, expiry = await _log_in(request, data, db_session, app_settings, redis)
        return {
            "success": True,
            "token": token,
            "expiry": isoformat(expiry),
            "access_token": token,
            "token_type": "bearer",
        }

    @post("/session", operation_id="startBrowserSession", exclude_from_auth=True, status_code=200)
    async def start_session(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[Login],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
        redis: NamedDependency[Redis],
    ) -> Response[dict[str, Any]]:
        """The dashboard's sign-in: the session lives in an HttpOnly cookie that page
        scripts cannot read, and the token is not in the body."""
        token, expiry = await _log_in(request, data, db_session, app_settings, redis)
        user = await db_session.scalar(select(User).where(User.email == data.email.strip().lower()))
        assert user is not None  # _log_in found it
        return Response(
            {"success": True, "user": user_out(user), "expiry": isoformat(expiry)},
            cookies=[_session_cookie(request, token, expiry)],
        )

    @post("/logout", operation_id="logout", status_code=200)
    async def logout(
        self, request: Request[Principal, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Response[dict[str, Any]]:
        claims = request.user.session
        if claims is None:
            raise ApiError(
                400,
                "Only session tokens log out; revoke an API key with "
                "DELETE /api/auth/api-keys/{id}",
            )
        await accounts.revoke_session(db_session, claims)
        return Response(
            {"success": True, "message": "Logged out: this session token no longer works"},
            cookies=[Cookie(key=SESSION_COOKIE, value="", path="/", max_age=0, httponly=True)],
        )

    @post("/password", operation_id="changePassword", status_code=200)
    async def change_password(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[PasswordChange],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> Response[dict[str, Any]]:
        """Ends every session of the user; the caller gets a fresh one (a cookie for the
        dashboard, a token otherwise). API keys keep working."""
        user = await db_session.get(User, request.user.user_id)
        if user is None or user.password_hash is None:
            raise ApiError(400, "This account has no password here (it signs in through its app)")
        await accounts.change_password(db_session, user, data.current_password, data.new_password)
        token, expiry = issue_session_token(app_settings, user.id, user.token_version)
        body: dict[str, Any] = {
            "success": True,
            "message": "Password changed: every other session has ended",
            "expiry": isoformat(expiry),
        }
        if request.user.by_cookie:
            return Response(body, cookies=[_session_cookie(request, token, expiry)])
        return Response({**body, "token": token})

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
        if not name:
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


async def _log_in(
    request: Request[Any, Any, Any],
    data: Login,
    db: AsyncSession,
    settings: Settings,
    redis: Redis,
) -> tuple[str, datetime]:
    user = await accounts.authenticate(
        db,
        _throttle(redis, settings),
        data.email.strip().lower(),
        data.password,
        _client_address(request),
    )
    return issue_session_token(settings, user.id, user.token_version)
