"""PostgreSQL, read through the ADBC PostgreSQL driver by default, or through psqlODBC.

Drivers (`settings.driver`): absent or "ADBC" reads through `adbc-driver-postgresql`
(adbc_path.py): libpq's COPY ... TO STDOUT in binary format decoded straight into Arrow
record batches, streamed; numeric columns come as the server's text (adbc_types.py),
because the driver's own numeric decoding cost as much CPU as all the other columns:
reading bench/'s 1M rows x 12 columns (two of them numeric) through the driver alone took
1.03 s of CPU that way, 0.65 s with the server's text. Measured through this connector
before that change (a shared 2-core machine, medians of 5 interleaved runs): 2.3 s and
200 MB peak RSS (38 MB above the process at rest), against 3.7 s and 302 MB (140 MB
above) through psqlODBC + arrow-odbc; psql's `\\copy` of the same rows took 1.1 s.

A psqlODBC driver name ("PostgreSQL Unicode", or one the operator lists) reads through
ODBC (connectors/odbc/), as before. Choose psqlODBC for servers that speak PostgreSQL's
protocol but not all of what the ADBC path relies on: Amazon Redshift and other
PostgreSQL-compatible servers without `COPY (query) TO STDOUT (FORMAT binary)` (the ADBC
driver's documented Redshift support is experimental and reads without COPY), and
servers whose pg_type catalogue (which the driver reads when it connects) or binary
formats differ from PostgreSQL's. Through a pooler (not measured here: there is none on
this machine): neither path suits statement mode, both reading inside a transaction
(psqlODBC's server cursor, ADBC's read-only transaction); in transaction mode only the
ADBC path keeps its read-only rule and timeout, which are set for the transaction, where
psqlODBC's are session settings a pooler does not carry to the next transaction's server
connection.

Both paths hand the engine the same Arrow types for the same columns, so a data source's
CSV files do not change when its driver does (adbc_types.py): smallint int16, integer
int32, bigint int64, boolean bool, numeric(p<=38,s) decimal128(p,s), numeric unconstrained
or wider than 38 digits string (exact text), real/double float64, date date32,
timestamp/timestamptz timestamp[us] (timestamptz in UTC), time time64[us], uuid
upper-case string, text/varchar/json string, bytea binary; other types as the server's
text.

Database: `config.databaseName` when given, else `credentials.database` (a PostgreSQL
login is usually for one database, so the data source may carry it); one of the two is
required. Credentials: `{server, port?, username, password, database?, sslmode?}` or
`{connectionString}`.

`maxTextSize` and `maxBinarySize` bound psqlODBC's fixed buffers; the ADBC path has none
(each batch is about adbc_path.BATCH_BYTES), so it reads values of any length.

psqlODBC options that matter, each for a measured reason:
- UseDeclareFetch=1, Fetch=N: stream through a server cursor; without it psqlODBC
  loads the whole result into client memory before the first row.
- NumericAs=12: `numeric` without precision (and precision > 38) is described as
  varchar. Described as numeric, psqlODBC guesses a precision/scale from the first rows
  and arrow-odbc silently wrapped a 33-digit value into a wrong negative number.
- BoolsAsChar=0: boolean as bool, not the strings '1'/'0'.
- ConnSettings: UTC session time zone (timestamptz reads as a UTC wall-clock
  timestamp, the same on every worker), default_transaction_read_only (the server itself
  refuses writes, beneath the parser check) and statement_timeout (the query timeout is
  enforced server-side even if the driver's cancel does not arrive).
psqlODBC describes double precision so that arrow-odbc would read float32; text from the
server parsed straight to float64 is exact for both real and double.
"""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa

from connectors.base import JSON, ConfigError, Environment, Problem, ProgressCallback, Table
from connectors.declaration import SourceTypeDeclaration
from connectors.odbc import drivers
from connectors.odbc.connector import OdbcConnector
from connectors.odbc.drivers import Driver
from connectors.postgresql.adbc_path import AdbcReads
from connectors.postgresql.declaration import ADBC_DRIVER_NAME, DECLARATION
from connectors.postgresql.login import PostgresLogin, connection_pairs, name_problem, read_login
from connectors.toolkit.problems import config_error

# The default driver: not an ODBC driver, so it never stands after DRIVER=.
ADBC = Driver(ADBC_DRIVER_NAME, ADBC_DRIVER_NAME)
FETCH_ROWS = 10_000
# Options the service sets on every connection; a tenant's connection string cannot name
# them (login.py refuses every keyword but the few it lists).
STREAMING_OPTIONS = {
    "UseDeclareFetch": "1",
    "Fetch": str(FETCH_ROWS),
    "NumericAs": "12",
    "BoolsAsChar": "0",
}


