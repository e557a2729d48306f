# ruff: noqa: F811 - pytest fixtures imported from the stand-in are parameters here
"""What a user is told when a SQL database cannot be reached, through each real driver
(psqlODBC, FreeTDS, Microsoft's ODBC Driver 18): refused, a name not in DNS, nothing
answering, a server that accepts but never logs in, TLS that cannot be set up. Each message
names the destination and what to check, and never the password. And a server that is back
within the connector's retry budget is reached by its retry.

The misbehaving ports are tests/standins/network.py, in front of the machine's PostgreSQL
(127.0.0.1:5432, trust auth) and the TDS stand-in."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyodbc
import pytest

from connectors.base import AuthError, ConfigError, ConnectorError, TransientError
from connectors.odbc import OdbcConnector, drivers
from connectors.postgresql import PostgresConnector
from connectors.sqlserver import SqlServerConnector
from tests.connectors.test_sql_connect_by_checked_address import LOOPBACK_ALLOWED as ENV
from tests.services import free_port
from tests.standins.network import Forwarder, TurnedAway, silent_listener, unanswering_port
from tests.standins.tds.fixtures import (  # noqa: F401 - pytest fixtures
    TdsStandIn,
    sql_server_driver,
    sql_server_drivers,
    tds_standin,
)

POSTGRES_PORT = 5432
POSTGRES_DRIVER = "PostgreSQL Unicode"
# Awkward on purpose: `;`, `=` and `{` must not leak into a message in any spelling.
PASSWORD = "fake;leaky=pw{7"
MICROSOFT = drivers.MICROSOFT_NAMES[0]


def _targets() -> list[Any]:
    """(source type, driver) for every driver present here."""
    found = []
    if POSTGRES_DRIVER in pyodbc.drivers():
        found.append(pytest.param(("postgresql", POSTGRES_DRIVER), id="postgresql"))
    found += [
        pytest.param(("sql-server", driver), id=name)
        for name, driver in sql_server_drivers().items()
    ]
    return found


EVERY_DRIVER = pytest.mark.parametrize("target", _targets())


def source(
    target: tuple[str, str], port: int, server: str = "127.0.0.1", **settings: Any
) -> OdbcConnector:
    kind, driver = target
    settings = {"driver": driver, "loginTimeoutSeconds": 1} | settings
    if kind == "postgresql":
        return PostgresConnector(
            {"username": "postgres", "database": "postgres", "sslmode": "prefer"}
            | {"server": server, "port": port, "password": PASSWORD},
            settings,
            ENV,
        )
    return SqlServerConnector(
        {"username": "datasync_reader", "encrypt": False}
        | {"server": server, "port": port, "password": PASSWORD},
        settings,
        ENV,
    )


def server_kind(target: tuple[str, str]) -> str:
    return "PostgreSQL" if target[0] == "postgresql" else "SQL Server"


def failure(connect: Callable[[], object]) -> tuple[ConnectorError, float]:
    """The error `connect` raises, and how long it took."""
    started = time.monotonic()
    with pytest.raises(ConnectorError) as raised:
        connect()
    return raised.value, time.monotonic() - started


def assert_told_safely(error: ConnectorError) -> None:
    """No password in any spelling, no file path of the service."""
    for part in (PASSWORD, "leaky", "pw{7"):
        assert part not in error.message
    assert not re.search(r"(^|[\s'\"(])/\w", error.message), error.message
    assert ".so" not in error.message


def rows(connector: OdbcConnector, selection: dict[str, Any]) -> pa.Table:
    table = connector.fetch(selection, lambda _rows: None)
    return pa.Table.from_batches(list(table.batches))


# --- each failure has its own message -------------------------------------------------------


@EVERY_DRIVER
def test_a_closed_port_is_told_as_refused_with_its_host_and_port(
    target: tuple[str, str],
) -> None:
    port = free_port()
    error, took = failure(lambda: source(target, port).test({"databaseName": "master"}))
    assert isinstance(error, TransientError)  # retried later: the server may be restarting
    assert error.message.startswith(
        f"could not connect to 127.0.0.1:{port}: the connection was refused "
        "(nothing is listening on that port). Check the server name and port, and that "
        f"{server_kind(target)} is running there"
    ), error.message
    assert_told_safely(error)
    assert took < 2.5  # one second of login timeout, retries and the probe included


@EVERY_DRIVER
def test_a_host_name_that_does_not_resolve_is_told_as_not_found_in_dns(
    target: tuple[str, str],
) -> None:
    error, _ = failure(
        lambda: source(target, 6543, server="no-such-db.invalid").test({"databaseName": "x"})
    )
    assert isinstance(error, ConfigError) and error.field == "credentials.server"
    assert error.message == (
        "could not connect to no-such-db.invalid:6543: the host name 'no-such-db.invalid' "
        "was not found in DNS (it does not resolve). Check the server name for a typo, or "
        "give the server's IP address."
    )
    assert_told_safely(error)


@EVERY_DRIVER
def test_a_dns_server_that_does_not_answer_is_told_as_temporary(
    target: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS is played by the test: the service's lookup gets EAI_AGAIN (no answer)."""

    def no_answer(*_args: Any, **_kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_answer)
    error, _ = failure(lambda: source(target, 6543, server="db.example.com").test({}))
    assert isinstance(error, TransientError)  # retried later, not a typo
    assert error.message.startswith(
        "could not connect to db.example.com:6543: the host 'db.example.com' could not be "
        "looked up just now (DNS did not answer)."
    ), error.message


