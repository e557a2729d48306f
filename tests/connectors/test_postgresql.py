"""The PostgreSQL connector against the local PostgreSQL (127.0.0.1:5432, trust auth),
through each of its drivers where the guarantee is the driver's business: ADBC (the
default) and psqlODBC (`settings.driver`). Each run creates and drops its own database."""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyodbc
import pytest

from connectors.base import AuthError, ConfigError, Environment, TransientError
from connectors.network_policy import NetworkPolicy
from connectors.odbc import connection_string
from connectors.odbc.errors import classify
from connectors.postgresql import PostgresConnector
from tests.services import free_port

# The machine's PostgreSQL listens on loopback, which only SQL_ALLOWED_NETWORKS opens.
ENV = Environment(
    database_network=NetworkPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
)
HOST, PORT, ADMIN_DB = "127.0.0.1", 5432, "test"
PSQLODBC = "PostgreSQL Unicode"
ROWS = 150_000
SEED = f"""
CREATE TABLE orders (
    order_id integer PRIMARY KEY,
    customer text NOT NULL,
    order_date timestamp NOT NULL,
    amount numeric(12,2) NOT NULL
);
INSERT INTO orders VALUES
    (1, 'Ada', now() - interval '1 day', 120.50),
    (2, 'Zoë Ångström 日本', now() - interval '3 days', 99.99),
    (3, 'Old', now() - interval '30 days', 10.00);
CREATE TABLE all_types (
    id integer, small smallint, big bigint, flag boolean, exact numeric(38,10),
    unbounded numeric, dbl double precision, single real, day date,
    moment timestamp(6), instant timestamptz, clock time, guid uuid, body text,
    raw bytea, doc jsonb
);
INSERT INTO all_types VALUES
    (1, -32768, 9223372036854775807, true, 1234567890123456789012345678.0123456789,
     123456789012345678901234567890.123456789, 0.1, 0.1, '2024-02-29',
     '2024-02-29 13:45:30.123456', '2024-02-29 13:45:30.5+05:30', '23:59:59.999999',
     '6f9619ff-8b86-d011-b42d-00c04fc964ff', 'ünï 🚀', '\\x00ff10', '{{"a": 1}}'),
    (2, null, null, null, null, null, null, null, null, null, null, null, null, null,
     null, null);
CREATE TABLE numbers AS
    SELECT n, 'row ' || n AS label, (n % 1000) + 0.25 AS price
    FROM generate_series(0, {ROWS - 1}) AS n;
CREATE SEQUENCE counter;
"""


def admin() -> pyodbc.Connection:
    return pyodbc.connect(
        f"DRIVER={{PostgreSQL Unicode}};SERVER={HOST};PORT={PORT};DATABASE={ADMIN_DB};UID=postgres",
        autocommit=True,
    )


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    name = f"datasync_pg_{uuid.uuid4().hex[:8]}"
    try:
        with admin() as connection:
            connection.execute(f"CREATE DATABASE {name}")
    except pyodbc.Error as exc:
        pytest.skip(f"no local PostgreSQL: {exc}")
    try:
        with pyodbc.connect(
            f"DRIVER={{PostgreSQL Unicode}};SERVER={HOST};PORT={PORT};DATABASE={name};UID=postgres",
            autocommit=True,
        ) as connection:
            connection.execute(SEED)
        yield name
    finally:
        with admin() as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["ADBC", PSQLODBC], ids=["adbc", "psqlodbc"])
def driver(request: pytest.FixtureRequest) -> str:
    """The `settings.driver` of the connector under test."""
    if request.param == PSQLODBC and PSQLODBC not in pyodbc.drivers():
        pytest.skip("psqlODBC is not installed")
    return str(request.param)


def postgres(driver: str | None = None, **credentials: Any) -> PostgresConnector:
    base = {"server": HOST, "port": PORT, "username": "postgres", "password": "unused-fake"}
    settings = {} if driver is None else {"driver": driver}
    return PostgresConnector(base | credentials, settings, ENV)


