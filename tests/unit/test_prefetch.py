"""Fetching ahead while processing (app/sync/prefetch.py): the two overlap, a bounded number
of items wait in between, either side's error ends both and reaches the caller as it is, the
source is closed on the caller's thread, and no thread is left running."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator

import pytest

from app.sync.prefetch import FetchStopped, process_while_fetching
from connectors.base import ConfigError, TransientError

WAIT = 5.0  # seconds; far longer than any step here takes when the code is right


class Source:
    """A connector's lazy batches: counts what was pulled and records how it ended."""

    def __init__(self, items: int | None = None, fail_at: int | None = None) -> None:
        self.items = items
        self.fail_at = fail_at
        self.pulled = 0
        self.pulled_changed = threading.Condition()
        self.closed_on: int | None = None  # the thread that ran the generator's `finally`
        self.before_pull: dict[int, threading.Event] = {}  # pull n waits for this event

    def batches(self) -> Iterator[int]:
        try:
            n = 0
            while self.items is None or n < self.items:
                if n in self.before_pull:
                    assert self.before_pull[n].wait(WAIT)
                if n == self.fail_at:
                    raise TransientError("the connection dropped")
                with self.pulled_changed:
                    self.pulled = n + 1
                    self.pulled_changed.notify_all()
                yield n
                n += 1
        finally:
            self.closed_on = threading.get_ident()

    def wait_until_pulled(self, count: int) -> None:
        with self.pulled_changed:
            assert self.pulled_changed.wait_for(lambda: self.pulled >= count, WAIT)


def processing_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sync-processing"]


def test_items_are_processed_in_order_and_the_result_returned() -> None:
    source = Source(items=50)

    result = process_while_fetching(source.batches(), lambda items: list(items), ahead=3)

    assert result == list(range(50))
    assert processing_threads() == []


def test_fetching_the_next_item_overlaps_processing_the_current_one() -> None:
    source = Source(items=3)
    processing_first = threading.Event()
    source.before_pull[1] = processing_first  # item 1 is fetched only while 0 is processed
    overlapped = []

    def process(items: Iterator[int]) -> None:
        for item in items:
            if item == 0:
                processing_first.set()
                # Done one after the other, item 1 would never come while item 0 is held.
                overlapped.append(source_pulled_while_holding(source, 2))

    process_while_fetching(source.batches(), process, ahead=1)

    assert overlapped == [True]


def source_pulled_while_holding(source: Source, count: int) -> bool:
    with source.pulled_changed:
        return source.pulled_changed.wait_for(lambda: source.pulled >= count, WAIT)


@pytest.mark.parametrize("ahead", [1, 2, 4, None])
def test_at_most_ahead_items_wait_and_one_more_is_held_while_processing_is_stuck(
    ahead: int | None,
) -> None:
    source = Source(items=100)
    release = threading.Event()

    def process(items: Iterator[int]) -> int:
        total = 0
        for item in items:
            if item == 0:
                assert release.wait(WAIT)
            total += 1
        return total

    result: list[int] = []

    def call() -> None:
        if ahead is None:  # two wait by default
            result.append(process_while_fetching(source.batches(), process))
        else:
            result.append(process_while_fetching(source.batches(), process, ahead))

    caller = threading.Thread(target=call)
    caller.start()
    # One being processed, `ahead` queued, one in the fetching thread's hands.
    expected = (2 if ahead is None else ahead) + 2
    source.wait_until_pulled(expected)
    time.sleep(0.3)  # room for a wrong bound to show
    pulled_while_stuck = source.pulled
    release.set()
    caller.join(WAIT)

    assert pulled_while_stuck == expected
    assert result == [100]


def test_a_source_error_reaches_the_caller_unchanged_and_stops_the_processing() -> None:
    source = Source(fail_at=5)
    seen: list[int] = []
    cleaned_up = threading.Event()

    def process(items: Iterator[int]) -> None:
        try:
            seen.extend(items)
        except FetchStopped:
            cleaned_up.set()
            raise

    with pytest.raises(TransientError, match="the connection dropped") as raised:
        process_while_fetching(source.batches(), process, ahead=2)

    assert type(raised.value) is TransientError
    assert seen == [0, 1, 2, 3, 4]
    assert cleaned_up.is_set()
    assert processing_threads() == []


def test_a_processing_error_reaches_the_caller_and_closes_the_source_on_the_callers_thread() -> (
    None
):
    source = Source()  # endless: only the processing's failure ends it

    def process(items: Iterator[int]) -> None:
        for item in items:
            if item == 3:
                raise ConfigError("the source returned 4 columns, expected 3")

    batches = source.batches()  # held here, so that only an explicit close ends it
    with pytest.raises(ConfigError, match="expected 3"):
        process_while_fetching(batches, process, ahead=2)

    assert source.closed_on == threading.get_ident()
    assert source.pulled <= 3 + 1 + 2 + 1  # stopped right away, not pulled on and on
    assert processing_threads() == []


def test_a_processing_error_wakes_a_fetch_that_waits_for_room() -> None:
    source = Source()
    queue_full = threading.Event()

    def process(items: Iterator[int]) -> None:
        next(items)
        source.wait_until_pulled(1 + 2 + 1)  # the queue is full and one more is held
        queue_full.set()
        raise ValueError("the disk is full")

    batches = source.batches()
    started = time.monotonic()
    with pytest.raises(ValueError, match="the disk is full"):
        process_while_fetching(batches, process, ahead=2)

    assert queue_full.is_set()
    assert time.monotonic() - started < WAIT
    assert source.closed_on == threading.get_ident()
    assert processing_threads() == []


def test_processing_that_ends_early_stops_the_fetch_and_closes_the_source() -> None:
    source = Source()

    def process(items: Iterator[int]) -> int:
        return next(items)

    batches = source.batches()
    assert process_while_fetching(batches, process, ahead=2) == 0
    assert source.closed_on == threading.get_ident()
    assert processing_threads() == []


def test_the_processing_thread_sees_the_callers_context() -> None:
    run_id: contextvars.ContextVar[str] = contextvars.ContextVar("run_id")
    run_id.set("run-7")

    seen = process_while_fetching(iter([1]), lambda items: [run_id.get() for _ in items])

    assert seen == ["run-7"]


def test_ahead_must_leave_room_for_one_item() -> None:
    with pytest.raises(ValueError, match=r"^ahead must be at least 1$"):
        process_while_fetching(iter([1]), list, ahead=0)


def test_processing_runs_on_a_thread_named_for_it() -> None:
    # Thread dumps and profiles of a worker tell the processing from the fetching by name.
    names = process_while_fetching(
        iter([1, 2]), lambda items: [threading.current_thread().name for _ in items]
    )

    assert names == ["sync-processing", "sync-processing"]
