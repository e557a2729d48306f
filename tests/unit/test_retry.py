"""The connectors' one retry policy (`connectors.toolkit.retry`), as rules:

- without a server hint, the wait before retry n is random in [0, min(cap, base * 2**n)];
- a `Retry-After` (seconds or HTTP date) is the wait itself; a date in the past means now;
- a run's budget of waiting is shared by its calls, and a wait that would overrun it is
  never started;
- a call makes at most `max_attempts` attempts, the first included.
"""

from __future__ import annotations

import random
import time

import pytest

from connectors.toolkit.retry import (
    Retrier,
    RetriesExhausted,
    Retryable,
    RetryBudget,
    RetryPolicy,
    retry_after_seconds,
)

HTTP_DATE = "Wed, 21 Oct 2015 07:28:00 GMT"
HTTP_DATE_EPOCH = 1445412480.0


class MaxRandom(random.Random):
    """Jitter pinned at the top of its range, so waits are the backoff's ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def failing(times: int, retry_after: float | None = None) -> tuple[list[int], object]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise Retryable(ConnectionError("dropped"), retry_after)
        return "ok"

    return calls, attempt


def retrier(
    policy: RetryPolicy, budget: float = 1_000, rng: random.Random | None = None
) -> tuple[Retrier, Sleeps]:
    sleeps = Sleeps()
    return Retrier(policy, RetryBudget(budget), sleep=sleeps, rng=rng or MaxRandom()), sleeps


# --- the wait --------------------------------------------------------------------------------


def test_without_a_hint_the_ceiling_doubles_from_the_base_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay_seconds=1, max_delay_seconds=30)
    assert [policy.backoff_ceiling(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_the_ceiling_of_a_very_late_retry_is_the_cap_not_an_overflow() -> None:
    assert RetryPolicy(max_delay_seconds=30).backoff_ceiling(5_000) == 30


def test_full_jitter_draws_each_wait_anywhere_between_zero_and_the_ceiling() -> None:
    policy, rng = RetryPolicy(base_delay_seconds=1, max_delay_seconds=8), random.Random(7)
    for retry in range(6):
        waits = [policy.wait(retry, None, rng) for _ in range(400)]
        ceiling = policy.backoff_ceiling(retry)
        assert all(0 <= wait <= ceiling for wait in waits)
        # Spread over the whole range, not only its upper half.
        assert min(waits) < ceiling * 0.1 and max(waits) > ceiling * 0.9


@pytest.mark.parametrize("retry", [0, 3, 10])
def test_a_retry_after_hint_is_the_wait_whatever_the_backoff_would_be(retry: int) -> None:
    assert RetryPolicy().wait(retry, 20.0, MaxRandom()) == 20.0
    assert RetryPolicy().wait(retry, 0.25, MaxRandom()) == 0.25


def test_a_retry_after_of_zero_means_retry_now() -> None:
    assert RetryPolicy().wait(4, 0.0, MaxRandom()) == 0.0


# --- Retry-After ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("0.5", 0.5),
        ("0", 0.0),
        ("-3", 0.0),  # nonsense from a server is not a reason to wait
        (HTTP_DATE, 30.0),
        ("Wed, 21 Oct 2015 07:28:00 -0000", 30.0),  # a zone-less date is GMT
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str, seconds: float) -> None:
    assert retry_after_seconds(header, now=HTTP_DATE_EPOCH - 30) == seconds


def test_a_zone_less_retry_after_date_is_gmt_whatever_the_workers_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        seconds = retry_after_seconds("Wed, 21 Oct 2015 07:28:00 -0000", now=HTTP_DATE_EPOCH - 30)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert seconds == 30.0


def test_a_retry_after_http_date_in_the_past_means_retry_now() -> None:
    assert retry_after_seconds(HTTP_DATE, now=HTTP_DATE_EPOCH + 3600) == 0.0


@pytest.mark.parametrize("header", [None, "", "  ", "soon", "nan", "inf", "-inf", "Wed, 99 Foo"])
def test_an_absent_or_unreadable_retry_after_leaves_the_wait_to_the_backoff(
    header: str | None,
) -> None:
    assert retry_after_seconds(header, now=HTTP_DATE_EPOCH) is None


def test_a_retry_after_date_is_measured_from_the_current_time_by_default() -> None:
    seconds = retry_after_seconds("Fri, 01 Jan 2100 00:00:00 GMT")
    assert seconds is not None and seconds > 365 * 86400


# --- attempts and the budget ------------------------------------------------------------------


def test_a_call_that_succeeds_first_time_never_waits() -> None:
    run, sleeps = retrier(RetryPolicy())
    calls, attempt = failing(0)
    assert run.call(attempt) == "ok"  # type: ignore[arg-type]
    assert calls == [1] and sleeps == []


def test_failed_attempts_are_retried_with_growing_waits_until_one_succeeds() -> None:
    run, sleeps = retrier(RetryPolicy(max_attempts=10, base_delay_seconds=1, max_delay_seconds=30))
    calls, attempt = failing(6)
    assert run.call(attempt) == "ok"  # type: ignore[arg-type]
    assert len(calls) == 7
    assert sleeps == [1, 2, 4, 8, 16, 30]


def test_the_server_hint_sets_every_wait_of_a_throttled_call() -> None:
    run, sleeps = retrier(RetryPolicy())
    _, attempt = failing(2, retry_after=7)
    assert run.call(attempt) == "ok"  # type: ignore[arg-type]
    assert sleeps == [7, 7]


def test_max_attempts_counts_the_first_attempt() -> None:
    run, sleeps = retrier(RetryPolicy(max_attempts=3))
    calls, attempt = failing(100)
    with pytest.raises(RetriesExhausted) as exhausted:
        run.call(attempt)  # type: ignore[arg-type]
    assert len(calls) == 3 and len(sleeps) == 2
    assert exhausted.value.attempts == 3


def test_a_server_asking_to_retry_now_forever_is_stopped_by_max_attempts() -> None:
    run, sleeps = retrier(RetryPolicy(max_attempts=4), budget=10)
    calls, attempt = failing(100, retry_after=0)
    with pytest.raises(RetriesExhausted):
        run.call(attempt)  # type: ignore[arg-type]
    assert len(calls) == 4 and sleeps == [0, 0, 0]


def test_with_attempts_to_spare_the_budget_ends_the_retries() -> None:
    run, sleeps = retrier(RetryPolicy(max_attempts=100, max_delay_seconds=1), budget=10)
    calls, attempt = failing(100)
    with pytest.raises(RetriesExhausted):
        run.call(attempt)  # type: ignore[arg-type]
    assert len(calls) == 11 and sum(sleeps) == 10


def test_the_budget_stops_retrying_before_it_would_be_exceeded() -> None:
    run, sleeps = retrier(RetryPolicy(), budget=60)
    _, attempt = failing(100, retry_after=45)
    with pytest.raises(RetriesExhausted) as exhausted:
        run.call(attempt)  # type: ignore[arg-type]
    assert sleeps == [45]  # a second 45 s wait would end at 90 s: not started
    assert exhausted.value.waited == 45 and exhausted.value.next_wait == 45


def test_a_wait_that_exactly_fills_the_budget_is_still_made() -> None:
    run, sleeps = retrier(RetryPolicy(), budget=14)
    _, attempt = failing(2, retry_after=7)
    assert run.call(attempt) == "ok"  # type: ignore[arg-type]
    assert sleeps == [7, 7]


def test_a_zero_budget_allows_an_immediate_retry_and_nothing_longer() -> None:
    run, sleeps = retrier(RetryPolicy(), budget=0)
    _, attempt = failing(1, retry_after=0)
    assert run.call(attempt) == "ok"  # type: ignore[arg-type]
    run, sleeps = retrier(RetryPolicy(), budget=0)
    _, attempt = failing(1, retry_after=0.001)
    with pytest.raises(RetriesExhausted):
        run.call(attempt)  # type: ignore[arg-type]
    assert sleeps == []


def test_the_budget_is_shared_by_every_call_of_a_run() -> None:
    run, sleeps = retrier(RetryPolicy(), budget=20)
    _, first = failing(1, retry_after=15)
    assert run.call(first) == "ok"  # type: ignore[arg-type]
    _, second = failing(1, retry_after=15)
    with pytest.raises(RetriesExhausted) as exhausted:
        run.call(second)  # type: ignore[arg-type]
    assert sleeps == [15]
    assert exhausted.value.waited == 15 and run.budget.remaining == 5


def test_an_exhausted_call_says_what_failed_and_when_to_try_again() -> None:
    cause = TimeoutError("read timed out")
    run, _ = retrier(RetryPolicy(max_attempts=1, base_delay_seconds=4, max_delay_seconds=4))

    def attempt() -> None:
        raise Retryable(cause)

    with pytest.raises(RetriesExhausted) as exhausted:
        run.call(attempt)
    assert exhausted.value.cause is cause and str(exhausted.value) == "read timed out"
    assert not exhausted.value.server_asked
    assert exhausted.value.retry_after == 4  # the wait that was refused


def test_an_exhausted_call_passes_on_the_servers_hint() -> None:
    run, _ = retrier(RetryPolicy(max_attempts=1))
    _, attempt = failing(5, retry_after=30)
    with pytest.raises(RetriesExhausted) as exhausted:
        run.call(attempt)  # type: ignore[arg-type]
    assert exhausted.value.server_asked and exhausted.value.retry_after == 30


def test_a_retryable_failure_reads_as_its_cause() -> None:
    cause = ConnectionResetError("reset by peer")
    failure = Retryable(cause, retry_after=3)
    assert str(failure) == "reset by peer"
    assert failure.cause is cause and failure.retry_after == 3


def test_failures_not_marked_retryable_go_up_at_once() -> None:
    run, sleeps = retrier(RetryPolicy())

    def attempt() -> None:
        raise PermissionError("denied")

    with pytest.raises(PermissionError):
        run.call(attempt)
    assert sleeps == []


def test_a_budget_never_reports_less_than_nothing_remaining() -> None:
    budget = RetryBudget(5)
    budget.spend(8)
    assert budget.remaining == 0 and budget.spent == 8 and not budget.allows(0)
