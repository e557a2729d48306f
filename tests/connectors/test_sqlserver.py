# ruff: noqa: F811 - pytest fixtures imported from the stand-in are parameters here
"""The SQL Server connector, driven through real ODBC drivers (FreeTDS and Microsoft's
ODBC Driver 18) against the TDS stand-in (tests/standins/tds)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
from decimal import Decimal
from typing import Any

import psutil
import pyarrow as pa
import pyodbc
import pytest

from connectors.base import AuthError, ConfigError, Environment, Table, TransientError
from connectors.network_policy import NetworkPolicy
from connectors.odbc import connection_string, drivers
from connectors.odbc.connector import OdbcConnector
from connectors.odbc.errors import classify
from connectors.postgresql import PostgresConnector
from connectors.registry import connector_class
from connectors.sqlserver import SqlServerConnector
from connectors.sqlserver.temporal_text import datetime2_iso, datetimeoffset_iso
from tests.services import free_port
from tests.standins.tds.fixtures import (  # noqa: F401 - pytest fixtures
    BRACE_PASSWORD,
    BRACE_USERNAME,
    TdsStandIn,
    sql_server_driver,
    tds_standin,
)

REFERENCE_QUERY = "SELECT * FROM dbo.Orders WHERE OrderDate >= DATEADD(day, -7, GETDATE())"
# The stand-in listens on loopback, which only an operator's SQL_ALLOWED_NETWORKS opens.
ENV = Environment(
    database_network=NetworkPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
)


def connector(standin: TdsStandIn, driver: str, **credentials: Any) -> SqlServerConnector:
    return SqlServerConnector(standin.credentials(**credentials), {"driver": driver}, ENV)


def read(table: Table) -> pa.Table:
    return pa.Table.from_batches(list(table.batches))


def all_types(standin: TdsStandIn, driver: str) -> dict[int, dict[str, Any]]:
    table = connector(standin, driver).fetch(
        {"databaseName": "SalesDB", "query": "SELECT * FROM dbo.AllTypes ORDER BY Id"},
        lambda _rows: None,
    )
    return {row["Id"]: row for row in read(table).to_pylist()}


# --- pure: connection strings, the query rule, validation, errors -------------------


@pytest.mark.parametrize("password", ["a;b", "x}y", "k=v", "{braced}", " padded ", "a;Encrypt=no"])
def test_password_with_odbc_syntax_characters_round_trips_through_the_connection_string(
    password: str,
) -> None:
    built = SqlServerConnector(
        {"server": "db", "username": "u", "password": password},
        {"driver": "ODBC Driver 18 for SQL Server"},
        ENV,
    ).connection_string("SalesDB", 30)
    parsed = connection_string.parse(built)
    assert parsed["PWD"] == password
    assert "Encrypt" not in parsed  # a password cannot inject a keyword


def test_closing_brace_in_a_value_is_doubled_inside_braces() -> None:
    assert connection_string.quote_value("pa}ss") == "{pa}}ss}"
    assert connection_string.quote_value("plain") == "plain"


def test_connection_string_credentials_get_the_database_and_a_driver() -> None:
    given = "SERVER=db,1433;UID=u;PWD={p;w};Database=old"
    built = SqlServerConnector(
        {"connectionString": given}, {"driver": "FreeTDS"}, ENV
    ).connection_string("SalesDB", 30)
    parsed = connection_string.parse(built)
    assert connection_string.get(parsed, "database") == "SalesDB"
    assert parsed["DRIVER"] == "FreeTDS"
    assert parsed["PWD"] == "p;w"


def test_microsoft_driver_gets_server_comma_port_and_encryption_switches() -> None:
    built = SqlServerConnector(
        {
            "server": "db",
            "port": 1444,
            "username": "u",
            "password": "p",
            "encrypt": True,
            "trustServerCertificate": True,
        },
        {"driver": "ODBC Driver 18 for SQL Server"},
        ENV,
    ).connection_string("SalesDB", 30)
    parsed = connection_string.parse(built)
    assert parsed["SERVER"] == "db,1444"
    assert parsed["Encrypt"] == "yes" and parsed["TrustServerCertificate"] == "yes"


def test_driver_choice_prefers_registered_microsoft_then_bundled_then_freetds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(drivers, "registered", lambda: ["FreeTDS", "ODBC Driver 17 for SQL Server"])
    monkeypatch.setattr(drivers, "bundled_microsoft_driver", lambda: "/opt/lib/libmsodbcsql-18.so")
    default = drivers.choose(None, drivers.sql_server_drivers())
    assert (default.name, default.target) == (
        "ODBC Driver 17 for SQL Server",
        "ODBC Driver 17 for SQL Server",
    )
    monkeypatch.setattr(drivers, "registered", lambda: ["FreeTDS"])
    default = drivers.choose(None, drivers.sql_server_drivers())
    # The bundled library is named like the registered driver; its path is the service's.
    assert (default.name, default.target) == (
        "ODBC Driver 18 for SQL Server",
        "/opt/lib/libmsodbcsql-18.so",
    )
    monkeypatch.setattr(drivers, "bundled_microsoft_driver", lambda: None)
    assert drivers.choose(None, drivers.sql_server_drivers()).is_freetds
    monkeypatch.setattr(drivers, "registered", lambda: [])
    with pytest.raises(ConfigError):
        drivers.choose(None, drivers.sql_server_drivers())


@pytest.mark.parametrize(
    "query",
    [
        REFERENCE_QUERY,
        "WITH recent AS (SELECT * FROM dbo.Orders) SELECT OrderId FROM recent",
        "SELECT 1 AS a UNION ALL SELECT 2",
        "SELECT TOP 10 * FROM dbo.Orders WITH (NOLOCK) ORDER BY OrderId",
        "SELECT 1;",
    ],
)
def test_single_read_only_statements_are_accepted(query: str) -> None:
    assert SqlServerConnector.validate_selection({"databaseName": "db", "query": query}, ENV) == []


@pytest.mark.parametrize(
    "query",
    [
        "INSERT INTO dbo.Orders (OrderId) VALUES (9)",
        "UPDATE dbo.Orders SET Amount = 0",
        "DELETE FROM dbo.Orders",
        "MERGE dbo.Orders AS t USING dbo.Orders AS s ON t.OrderId = s.OrderId "
        "WHEN MATCHED THEN DELETE;",
        "EXEC sp_who",
        "DROP TABLE dbo.Orders",
        "TRUNCATE TABLE dbo.Orders",
        "SELECT * INTO dbo.Copy FROM dbo.Orders",
        "SELECT 1; SELECT 2",
        "SELECT 1; DROP TABLE dbo.Orders",
        "WITH x AS (SELECT 1 AS a) DELETE FROM dbo.Orders",
        "DECLARE @x int",
        "SELEC * FROM dbo.Orders",
        "",
    ],
)
def test_anything_but_one_select_is_refused_at_validation(query: str) -> None:
    problems = SqlServerConnector.validate_selection({"databaseName": "db", "query": query}, ENV)
    assert [p.field for p in problems] == ["config.query"]


def test_validation_names_the_missing_fields() -> None:
    credential_problems = SqlServerConnector.validate_credentials(
        {"server": "db", "username": "u", "port": 70000}, {}, ENV
    )
    assert {p.field for p in credential_problems} == {"credentials.password", "credentials.port"}
    selection_problems = SqlServerConnector.validate_selection({"queryTimeoutSeconds": 0}, ENV)
    assert {p.field for p in selection_problems} == {
        "config.databaseName",
        "config.query",
        "config.queryTimeoutSeconds",
    }


@pytest.mark.parametrize(
    ("type_name", "connector_type"),
    [("sql-server", SqlServerConnector), ("postgresql", PostgresConnector)],
)
def test_the_registry_finds_each_sql_connector_by_its_type_name(
    type_name: str, connector_type: type[OdbcConnector]
) -> None:
    assert connector_class(type_name) is connector_type


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (
            "State: 40001, Native error: 1205, Message: [Microsoft][ODBC Driver 18 for SQL "
            "Server][SQL Server]Transaction (Process ID 52) was deadlocked",
            TransientError,
        ),
        (
            "State: 42000, Native error: 229, Message: The SELECT permission was denied on "
            "the object 'Orders'",
            AuthError,
        ),
        (
            "State: 08S01, Native error: 10054, Message: TCP Provider: connection reset",
            TransientError,
        ),
        ("State: 42S22, Native error: 207, Message: Invalid column name 'x'.", ConfigError),
    ],
)
def test_driver_errors_are_classified_by_native_number_and_sqlstate(
    message: str, kind: type[Exception]
) -> None:
    assert type(classify(Exception(message), secrets=[])) is kind


def test_a_password_echoed_by_a_driver_is_scrubbed_from_the_error() -> None:
    error = classify(
        Exception("State: 08001, Native error: 0, Message: bad string PWD={s3cr}}et};x"),
        secrets=["s3cr}et"],
    )
    assert "s3cr" not in str(error)


@pytest.mark.parametrize(
    ("message", "password", "scrubbed"),
    [
        (
            "DRIVER={FreeTDS};UID=u;PWD={fake;pw};APP=x",
            "fake;pw",
            "DRIVER={FreeTDS};UID=u;PWD=***;APP=x",
        ),
        ("UID=u;Password=fake}}pw;x", "fake}pw", "UID=u;Password=***;x"),
        ("PWD={other}; login failed", "x", "PWD=***; login failed"),
        ("login with password 'x' failed", "x", "login with password *** failed"),
        ('login with password "x" failed', "x", "login with password *** failed"),
        ("the secret x was rejected", "x", "the secret *** was rejected"),
        ("x", "x", "***"),
        ("user:hunter2@db", "hunter2", "user:***@db"),
        ("a;x=1;b", ";x=1;", "a***b"),
        ("value {pa}}ss} echoed", "pa}ss", "value *** echoed"),
    ],
)
def test_the_scrubber_replaces_a_password_wherever_it_stands_as_a_value(
    message: str, password: str, scrubbed: str
) -> None:
    assert connection_string.scrub(message, [password]) == scrubbed


@pytest.mark.parametrize(
    ("message", "password"),
    [
        ("Database 'NoSuchDB' does not exist", "x"),
        ("Invalid object name 'dbo.Boxes'.", "x"),
        ("Login failed for user 'datasync_reader'.", "a"),
        ("Conversion failed when converting 12 to int", "1"),
    ],
)
def test_the_scrubber_leaves_words_that_merely_contain_a_short_password(
    message: str, password: str
) -> None:
    assert connection_string.scrub(message, [password]) == message


def test_an_odbc_connector_without_connection_pairs_cannot_be_made() -> None:
    class Incomplete(OdbcConnector):
        type_name = "incomplete"
        dialect = "tsql"
        version_query = "SELECT 1"

    with pytest.raises(TypeError, match="connection_pairs"):
        Incomplete({}, {}, ENV)  # type: ignore[abstract]


@pytest.mark.parametrize(
    ("driver_text", "iso"),
    [
        ("2024-02-29 13:45:30.1234567", "2024-02-29T13:45:30.1234567"),
        ("2026-02-12 10:00:00.5000000", "2026-02-12T10:00:00.5"),
        ("2026-02-12 10:00:00.0000000", "2026-02-12T10:00:00"),
        ("2026-02-12 10:00:00", "2026-02-12T10:00:00"),
        ("0001-01-01 00:00:00.0000001", "0001-01-01T00:00:00.0000001"),
        ("9999-12-31 23:59:59.9999999", "9999-12-31T23:59:59.9999999"),
        (None, None),
    ],
)
def test_datetime2_driver_text_becomes_iso_8601_without_trailing_zeros(
    driver_text: str | None, iso: str | None
) -> None:
    assert datetime2_iso(pa.array([driver_text], pa.string())).to_pylist() == [iso]


@pytest.mark.parametrize(
    ("driver_text", "iso"),
    [
        ("2026-02-12 10:00:00.5000000 +01:00", "2026-02-12T10:00:00.5+01:00"),
        ("2024-02-29 13:45:30.1234567 +05:30", "2024-02-29T13:45:30.1234567+05:30"),
        ("2024-01-01 00:00:00.0000000 -08:00", "2024-01-01T00:00:00-08:00"),
        ("2024-01-01 00:00:00 +00:00", "2024-01-01T00:00:00+00:00"),
        (None, None),
    ],
)
def test_datetimeoffset_driver_text_becomes_iso_8601_with_its_offset(
    driver_text: str | None, iso: str | None
) -> None:
    assert datetimeoffset_iso(pa.array([driver_text], pa.string())).to_pylist() == [iso]


# --- through the drivers and the stand-in --------------------------------------------


def test_reference_example_returns_the_last_weeks_orders(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    seen: list[int] = []
    table = connector(tds_standin, sql_server_driver).fetch(
        {"databaseName": "SalesDB", "query": REFERENCE_QUERY}, seen.append
    )
    assert table.columns == ["OrderId", "CustomerName", "OrderDate", "Amount", "Status"]
    result = read(table)
    assert result.column("OrderId").to_pylist() == [1, 2, 3]
    assert result.column("Amount").to_pylist() == [
        Decimal("120.50"),
        Decimal("99.99"),
        Decimal("1500.00"),
    ]
    assert seen == [3]


def test_every_sql_server_type_maps_to_a_faithful_arrow_type(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    table = connector(tds_standin, sql_server_driver).fetch(
        {"databaseName": "SalesDB", "query": "SELECT * FROM dbo.AllTypes"}, lambda _: None
    )
    schema = read(table).schema
    assert {f.name: f.type for f in schema} == {
        "Id": pa.int32(),
        "TinyCol": pa.uint8(),
        "SmallCol": pa.int16(),
        "IntCol": pa.int32(),
        "BigCol": pa.int64(),
        "BitCol": pa.bool_(),
        "DecimalCol": pa.decimal128(38, 10),
        "NumericCol": pa.decimal128(9, 3),
        "MoneyCol": pa.decimal128(19, 4),
        "SmallMoneyCol": pa.decimal128(10, 4),
        "FloatCol": pa.float64(),
        "RealCol": pa.float32(),
        "DateCol": pa.date32(),
        "DateTimeCol": pa.timestamp("ms"),
        "DateTime2Col": pa.string(),
        "DateTime2Ms": pa.timestamp("ms"),
        "SmallDateTimeCol": pa.timestamp("s"),
        "OffsetCol": pa.string(),
        "TimeCol": pa.time64("ns"),
        "GuidCol": pa.string(),
        "NVarCharCol": pa.string(),
        "VarCharCol": pa.string(),
        "NVarCharMaxCol": pa.string(),
        "TextCol": pa.string(),
        "NTextCol": pa.string(),
        "CharCol": pa.string(),
        "NCharCol": pa.string(),
        "VarBinaryCol": pa.binary(),
        "VarBinaryMaxCol": pa.binary(),
        "BinaryCol": pa.binary(4),
    }


def test_decimal_and_money_stay_exact(tds_standin: TdsStandIn, sql_server_driver: str) -> None:
    rows = all_types(tds_standin, sql_server_driver)
    assert rows[1]["DecimalCol"] == Decimal("1234567890123456789012345678.0123456789")
    assert rows[1]["NumericCol"] == Decimal("-123456.789")
    assert rows[1]["MoneyCol"] == Decimal("922337203685477.5807")
    assert rows[2]["MoneyCol"] == Decimal("-922337203685477.5808")
    assert rows[1]["SmallMoneyCol"] == Decimal("-214748.3648")
    assert rows[2]["DecimalCol"] == Decimal("-0.0000000001")


def test_integers_floats_and_bits_keep_their_values(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    rows = all_types(tds_standin, sql_server_driver)
    assert (rows[1]["TinyCol"], rows[1]["SmallCol"], rows[1]["BigCol"]) == (
        255,
        -32768,
        9223372036854775807,
    )
    assert rows[2]["BigCol"] == -9223372036854775808
    assert rows[1]["FloatCol"] == 0.1  # float64: shortest repr round-trips
    assert rows[1]["RealCol"] == pytest.approx(0.1, rel=1e-7)  # float32 as stored
    assert (rows[1]["BitCol"], rows[2]["BitCol"]) == (True, False)


def test_datetime2_7_keeps_100ns_and_the_whole_range_as_iso_text(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    """9999-12-31 23:59:59.9999999 (the usual 'open-ended' sentinel) does not fit a
    nanosecond timestamp; the driver's text form keeps both range and precision."""
    rows = all_types(tds_standin, sql_server_driver)
    assert rows[2]["DateTime2Col"] == "9999-12-31T23:59:59.9999999"


