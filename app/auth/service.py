"""What the /api/auth routes do: accounts created by their owner or by the admin, sessions
started, changed and ended, and a user's API keys."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import accounts
from app.auth.login_throttle import LoginThrottle
from app.auth.schemas import MAX_NAME, NOT_BLANK, Login, PasswordChange, Register
from app.auth.scopes import Scope, granted
from app.auth.secrets import hash_api_key, new_api_key
from app.auth.tokens import SessionClaims, issue_session_token
from app.db.models import ApiKey, User
from app.errors import ApiError, InvalidInput, not_found
from app.settings import Settings


def _checked_account(data: Register) -> tuple[str, str | None]:
    """The normalised email and name of a new account; 400 listing every problem."""
    problems = []
    email_problem = accounts.email_problem(data.email)
    if email_problem:
        problems.append({"field": "email", "message": email_problem})
    password_problem = accounts.password_problem(data.password)
    if password_problem:
        problems.append({"field": "password", "message": password_problem})
    if problems:
        raise InvalidInput(problems, "Cannot create the account: see details")
    return accounts.normalised_email(data.email), (data.name or "").strip() or None


async def register(db: AsyncSession, settings: Settings, data: Register) -> User:
    email, name = _checked_account(data)
    return await accounts.register(db, settings, email, data.password, name)


async def create_user(db: AsyncSession, caller_id: uuid.UUID, data: Register) -> User:
    """An account the admin adds; 403 for anyone else, 409 when the email has one."""
    caller = await db.get(User, caller_id)
    if caller is None or not caller.is_admin:
        raise ApiError(403, "Only the admin can create accounts", title="Forbidden")
    email, name = _checked_account(data)
    try:
        async with db.begin_nested():
            return await accounts.create_account(db, email, data.password, name)
    except IntegrityError:
        raise ApiError(409, f"An account for {email} already exists") from None


async def log_in(
    db: AsyncSession, settings: Settings, redis: Redis, data: Login, address: str
) -> tuple[User, str, datetime]:
    """The user, a new session token and its expiry; 429 while backing off, 401 when wrong."""
    user = await accounts.authenticate(
        db,
        LoginThrottle(redis, settings.queue_name),
        accounts.normalised_email(data.email),
        data.password,
        address,
    )
    token, expiry = issue_session_token(settings, user.id, user.token_version)
    return user, token, expiry


async def log_out(db: AsyncSession, claims: SessionClaims | None) -> None:
    """Ends the session token the request came with (`claims`: None for other tokens)."""
    if claims is None:
        raise ApiError(
            400,
            "Only session tokens log out; revoke an API key with DELETE /api/auth/api-keys/{id}",
        )
    await accounts.revoke_session(db, claims)


async def change_password(
    db: AsyncSession, settings: Settings, user_id: uuid.UUID, data: PasswordChange
) -> tuple[str, datetime]:
    """A new session token and its expiry: the change ended every other session."""
    user = await db.get(User, user_id)
    if user is None or user.password_hash is None:
        raise ApiError(400, "This account has no password here (it signs in through its app)")
    await accounts.change_password(db, user, data.current_password, data.new_password)
    return issue_session_token(settings, user.id, user.token_version)


async def current_user(db: AsyncSession, user_id: uuid.UUID) -> User:
    """The caller's account; 404 when it was deleted after the request was authenticated."""
    user = await db.get(User, user_id)
    if user is None:
        raise not_found("User")
    return user


def checked_name(name: str, what: str) -> str:
    """A credential's name without surrounding spaces; 400 unless it has 1 to MAX_NAME
    characters and something besides spaces."""
    if len(name) > MAX_NAME or not re.search(NOT_BLANK, name):
        raise InvalidInput(
            [{"field": "name", "message": f"must be 1 to {MAX_NAME} characters, not only spaces"}],
            f"Invalid {what} name",
        )
    return name.strip()


async def create_api_key(
    db: AsyncSession, user_id: uuid.UUID, name: str, scopes: Sequence[Scope] | None = None
) -> tuple[ApiKey, str]:
    """The stored key and the key itself, which only its hash keeps afterwards. Without
    `scopes` the key has full access."""
    plain = new_api_key()
    key = ApiKey(
        user_id=user_id,
        name=checked_name(name, "API key"),
        key_hash=hash_api_key(plain),
        prefix=plain[:12],
        scopes=None if scopes is None else granted(scopes),
    )
    db.add(key)
    await db.flush()
    return key, plain


async def api_keys(db: AsyncSession, user_id: uuid.UUID) -> Sequence[ApiKey]:
    """The user's keys, oldest first."""
    query = select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at)
    return (await db.scalars(query)).all()


async def revoke_api_key(db: AsyncSession, key: ApiKey) -> None:
    await db.delete(key)
