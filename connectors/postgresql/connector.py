"""PostgreSQL through psqlODBC, on the same ODBC base as SQL Server.

Database: `config.databaseName` when given, else `credentials.database` (a PostgreSQL
login is usually for one database, so the data source may carry it); one of the two is
required. Credentials: `{server, port?, username, password, database?, sslmode?}` or
`{connectionString}`.

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

Arrow types: smallint int16, integer int32, bigint int64, boolean bool, numeric(p<=38,s)
decimal128(p,s), numeric unconstrained string (exact text), real/double float64 (psqlODBC
describes double precision so that arrow-odbc would read float32; text from the server
parsed straight to float64 is exact for both), date date32, timestamp/timestamptz
timestamp[us] (timestamptz in UTC), time time64[us], uuid upper-case string,
text/varchar/json string,
bytea binary.
"""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa

from connectors.base import JSON, ConfigError, Environment, Problem
from connectors.declaration import SourceTypeDeclaration
from connectors.odbc import drivers
from connectors.odbc.connector import OdbcConnector
from connectors.odbc.drivers import Driver
from connectors.postgresql.declaration import DECLARATION
from connectors.postgresql.login import PostgresLogin, connection_pairs, name_problem, read_login
from connectors.toolkit.problems import config_error

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
        return drivers.postgres_drivers(env.odbc_drivers)

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

    def _login(self) -> PostgresLogin:
        login, problems = read_login(self.credentials)
        if login is None:
            raise config_error(problems[0])
        return login

    def database_for(self, selection: JSON) -> str | None:
        chosen = super().database_for(selection) or self._login().database
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
        login = self._login()
        return login.host, login.port

    def connection_pairs(
        self, database: str | None, query_timeout: int, address: str | None
    ) -> dict[str, str | None]:
        login = self._login()
        database = database or login.database
        if not database:
            raise ConfigError(
                "name the database in config.databaseName", field="config.databaseName"
            )
        problem = name_problem(database)
        if problem:
            raise ConfigError(f"config.databaseName {problem}", field="config.databaseName")
        session = (
            "SET TIME ZONE 'UTC';SET default_transaction_read_only = on;"
            f"SET statement_timeout = {query_timeout * 1000}"
        )
        pairs = connection_pairs(login, self.driver.target, database, address, session)
        return pairs | STREAMING_OPTIONS