@EVERY_DRIVER
def test_a_port_where_nothing_answers_is_told_as_a_timeout(target: tuple[str, str]) -> None:
    with unanswering_port() as port:
        error, took = failure(lambda: source(target, port).test({"databaseName": "master"}))
    assert isinstance(error, TransientError)
    assert error.message == (
        f"could not connect to 127.0.0.1:{port}: nothing answered within the 1 s login "
        "timeout. Check the server name and port, and that a firewall lets this service "
        "reach the server."
    )
    assert_told_safely(error)
    assert took < 4  # libpq waits at least 2 s; then one probe of at most 1 s


@EVERY_DRIVER
def test_a_server_that_accepts_but_never_answers_is_told_as_a_login_timeout(
    target: tuple[str, str],
) -> None:
    with silent_listener() as port:
        error, took = failure(lambda: source(target, port).test({"databaseName": "master"}))
    kind = server_kind(target)
    assert isinstance(error, TransientError)
    assert error.message == (
        f"could not connect to 127.0.0.1:{port}: the server accepted the connection but did "
        f"not complete the {kind} login within the 1 s login timeout. Check that this port "
        f"is {kind}'s, or raise settings.loginTimeoutSeconds if the server is slow to answer."
    )
    assert_told_safely(error)
    assert took < 3.5


def test_postgres_sslmode_require_against_a_server_without_tls_is_a_tls_error() -> None:
    connector = PostgresConnector(
        {
            "server": "127.0.0.1",
            "username": "postgres",
            "password": PASSWORD,
            "database": "postgres",
            "sslmode": "require",
        },
        {},
        ENV,
    )
    error, _ = failure(lambda: connector.test({}))
    assert isinstance(error, ConfigError)  # not retried: only a settings change helps
    assert error.message.startswith(
        f"could not connect to 127.0.0.1:{POSTGRES_PORT}: the encrypted connection could not "
        'be set up (connection to server at "127.0.0.1", port 5432 failed: server does not '
        "support SSL, but SSL was required). Check credentials.sslmode: 'require' and above "
        "need a server with TLS"
    ), error.message
    assert_told_safely(error)


def test_microsoft_driver_refusing_an_untrusted_certificate_is_a_tls_error(
    tds_standin: TdsStandIn,
) -> None:
    """The stand-in presents a self-signed certificate; encryption without
    trustServerCertificate must refuse it. (FreeTDS does not check certificates at all.)"""
    if MICROSOFT not in sql_server_drivers().values():
        pytest.skip("Microsoft's driver is not installed")
    connector = SqlServerConnector(
        tds_standin.credentials(password=PASSWORD, encrypt=True, trustServerCertificate=False),
        {"driver": MICROSOFT},
        ENV,
    )
    error, _ = failure(lambda: connector.test({"databaseName": "SalesDB"}))
    assert isinstance(error, ConfigError)
    assert error.message.startswith(
        f"could not connect to 127.0.0.1:{tds_standin.port}: the encrypted connection could "
        "not be set up (SSL Provider: [error:0A000086:SSL routines::certificate verify "
        "failed:self-signed certificate]). Check credentials.encrypt and "
        "credentials.trustServerCertificate"
    ), error.message
    assert_told_safely(error)


def test_a_wrong_password_is_still_an_auth_error_and_is_not_retried(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    connector = SqlServerConnector(
        tds_standin.credentials(password=PASSWORD),
        {"driver": sql_server_driver, "loginTimeoutSeconds": 10},
        ENV,
    )
    error, took = failure(lambda: connector.test({"databaseName": "SalesDB"}))
    assert isinstance(error, AuthError) and "Login failed" in error.message
    assert_told_safely(error)
    assert took < 1  # no back-off: a retry cannot fix a password


# --- a server back within the retry budget is reached -----------------------------------------


@pytest.mark.parametrize("how", ["refused", "reset"])
def test_postgres_back_after_a_second_is_reached_by_the_connectors_retry(
    how: TurnedAway,
) -> None:
    """Connecting is retried 1 s, then 2 s after a failure; each retry gets what is left of
    the login timeout, which libpq must be given as the same number."""
    with Forwarder(POSTGRES_PORT, turned_away_for=1.0, how=how) as forwarder:
        connector = PostgresConnector(
            {
                "server": "127.0.0.1",
                "port": forwarder.port,
                "username": "postgres",
                "password": "unused-fake",
                "database": "postgres",
            },
            {"loginTimeoutSeconds": 10},
            ENV,
        )
        started = time.monotonic()
        table = rows(connector, {"query": "SELECT n FROM generate_series(1, 50000) AS n"})
        took = time.monotonic() - started
    assert table.column("n").to_pylist() == list(range(1, 50_001))
    assert 1.0 <= took < 5
    assert forwarder.forwarded >= 1
    assert forwarder.turned_away >= (1 if how == "reset" else 0)


@pytest.mark.parametrize("how", ["refused", "reset"])
def test_sql_server_back_after_a_second_is_reached_by_a_retry(
    tds_standin: TdsStandIn, sql_server_driver: str, how: TurnedAway
) -> None:
    """FreeTDS fails at once and the connector retries; Microsoft's driver also retries a
    refused port itself within one attempt."""
    selection = {"databaseName": "SalesDB", "query": "SELECT * FROM dbo.Orders ORDER BY OrderId"}
    settings = {"driver": sql_server_driver, "loginTimeoutSeconds": 10}
    expected = rows(SqlServerConnector(tds_standin.credentials(), settings, ENV), selection)
    with Forwarder(tds_standin.port, turned_away_for=1.0, how=how) as forwarder:
        connector = SqlServerConnector(tds_standin.credentials(port=forwarder.port), settings, ENV)
        started = time.monotonic()
        table = rows(connector, selection)
        took = time.monotonic() - started
    assert table.equals(expected) and table.num_rows > 0
    assert 1.0 <= took < 5
    assert forwarder.forwarded >= 1
