"""`/api/auth`: accounts, sessions (bearer tokens and the dashboard's cookie) and API keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import accounts, service
from app.auth.middleware import SESSION_COOKIE, Principal
from app.auth.schemas import (
    AccountCreated,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOut,
    BrowserSession,
    CurrentUser,
    IssuedToken,
    Login,
    NewApiKeyOut,
    PasswordChange,
    PasswordChanged,
    Register,
    SessionToken,
    UserOut,
)
from app.auth.scopes import FULL_ACCESS, Scope
from app.db.models import ApiKey, User
from app.openapi import error_response
from app.schema import Done
from app.settings import Settings
from app.tenancy import owned_by_caller
from app.time_text import isoformat

# What the login routes answer besides success, the shared statuses aside.
_WRONG_CREDENTIALS = error_response(
    "Wrong email or password (the answer does not tell which)",
    title="Unauthorized",
    example="Wrong email or password",
)
_LOGIN_BACKOFF = error_response(
    "Too many failed logins for this email or from this address, or too many requests this "
    "minute: wait `Retry-After` seconds",
    title="Too Many Requests",
    example="Too many failed logins: try again in 8 s",
)
_LOGIN_RESPONSES: dict[int, ResponseSpec] = {401: _WRONG_CREDENTIALS, 429: _LOGIN_BACKOFF}
# Documented only: the cookie's value is set per response.
_SESSION_COOKIE_DOC = Cookie(
    key=SESSION_COOKIE,
    path="/",
    httponly=True,
    samesite="strict",
    documentation_only=True,
    description="The browser session (HttpOnly, so page scripts cannot read it); "
    "`Secure` over https",
)
_SESSION_COOKIE_CLEARED_DOC = Cookie(
    key=SESSION_COOKIE,
    path="/",
    max_age=0,
    httponly=True,
    documentation_only=True,
    description="Cleared: the browser's session ends",
)


def user_out(user: User) -> UserOut:
    return UserOut(
        id=str(user.id),
        email=user.email,
        name=user.name,
        created_at=isoformat(user.created_at) or "",
        is_admin=bool(user.is_admin),
    )


def api_key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=str(key.id),
        name=key.name,
        prefix=key.prefix,
        created_at=isoformat(key.created_at) or "",
        last_used_at=isoformat(key.last_used_at),
        scopes=None if key.scopes is None else [Scope(s) for s in key.scopes],
    )


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


def _client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class AuthController(Controller):
    path = "/api/auth"
    tags = ["Authentication"]
    dependencies = {"api_key": owned_by_caller(ApiKey, "API key", "key_id")}

    @post(
        "/register",
        operation_id="register",
        exclude_from_auth=True,
        status_code=200,
        responses={
            403: error_response(
                "Registration is closed on this server (REGISTRATION=closed, or first-user "
                "and the first account exists)",
                title="Forbidden",
                example=accounts.REGISTRATION_CLOSED,
            )
        },
    )
    async def register(
        self,
        data: JSONBody[Register],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> AccountCreated:
        """An email that has an account already is answered the same way and changes
        nothing, so that registering does not tell which emails have accounts."""
        user = await service.register(db_session, app_settings, data)
        return AccountCreated(
            success=True, user=user_out(user), message="Account created successfully"
        )

    @post(
        "/users",
        operation_id="createUser",
        status_code=200,
        opt={"scope": FULL_ACCESS},
        responses={
            403: error_response(
                "The caller is not the admin (only the admin creates accounts), or a browser "
                "session's change lacks the `X-Requested-With: DataSync` header",
                title="Forbidden",
                example="Only the admin can create accounts",
            ),
            409: error_response(
                "An account with this email exists",
                title="Conflict",
                example="An account for ana@example.com already exists",
            ),
        },
    )
    async def create_user(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[Register],
        db_session: NamedDependency[AsyncSession],
    ) -> AccountCreated:
        """The admin adds an account (the only way in when registration is closed)."""
        user = await service.create_user(db_session, request.user.user_id, data)
        return AccountCreated(
            success=True, user=user_out(user), message="Account created successfully"
        )

    @post(
        "/login",
        operation_id="login",
        exclude_from_auth=True,
        status_code=200,
        responses=_LOGIN_RESPONSES,
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[Login],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
        redis: NamedDependency[Redis],
    ) -> SessionToken:
        _, token, expiry = await service.log_in(
            db_session, app_settings, redis, data, _client_address(request)
        )
        return SessionToken(success=True, token=token, expiry=isoformat(expiry) or "")

    @post(
        "/token",
        operation_id="issueToken",
        exclude_from_auth=True,
        status_code=200,
        responses=_LOGIN_RESPONSES,
    )
    async def token(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[Login],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
        redis: NamedDependency[Redis],
    ) -> IssuedToken:
        """Login with OAuth2-style `access_token` fields too, for generic clients."""
        _, token, expiry = await service.log_in(
            db_session, app_settings, redis, data, _client_address(request)
        )
        return IssuedToken(
            success=True,
            token=token,
            expiry=isoformat(expiry) or "",
            access_token=token,
            token_type="bearer",
        )

    @post(
        "/session",
        operation_id="startBrowserSession",
        exclude_from_auth=True,
        status_code=200,
        responses=_LOGIN_RESPONSES,
        response_cookies=[_SESSION_COOKIE_DOC],
    )
    async def start_session(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[Login],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
        redis: NamedDependency[Redis],
    ) -> Response[BrowserSession]:
        """The dashboard's sign-in: the session lives in an HttpOnly cookie that page
        scripts cannot read, and the token is not in the body."""
        user, token, expiry = await service.log_in(
            db_session, app_settings, redis, data, _client_address(request)
        )
        return Response(
            BrowserSession(success=True, user=user_out(user), expiry=isoformat(expiry) or ""),
            cookies=[_session_cookie(request, token, expiry)],
        )

    @post(
        "/logout",
        operation_id="logout",
        status_code=200,
        opt={"scope": FULL_ACCESS},
        responses={
            400: error_response(
                "The token is an API key or a host-app token: only session tokens log out",
                title="Invalid request",
                example="Only session tokens log out; revoke an API key with "
                "DELETE /api/auth/api-keys/{id}",
            )
        },
        response_cookies=[_SESSION_COOKIE_CLEARED_DOC],
    )
    async def logout(
        self, request: Request[Principal, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Response[Done]:
        """Ends this session token now, and clears the dashboard's cookie."""
        await service.log_out(db_session, request.user.session)
        return Response(
            Done(success=True, message="Logged out: this session token no longer works"),
            cookies=[Cookie(key=SESSION_COOKIE, value="", path="/", max_age=0, httponly=True)],
        )

    @post(
        "/password",
        operation_id="changePassword",
        status_code=200,
        opt={"scope": FULL_ACCESS},
        responses={
            400: error_response(
                "The current password is wrong or the new one too weak (`details` names the "
                "field), or the account has no password here (it signs in through its app)",
                title="Invalid request",
                example="The current password is wrong",
            )
        },
        response_cookies=[_SESSION_COOKIE_DOC],
    )
    async def change_password(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[PasswordChange],
        db_session: NamedDependency[AsyncSession],
        app_settings: NamedDependency[Settings],
    ) -> Response[PasswordChanged]:
        """Ends every session of the user; the caller gets a fresh one (a cookie for the
        dashboard, a token otherwise). API keys keep working."""
        token, expiry = await service.change_password(
            db_session, app_settings, request.user.user_id, data
        )
        message = "Password changed: every other session has ended"
        if request.user.by_cookie:
            return Response(
                PasswordChanged(success=True, message=message, expiry=isoformat(expiry) or ""),
                cookies=[_session_cookie(request, token, expiry)],
            )
        return Response(
            PasswordChanged(
                success=True, message=message, expiry=isoformat(expiry) or "", token=token
            )
        )

    @get(
        "/me",
        operation_id="me",
        opt={"scope": FULL_ACCESS},
        responses={
            404: error_response(
                "The account was deleted after this request was authenticated",
                title="Not found",
                example="User not found",
            )
        },
    )
    async def me(
        self, request: Request[Principal, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> CurrentUser:
        user = await service.current_user(db_session, request.user.user_id)
        return CurrentUser(success=True, user=user_out(user))

    @post("/api-keys", operation_id="createApiKey", status_code=200, opt={"scope": FULL_ACCESS})
    async def create_api_key(
        self,
        request: Request[Principal, Any, Any],
        data: JSONBody[ApiKeyCreate],
        db_session: NamedDependency[AsyncSession],
    ) -> ApiKeyCreated:
        key, plain = await service.create_api_key(
            db_session, request.user.user_id, data.name, data.scopes
        )
        return ApiKeyCreated(
            success=True,
            api_key=NewApiKeyOut(**msgspec.structs.asdict(api_key_out(key)), key=plain),
            message="API key created: copy it now, it is not shown again",
        )

    @get("/api-keys", operation_id="listApiKeys", opt={"scope": FULL_ACCESS})
    async def list_api_keys(
        self, request: Request[Principal, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> ApiKeyList:
        keys = await service.api_keys(db_session, request.user.user_id)
        return ApiKeyList(
            success=True, api_keys=[api_key_out(k) for k in keys], total_count=len(keys)
        )

    @delete(
        "/api-keys/{key_id:str}",
        operation_id="revokeApiKey",
        status_code=200,
        opt={"scope": FULL_ACCESS},
    )
    async def revoke_api_key(
        self,
        api_key: NamedDependency[ApiKey],
        db_session: NamedDependency[AsyncSession],
    ) -> Done:
        await service.revoke_api_key(db_session, api_key)
        return Done(success=True, message="API key revoked")
