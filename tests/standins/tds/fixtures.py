"""pytest fixtures for the TDS stand-in; import them into a test module to use them.

    from tests.standins.tds.fixtures import tds_standin, sql_server_driver  # noqa: F401

`tds_standin` starts one server process per test session (seeded from
fixtures/sqlserver/*.sql into a temporary directory) and stops it afterwards. Tests that
change data, or need GETDATE() fixed, start their own with `running_tds_standin`.
`sql_server_driver` parametrises a test over every SQL Server ODBC driver present here:
FreeTDS and Microsoft's driver from the mssql-python-odbc wheel.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyodbc
import pytest

from connectors.odbc import drivers

REPO_ROOT = Path(__file__).resolve().parents[3]
SEED_DIR = REPO_ROOT / "fixtures" / "sqlserver"
USERNAME = "datasync_reader"
# Obviously fake, and awkward on purpose: `;`, `{` and `=` must survive quoting. (`}` is
# covered separately: FreeTDS cannot take it, Microsoft's driver can.)
PASSWORD = "fake;pass{word=1"
BRACE_USERNAME = "datasync_brace"
BRACE_PASSWORD = "fake}pass;word"
STARTUP_SECONDS = 30


@dataclass(frozen=True)
class TdsStandIn:
    host: str
    port: int
    username: str
    password: str

    def credentials(self, **overrides: Any) -> dict[str, Any]:
        """Data source credentials in the connector's shape, for this server."""
        base: dict[str, Any] = {
            "server": self.host,
            "port": self.port,
            "username": self.username,
            "password": self.password,
            "encrypt": False,
        }
        return base | overrides


def sql_server_drivers() -> dict[str, str]:
    """Every SQL Server ODBC driver present here, by a short name, as a data source names
    it in `settings.driver`: FreeTDS (Debian's tdsodbc) and Microsoft's "ODBC Driver 18 for
    SQL Server" (registered, or the copy in the mssql-python-odbc wheel the service loads
    by path)."""
    found = {}
    if "FreeTDS" in pyodbc.drivers():
        found["freetds"] = "FreeTDS"
    if drivers.bundled_microsoft_driver() or drivers.MICROSOFT_NAMES[0] in pyodbc.drivers():
        found["msodbcsql18"] = drivers.MICROSOFT_NAMES[0]
    return found


def _drivers() -> list[Any]:
    found = [pytest.param(driver, id=name) for name, driver in sql_server_drivers().items()]
    return found or [pytest.param(None, marks=pytest.mark.skip("no SQL Server ODBC driver"))]


@pytest.fixture(params=_drivers())
def sql_server_driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def tds_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TdsStandIn]:
    with running_tds_standin(tmp_path_factory.mktemp("tds-standin")) as standin:
        yield standin


@contextmanager
def running_tds_standin(
    data_dir: Path, seed_dir: Path = SEED_DIR, now: str | None = None
) -> Iterator[TdsStandIn]:
    """A stand-in process of its own over `data_dir` (seeded on first use; SQLite files
    already there are served as they are). `now` fixes what GETDATE() answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.standins.tds.server",
            "--port",
            "0",
            "--seed-dir",
            str(seed_dir),
            "--data-dir",
            str(data_dir),
            "--login",
            f"{USERNAME}:{PASSWORD}",
            "--login",
            f"{BRACE_USERNAME}:{BRACE_PASSWORD}",
            *(["--now", now] if now else []),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=open(data_dir / "server.log", "wb"),  # noqa: SIM115 - lives with the process
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert process.stdout is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], STARTUP_SECONDS)
        line = process.stdout.readline().decode() if ready else ""
        if not line.startswith("listening on "):
            raise RuntimeError(
                f"TDS stand-in did not start: {line!r}; see {data_dir / 'server.log'}"
            )
        yield TdsStandIn("127.0.0.1", int(line.split()[-1]), USERNAME, PASSWORD)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
