"""What a credentials check found: the optional connector method `credential_health`.

A check proves the stored credentials without reading data (a token minted, a login made).
Transient trouble (network, 5xx, throttling) is raised as TransientError, never reported as
a failure: the service keeps the previous status and tries again later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from connectors.base import AuthError

HealthStatus = Literal["ok", "expiring", "failed"]


@dataclass(frozen=True, slots=True)
class CredentialHealth:
    """`message` says what was found and, when not ok, how to fix it; `expires_at` is a
    known expiry of the credentials (None when the source tells none)."""

    status: HealthStatus
    message: str
    expires_at: datetime | None = None


def expiry_health(
    expires_at: datetime | None, now: datetime, warn_before: timedelta, fix: str
) -> CredentialHealth:
    """ok, or expiring within `warn_before` of a known expiry."""
    if expires_at is not None and expires_at - now <= warn_before:
        return CredentialHealth(
            "expiring", f"The credentials expire at {expires_at.isoformat()}: {fix}", expires_at
        )
    return CredentialHealth("ok", "The credentials work", expires_at)


def proved(attempt: Callable[[], CredentialHealth], fix: str) -> CredentialHealth:
    """Runs `attempt`; a rejection (AuthError) is `failed` with the way to fix it. Other
    connector errors (a TransientError above all) propagate: they say nothing about the
    credentials."""
    try:
        return attempt()
    except AuthError as exc:
        return CredentialHealth("failed", f"{exc.message.rstrip('.')}. {fix}")
