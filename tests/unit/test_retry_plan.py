"""When a failed run is tried again (app/sync/retry_plan.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.settings import Settings
from app.sync.retry_plan import next_attempt_at, retry_delay_seconds
from app.sync.run_context import RunInterrupted, SafetyHold
from connectors.base import ConfigError, TransientError

NOW = datetime(2026, 2, 12, 10, 0, tzinfo=UTC)
SETTINGS = Settings(max_retries=3, retry_base_seconds=30.0)


@pytest.mark.parametrize("attempt", [1, 2, 3, 4])
def test_the_backoff_doubles_with_each_attempt_and_jitters_within_its_upper_half(
    attempt: int,
) -> None:
    step = 30.0 * 2 ** (attempt - 1)
    delays = [retry_delay_seconds(SETTINGS, attempt, None) for _ in range(200)]
    assert all(step / 2 <= d <= step for d in delays)
    assert len(set(delays)) > 1  # jittered: runs failing together do not retry together


def test_a_retry_is_never_sooner_than_the_source_asked() -> None:
    assert retry_delay_seconds(SETTINGS, 1, 3600.0) == 3600.0
    assert retry_delay_seconds(SETTINGS, 1, 0.5) >= 15.0


def test_a_transient_error_is_retried_after_its_backoff() -> None:
    at = next_attempt_at(SETTINGS, TransientError("quota", retry_after=120.0), 1, NOW)
    assert at == NOW + timedelta(seconds=120)


def test_an_interrupted_run_is_retried_at_once() -> None:
    assert next_attempt_at(SETTINGS, RunInterrupted("worker stopped"), 2, NOW) == NOW


@pytest.mark.parametrize(
    "error",
    [ConfigError("no such sheet"), SafetyHold("held"), RuntimeError("internal")],
    ids=["config", "safety hold", "internal"],
)
def test_an_error_a_retry_cannot_fix_is_not_retried(error: Exception) -> None:
    assert next_attempt_at(SETTINGS, error, 1, NOW) is None


def test_the_last_allowed_attempt_is_not_retried() -> None:
    error = TransientError("timeout")
    assert next_attempt_at(SETTINGS, error, 3, NOW) is not None  # attempt 4 is the last
    assert next_attempt_at(SETTINGS, error, 4, NOW) is None
