"""What a tenant may type into a sql-server or postgresql data source, and what the service
writes for the driver from it: drivers by name only, connection-string keywords from a
list, no control characters, hosts in a checked form, bounded numbers, and driver errors
reduced to what the user can act on. Pure: no connection is made (the one exception shows
that a refused host gets no packet at all)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from connectors.base import ConfigError, Environment
from connectors.network_policy import NetworkPolicy
from connectors.odbc import connection_string, drivers
from connectors.odbc.connector import OdbcConnector
from connectors.odbc.errors import classify
from connectors.odbc.limits import MIB
from connectors.odbc.reachability import Destination, probe
from connectors.postgresql import PostgresConnector
from connectors.sqlserver import SqlServerConnector
from connectors.sqlserver.login import parse_server

CLOSED = Environment()  # the operator listed no special network: loopback is refused
SQL_SERVER: dict[str, Any] = {"server": "db.example.com", "username": "u", "password": "p"}
POSTGRES: dict[str, Any] = SQL_SERVER | {"database": "sales"}
BY_TYPE: dict[type[OdbcConnector], dict[str, Any]] = {
    SqlServerConnector: SQL_SERVER,
    PostgresConnector: POSTGRES,
}
BOTH = pytest.mark.parametrize(
    "kind", [SqlServerConnector, PostgresConnector], ids=["sql-server", "postgresql"]
)
MICROSOFT = "ODBC Driver 18 for SQL Server"


def fields(kind: type[OdbcConnector], credentials: dict[str, Any], **settings: Any) -> set[str]:
    return {p.field for p in kind.validate_credentials(credentials, settings, CLOSED)}


def messages(kind: type[OdbcConnector], credentials: dict[str, Any], **settings: Any) -> str:
    return " | ".join(p.message for p in kind.validate_credentials(credentials, settings, CLOSED))


def built(connector: OdbcConnector, address: str | None = "10.0.0.5") -> dict[str, str]:
    return connection_string.parse(connector.connection_string("SalesDB", 30, address))


# --- drivers: chosen by name among the service's own ------------------------------------


@BOTH
@pytest.mark.parametrize(
    "driver",
    [
        "/tmp/x.so",
        "/etc/passwd",
        "../../usr/lib/x86_64-linux-gnu/odbc/libtdsodbc.so",
        "libtdsodbc.so",
        "No Such Driver",
        "",
        42,
    ],
)
def test_a_driver_that_is_not_one_of_the_services_names_is_refused_listing_the_names(
    kind: type[OdbcConnector], driver: object
) -> None:
    problems = kind.validate_credentials(BY_TYPE[kind], {"driver": driver}, CLOSED)
    assert [p.field for p in problems] == ["settings.driver"]
    offered = kind.offered_drivers(CLOSED)
    assert offered and all(f'"{d.name}"' in problems[0].message for d in offered)


def test_each_source_type_offers_only_its_own_drivers() -> None:
    assert fields(PostgresConnector, POSTGRES, driver="FreeTDS") == {"settings.driver"}
    assert fields(SqlServerConnector, SQL_SERVER, driver="PostgreSQL Unicode") == {
        "settings.driver"
    }


def test_the_bundled_microsoft_driver_is_named_like_the_registered_one_and_loaded_by_the_services_path() -> (
    None
):
    bundled = drivers.bundled_microsoft_driver()
    if bundled is None or MICROSOFT in drivers.registered():
        pytest.skip("needs the mssql-python-odbc copy without a registered Driver 18")
    connector = SqlServerConnector(SQL_SERVER, {"driver": MICROSOFT.upper()}, CLOSED)
    assert built(connector)["DRIVER"] == bundled


def test_the_operators_extra_driver_names_are_accepted_for_both_types() -> None:
    env = Environment(odbc_drivers=("Site FreeTDS", "Site PostgreSQL"))
    for kind, name in (
        (SqlServerConnector, "Site FreeTDS"),
        (PostgresConnector, "Site PostgreSQL"),
    ):
        assert kind.validate_credentials(BY_TYPE[kind], {"driver": name}, env) == []
        assert built(kind(BY_TYPE[kind], {"driver": name}, env))["DRIVER"] == name
    freetds = SqlServerConnector(SQL_SERVER, {"driver": "Site FreeTDS"}, env)
    assert "TDS_Version" in built(freetds)  # FreeTDS's dialect of connection string


@BOTH
def test_a_stored_driver_path_is_refused_before_a_connection_string_exists(
    kind: type[OdbcConnector],
) -> None:
    with pytest.raises(ConfigError) as raised:
        kind(BY_TYPE[kind], {"driver": "/tmp/x.so"}, CLOSED).connection_string("db", 30)
    assert raised.value.field == "settings.driver"


# --- connection-string keywords: a short list, the rest refused by name ---------------------

SQL_SERVER_REFUSED = [
    "DRIVER={FreeTDS}",
    "DSN=prod",
    "FILEDSN=/tmp/x.dsn",
    "SAVEFILE=/tmp/x.dsn",
    "DUMPFILE=/tmp/x.log",
    "DEBUGFLAGS=0xffff",
    "Address=10.0.0.9",
    "Addr=10.0.0.9",
    "ServerName=prod",
    "Servername=prod",
    "FailoverPartner=169.254.169.254",
    "ServerCertificate=/etc/ssl/x.pem",
    "ClientCertificate=file:/etc/x.pem",
    "KeystoreAuthentication=KeyVaultClientSecret",
    "KeyStoreSecret=x",
    "Trusted_Connection=yes",
    "AttachDbFilename=/var/opt/x.mdf",
    "ClientCharset=ISO-8859-1",
    "ColumnEncryption=Enabled",
    "NoSuchKeyword=1",
]
POSTGRES_REFUSED = [
    "DRIVER={PostgreSQL Unicode}",
    "DSN=prod",
    "FILEDSN=/tmp/x.dsn",
    "SAVEFILE=/tmp/x.dsn",
    "pqopt={hostaddr=169.254.169.254}",
    "ConnSettings={SET default_transaction_read_only = off}",
    "A6={SET default_transaction_read_only = off}",
    "CommLog=1",
    "Debug=1",
    "sslrootcert=/etc/passwd",
    "sslcert=/etc/passwd",
    "sslkey=/etc/passwd",
    "UseDeclareFetch=0",
    "NoSuchKeyword=1",
]


@pytest.mark.parametrize("extra", SQL_SERVER_REFUSED)
def test_a_sql_server_connection_string_keyword_off_the_list_is_refused_by_name(
    extra: str,
) -> None:
    given = f"SERVER=db,1433;UID=u;PWD=p;{extra}"
    problems = SqlServerConnector.validate_credentials({"connectionString": given}, {}, CLOSED)
    assert [p.field for p in problems] == ["credentials.connectionString"]
    assert repr(extra.split("=")[0]) in problems[0].message


@pytest.mark.parametrize("extra", POSTGRES_REFUSED)
def test_a_postgres_connection_string_keyword_off_the_list_is_refused_by_name(extra: str) -> None:
    given = f"SERVER=db;UID=u;PWD=p;DATABASE=sales;{extra}"
    problems = PostgresConnector.validate_credentials({"connectionString": given}, {}, CLOSED)
    assert [p.field for p in problems] == ["credentials.connectionString"]
    assert repr(extra.split("=")[0]) in problems[0].message


def test_the_driver_keyword_refusal_says_where_the_driver_is_chosen() -> None:
    assert "settings.driver" in messages(
        SqlServerConnector, {"connectionString": "DRIVER=FreeTDS;SERVER=db;UID=u;PWD=p"}
    )


@pytest.mark.parametrize(
    "mode", ["ActiveDirectoryIntegrated", "ActiveDirectoryMsi", "ActiveDirectoryDefault"]
)
def test_authentication_modes_that_use_the_services_own_identity_are_refused(mode: str) -> None:
    given = f"SERVER=db;UID=u;PWD=p;Authentication={mode}"
    assert fields(SqlServerConnector, {"connectionString": given}) == {
        "credentials.connectionString"
    }


@pytest.mark.parametrize(
    ("kind", "given"),
    [
        (SqlServerConnector, "SERVER=db;UID=a;uid=b;PWD=p"),
        (PostgresConnector, "SERVER=db;UID=a;Username=b;PWD=p"),
        (PostgresConnector, "SERVER=db;Servername=evil;UID=a;PWD=p"),
    ],
)
def test_a_keyword_given_twice_in_any_spelling_is_refused(
    kind: type[OdbcConnector], given: str
) -> None:
    assert "more than once" in messages(kind, {"connectionString": given})


def test_the_listed_sql_server_keywords_are_written_out_by_the_service() -> None:
    given = (
        "server=tcp:db.example.com,1444;database=Old;uid=reader;pwd={a;b};encrypt=yes;"
        "trustservercertificate=no;hostnameincertificate=db.example.com;"
        "applicationintent=readonly;multisubnetfailover=yes;authentication=SqlPassword"
    )
    connector = SqlServerConnector({"connectionString": given}, {"driver": MICROSOFT}, CLOSED)
    assert connector.validate_credentials(connector.credentials, connector.settings, CLOSED) == []
    pairs = built(connector)
    assert pairs == {
        "DRIVER": drivers.choose(MICROSOFT, drivers.sql_server_drivers()).target,
        "SERVER": "10.0.0.5,1444",
        "Encrypt": "yes",
        "TrustServerCertificate": "no",
        "HostNameInCertificate": "db.example.com",
        "ApplicationIntent": "ReadOnly",
        "MultiSubnetFailover": "yes",
        "Authentication": "SqlPassword",
        "DATABASE": "SalesDB",
        "UID": "reader",
        "PWD": "a;b",
        "APP": "DataSync",
    }


def test_a_freetds_connection_string_speaks_freetds() -> None:
    given = "SERVER=db.example.com;PORT=1444;UID=u;PWD=p;Encrypt=yes;TDS_Version=7.3"
    pairs = built(SqlServerConnector({"connectionString": given}, {"driver": "FreeTDS"}, CLOSED))
    assert (pairs["SERVER"], pairs["PORT"], pairs["TDS_Version"]) == ("10.0.0.5", "1444", "7.3")
    assert (pairs["Encryption"], pairs["ClientCharset"]) == ("require", "UTF-8")
    assert "Encrypt" not in pairs and "HostNameInCertificate" not in pairs


def test_a_postgres_connection_string_cannot_touch_the_services_own_options() -> None:
    given = "Servername=db.example.com;Port=5433;Username=u;Password=p;SSLmode=verify-full"
    pairs = built(PostgresConnector({"connectionString": given}, {}, CLOSED))
    assert (pairs["SERVER"], pairs["PORT"], pairs["SSLmode"]) == (
        "db.example.com",
        "5433",
        "verify-full",
    )
    assert pairs["pqopt"].startswith("hostaddr=10.0.0.5 ")
    assert "default_transaction_read_only = on" in pairs["ConnSettings"]
    assert pairs["UseDeclareFetch"] == "1"


# --- control characters --------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("field", ["server", "username", "password", "database"])
@pytest.mark.parametrize("char", ["\r", "\n", "\x00"], ids=["CR", "LF", "NUL"])
def test_a_line_break_or_nul_in_a_credential_is_refused_naming_the_field(
    kind: type[OdbcConnector], field: str, char: str
) -> None:
    credentials = BY_TYPE[kind] | {field: f"x{char}DUMPFILE=/tmp/x"}
    assert f"credentials.{field}" in fields(kind, credentials)


@BOTH
@pytest.mark.parametrize("char", ["\r", "\n", "\x00"], ids=["CR", "LF", "NUL"])
def test_a_line_break_in_a_braced_connection_string_value_is_refused(
    kind: type[OdbcConnector], char: str
) -> None:
    given = f"SERVER=db;UID={{u{char}import os}};PWD=p;DATABASE=sales"
    assert fields(kind, {"connectionString": given}) == {"credentials.connectionString"}


@BOTH
def test_a_stored_credential_with_a_line_break_fails_before_connecting(
    kind: type[OdbcConnector],
) -> None:
    connector = kind(BY_TYPE[kind] | {"username": "u\nx"}, {}, CLOSED)
    with pytest.raises(ConfigError) as raised:
        connector.test({"databaseName": "sales"})
    assert raised.value.field == "credentials.username"


def test_control_characters_never_reach_a_driver_whatever_the_caller() -> None:
    with pytest.raises(ValueError, match="control characters"):
        connection_string.build({"UID": "u\r\nx"})
    with pytest.raises(ValueError, match="keyword"):
        connection_string.build({"UID;DUMPFILE": "x"})


def test_a_database_name_with_a_line_break_is_refused_in_the_selection_and_at_connect() -> None:
    selection = {"databaseName": "Sales\nDB", "query": "SELECT 1"}
    assert [p.field for p in SqlServerConnector.validate_selection(selection, CLOSED)] == [
        "config.databaseName"
    ]
    with pytest.raises(ConfigError) as raised:
        SqlServerConnector(SQL_SERVER, {}, CLOSED).connection_string("Sales\nDB", 30)
    assert raised.value.field == "config.databaseName"


def test_freetds_refuses_a_closing_brace_in_any_value() -> None:
    """FreeTDS ends a braced value at `};`: this user name wrote FreeTDS's dump file."""
    credentials = SQL_SERVER | {"username": "u};DUMPFILE=/tmp/x.log;X={"}
    assert fields(SqlServerConnector, credentials, driver="FreeTDS") == {"credentials.username"}
    if drivers.bundled_microsoft_driver() or MICROSOFT in drivers.registered():
        # Microsoft's driver reads the `}}` escape: the same value is just a user name.
        pairs = built(SqlServerConnector(credentials, {"driver": MICROSOFT}, CLOSED))
        assert pairs["UID"] == credentials["username"] and "DUMPFILE" not in pairs


