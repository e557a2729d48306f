"""When a failed run is tried again: exponential backoff with jitter, never sooner than the
source asked, and not at all once the attempts are spent."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from app.settings import Settings
from app.sync.run_context import RunInterrupted
from connectors.base import TransientError


def retry_delay_seconds(settings: Settings, attempt: int, hint: float | None) -> float:
    """Exponential backoff with full jitter on top of half the step, never sooner than the
    source asked (Retry-After)."""
    step = settings.retry_base_seconds * 2 ** (attempt - 1)
    delay = step / 2 + random.uniform(0, step / 2)
    return float(max(delay, hint or 0.0))


def next_attempt_at(
    settings: Settings, error: Exception, attempt: int, now: datetime
) -> datetime | None:
    """When attempt `attempt + 1` may start, or None when the run is not retried: the error
    is not transient, or `attempt` was the last one allowed (MAX_RETRIES)."""
    if not isinstance(error, TransientError) or attempt > settings.max_retries:
        return None
    if isinstance(error, RunInterrupted):
        return now  # the source is not at fault: no backoff
    return now + timedelta(seconds=retry_delay_seconds(settings, attempt, error.retry_after))
