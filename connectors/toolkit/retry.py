"""The one retry policy of every connector: when to try a failed call again, and how long
to wait first.

- Without a hint from the server the wait is exponential backoff with full jitter: a random
  time between zero and `base * 2**retry`, capped at `max_delay_seconds`. Jitter over the
  whole range spreads workers throttled at the same moment apart (no retry in lockstep).
- A server's `Retry-After` (seconds or an HTTP date) is the wait itself: the server knows
  when it will answer again, and a date already past means "now".
- A run has one budget of seconds to spend waiting, shared by every call of that run, so a
  throttled run ends in bounded time and the engine's own run-level retry takes over. A
  wait that would overrun it is not started: there is no point sleeping only to give up.
- `max_attempts` bounds the attempts of one call, the first included, so that a server
  answering `Retry-After: 0` forever cannot hold a run forever.

Callers mark an attempt worth repeating by raising `Retryable`; when the policy refuses
another attempt, `Retrier.call` raises `RetriesExhausted`, which each connector words for
its users (what kept failing, and when to try again).
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6
    # What a run may spend waiting, unless its caller sizes the budget itself (a SQL
    # connect's is its login timeout).
    budget_seconds: float = 60.0
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 32.0

    def backoff_ceiling(self, retry: int) -> float:
        """The longest wait before retry number `retry` (0-based) without a server hint."""
        # min() before the power would overflow: 2**1100 is no float.
        doublings = min(retry, 64)
        return float(min(self.max_delay_seconds, self.base_delay_seconds * 2**doublings))

    def wait(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (0-based)."""
        if retry_after is not None:
            return max(0.0, retry_after)
        return rng.uniform(0.0, self.backoff_ceiling(retry))

    def allows_attempt(self, attempt: int) -> bool:
        """Whether attempt number `attempt` (1-based) may be made."""
        return attempt <= self.max_attempts


class RetryBudget:
    """Seconds one run may spend waiting between attempts, shared by all its calls. Owned
    by whatever lives as long as the run (a connector's API client), never global."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.spent = 0.0

    @property
    def remaining(self) -> float:
        return max(0.0, self.seconds - self.spent)

    def allows(self, wait: float) -> bool:
        return self.spent + wait <= self.seconds

    def spend(self, seconds: float) -> None:
        self.spent += seconds


class Retryable(Exception):
    """An attempt failed in a way worth repeating. `cause` is the failure itself;
    `retry_after` the server's hint in seconds, None when it sent none."""

    def __init__(self, cause: Exception, retry_after: float | None = None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.retry_after = retry_after


class RetriesExhausted(Exception):
    """The policy refuses another attempt after `last`: out of attempts, or the next wait
    (`next_wait` seconds) would overrun the run's budget. `waited` is what the run has
    spent waiting so far; `attempts` how many attempts this call made."""

    def __init__(self, last: Retryable, attempts: int, waited: float, next_wait: float) -> None:
        super().__init__(str(last.cause))
        self.last = last
        self.attempts = attempts
        self.waited = waited
        self.next_wait = next_wait

    @property
    def cause(self) -> Exception:
        return self.last.cause

    @property
    def retry_after(self) -> float:
        """When to try again: the server's hint when it sent one, else the wait that did
        not fit (TransientError.retry_after for the engine)."""
        hinted = self.last.retry_after
        return hinted if hinted is not None else self.next_wait

    @property
    def server_asked(self) -> bool:
        return self.last.retry_after is not None


@dataclass(slots=True)
class Retrier:
    """Runs calls under `policy`, spending waits from `budget`. One per run: the budget is
    the run's. `sleep` and `rng` are injected so that tests need not wait."""

    policy: RetryPolicy
    budget: RetryBudget
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def call(self, attempt: Callable[[], T]) -> T:
        """`attempt()` until it returns, or raises anything but Retryable, or the policy
        refuses another try (RetriesExhausted)."""
        attempts = 0
        while True:
            attempts += 1
            try:
                return attempt()
            except Retryable as failure:
                self.back_off(attempts, failure)

    def back_off(self, attempts: int, failure: Retryable) -> None:
        """Waits after `attempts` failed attempts (the last one `failure`) before the next,
        or raises RetriesExhausted when the policy allows no next one."""
        wait = self.policy.wait(attempts - 1, failure.retry_after, self.rng)
        if not self.policy.allows_attempt(attempts + 1) or not self.budget.allows(wait):
            raise RetriesExhausted(failure, attempts, self.budget.spent, wait) from None
        self.sleep(wait)
        self.budget.spend(wait)


def retry_after_seconds(header: str | None, now: float | None = None) -> float | None:
    """An HTTP `Retry-After` value as seconds from `now` (default: the current time):
    delta-seconds or an HTTP date, never negative (a date in the past means now). None when
    absent or unreadable, so the policy's own backoff decides."""
    if header is None or not header.strip():
        return None
    text = header.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        # float() reads "nan" and "inf" too; neither is a number of seconds to wait.
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # HTTP dates are GMT, "-0000" included
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)