@pytest.mark.parametrize("name", ["a;b", "{x}", " padded", "a=b"])
def test_postgres_names_that_psqlodbc_would_read_with_their_braces_are_refused(name: str) -> None:
    assert fields(PostgresConnector, POSTGRES | {"database": name}) == {"credentials.database"}
    assert fields(PostgresConnector, POSTGRES | {"username": name}) == {"credentials.username"}


# --- hosts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "parsed"),
    [
        ("db.example.com", ("db.example.com", None, None)),
        ("db.example.com,1444", ("db.example.com", 1444, None)),
        ("tcp:db.example.com,1444", ("db.example.com", 1444, None)),
        ("TCP:db", ("db", None, None)),
        ("db\\SQLEXPRESS", ("db", None, "SQLEXPRESS")),
        ("10.0.0.5,1433", ("10.0.0.5", 1433, None)),
        ("[fe80::1],1444", ("fe80::1", 1444, None)),
        ("[::ffff:127.0.0.1]", ("::ffff:127.0.0.1", None, None)),
        ("2001:db8::5,1444", ("2001:db8::5", 1444, None)),
    ],
)
def test_sql_server_forms_of_server_are_read(
    server: str, parsed: tuple[str, int | None, str | None]
) -> None:
    assert parse_server(server) == parsed


