"""The TDS stand-in's process: `python -m tests.standins.tds.server --port 0 ...`.

Runs in its own process on purpose: pyodbc holds the GIL while it waits on the socket,
which would starve a server thread living in the test's interpreter.

Seeds one SQLite file per `*.sql` script in the seed directory (the file stem is the
database name, e.g. fixtures/sqlserver/SalesDB.sql -> database SalesDB), then prints
`listening on <port>` and serves one thread per client.
"""

from __future__ import annotations

import argparse
import logging
import select
import socket
import socketserver
import sys
import time
from pathlib import Path

from pysqlbridge.certificate import self_signed
from pysqlbridge.tds.packet import DEFAULT_PACKET_SIZE, HEADER_SIZE, PacketStatus, PacketType
from pysqlbridge.tds.token import DoneStatus, done

from tests.standins.tds.session import Answer, Drop, Logins, Pause, StandInSession
from tests.standins.tds.sqlite_engine import Database

log = logging.getLogger("tds-standin")

PACKETS_PER_SEND = 16


class _ClientGone(Exception):
    pass


class _Stream:
    """Frames an Answer's chunks into TDS packets and writes them as they fill."""

    def __init__(self, sock: socket.socket, session: StandInSession) -> None:
        self.sock = sock
        self.session = session
        self.pending = bytearray()
        self.packet_id = 1
        self.body = DEFAULT_PACKET_SIZE - HEADER_SIZE

    def _packet(self, payload: bytes, last: bool) -> bytes:
        status = PacketStatus.END_OF_MESSAGE if last else PacketStatus.NORMAL
        header = bytes([PacketType.TABULAR_RESULT, status]) + (
            (HEADER_SIZE + len(payload)).to_bytes(2, "big")
            + self.session.spid.to_bytes(2, "big")
            + bytes([self.packet_id, 0])
        )
        self.packet_id = (self.packet_id + 1) % 256
        return header + payload

    def flush(self, *, last: bool) -> None:
        """Send every full packet (and, when last, the remainder with EOM)."""
        packets = []
        while len(self.pending) > self.body or (
            self.pending and len(self.pending) == self.body and not last
        ):
            packets.append(self._packet(bytes(self.pending[: self.body]), last=False))
            del self.pending[: self.body]
        if last:
            packets.append(self._packet(bytes(self.pending), last=True))
            self.pending.clear()
        if packets:
            self.sock.sendall(self.session.wrap(b"".join(packets)))

    def attention_arrived(self, wait: float = 0.0) -> bool:
        """Read whatever the client sent (only ATTENTION is legal mid-response)."""
        readable, _, _ = select.select([self.sock], [], [], wait)
        if not readable:
            return False
        data = self.sock.recv(65536)
        if not data:
            raise _ClientGone
        self.session.receive(data)
        return self.session.attention

    def run(self, answer: Answer) -> None:
        self.session.streaming = True
        self.session.attention = False
        try:
            for chunk in answer.chunks:
                if isinstance(chunk, Pause):
                    deadline = time.monotonic() + chunk.seconds
                    while (left := deadline - time.monotonic()) > 0:
                        if self.attention_arrived(min(left, 0.05)):
                            return self._acknowledge_attention()
                elif isinstance(chunk, Drop):
                    self.flush(last=False)
                    # RST rather than FIN: what a client sees when a server dies.
                    self.sock.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                    raise _ClientGone
                else:
                    self.pending += chunk
                    if len(self.pending) >= self.body * PACKETS_PER_SEND:
                        self.flush(last=False)
                        if self.attention_arrived():
                            return self._acknowledge_attention()
            self.flush(last=True)
        finally:
            self.session.streaming = False
        return None

    def _acknowledge_attention(self) -> None:
        # The pending bytes end on a token boundary, so the DONE(ATTN) can follow them.
        self.pending += done(status=DoneStatus.FINAL | DoneStatus.ATTENTION)
        self.flush(last=True)


class _Handler(socketserver.BaseRequestHandler):
    server: StandInServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = StandInSession(
            certificate=self.server.certificate,
            databases=self.server.databases,
            default_database=self.server.default_database,
            logins=self.server.logins,
            server_name="standin",
            reached_at="127.0.0.1",
        )
        try:
            while data := sock.recv(65536):
                for item in session.receive(data):
                    if isinstance(item, Answer):
                        _Stream(sock, session).run(item)
                    else:
                        sock.sendall(item)
        except (_ClientGone, ConnectionError, OSError):
            pass
        except Exception:
            log.exception("stand-in session failed")
        finally:
            sock.close()


class StandInServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, port: int, databases: dict[str, Database], default_database: str, logins: Logins
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.databases = databases
        self.default_database = default_database
        self.logins = logins
        self.certificate = self_signed("localhost")


def load_databases(seed_dir: Path, data_dir: Path, now: str | None = None) -> dict[str, Database]:
    """One database per seed script; an existing SQLite file is reused, not re-seeded.
    `now` fixes what GETDATE() answers, in seeds and queries alike."""
    data_dir.mkdir(parents=True, exist_ok=True)
    databases = {}
    for script in sorted(seed_dir.glob("*.sql")):
        path = data_dir / f"{script.stem}.sqlite"
        database = Database(script.stem, path, now)
        if path.exists():
            database.load_catalog()
        else:
            database.run_seed(script.read_text(encoding="utf-8"))
        databases[script.stem] = database
    # master exists on every SQL Server; it is where a login without a database lands.
    master = Database("master", data_dir / "master.sqlite", now)
    if not master.path.exists():
        master.run_seed("SELECT 1;")
    databases.setdefault("master", master)
    return databases


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed-dir", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--login", action="append", default=[], help="user:password, repeatable")
    parser.add_argument(
        "--now",
        default=None,
        help="what GETDATE() answers, 'YYYY-MM-DD hh:mm:ss' (default: the clock)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logins = Logins({u.lower(): p for u, _, p in (item.partition(":") for item in args.login)})
    databases = load_databases(args.seed_dir, args.data_dir, args.now)
    server = StandInServer(args.port, databases, "master", logins)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
