"""Fetching the next batches while the current one is processed, with a bound on how many
wait in between.

The calling thread keeps pulling from the source iterator (a connector's lazy batches) and
hands each item to a second thread that processes them in order. Both sides spend most of
their time in C code that releases the GIL (the driver's reads; Arrow's kernels, Parquet,
zstd, hashlib), so on two cores fetching batch N+1 overlaps processing batch N. The
processing may itself be such a call, to make a pipeline of more stages
(app/sync/snapshot.py).

The source is advanced, and closed, only on the calling thread: for a connector's batches
that is the thread the engine gave the connector, and some connectors depend on it (a
rotated Microsoft refresh token is saved through `anyio.from_thread.run`, which works only
from the engine's worker thread), and a generator cannot be closed while another thread is
inside it.

Whichever side fails first ends both: an error from the source stops the processing and is
raised as it is (a `ConnectorError` reaches the engine with its type); an error from the
processing stops the fetching, closes the source (so a connector's `finally` releases its
connection) and is raised as it is. No thread outlives the call.
"""

from __future__ import annotations

import contextvars
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class FetchStopped(Exception):
    """Raised to the processing side when the source failed: it should clean up and stop.
    The caller then raises the source's own error, not this."""


class _Handoff(Generic[Item]):
    """A queue of at most `capacity` fetched items that either side can end."""

    def __init__(self, capacity: int) -> None:
        self._items: deque[Item] = deque()
        self._capacity = capacity
        self._changed = threading.Condition()
        self._fetched_all = False
        self._fetch_failed = False
        self._refused = False  # the processing side has stopped taking items

    def put(self, item: Item) -> bool:
        """Waits for room, then queues `item`; False (and nothing queued) once the
        processing side has stopped."""
        with self._changed:
            while len(self._items) >= self._capacity and not self._refused:
                self._changed.wait()
            if self._refused:
                return False
            self._items.append(item)
            self._changed.notify_all()
            return True

    def finish(self, *, failed: bool) -> None:
        with self._changed:
            self._fetched_all = True
            self._fetch_failed = failed
            self._changed.notify_all()

    def refuse(self) -> None:
        with self._changed:
            self._refused = True
            self._items.clear()
            self._changed.notify_all()

    def __iter__(self) -> Iterator[Item]:
        while True:
            with self._changed:
                while not self._items and not self._fetched_all:
                    self._changed.wait()
                if self._items:
                    item = self._items.popleft()
                    self._changed.notify_all()
                elif self._fetch_failed:
                    raise FetchStopped
                else:
                    return
            yield item


def process_while_fetching(
    source: Iterator[Item],
    process: Callable[[Iterator[Item]], Result],
    ahead: int = 2,
    thread_name: str = "sync-processing",
) -> Result:
    """`process(items)` on a thread of its own, `items` being `source`'s items in order,
    while this thread fetches ahead: at most `ahead` items wait for processing, and one
    more waits in this thread for room. Returns what `process` returns."""
    if ahead < 1:
        raise ValueError("ahead must be at least 1")
    handoff: _Handoff[Item] = _Handoff(ahead)
    outcome: list[Result] = []
    failure: list[BaseException] = []

    def processing() -> None:
        try:
            outcome.append(process(iter(handoff)))
        except BaseException as exc:  # handed to the caller, which raises it
            failure.append(exc)
        finally:
            handoff.refuse()

    # The processing thread sees this thread's context (log fields bound to the run).
    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(processing,), name=thread_name, daemon=True)
    worker.start()
    try:
        try:
            for item in source:
                if not handoff.put(item):
                    break
        except BaseException:
            handoff.finish(failed=True)
            raise
        handoff.finish(failed=False)
    finally:
        try:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # a connector's generator releases its connection in `finally`
        finally:
            worker.join()
    if failure:
        raise failure[0]
    return outcome[0]
