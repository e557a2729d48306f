"""A proxy in front of the S3 server that passes every request through except the parts of
multipart uploads, which it holds unanswered: an upload that has begun (the server lists it)
and can never complete. A worker pointed at it is caught mid-upload for certain, not by
timing, and can be killed there."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class PartHoldingProxy:
    port: int
    # Set when the first part of a multipart upload arrives (and is held).
    part_held: threading.Event = field(default_factory=threading.Event)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _read_head(client: socket.socket, buffered: bytearray) -> bytes | None:
    while b"\r\n\r\n" not in buffered:
        chunk = client.recv(65536)
        if not chunk:
            return None
        buffered += chunk
    head, _, rest = bytes(buffered).partition(b"\r\n\r\n")
    buffered[:] = rest
    return head + b"\r\n\r\n"


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
        if name.strip().lower() == b"transfer-encoding":
            raise AssertionError("the proxy does not pass chunked requests")
    return 0


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        target.close()


def _serve(proxy: PartHoldingProxy, client: socket.socket, upstream_port: int) -> None:
    upstream = socket.create_connection(("127.0.0.1", upstream_port))
    threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
    buffered = bytearray()
    try:
        while (head := _read_head(client, buffered)) is not None:
            target = head.split(b" ", 2)[1]
            if b"partNumber=" in target and b"uploadId=" in target:
                proxy.part_held.set()
                return  # neither forwarded nor answered: the upload never completes
            length = _content_length(head)
            while len(buffered) < length:
                chunk = client.recv(65536)
                if not chunk:
                    return
                buffered += chunk
            upstream.sendall(head + bytes(buffered[:length]))
            del buffered[:length]
    except OSError:
        upstream.close()


@contextmanager
def part_holding_proxy(upstream_port: int) -> Iterator[PartHoldingProxy]:
    listener = socket.create_server(("127.0.0.1", 0))
    proxy = PartHoldingProxy(listener.getsockname()[1])

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            threading.Thread(
                target=_serve, args=(proxy, client, upstream_port), daemon=True
            ).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield proxy
    finally:
        listener.close()
