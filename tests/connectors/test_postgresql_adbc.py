"""The postgresql source type's ADBC path against real PostgreSQL servers: what it does
that psqlODBC did not have to (stream libpq's binary COPY, hold its own read-only
transaction), and that it keeps every promise of the psqlODBC path, down to the CSV text
of each type. The local PostgreSQL trusts every login on 127.0.0.1; the wrong-password
test starts a server of its own that asks for passwords."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa
import pyodbc
import pytest

from app.sync.render import render_column
from connectors.base import AuthError, ConfigError, Environment, TransientError
from connectors.postgresql import PostgresConnector, adbc_path
from tests.connectors.test_sql_connect_by_checked_address import LOOPBACK_ALLOWED as ENV
from tests.services import create_postgres_database, free_port
from tests.standins.network import silent_listener, unanswering_port

PSQLODBC = "PostgreSQL Unicode"
ROWS = 200_000
SEED = f"""
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE DOMAIN amount AS numeric(10, 2);
CREATE TABLE kinds (
    id integer, exact numeric(38,10), money_value amount, unbounded numeric,
    special numeric, tiny numeric, single real, dbl double precision, instant timestamptz,
    guid uuid, doc jsonb, doc_text json, fixed char(3), label name, feeling mood,
    span interval, zoned_clock timetz, numbers integer[], words text[], cash money,
    address inet, bits bit varying, markup xml, spot point, raw bytea
);
INSERT INTO kinds VALUES
    (1, -0.0000000001, 12.5, 123456789012345678901234567890.123456789, 'NaN',
     0.000000000000000000000000000001, 123456.789, 1e-300, '2024-02-29 13:45:30.5+05:30',
     '6f9619ff-8b86-d011-b42d-00c04fc964ff', '{{"b": [1, 2], "a": null}}', '{{ "a" : 1 }}',
     'ab', 'some_name', 'sad', '1 year 2 mons 3 days 04:05:06.5', '10:00:00+02',
     '{{1,NULL,3}}', '{{"a b",c}}', 1234.56, '10.0.0.1/8', B'101', '<a>x</a>', '(1.5,2)',
     '\\x00ff'),
    (2, null, null, null, null, null, 'Infinity', '-Infinity', null, null, null, null, null,
     null, null, null, null, null, null, null, null, null, null, null, null),
    (3, 0, 0, 0, '-Infinity', -1, -0.1, 0.30000000000000004, 'epoch',
     '00000000-0000-0000-0000-000000000001', '[]', '"x"', '', '', 'happy', '-1 day',
     '00:00:00-11:30', '{{}}', '{{}}', -0.01, '::1', B'', '<b/>', '(0,0)', '\\x');
CREATE TABLE numbers AS
    SELECT n, 'row ' || n AS label, (n % 1000) + 0.25 AS price
    FROM generate_series(0, {ROWS - 1}) AS n;
CREATE SEQUENCE counter;
CREATE FUNCTION bump() RETURNS bigint AS 'SELECT nextval(''counter'')' LANGUAGE sql;
CREATE FUNCTION pause(seconds double precision) RETURNS integer
    AS 'SELECT 0 FROM pg_sleep(seconds)' LANGUAGE sql;
