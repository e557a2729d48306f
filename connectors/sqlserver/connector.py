"""SQL Server: the T-SQL dialect and the Arrow types; credentials and the connection
string are in login.py.

Arrow types produced (arrow-odbc over the Microsoft driver or FreeTDS, both measured):
tinyint uint8, smallint int16, int int32, bigint int64, bit bool, decimal/numeric(p,s)
decimal128(p,s), money decimal128(19,4), smallmoney decimal128(10,4), float float64,
real float32, date date32, datetime timestamp[ms], smalldatetime timestamp[s],
datetime2(0) timestamp[s], (1-3) [ms], (4-6) [us], datetime2(7) ISO 8601 string
'YYYY-MM-DDThh:mm:ss.fffffff' (see map_schema), time time64[ns],
datetimeoffset ISO 8601 string 'YYYY-MM-DDThh:mm:ss.fffffff+hh:mm' (offset kept as the
server stored it), both with the fraction's trailing zeros cut (temporal_text.py),
uniqueidentifier string (upper-case 8-4-4-4-12),
char/varchar/nchar/nvarchar/text/ntext string, binary fixed_size_binary(n),
varbinary/image binary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import arrow_odbc
import pyarrow as pa
import pyarrow.compute as pc

from connectors.base import JSON, AuthError, ConfigError, ConnectorError, Environment, Problem
from connectors.declaration import SourceTypeDeclaration
from connectors.odbc import drivers
from connectors.odbc.connector import OdbcConnector, ReadPlan
from connectors.odbc.drivers import Driver
from connectors.odbc.reachability import Destination
from connectors.sqlserver.declaration import DECLARATION
from connectors.sqlserver.login import (
    DEFAULT_PORT,
    SqlServerLogin,
    connection_pairs,
    driver_problems,
    read_login,
)
from connectors.sqlserver.temporal_text import datetime2_iso, datetimeoffset_iso
from connectors.toolkit.problems import config_error


class SqlServerConnector(OdbcConnector):
    type_name: ClassVar[str] = "sql-server"
    declaration: ClassVar[SourceTypeDeclaration] = DECLARATION
    dialect: ClassVar[str] = "tsql"
    version_query: ClassVar[str] = "SELECT @@VERSION"
    server_kind: ClassVar[str] = "SQL Server"
    tls_settings: ClassVar[str] = (
        "credentials.encrypt and credentials.trustServerCertificate: with encryption on, "
        "the server's certificate must be one the service trusts, issued for the server "
        "name, unless trustServerCertificate is set"
    )

    def map_schema(self, schema: pa.Schema) -> pa.Schema:
        """datetime2(7) is described as a nanosecond timestamp, but int64 nanoseconds end
        in 2262 and SQL Server data routinely holds 9999-12-31 23:59:59.9999999 as an
        'open-ended' sentinel: one such row would fail the whole sync. The driver's text
        form keeps all 7 digits over the full 0001-9999 range, the same from FreeTDS and
        Microsoft's driver."""
        return pa.schema(
            [
                f.with_type(pa.string())
                if pa.types.is_timestamp(f.type) and f.type.unit == "ns"
                else f
                for f in schema
            ]
        )

    def read_plan(
        self, connection: arrow_odbc.Connection, query: str, query_timeout: int
    ) -> ReadPlan:
        """datetime2(7) is recognisable in the driver's schema (a nanosecond timestamp),
        datetimeoffset is not: both drivers describe it as text, like nvarchar. The
        server's own description of the result (sp_describe_first_result_set, SQL Server
        2012+; compiles the query without running it) names the type."""
        offsets = {
            index
            for index, type_name in enumerate(
                self._describe_result(connection, query, query_timeout)
            )
            if type_name.lower().startswith("datetimeoffset")
        }
        datetime2: set[int] = set()

        def map_schema(schema: pa.Schema) -> pa.Schema:
            mapped = self.map_schema(schema)
            datetime2.update(
                i
                for i, (reported, wanted) in enumerate(zip(schema, mapped, strict=True))
                if pa.types.is_timestamp(reported.type) and pa.types.is_string(wanted.type)
            )
            return mapped

        def convert(batch: pa.RecordBatch) -> pa.RecordBatch:
            columns = list(batch.columns)
            rewrites: list[tuple[set[int], Callable[[pa.Array], pa.Array]]] = [
                (datetime2, datetime2_iso),
                (offsets, datetimeoffset_iso),
            ]
            for indexes, rewrite in rewrites:
                for index in indexes:
                    if index < len(columns) and pa.types.is_string(columns[index].type):
                        columns[index] = rewrite(columns[index])
            return pa.RecordBatch.from_arrays(columns, schema=batch.schema)

        return ReadPlan(map_schema, convert)

    def _describe_result(
        self, connection: arrow_odbc.Connection, query: str, query_timeout: int
    ) -> list[str]:
        """The declared type of each result column, or [] when the server cannot say
        (a query over temporary tables, a server before 2012): then datetimeoffset
        stays in the driver's text form and the query itself reports any real error."""
        literal = "N'" + query.replace("'", "''") + "'"
        try:
            reader = connection.read_arrow_batches(
                f"EXEC sp_describe_first_result_set @tsql = {literal}",
                max_text_size=512,
                query_timeout_sec=query_timeout,
            )
            described = pa.Table.from_batches(list(reader), schema=reader.schema)
        except arrow_odbc.Error:
            return []
        if not {"is_hidden", "column_ordinal", "system_type_name"} <= set(described.column_names):
            return []
        visible = described.filter(pc.invert(pc.fill_null(described["is_hidden"], False)))
        visible = visible.sort_by("column_ordinal")
        return [t or "" for t in visible["system_type_name"].to_pylist()]

    @classmethod
    def offered_drivers(cls, env: Environment) -> list[Driver]:
        return drivers.sql_server_drivers(env.odbc_drivers)

    @classmethod
    def login_problems(cls, credentials: JSON, driver: Driver | None) -> list[Problem]:
        login, problems = read_login(credentials)
        if login and driver:
            problems += driver_problems(login, driver)
        return problems

    def _login(self) -> SqlServerLogin:
        login, problems = read_login(self.credentials)
        if login is None:
            raise config_error(problems[0])
        return login

    def endpoint(self) -> tuple[str, int]:
        login = self._login()
        return login.host, login.resolve_port

    def destination(self, address: str) -> Destination:
        """A named instance without a port is reached on the port the SQL Server Browser
        names (UDP 1434): the service does not know it, so it does not probe it."""
        login = self._login()
        if login.instance and not login.port:
            return Destination(login.host, address, None, login.instance)
        return Destination(login.host, address, login.port or DEFAULT_PORT)

    def connection_pairs(
        self, database: str | None, query_timeout: int, address: str | None
    ) -> dict[str, str | None]:
        return connection_pairs(self._login(), self.driver, database, address)

    def explain_login_failure(
        self, error: ConnectorError, database: str | None, address: str
    ) -> ConnectorError:
        """SQL Server answers an unknown database with 4060 *then* 18456; FreeTDS keeps
        only the last, which reads as a wrong password. One login without the database,
        to the same checked address, tells them apart, and only on this failure path."""
        if not isinstance(error, AuthError) or not database:
            return error
        try:
            arrow_odbc.connect(
                self.connection_string(None, 30, address), login_timeout_sec=self.login_timeout
            )
        except arrow_odbc.Error:
            return error
        return ConfigError(
            f'Cannot open database "{database}": it does not exist or this login has no '
            "access to it",
            field="config.databaseName",
        )