def fetch(driver: str, database: str, query: str, **selection: Any) -> pa.Table:
    table = postgres(driver).fetch(
        {"databaseName": database, "query": query, **selection}, lambda _: None
    )
    return pa.Table.from_batches(list(table.batches))


def test_adbc_is_the_default_and_a_psqlodbc_name_chooses_odbc() -> None:
    assert postgres().reads_through_adbc and postgres("adbc").reads_through_adbc
    assert not postgres(PSQLODBC).reads_through_adbc
    assert PostgresConnector.offered_drivers(ENV)[0].name == "ADBC"


def test_writes_are_refused_by_the_postgres_parser_rule() -> None:
    for query in (
        "DELETE FROM orders",
        "WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone",
        "SELECT * INTO copy FROM orders",
        "SELECT * FROM orders FOR UPDATE",
        "COPY orders TO STDOUT",
        "SELECT 1; SELECT 2",
    ):
        problems = PostgresConnector.validate_selection({"query": query}, ENV)
        assert [p.field for p in problems] == ["config.query"], query


def test_database_may_come_from_the_credentials(database: str, driver: str) -> None:
    connector = postgres(driver, database=database)
    table = connector.fetch({"query": "SELECT count(*) AS n FROM orders"}, lambda _: None)
    assert pa.Table.from_batches(list(table.batches)).column("n").to_pylist() == [3]
    with pytest.raises(ConfigError):
        postgres(driver).fetch({"query": "SELECT 1"}, lambda _: None)


def test_streaming_options_are_always_in_the_psqlodbc_connection_string() -> None:
    built = connection_string.parse(
        postgres(PSQLODBC, connectionString="SERVER=h;UID=u;PWD={a;b}").connection_string("db", 60)
    )
    assert built["UseDeclareFetch"] == "1" and built["NumericAs"] == "12"
    assert "statement_timeout = 60000" in built["ConnSettings"]
    assert "default_transaction_read_only = on" in built["ConnSettings"]
    assert built["PWD"] == "a;b" and built["DATABASE"] == "db"
    assert built["DRIVER"] == "PostgreSQL Unicode"


def test_recent_orders_query_returns_exact_decimals_and_unicode(database: str, driver: str) -> None:
    result = fetch(
        driver,
        database,
        "SELECT * FROM orders WHERE order_date >= now() - interval '7 days' ORDER BY order_id",
    )
    assert result.column("order_id").to_pylist() == [1, 2]
    assert result.column("amount").to_pylist() == [Decimal("120.50"), Decimal("99.99")]
    assert result.column("customer")[1].as_py() == "Zoë Ångström 日本"


def test_every_postgres_type_maps_to_a_faithful_arrow_type(database: str, driver: str) -> None:
    result = fetch(driver, database, "SELECT * FROM all_types ORDER BY id")
    assert {f.name: f.type for f in result.schema} == {
        "id": pa.int32(),
        "small": pa.int16(),
        "big": pa.int64(),
        "flag": pa.bool_(),
        "exact": pa.decimal128(38, 10),
        "unbounded": pa.string(),
        "dbl": pa.float64(),
        "single": pa.float64(),
        "day": pa.date32(),
        "moment": pa.timestamp("us"),
        "instant": pa.timestamp("us"),
        "clock": pa.time64("us"),
        "guid": pa.string(),
        "body": pa.string(),
        "raw": pa.binary(),
        "doc": pa.string(),
    }
    first, empty = result.to_pylist()
    assert first["exact"] == Decimal("1234567890123456789012345678.0123456789")
    # Unconstrained numeric: exact text, never a guessed precision that overflows.
    assert first["unbounded"] == "123456789012345678901234567890.123456789"
    assert (first["dbl"], first["single"]) == (0.1, 0.1)  # no float32 noise
    assert first["instant"] == dt.datetime(2024, 2, 29, 8, 15, 30, 500000)  # UTC
    assert first["moment"] == dt.datetime(2024, 2, 29, 13, 45, 30, 123456)
    assert first["clock"] == dt.time(23, 59, 59, 999999)
    assert first["guid"] == "6F9619FF-8B86-D011-B42D-00C04FC964FF"  # as psqlODBC's SQL_GUID
    assert (first["body"], first["raw"]) == ("ünï 🚀", b"\x00\xff\x10")
    assert {k: v for k, v in empty.items() if v is not None} == {"id": 2}