CREATE TABLE orders (order_id integer PRIMARY KEY, updated_at timestamptz NOT NULL);
INSERT INTO orders VALUES (1, '2024-01-01T00:00:00Z'), (2, '2024-01-02T00:00:00Z');
"""


def run(url: str, sql: str) -> None:
    """Runs statements outside the connector (setting up, or changing data under it)."""
    with adbc.connect(url, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.adbc_statement.set_sql_query(sql)
        cursor.adbc_statement.execute_update()


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[str, str, int]]:
    """(url, name, port) of a database seeded with SEED."""
    url, drop = create_postgres_database()
    try:
        run(url, SEED)
        parts = urlsplit(url)
        yield url, parts.path.lstrip("/"), parts.port or 5432
    finally:
        drop()


def postgres(database: tuple[str, str, int], **settings: Any) -> PostgresConnector:
    _url, name, port = database
    credentials = {
        "server": "127.0.0.1",
        "port": port,
        "username": "postgres",
        "password": "unused-fake",
        "database": name,
    }
    return PostgresConnector(credentials, settings, ENV)


def read(connector: PostgresConnector, query: str, **selection: Any) -> pa.Table:
    table = connector.fetch({"query": query, **selection}, lambda _rows: None)
    batches = list(table.batches)
    return pa.Table.from_batches(batches) if batches else pa.table({})


def csv_text(table: pa.Table) -> dict[str, list[str | None]]:
    return {
        name: render_column(table.column(index)).to_pylist()
        for index, name in enumerate(table.column_names)
    }


@pytest.fixture
def psqlodbc() -> str:
    if PSQLODBC not in pyodbc.drivers():
        pytest.skip("psqlODBC is not installed")
    return PSQLODBC


# --- the same CSV whichever driver reads --------------------------------------------------


def test_every_type_renders_the_same_csv_text_through_adbc_as_through_psqlodbc(
    database: tuple[str, str, int], psqlodbc: str
) -> None:
    query = "SELECT * FROM kinds ORDER BY id"
    through_adbc = read(postgres(database), query)
    through_odbc = read(postgres(database, driver=psqlodbc), query)
    assert through_adbc.schema.types == through_odbc.schema.types
    assert csv_text(through_adbc) == csv_text(through_odbc)
    assert csv_text(through_adbc)["special"] == ["NaN", None, "-Infinity"]  # the server's words


@pytest.mark.parametrize(
    "query",
    [
        "SELECT ROW(1, 'a') AS r",
        "SELECT t FROM (SELECT 1 AS a, 'x' AS b) AS t",
        "SELECT to_tsvector('a fat cat') AS v",
        "SELECT int4range(1, 5) AS r",
        "SELECT ARRAY[1.5::numeric] AS a, ARRAY[ARRAY[1, 2], ARRAY[3, 4]] AS m",
        "SELECT '{\"a\": 1}'::jsonb -> 'a' AS j, NULL AS n, 'a'::\"char\" AS c",
        "SELECT '08:00:2b:01:02:03'::macaddr AS m, pg_lsn('0/16B3748') AS l",
        "SELECT 1 AS one WHERE false",
    ],
)
def test_values_of_other_types_render_the_same_through_both_drivers(
    database: tuple[str, str, int], psqlodbc: str, query: str
) -> None:
    through_adbc = read(postgres(database), query)
    through_odbc = read(postgres(database, driver=psqlodbc), query)
    assert through_adbc.schema.types == through_odbc.schema.types
    assert csv_text(through_adbc) == csv_text(through_odbc)


def test_repeated_names_survive_the_server_side_cast_of_a_column(
    database: tuple[str, str, int],
) -> None:
    """An interval is read as the server's text, through a subquery whose columns are
    renamed by position; the result still has the query's own names, in its order."""
    table = postgres(database).fetch(
        {"query": "SELECT interval '1 day' AS x, n AS x FROM numbers WHERE n < 3 ORDER BY n DESC"},
        lambda _rows: None,
    )
    assert table.columns == ["x", "x"]
    batches = list(table.batches)
    spans = [value for batch in batches for value in batch.column(0).to_pylist()]
    numbers = [value for batch in batches for value in batch.column(1).to_pylist()]
    assert (spans, numbers) == (["1 day"] * 3, [2, 1, 0])


def test_a_numeric_with_precision_holding_nan_is_refused_naming_the_query(
    database: tuple[str, str, int],
) -> None:
    with pytest.raises(ConfigError) as raised:
        read(postgres(database), "SELECT 'NaN'::numeric(10,2) AS n")
    assert raised.value.field == "config.query" and "CAST it to text" in raised.value.message