@pytest.mark.parametrize(
    "server",
    [
        "np:\\\\db\\pipe\\sql\\query",
        "lpc:db",
        "admin:db",
        "db:1433",
        "db,0",
        "db,70000",
        "db,port",
        "a,b,1433",
        "/var/run/postgresql",
        "db;DUMPFILE=x",
        "[db.example.com]",
        "db\\bad name",
        "-db",
        "db..example",
        "",
    ],
)
def test_anything_else_as_a_sql_server_server_is_refused(server: str) -> None:
    with pytest.raises(ValueError):
        parse_server(server)
    assert "credentials.server" in fields(SqlServerConnector, SQL_SERVER | {"server": server})


@pytest.mark.parametrize("server", ["/var/run/postgresql", "a,b", "db:5432", "db name", "@db"])
def test_a_postgres_server_is_one_host_name_or_address(server: str) -> None:
    assert fields(PostgresConnector, POSTGRES | {"server": server}) == {"credentials.server"}


def test_the_microsoft_driver_gets_the_checked_address_and_checks_the_certificate_for_the_typed_name() -> (
    None
):
    if not (drivers.bundled_microsoft_driver() or MICROSOFT in drivers.registered()):
        pytest.skip("Microsoft's driver is not installed")
    forms = {
        "db.example.com": ("10.0.0.5", "db.example.com"),
        "db.example.com,1444": ("10.0.0.5,1444", "db.example.com"),
        "db.example.com\\SALES": ("10.0.0.5\\SALES", "db.example.com"),
        "10.0.0.7": ("10.0.0.5", None),
    }
    for server, (expected_server, name_in_certificate) in forms.items():
        connector = SqlServerConnector(
            SQL_SERVER | {"server": server}, {"driver": MICROSOFT}, CLOSED
        )
        pairs = built(connector)
        assert (pairs["SERVER"], pairs.get("HostNameInCertificate")) == (
            expected_server,
            name_in_certificate,
        )
    ipv6 = built(
        SqlServerConnector(SQL_SERVER | {"port": 1444}, {"driver": MICROSOFT}, CLOSED), "fd00::5"
    )
    assert ipv6["SERVER"] == "fd00::5,1444"  # measured: the driver takes it unbracketed


