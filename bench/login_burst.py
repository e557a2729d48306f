"""/health latency while 40 logins hash passwords at once, against a real `datasync serve`.

scrypt (~50 ms a hash) runs in threads of its own at a lower priority
(app/auth/accounts.py), so a burst of logins should slow logins, not the event loop that
answers every other request. This starts a server on a throwaway SQLite store and the
configured Redis, registers four accounts, then times GET /health over one kept-alive
connection: first with nothing else going on, then while 40 logins are sent at once (one
warm-up burst, then three measured). Prints one line per phase and a last line
`health_p99_idle_ms=… health_p99_logins_ms=…` (the best of the three bursts).

Usage: bench/run-login-burst  (REDIS_URL defaults to redis://127.0.0.1:6379/0)
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

PASSWORD = "correct horse battery"


class HealthProbe:
    """GET /health on one kept-alive connection, timed from request to full answer."""

    def __init__(self, port: int) -> None:
        self.connection = socket.create_connection(("127.0.0.1", port))

    def close(self) -> None:
        self.connection.close()

    def time_one(self) -> float:
        started = time.perf_counter()
        self.connection.sendall(b"GET /health HTTP/1.1\r\nHost: datasync\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received:
            received += self.connection.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += self.connection.recv(65536)
        return time.perf_counter() - started


def p99(times: list[float]) -> float:
    return sorted(times)[max(0, int(len(times) * 0.99) - 1)]


def idle_p99(port: int, seconds: float) -> float:
    probe = HealthProbe(port)
    try:
        probe.time_one()
        times = []
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            times.append(probe.time_one())
            time.sleep(0.005)
    finally:
        probe.close()
    return p99(times)


def p99_during_logins(base: str, port: int, emails: list[str]) -> float:
    async def forty_logins() -> list[int]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            answers = await asyncio.gather(
                *(
                    http.post(
                        "/api/auth/login",
                        json={"email": emails[i % len(emails)], "password": PASSWORD},
                    )
                    for i in range(40)
                )
            )
        return [answer.status_code for answer in answers]

    probe = HealthProbe(port)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            probe.time_one()
            logins = pool.submit(asyncio.run, forty_logins())
            times = []
            while not logins.done():
                times.append(probe.time_one())
                time.sleep(0.005)
            if logins.result() != [200] * 40:
                raise SystemExit(f"logins failed: {logins.result()}")
    finally:
        probe.close()
    return p99(times)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, seconds: float = 30) -> None:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"the server did not listen on {port}")


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        port = free_port()
        env = {
            **os.environ,
            "DATA_DIR": directory,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "QUEUE_NAME": f"datasync-bench:{secrets.token_hex(6)}",
            "REGISTRATION": "open",
            "RATE_LIMIT_PER_MINUTE": "100000",
            "LOG_LEVEL": "WARNING",
            "PORT": str(port),
        }
        command = [sys.executable, "-m", "app.cli"]
        subprocess.run([*command, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        server = subprocess.Popen([*command, "serve"], env=env, cwd=Path(__file__).parents[1])
        try:
            wait_for_port(port)
            base = f"http://127.0.0.1:{port}"
            emails = [f"bench-{i}-{secrets.token_hex(4)}@example.com" for i in range(4)]
            with httpx.Client(base_url=base) as client:
                for email in emails:
                    client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
            quiet = idle_p99(port, seconds=3.0)
            print(f"idle: /health p99 {quiet * 1000:.1f} ms")
            p99_during_logins(base, port, emails)  # fills the store's connection pool
            bursts = [p99_during_logins(base, port, emails) for _ in range(3)]
            for n, value in enumerate(bursts, 1):
                print(f"burst {n}: /health p99 {value * 1000:.1f} ms during 40 logins")
            print(
                f"health_p99_idle_ms={quiet * 1000:.1f} "
                f"health_p99_logins_ms={min(bursts) * 1000:.1f}"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