class PostgresConnector(OdbcConnector):
    type_name: ClassVar[str] = "postgresql"
    declaration: ClassVar[SourceTypeDeclaration] = DECLARATION
    dialect: ClassVar[str] = "postgres"
    version_query: ClassVar[str] = "SELECT version()"
    server_kind: ClassVar[str] = "PostgreSQL"
    tls_settings: ClassVar[str] = (
        "credentials.sslmode: 'require' and above need a server with TLS (ssl = on), and "
        "'verify-ca' and 'verify-full' a certificate the service trusts, issued for the "
        "server name"
    )
    # psqlODBC describes text as 8190 characters; a tighter bound makes batches denser
    # (measured: 4.9 s at 64 vs 5.3 s at 256 for 1M rows). Longer values fail loudly.
    default_max_text_size: ClassVar[int] = 1024
    required_selection_keys: ClassVar[frozenset[str]] = frozenset({"query"})

    @classmethod
    def offered_drivers(cls, env: Environment) -> list[Driver]:
        return [ADBC, *drivers.postgres_drivers(env.odbc_drivers)]

    @property
    def reads_through_adbc(self) -> bool:
        return self.driver == ADBC

    @property
    def odbc_driver(self) -> Driver:
        """The psqlODBC driver chosen, or the one ODBC would use had it been chosen (the
        connection string is psqlODBC's either way)."""
        chosen = self.driver
        if chosen != ADBC:
            return chosen
        odbc = drivers.postgres_drivers(self.env.odbc_drivers)
        return odbc[0] if odbc else Driver(drivers.POSTGRES_NAMES[0], drivers.POSTGRES_NAMES[0])

    def test(self, selection: JSON) -> JSON:
        if self.reads_through_adbc:
            return AdbcReads(self).test(selection)
        return super().test(selection)

    def fetch(self, selection: JSON, progress: ProgressCallback) -> Table:
        if self.reads_through_adbc:
            return AdbcReads(self).fetch(selection, progress)
        return super().fetch(selection, progress)

    def change_marker(self, selection: JSON) -> str | None:
        if self.reads_through_adbc:
            return AdbcReads(self).change_marker(selection)
        return super().change_marker(selection)

    @classmethod
    def login_problems(cls, credentials: JSON, driver: Driver | None) -> list[Problem]:
        return read_login(credentials)[1]

    @classmethod
    def validate_selection(cls, selection: JSON, env: Environment) -> list[Problem]:
        problems = super().validate_selection(selection, env)
        database = selection.get("databaseName")
        problem = name_problem(database) if isinstance(database, str) else None
        if problem:
            problems.append(Problem("config.databaseName", problem))
        return problems

    def login(self) -> PostgresLogin:
        login, problems = read_login(self.credentials)
        if login is None:
            raise config_error(problems[0])
        return login

    def secrets(self) -> list[str | None]:
        """What no message may contain: the password in every spelling."""
        return self._secrets()

    def database_for(self, selection: JSON) -> str | None:
        chosen = super().database_for(selection) or self.login().database
        if chosen:
            return chosen
        raise ConfigError(
            "name the database in config.databaseName or credentials.database",
            field="config.databaseName",
        )

    def map_schema(self, schema: pa.Schema) -> pa.Schema:
        return pa.schema(
            [f.with_type(pa.float64()) if pa.types.is_float32(f.type) else f for f in schema]
        )

    def endpoint(self) -> tuple[str, int]:
        login = self.login()
        return login.host, login.port

    def database_for_connection(self, database: str | None) -> str:
        """The database a connection asks for: `database`, else the login's."""
        database = database or self.login().database
        if not database:
            raise ConfigError(
                "name the database in config.databaseName", field="config.databaseName"
            )
        problem = name_problem(database)
        if problem:
            raise ConfigError(f"config.databaseName {problem}", field="config.databaseName")
        return database

    def connection_pairs(
        self, database: str | None, query_timeout: int, address: str | None
    ) -> dict[str, str | None]:
        login = self.login()
        database = self.database_for_connection(database)
        session = (
            "SET TIME ZONE 'UTC';SET default_transaction_read_only = on;"
            f"SET statement_timeout = {query_timeout * 1000}"
        )
        pairs = connection_pairs(login, self.odbc_driver.target, database, address, session)
        return pairs | STREAMING_OPTIONS