@pytest.mark.parametrize(
    "value", ["'infinity'::date", "'-infinity'::timestamp", "'infinity'::timestamptz"]
)
def test_infinity_is_refused_naming_the_column_rather_than_written_as_a_wrong_date(
    database: tuple[str, str, int], value: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        read(postgres(database), f"SELECT {value} AS due")
    assert raised.value.field == "config.query"
    assert "'due' holds infinity" in raised.value.message


def test_dates_before_the_common_era_keep_their_year(database: tuple[str, str, int]) -> None:
    table = read(postgres(database), "SELECT '4713-01-01 BC'::date AS first_day")
    assert csv_text(table) == {"first_day": ["-4712-01-01"]}  # ISO 8601: year 0 is 1 BC


# --- streaming ----------------------------------------------------------------------------


def test_rows_reach_the_engine_while_the_server_is_still_running_the_query(
    database: tuple[str, str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batches arrive before the query's last row exists: here the server
    sleeps two seconds after the table's rows, before the one row that ends the result
    (pause() is the seed's: the query rule refuses pg_sleep itself)."""
    monkeypatch.setattr(adbc_path, "BATCH_BYTES", 64 * 1024)
    query = "SELECT n FROM numbers UNION ALL SELECT pause(2) - 1"
    started = time.monotonic()
    table = postgres(database, batchRows=50_000).fetch({"query": query}, lambda _rows: None)
    batches = iter(table.batches)
    first = next(batches)
    first_after = time.monotonic() - started
    sizes = [first.num_rows] + [batch.num_rows for batch in batches]
    assert first_after < 1.5 <= time.monotonic() - started
    assert sum(sizes) == ROWS + 1 and max(sizes) <= 50_000 and len(sizes) > 2


_MEMORY_PROBE = """
import json, resource, sys
from connectors.postgresql import PostgresConnector
from tests.connectors.test_sql_connect_by_checked_address import LOOPBACK_ALLOWED
port, database, rows = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
connector = PostgresConnector(
    {"server": "127.0.0.1", "port": port, "username": "postgres", "password": "x",
     "database": database}, {}, LOOPBACK_ALLOWED)
def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
connector.fetch({"query": "SELECT 1 AS warm"}, lambda _r: None).batches.close()
before = peak()
query = f"SELECT generate_series(1, {rows}) AS n, repeat('x', 100) AS pad"
read = sum(b.num_rows for b in connector.fetch({"query": query}, lambda _r: None).batches)
print(json.dumps({"rows": read, "grew_mb": peak() - before}))
"""


def test_memory_stays_bounded_however_many_rows_stream(
    database: tuple[str, str, int],
) -> None:
    """2M rows of about 110 bytes (over 200 MB of values) pass through a process whose
    peak memory grows by a few batches only."""
    _url, name, port = database
    root = Path(__file__).resolve().parents[2]
    probe = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(port), name, "2000000"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(probe.stdout)
    assert measured["rows"] == 2_000_000
    assert measured["grew_mb"] < 80, measured  # measured: 32 MB, as for 6M rows


def test_a_stream_closed_early_ends_its_copy_and_its_connection(
    database: tuple[str, str, int],
) -> None:
    url, name, _port = database
    table = postgres(database).fetch(
        {"query": "SELECT generate_series(1, 50000000) AS n"}, lambda _rows: None
    )
    batches = iter(table.batches)
    next(batches)
    started = time.monotonic()
    batches.close()  # type: ignore[attr-defined]
    assert time.monotonic() - started < 1
    deadline = time.monotonic() + 5
    while True:
        with adbc.connect(url) as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                f"WHERE application_name = 'DataSync' AND datname = '{name}'"
            )
            (left,) = cursor.fetchone() or (None,)
        if left == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert left == 0


def test_a_query_ending_in_a_line_comment_runs(database: tuple[str, str, int]) -> None:
    """The driver wraps the query as COPY (query) TO STDOUT: the comment must not
    swallow the end of that."""
    table = read(postgres(database), "SELECT count(*) AS n FROM orders -- all of them")
    assert table.column("n").to_pylist() == [2]


# --- the transaction: read-only, with the query timeout ----------------------------------


def test_a_write_the_parser_cannot_see_is_refused_by_the_read_only_transaction(
    database: tuple[str, str, int],
) -> None:
    """bump() calls nextval inside a function body, which no query rule can read."""
    with pytest.raises(ConfigError) as raised:
        read(postgres(database), "SELECT bump()")
    assert raised.value.field == "config.query"
    assert "read-only transaction" in raised.value.message


def test_the_statement_timeout_is_the_servers_and_transient(
    database: tuple[str, str, int],
) -> None:
    started = time.monotonic()
    with pytest.raises(TransientError) as raised:
        read(postgres(database), "SELECT pause(30)", queryTimeoutSeconds=1)
    assert 1 <= time.monotonic() - started < 5
    assert "statement timeout" in raised.value.message


def test_the_session_reads_in_utc_whatever_the_servers_zone(
    database: tuple[str, str, int],
) -> None:
    url, name, _port = database
    run(url, f"ALTER DATABASE {name} SET TimeZone = 'Asia/Kolkata'")
    table = read(postgres(database), "SELECT current_setting('TimeZone') AS zone")
    assert table.column("zone").to_pylist() == ["UTC"]


# --- connecting ----------------------------------------------------------------------------


def test_a_password_with_quotes_and_keywords_stays_one_value(
    database: tuple[str, str, int],
) -> None:
    """Were the password not quoted, `host=` inside it would send libpq elsewhere."""
    _url, name, port = database
    connector = PostgresConnector(
        {
            "connectionString": f"SERVER=127.0.0.1;PORT={port};UID=postgres;DATABASE={name};"
            "PWD={x' host=203.0.113.1 sslmode='require \\}",
        },
        {},
        ENV,
    )
    assert connector.test({})["serverVersion"].startswith("PostgreSQL")


def test_a_loopback_host_is_refused_before_any_packet_under_the_default_policy() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        connector = PostgresConnector(
            {
                "server": "127.0.0.1",
                "port": listener.getsockname()[1],
                "username": "u",
                "password": "p",
                "database": "d",
            },
            {},
            Environment(),
        )
        with pytest.raises(ConfigError) as raised:
            connector.test({})
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert raised.value.field == "credentials.server"


def unreachable(port: int) -> PostgresConnector:
    credentials = {
        "server": "127.0.0.1",
        "port": port,
        "username": "postgres",
        "password": "fake;leaky=pw{7",
        "database": "postgres",
    }
    return PostgresConnector(credentials, {"driver": "ADBC", "loginTimeoutSeconds": 1}, ENV)


def test_a_closed_port_is_told_as_refused_within_the_login_timeout() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(TransientError) as raised:
        unreachable(port).test({})
    assert time.monotonic() - started < 2.5
    assert raised.value.message.startswith(
        f"could not connect to 127.0.0.1:{port}: the connection was refused (nothing is "
        "listening on that port)."
    )
    assert "leaky" not in raised.value.message


def test_a_port_where_nothing_answers_is_told_as_a_timeout() -> None:
    with unanswering_port() as port, pytest.raises(TransientError) as raised:
        unreachable(port).test({})
    assert raised.value.message.startswith(
        f"could not connect to 127.0.0.1:{port}: nothing answered within the 1 s login timeout"
    )


def test_a_server_that_accepts_but_never_answers_is_told_as_a_login_timeout() -> None:
    with silent_listener() as port, pytest.raises(TransientError) as raised:
        unreachable(port).test({})
    assert raised.value.message.startswith(
        f"could not connect to 127.0.0.1:{port}: the server accepted the connection but did "
        "not complete the PostgreSQL login within the 1 s login timeout."
    )


def test_sslmode_require_against_a_server_without_tls_names_the_setting(
    database: tuple[str, str, int],
) -> None:
    _url, name, port = database
    connector = PostgresConnector(
        {
            "server": "127.0.0.1",
            "port": port,
            "username": "postgres",
            "password": "unused-fake",
            "database": name,
            "sslmode": "require",
        },
        {"driver": "ADBC"},
        ENV,
    )
    with pytest.raises(ConfigError) as raised:
        connector.test({})
    assert "server does not support SSL, but SSL was required" in raised.value.message
    assert "Check credentials.sslmode" in raised.value.message


@pytest.fixture(scope="module")
def password_server() -> Iterator[int]:
    """A PostgreSQL of the test's own that asks every login for its password
    (scram-sha-256); `postgres`'s password is `right-password`."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    runuser = shutil.which("runuser")
    if not found or runuser is None or os.geteuid() != 0:
        pytest.skip("needs PostgreSQL's server binaries and root to run them as postgres")
    binaries = found[-1].parent
    directory = Path(tempfile.mkdtemp(prefix="datasync-pg-auth-"))
    (directory / "pw").write_text("right-password\n")
    shutil.chown(directory, "postgres")
    shutil.chown(directory / "pw", "postgres")
    port = free_port()

    def as_postgres(*args: str) -> None:
        subprocess.run([runuser, "-u", "postgres", "--", *args], check=True, capture_output=True)

    data = str(directory / "data")
    as_postgres(
        str(binaries / "initdb"),
        "-D",
        data,
        "-U",
        "postgres",
        "-A",
        "scram-sha-256",
        f"--pwfile={directory / 'pw'}",
    )
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1"
    pg_ctl = str(binaries / "pg_ctl")
    as_postgres(pg_ctl, "-D", data, "-l", str(directory / "log"), "-o", options, "-w", "start")
    try:
        yield port
    finally:
        as_postgres(pg_ctl, "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(directory, ignore_errors=True)


def test_a_wrong_password_is_an_auth_error_at_once_without_the_password(
    password_server: int,
) -> None:
    def connector(password: str) -> PostgresConnector:
        credentials = {
            "server": "127.0.0.1",
            "port": password_server,
            "username": "postgres",
            "password": password,
            "database": "postgres",
        }
        return PostgresConnector(credentials, {"loginTimeoutSeconds": 10}, ENV)

    assert connector("right-password").test({})["serverVersion"].startswith("PostgreSQL")
    started = time.monotonic()
    with pytest.raises(AuthError) as raised:
        connector("wrong;pass'word").test({})
    assert time.monotonic() - started < 1  # not retried: a retry cannot fix a password
    assert "password authentication failed" in raised.value.message
    for part in ("wrong", "pass'word", "right-password"):
        assert part not in raised.value.message


# --- change detection: config.changeQuery --------------------------------------------------


def test_without_a_change_query_there_is_no_marker(database: tuple[str, str, int]) -> None:
    assert postgres(database).change_marker({"query": "SELECT * FROM orders"}) is None


def test_the_change_querys_row_is_the_marker_and_moves_with_the_data(
    database: tuple[str, str, int],
) -> None:
    url, _name, _port = database
    selection = {
        "query": "SELECT * FROM orders",
        "changeQuery": "SELECT max(updated_at), count(*) FROM orders",
    }
    connector = postgres(database)
    before = connector.change_marker(selection)
    assert before is not None and connector.change_marker(selection) == before
    run(url, "INSERT INTO orders VALUES (3, '2024-01-03T00:00:00Z')")
    try:
        assert connector.change_marker(selection) not in (None, before)
    finally:
        run(url, "DELETE FROM orders WHERE order_id = 3")
    assert connector.change_marker(selection) == before


def test_the_marker_is_the_same_whichever_driver_reads_the_row(
    database: tuple[str, str, int], psqlodbc: str
) -> None:
    selection = {
        "query": "SELECT * FROM kinds",
        "changeQuery": "SELECT max(instant), sum(exact), count(*), max(guid::text), "
        "bool_and(id > 0), max(unbounded) FROM kinds",
    }
    through_adbc = postgres(database).change_marker(selection)
    assert through_adbc == postgres(database, driver=psqlodbc).change_marker(selection)


@pytest.mark.parametrize(
    ("change_query", "refusal"),
    [
        ("SELECT updated_at FROM orders", "exactly one row"),
        ("SELECT max(updated_at) FROM orders WHERE false HAVING false", "exactly one row"),
        ("SELECT bump()", "read-only transaction"),
    ],
)
def test_a_change_query_must_return_one_row_and_only_read(
    database: tuple[str, str, int], change_query: str, refusal: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        postgres(database).change_marker({"query": "SELECT 1", "changeQuery": change_query})
    assert refusal in raised.value.message