def test_rows_stream_in_bounded_batches(database: str, driver: str) -> None:
    progress: list[int] = []
    table = PostgresConnector(
        {"server": HOST, "username": "postgres", "password": "unused-fake"},
        {"batchRows": 10_000, "driver": driver},
        ENV,
    ).fetch({"databaseName": database, "query": "SELECT * FROM numbers"}, progress.append)
    sizes = [batch.num_rows for batch in table.batches]
    assert sum(sizes) == ROWS and max(sizes) <= 10_000
    assert progress[-1] == ROWS


def test_the_psqlodbc_session_itself_refuses_writes_beneath_the_parser_check(
    database: str,
) -> None:
    """Whatever a query rule lets through, the session the connector opens is read-only:
    the same connection string, used directly, cannot write."""
    if PSQLODBC not in pyodbc.drivers():
        pytest.skip("psqlODBC is not installed")
    text = postgres(PSQLODBC).connection_string(database, 60)
    with pyodbc.connect(text, autocommit=True) as connection:
        for statement in ("SELECT nextval('counter')", "DELETE FROM orders"):
            with pytest.raises(pyodbc.Error, match="read-only transaction"):
                connection.execute(statement)


def test_a_write_refused_by_the_server_is_a_config_error_naming_the_query() -> None:
    error = classify(
        Exception(
            "State: 25006, Native error: 1, Message: ERROR: cannot execute nextval() in a "
            "read-only transaction;"
        ),
        secrets=[],
    )
    assert isinstance(error, ConfigError) and error.field == "config.query"


def test_unknown_table_is_a_config_error_with_the_servers_message(
    database: str, driver: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        fetch(driver, database, "SELECT * FROM missing")
    assert 'relation "missing" does not exist' in str(raised.value)


def test_unknown_database_is_a_config_error(driver: str) -> None:
    with pytest.raises(ConfigError) as raised:
        postgres(driver).fetch({"databaseName": "no_such_db_here", "query": "SELECT 1"}, print)
    assert "no_such_db_here" in str(raised.value)


def test_unknown_role_is_an_auth_error_without_the_password(driver: str) -> None:
    with pytest.raises(AuthError) as raised:
        postgres(driver, username="nobody_here", password="fake;secret").fetch(
            {"databaseName": ADMIN_DB, "query": "SELECT 1"}, print
        )
    assert "secret" not in str(raised.value)


def test_query_timeout_is_transient(database: str, driver: str) -> None:
    with pytest.raises(TransientError):
        fetch(
            driver,
            database,
            "SELECT count(*) FROM numbers a, numbers b",
            queryTimeoutSeconds=1,
        )


def test_test_reports_the_server_version(database: str, driver: str) -> None:
    details = postgres(driver).test({"databaseName": database})
    assert details["serverVersion"].startswith("PostgreSQL")
    assert details["database"] == database


@pytest.mark.parametrize("call", ["test", "fetch"])
def test_login_timeout_setting_bounds_the_whole_connect_retries_included(
    call: str, driver: str
) -> None:
    closed = PostgresConnector(
        {"server": HOST, "port": free_port(), "username": "postgres", "password": "unused-fake"},
        {"loginTimeoutSeconds": 1, "driver": driver},
        ENV,
    )
    selection = {"databaseName": ADMIN_DB, "query": "SELECT 1"}
    started = time.monotonic()
    with pytest.raises(TransientError):
        if call == "test":
            closed.test(selection)
        else:
            closed.fetch(selection, lambda _: None)
    assert time.monotonic() - started < 2.5