def test_freetds_gets_the_checked_address_never_the_typed_name() -> None:
    """A typed name could also be a freetds.conf section with its own host and dump file."""
    connector = SqlServerConnector(SQL_SERVER | {"port": 1444}, {"driver": "FreeTDS"}, CLOSED)
    pairs = built(connector)
    assert (pairs["SERVER"], pairs["PORT"]) == ("10.0.0.5", "1444")
    assert "db.example.com" not in connector.connection_string("db", 30, "10.0.0.5")


@BOTH
@pytest.mark.parametrize(
    "server",
    ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "::1", "169.254.169.254", "0.0.0.0"],
)
def test_a_special_address_is_refused_before_any_packet_is_sent(
    kind: type[OdbcConnector], server: str
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        connector = kind(BY_TYPE[kind] | {"server": server, "port": port}, {}, CLOSED)
        with pytest.raises(ConfigError) as raised:
            connector.test({"databaseName": "sales"})
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever connected
    assert raised.value.field == "credentials.server"
    assert "may not be reached" in raised.value.message
    assert str(port) not in raised.value.message


def test_an_operator_listed_network_is_reachable() -> None:
    env = Environment(
        database_network=NetworkPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    )
    connector = PostgresConnector(POSTGRES | {"server": "127.0.0.1"}, {}, env)
    host, port = connector.endpoint()
    assert (host, port) == ("127.0.0.1", 5432)


@pytest.mark.parametrize(
    ("destination", "shown"),
    [
        (Destination("db.example.com", "10.0.0.5", 5432), "db.example.com:5432 (10.0.0.5)"),
        (Destination("127.0.0.1", "127.0.0.1", 1433), "127.0.0.1:1433"),
        (Destination("::1", "::1", 1433), "[::1]:1433"),
        (Destination("db", "10.0.0.5", None, "SALES"), "db\\SALES (10.0.0.5)"),
        (Destination("db.invalid", "db.invalid", 5432), "db.invalid:5432"),
    ],
)
def test_messages_name_the_destination_as_typed_with_the_checked_address(
    destination: Destination, shown: str
) -> None:
    assert str(destination) == shown


def test_a_named_instance_without_a_port_is_not_probed() -> None:
    """Its port comes from the SQL Server Browser (UDP): the service does not know it."""
    named = SqlServerConnector(SQL_SERVER | {"server": "db.example.com\\SALES"}, {}, CLOSED)
    destination = named.destination("10.0.0.5")
    assert (destination.port, destination.instance) == (None, "SALES")
    assert probe(destination) is None
    with_port = SqlServerConnector(SQL_SERVER | {"server": "db.example.com,1500"}, {}, CLOSED)
    assert with_port.destination("10.0.0.5").port == 1500
    assert SqlServerConnector(SQL_SERVER, {}, CLOSED).destination("10.0.0.5").port == 1433


# --- numeric settings ------------------------------------------------------------------------

BOUNDS = [
    ("loginTimeoutSeconds", 1, 60),
    ("batchRows", 1, 100_000),
    ("maxTextSize", 1, 16 * MIB),
    ("maxBinarySize", 1, 16 * MIB),
]


@BOTH
@pytest.mark.parametrize(("key", "lowest", "highest"), BOUNDS)
def test_each_numeric_setting_is_accepted_at_its_bounds_and_refused_past_them(
    kind: type[OdbcConnector], key: str, lowest: int, highest: int
) -> None:
    credentials = BY_TYPE[kind]
    assert fields(kind, credentials, **{key: lowest}) == set()
    assert fields(kind, credentials, **{key: highest}) == set()
    for wrong in (lowest - 1, highest + 1, 2**40, 10**400, 1e9, 5.0, True, "10", None):
        assert fields(kind, credentials, **{key: wrong}) == {f"settings.{key}"}, wrong


def test_a_stored_setting_past_its_bound_fails_the_fetch_before_connecting() -> None:
    connector = SqlServerConnector(SQL_SERVER, {"maxTextSize": 2**40}, CLOSED)
    with pytest.raises(ConfigError) as raised:
        connector.fetch({"databaseName": "db", "query": "SELECT 1"}, lambda _rows: None)
    assert raised.value.field == "settings.maxTextSize"


# --- driver errors, reduced to what a user can act on ------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "ODBC emitted an error calling 'SQLDriverConnect':\nState: 01000, Native error: 0, "
        "Message: [unixODBC][Driver Manager]Can't open lib '/etc/passwd' : file not found",
        "ODBC emitted an error calling 'SQLDriverConnect':\nState: 01000, Native error: 0, "
        "Message: [unixODBC][Driver Manager]Can't open lib '/work/.venv/lib/libmsodbcsql-18.6"
        ".so.2.1' : file not found",
        "State: IM002, Native error: 0, Message: [unixODBC][Driver Manager]Data source name "
        "not found and no default driver specified",
    ],
)
def test_driver_manager_answers_never_reach_the_user(message: str) -> None:
    error = classify(Exception(message), secrets=[])
    assert isinstance(error, ConfigError) and error.field == "settings.driver"
    assert "/" not in error.message and "lib" not in error.message.replace("library", "")


def test_paths_and_library_names_in_a_driver_message_are_blanked() -> None:
    error = classify(
        Exception(
            'State: 08001, Native error: 101, Message: connection to server at "10.0.0.5", '
            'port 5432 failed: root certificate file "/root/.postgresql/root.crt" does not '
            "exist (libpq.so.5)"
        ),
        secrets=[],
    )
    assert "/root" not in error.message and "libpq.so" not in error.message
    assert "certificate" in error.message


def test_a_row_longer_than_the_batch_buffer_names_the_setting_to_lower() -> None:
    error = classify(
        Exception(
            "The Odbc buffer is limited to a size of 67108864 bytes. Yet a single row does "
            "require up to 83886125. This means the buffer is not large enough to hold a "
            "single row of data."
        ),
        secrets=[],
    )
    assert isinstance(error, ConfigError) and error.field == "settings.maxTextSize"
