"""TCP ports that misbehave the way networks do, in front of the real servers.

- `Forwarder`: a port in front of a real server (PostgreSQL, the TDS stand-in) that turns
  connections away for its first seconds, as a restarting server or a failover does, then
  forwards them byte for byte. Turned away means refused (the port is bound but not yet
  listening, so the kernel answers RST) or reset (accepted, then closed with RST).
- `silent_listener`: accepts connections and never answers (a hung server, or a port that
  is not a database's).
- `unanswering_port`: drops connection attempts, as a firewall that drops packets does: a
  listener whose accept queue is full and never drained; Linux drops the SYN of any further
  connection, so the client waits out its timeout.

Threads in the test's own process serve these: arrow-odbc calls the driver through cffi,
which releases the GIL while the driver waits on the socket.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Literal

TurnedAway = Literal["refused", "reset"]
_POLL_SECONDS = 0.05


def _reset(connection: socket.socket) -> None:
    # SO_LINGER 0: close with RST, what a client sees when a server process dies.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
    connection.close()


class Forwarder:
    """127.0.0.1:`port` -> `target_host`:`target_port`, turning connections away (`how`)
    for the first `turned_away_for` seconds after it starts. `turned_away` counts the
    connections reset (a refused one never reaches user space)."""

    def __init__(
        self,
        target_port: int,
        *,
        turned_away_for: float,
        how: TurnedAway,
        target_host: str = "127.0.0.1",
    ) -> None:
        self.target = (target_host, target_port)
        self.turned_away_for = turned_away_for
        self.how = how
        self.turned_away = 0
        self.forwarded = 0
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Forwarder:
        self._opens_at = time.monotonic() + self.turned_away_for
        if self.how == "reset":
            self._listener.listen()
        self._start(self._serve)
        return self

    def __exit__(self, *_: object) -> None:
        self._stopped.set()
        for sock in [self._listener, *self._sockets]:
            # shutdown wakes a thread blocked in recv() on it; close alone does not.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _serve(self) -> None:
        # Refused: bound but not listening yet, so the kernel refuses connections.
        if self.how == "refused":
            if self._stopped.wait(self._left()):
                return
            self._listener.listen()
        self._listener.settimeout(_POLL_SECONDS)
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._left() > 0:
                self.turned_away += 1
                _reset(client)
                continue
            self._forward(client)

    def _left(self) -> float:
        return max(0.0, self._opens_at - time.monotonic())

    def _forward(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        client.settimeout(None)
        server.settimeout(None)
        self.forwarded += 1
        self._sockets += [client, server]
        self._start(self._pump, client, server)
        self._start(self._pump, server, client)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A port on 127.0.0.1 whose connections are accepted (by the kernel's backlog) and
    never answered."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@contextlib.contextmanager
def unanswering_port() -> Iterator[int]:
    """A port on 127.0.0.1 where a connection attempt gets no answer at all."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # room for one connection waiting to be accepted
        port = listener.getsockname()[1]
        filler.connect(("127.0.0.1", port))  # ... taken, and never accepted
        yield port
