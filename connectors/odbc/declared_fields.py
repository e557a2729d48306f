"""The fields every SQL source type declares alike (connectors/declaration.py): the
server's address, the query a schedule runs and the read limits of limits.py."""

from __future__ import annotations

from connectors.declaration import CredentialVariant, FieldSpec
from connectors.odbc.connector import DEFAULT_QUERY_TIMEOUT_SECONDS
from connectors.odbc.limits import BATCH_ROWS, LOGIN_TIMEOUT, MAX_BINARY_SIZE, MAX_TEXT_SIZE, Bound


def server_field(example: str) -> FieldSpec:
    return FieldSpec(
        "server", "Server", required=True, help=f"Host name or address, e.g. {example}"
    )


def port_field(default: int) -> FieldSpec:
    return FieldSpec(
        "port",
        "Port",
        kind="integer",
        minimum=1,
        maximum=65535,
        default=default,
        help=f"Default {default}.",
    )


USERNAME = FieldSpec("username", "User name", required=True)
PASSWORD = FieldSpec("password", "Password", kind="secret", required=True)

CONNECTION_STRING = CredentialVariant(
    key="connectionString",
    label="Connection string",
    help="One ODBC connection string instead of the fields; options that could reach other "
    "hosts, files or the service's own identity are refused by name.",
    fields=(
        FieldSpec(
            "connectionString",
            "Connection string",
            kind="secret",
            required=True,
            help="Holds the password, so it is stored encrypted and never shown again.",
        ),
    ),
)


def database_field(required: bool) -> FieldSpec:
    return FieldSpec(
        "databaseName",
        "Database",
        required=required,
        help="" if required else "Empty uses the database named in the data source's login.",
    )


def query_field(example: str) -> FieldSpec:
    return FieldSpec(
        "query",
        "Query",
        kind="query",
        required=True,
        help="One read-only statement: SELECT … or WITH … SELECT …",
        placeholder=example,
    )


def change_query_field(example: str) -> FieldSpec:
    return FieldSpec(
        "changeQuery",
        "Change query",
        kind="query",
        advanced=True,
        help="Optional. One read-only statement returning one row that changes whenever the "
        "data may have: e.g. SELECT MAX(rowversion_col), COUNT(*) FROM dbo.Orders, or "
        "SELECT max(updated_at), count(*) FROM orders. The same row as at the last full "
        "fetch skips the fetch.",
        placeholder=example,
    )


QUERY_TIMEOUT = FieldSpec(
    "queryTimeoutSeconds",
    "Query timeout (seconds)",
    kind="integer",
    minimum=1,
    default=DEFAULT_QUERY_TIMEOUT_SECONDS,
    advanced=True,
    help=f"Default {DEFAULT_QUERY_TIMEOUT_SECONDS}; the service sets the largest allowed.",
)


def _bounded(key: str, label: str, bound: Bound, help: str) -> FieldSpec:
    return FieldSpec(
        key,
        label,
        kind="integer",
        minimum=bound.lowest,
        maximum=bound.highest,
        default=bound.default,
        advanced=True,
        help=help,
    )


DRIVER = FieldSpec(
    "driver",
    "ODBC driver",
    advanced=True,
    help="Empty picks the service's default driver for this database.",
)
LIMIT_SETTINGS = (
    _bounded("loginTimeoutSeconds", "Login timeout (seconds)", LOGIN_TIMEOUT, ""),
    _bounded("batchRows", "Rows per batch", BATCH_ROWS, "Rows read from the server at once."),
    _bounded(
        "maxTextSize",
        "Longest text value (bytes)",
        MAX_TEXT_SIZE,
        "A longer value fails the sync with a message naming this setting.",
    ),
    _bounded("maxBinarySize", "Longest binary value (bytes)", MAX_BINARY_SIZE, ""),
)