def test_datetime2_keeps_its_100ns_precision(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    table = connector(tds_standin, sql_server_driver).fetch(
        {
            "databaseName": "SalesDB",
            "query": "SELECT DateTime2Col, DateTime2Ms, DateTimeCol FROM dbo.AllTypes WHERE Id = 1",
        },
        lambda _: None,
    )
    row = read(table)
    assert row.column("DateTime2Col")[0].as_py() == "2024-02-29T13:45:30.1234567"
    assert row.column("DateTime2Ms")[0].as_py() == dt.datetime(2024, 2, 29, 13, 45, 30, 123000)
    assert row.column("DateTimeCol")[0].as_py() == dt.datetime(2024, 2, 29, 13, 45, 30, 997000)


def test_dates_times_offsets_and_guids_read_as_iso_8601(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    rows = all_types(tds_standin, sql_server_driver)
    assert rows[1]["DateCol"] == dt.date(2024, 2, 29)
    assert rows[2]["DateCol"] == dt.date(1, 1, 1)
    assert rows[1]["OffsetCol"] == "2024-02-29T13:45:30.1234567+05:30"
    assert rows[2]["OffsetCol"] == "2024-01-01T00:00:00-08:00"
    assert rows[1]["TimeCol"] == dt.time(23, 59, 59, 999999)
    assert rows[1]["GuidCol"] == "6F9619FF-8B86-D011-B42D-00C04FC964FF"
    assert rows[1]["SmallDateTimeCol"] == dt.datetime(2024, 2, 29, 13, 46)


def test_datetime2_and_datetimeoffset_from_the_server_read_as_iso_8601(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    table = connector(tds_standin, sql_server_driver).fetch(
        {
            "databaseName": "SalesDB",
            "query": "SELECT CAST('2026-02-12 10:00:00.5' AS datetime2(7)) AS Local, "
            "CAST('2026-02-12 10:00:00.5 +01:00' AS datetimeoffset(7)) AS Stamped",
        },
        lambda _: None,
    )
    assert read(table).to_pylist() == [
        {"Local": "2026-02-12T10:00:00.5", "Stamped": "2026-02-12T10:00:00.5+01:00"}
    ]


def test_text_shaped_like_a_datetimeoffset_stays_as_written_in_a_text_column(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    """Only columns the server declares datetimeoffset are rewritten: both drivers
    describe datetimeoffset as text, so the declared type decides, not the value."""
    table = connector(tds_standin, sql_server_driver).fetch(
        {
            "databaseName": "SalesDB",
            "query": "SELECT CAST(N'2024-01-01 00:00:00.0000000 -08:00' AS nvarchar(40)) AS Note",
        },
        lambda _: None,
    )
    assert read(table).column("Note").to_pylist() == ["2024-01-01 00:00:00.0000000 -08:00"]


def test_binary_columns_arrive_as_bytes(tds_standin: TdsStandIn, sql_server_driver: str) -> None:
    rows = all_types(tds_standin, sql_server_driver)
    assert rows[1]["VarBinaryCol"] == b"\x00\xff\x10"
    assert rows[1]["VarBinaryMaxCol"] == b"\xde\xad\xbe\xef"
    assert rows[1]["BinaryCol"] == b"\x01\x02\x03\x04"


def test_null_stays_null_in_every_type(tds_standin: TdsStandIn, sql_server_driver: str) -> None:
    row = all_types(tds_standin, sql_server_driver)[3]
    assert {k: v for k, v in row.items() if v is not None} == {"Id": 3}


def test_unicode_text_survives_intact(tds_standin: TdsStandIn, sql_server_driver: str) -> None:
    rows = all_types(tds_standin, sql_server_driver)
    assert rows[4]["NVarCharCol"] == "日本語 Ελληνικά עברית"
    assert rows[4]["NVarCharMaxCol"] == "emoji 🚀 and 𝄞 clef"
    assert rows[4]["NTextCol"] == "Ünïcödé ntext"
    assert rows[1]["VarCharCol"] == "café"
    assert (rows[2]["NVarCharCol"], rows[2]["NVarCharMaxCol"]) == ("", "")


def test_200k_rows_stream_in_bounded_batches(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    process = psutil.Process()
    before = process.memory_info().rss
    progress: list[int] = []
    table = SqlServerConnector(
        tds_standin.credentials(), {"driver": sql_server_driver, "batchRows": 20_000}, ENV
    ).fetch({"databaseName": "SalesDB", "query": "SELECT * FROM dbo.Numbers"}, progress.append)
    sizes, total, checksum = [], 0, 0
    for batch in table.batches:  # consumed one at a time, as the engine does
        sizes.append(batch.num_rows)
        total += batch.num_rows
        checksum += sum(batch.column(0).to_pylist())
    assert total == 200_000 and checksum == sum(range(200_000))
    assert max(sizes) <= 20_000 and len(sizes) >= 10
    assert progress == sorted(progress) and progress[-1] == 200_000
    # Two 20k-row buffers, not 200k rows of Python tuples (~100 MB).
    assert process.memory_info().rss - before < 60 * 1024 * 1024


def test_wrong_password_is_an_auth_error_that_never_shows_the_password(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    wrong = "wrong;pw=secret{"
    with pytest.raises(AuthError) as raised:
        connector(tds_standin, sql_server_driver, password=wrong).fetch(
            {"databaseName": "SalesDB", "query": "SELECT 1 AS one"}, lambda _: None
        )
    assert "Login failed" in str(raised.value)
    assert "secret" not in str(raised.value) and wrong not in repr(raised.value.__cause__)


def test_unknown_database_is_a_config_error(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        connector(tds_standin, sql_server_driver).fetch(
            {"databaseName": "NoSuchDB", "query": "SELECT 1 AS one"}, lambda _: None
        )
    assert "NoSuchDB" in str(raised.value)


def test_unknown_table_is_a_config_error_with_the_servers_message(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        connector(tds_standin, sql_server_driver).fetch(
            {"databaseName": "SalesDB", "query": "SELECT * FROM dbo.Missing"}, lambda _: None
        )
    assert str(raised.value) == "Invalid object name 'dbo.Missing'."


def test_connection_dropped_mid_stream_is_transient(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    table = SqlServerConnector(
        tds_standin.credentials(), {"driver": sql_server_driver, "batchRows": 1_000}, ENV
    ).fetch(
        {
            "databaseName": "SalesDB",
            "query": "/* standin: drop-after-rows=5000 */ SELECT * FROM dbo.Numbers",
        },
        lambda _: None,
    )
    with pytest.raises(TransientError):
        for _batch in table.batches:
            pass


def test_query_timeout_is_enforced_by_the_driver_and_transient(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    with pytest.raises(TransientError) as raised:
        connector(tds_standin, sql_server_driver).fetch(
            {
                "databaseName": "SalesDB",
                "queryTimeoutSeconds": 1,
                "query": "/* standin: delay-seconds=20 */ SELECT * FROM dbo.Orders",
            },
            lambda _: None,
        )
    assert "timeout" in str(raised.value).lower()


def test_password_with_a_closing_brace_logs_in_through_the_microsoft_driver(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    brace = connector(
        tds_standin, sql_server_driver, username=BRACE_USERNAME, password=BRACE_PASSWORD
    )
    if "freetds" in sql_server_driver.lower():
        with pytest.raises(ConfigError) as raised:
            brace.test({"databaseName": "SalesDB"})
        assert raised.value.field == "credentials.password"
        assert BRACE_PASSWORD not in str(raised.value)
    else:
        assert brace.test({"databaseName": "SalesDB"})["serverVersion"]


@pytest.mark.parametrize("call", ["test", "fetch"])
def test_login_timeout_setting_bounds_the_whole_connect_retries_included(
    sql_server_driver: str, call: str
) -> None:
    """Nothing listens on the port: one second of loginTimeoutSeconds is one second,
    not three attempts with back-off in between (Microsoft's driver waits out its
    login timeout even on a refused connection)."""
    closed = SqlServerConnector(
        {"server": "127.0.0.1", "port": free_port(), "username": "u", "password": "fake-pw"},
        {"driver": sql_server_driver, "loginTimeoutSeconds": 1},
        ENV,
    )
    selection = {"databaseName": "SalesDB", "query": "SELECT 1 AS one"}
    started = time.monotonic()
    with pytest.raises(TransientError):
        if call == "test":
            closed.test(selection)
        else:
            closed.fetch(selection, lambda _: None)
    assert time.monotonic() - started < 2.5


def test_test_reports_the_server_version(tds_standin: TdsStandIn, sql_server_driver: str) -> None:
    details = connector(tds_standin, sql_server_driver).test({"databaseName": "SalesDB"})
    assert details["serverVersion"].startswith("Microsoft SQL Server 2022")


def test_encrypted_session_with_a_trusted_self_signed_certificate(
    tds_standin: TdsStandIn,
) -> None:
    if drivers.bundled_microsoft_driver() is None:
        pytest.skip("Microsoft ODBC driver not installed")
    microsoft = "ODBC Driver 18 for SQL Server"
    table = connector(tds_standin, microsoft, encrypt=True, trustServerCertificate=True).fetch(
        {"databaseName": "SalesDB", "query": REFERENCE_QUERY}, lambda _: None
    )
    assert read(table).num_rows == 3


def test_standin_answers_pyodbc_parameterised_statements_via_prepexec_and_execute(
    tds_standin: TdsStandIn, sql_server_driver: str
) -> None:
    """pyodbc sends `?` statements as sp_prepexec, re-runs as sp_execute and frees
    them with sp_unprepare; tests that edit data between syncs rely on this."""
    text = SqlServerConnector(
        tds_standin.credentials(), {"driver": sql_server_driver}, ENV
    ).connection_string("SalesDB", 30)
    with pyodbc.connect(text, autocommit=True) as connection:
        cursor = connection.cursor()
        query = "SELECT OrderId FROM dbo.Orders WHERE OrderId > ? AND Status = ? ORDER BY OrderId"
        assert [r[0] for r in cursor.execute(query, 1, "shipped").fetchall()] == [4]
        assert [r[0] for r in cursor.execute(query, 0, "shipped").fetchall()] == [1, 4]
        cursor.execute("UPDATE dbo.Orders SET Status = ? WHERE OrderId = ?", "shipped", 5)
        assert cursor.rowcount == 1
        cursor.execute("UPDATE dbo.Orders SET Status = ? WHERE OrderId = ?", "cancelled", 5)
        cursor.close()
