"""Local accounts: who may register, password rules, logging in, sessions ending.

Answers never tell whether an email has an account: an unknown email is checked against a
stand-in hash so that it costs the same time as a wrong password, and registering an email
that is taken answers like a new registration but changes nothing (the owner logs in as
before). Password hashing (scrypt, ~50 ms) runs in threads of its own, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from zxcvbn import zxcvbn

from app.auth.login_throttle import LoginThrottle
from app.auth.secrets import hash_password, verify_password
from app.auth.tokens import SessionClaims
from app.db.models import ApiKey, RevokedToken, User
from app.errors import ApiError, InvalidInput
from app.settings import Settings

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_EMAIL = 320
# Surrounding spaces are dropped (the address is stored stripped and in lower case), so the
# pattern tolerates them; it is the whole rule, documented as is in the OpenAPI document.
EMAIL_PATTERN = r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$"
# zxcvbn reads at most this many characters; longer passwords are judged by their start.
_ZXCVBN_MAX = 72
REGISTRATION_CLOSED = (
    "Registration is closed on this server: ask its admin to create your account "
    "(POST /api/auth/users), or run `datasync create-user EMAIL` on the server"
)


def normalised_email(email: str) -> str:
    return email.strip().lower()


def email_problem(email: str) -> str | None:
    """Why `email` cannot name a new account, or None."""
    # Lower case can be longer than the text it came from ("İ" is two code points in lower
    # case): the stored form must fit too.
    if max(len(email), len(normalised_email(email))) > MAX_EMAIL:
        return f"must be at most {MAX_EMAIL} characters"
    if not re.match(EMAIL_PATTERN, email):
        return "must be an email address like name@example.com"
    return None


def password_problem(password: str) -> str | None:
    """Why `password` may not be used, or None. zxcvbn's score 3 of 4 ("safely
    unguessable") rules out common passwords, repeats, sequences and keyboard walks."""
    if len(password) < MIN_PASSWORD:
        return f"must be at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"must be at most {MAX_PASSWORD} characters"
    verdict = zxcvbn(password[:_ZXCVBN_MAX])
    if verdict["score"] < 3:
        reason = verdict["feedback"]["warning"] or "It is too easy to guess."
        return f"is too easy to guess: {reason} Use a longer passphrase of uncommon words"
    return None


def check_new_password(password: str, field: str = "password") -> None:
    problem = password_problem(password)
    if problem:
        raise InvalidInput([{"field": field, "message": problem}], "Choose a stronger password")


@cache
def _stand_in_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


@cache
def _hashing_threads() -> ThreadPoolExecutor:
    # scrypt is CPU-bound: its own threads, one core fewer than the machine has and at a
    # lower scheduling priority, so that a burst of logins slows logins down and not the
    # event loop that answers every other request.
    return ThreadPoolExecutor(
        max_workers=max(1, (os.cpu_count() or 2) - 1),
        thread_name_prefix="password-hashing",
        initializer=_lower_this_threads_priority,
    )


def _lower_this_threads_priority() -> None:
    # Linux schedules threads one by one: a thread id is a valid PRIO_PROCESS target.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


async def _hash(password: str) -> str:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_hashing_threads(), hash_password, password)


async def _verify(password: str, stored: str | None) -> bool:
    # No stored hash (unknown email, host-app user): the same work, then False.
    loop = asyncio.get_running_loop()
    matches = await loop.run_in_executor(
        _hashing_threads(), verify_password, password, stored or _stand_in_hash()
    )
    return matches and stored is not None


async def create_account(
    db: AsyncSession, email: str, password: str, name: str | None, is_admin: bool = False
) -> User:
    """A new local account; raises IntegrityError when the email (or the admin) exists."""
    user = User(email=email, name=name, password_hash=await _hash(password), is_admin=is_admin)
    db.add(user)
    await db.flush()
    return user


async def register(
    db: AsyncSession, settings: Settings, email: str, password: str, name: str | None
) -> User:
    """Registration under the REGISTRATION policy (see app/settings.py)."""
    if settings.registration == "closed":
        raise ApiError(403, REGISTRATION_CLOSED, title="Forbidden")
    first_user = settings.registration == "first-user"
    if first_user and await db.scalar(select(func.count()).select_from(User)):
        raise ApiError(403, REGISTRATION_CLOSED, title="Forbidden")
    existing = await db.scalar(select(User).where(User.email == email))
    if existing is not None:
        await _hash(password)  # the same time as a real registration
        return User(id=uuid.uuid4(), email=email, name=name, created_at=datetime.now(UTC))
    try:
        async with db.begin_nested():
            return await create_account(db, email, password, name, is_admin=first_user)
    except IntegrityError:
        # Another registration won the race: for the first user, or for this email.
        if first_user:
            raise ApiError(403, REGISTRATION_CLOSED, title="Forbidden") from None
        return User(id=uuid.uuid4(), email=email, name=name, created_at=datetime.now(UTC))


async def authenticate(
    db: AsyncSession, throttle: LoginThrottle, email: str, password: str, address: str
) -> User:
    """The account for these credentials; 429 while backing off, 401 when wrong."""
    wait = await throttle.seconds_to_wait(email, address)
    if wait:
        raise ApiError(
            429,
            f"Too many failed logins: try again in {wait} s",
            title="Too Many Requests",
            headers={"Retry-After": str(wait)},
        )
    user = await db.scalar(select(User).where(User.email == email))
    # Verified even when there is no such user, so that both cost the same time.
    if not await _verify(password, user.password_hash if user else None) or user is None:
        await throttle.failed(email, address)
        raise ApiError(401, "Wrong email or password")
    await throttle.succeeded(email, address)
    return user


async def change_password(db: AsyncSession, user: User, current: str, new: str) -> None:
    """Sets a new password and ends every session of the user (API keys stay valid)."""
    if not await _verify(current, user.password_hash):
        raise InvalidInput(
            [{"field": "currentPassword", "message": "is not the current password"}],
            "The current password is wrong",
        )
    check_new_password(new, "newPassword")
    user.password_hash = await _hash(new)
    user.token_version += 1
    await db.flush()


async def revoke_session(db: AsyncSession, claims: SessionClaims) -> None:
    """Ends one session token now; revocations past their token's expiry are dropped."""
    now = datetime.now(UTC)
    await db.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    if await db.get(RevokedToken, claims.jti) is None:
        db.add(RevokedToken(jti=claims.jti, expires_at=claims.expires_at))
    await db.flush()


async def session_is_current(db: AsyncSession, claims: SessionClaims) -> bool:
    """The user exists, has not changed password since, and did not log this token out."""
    version = await db.scalar(select(User.token_version).where(User.id == claims.user_id))
    if version is None or version != claims.token_version:
        return False
    return await db.get(RevokedToken, claims.jti) is None


async def note_api_key_use(db: AsyncSession, key_id: uuid.UUID, last_used: datetime | None) -> None:
    """Records when a key was last used, at most once a minute per key."""
    now = datetime.now(UTC)
    if last_used is None or (now - last_used).total_seconds() >= 60:
        await db.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
        await db.commit()
