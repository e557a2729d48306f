"""SQL Server: credentials to an ODBC connection string, and the T-SQL query rule.

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

from connectors.base import AuthError, ConfigError, ConnectorError
from connectors.odbc import connection_string, drivers
from connectors.odbc.connector import OdbcConnector, ReadPlan
from connectors.sqlserver.temporal_text import datetime2_iso, datetimeoffset_iso

APPLICATION_NAME = "DataSync"


def _yes_no(value: object) -> str:
    return "yes" if value else "no"


class SqlServerConnector(OdbcConnector):
    type_name: ClassVar[str] = "sql-server"
    dialect: ClassVar[str] = "tsql"
    version_query: ClassVar[str] = "SELECT @@VERSION"

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

    def connection_string(self, database: str | None, query_timeout: int) -> str:
        named = self.settings.get("driver")
        given = self.credentials.get("connectionString")
        if isinstance(given, str):
            pairs = connection_string.parse(given)
            updates: dict[str, str | None] = {"DATABASE": database}
            if connection_string.get(pairs, "DRIVER") is None or named:
                updates["DRIVER"] = drivers.sql_server_driver(named).name
            return connection_string.build(connection_string.with_values(pairs, updates))

        driver = drivers.sql_server_driver(named)
        server = str(self.credentials["server"])
        port = self.credentials.get("port")
        encrypt = self.credentials.get("encrypt")
        trust = self.credentials.get("trustServerCertificate")
        pairs_out: dict[str, str | None] = {"DRIVER": driver.name}
        if driver.is_freetds and "}" in str(self.credentials["password"]):
            # FreeTDS 1.3 ends a braced value at the first '}' and ignores the '}}'
            # escape, so such a password would be cut short (measured: login fails).
            raise ConfigError(
                "FreeTDS cannot pass a password containing '}'; use Microsoft's ODBC "
                "driver (settings.driver) or change the password",
                field="credentials.password",
            )
        if driver.is_freetds:
            pairs_out |= {
                "SERVER": server,
                "PORT": str(port or 1433),
                "TDS_Version": "7.4",
                "ClientCharset": "UTF-8",
                # FreeTDS has no per-connection trust switch; "require" encrypts without
                # validating the certificate, "off" only if the server allows it.
                "Encryption": None if encrypt is None else ("require" if encrypt else "off"),
            }
        else:
            # Driver 18 encrypts by default and validates the certificate; both switches
            # are passed through as the data source says, defaulting to the driver's.
            pairs_out |= {
                "SERVER": f"{server},{port}" if port else server,
                "Encrypt": None if encrypt is None else _yes_no(encrypt),
                "TrustServerCertificate": None if trust is None else _yes_no(trust),
            }
        pairs_out |= {
            "DATABASE": database,
            "UID": str(self.credentials["username"]),
            "PWD": str(self.credentials["password"]),
            "APP": APPLICATION_NAME,
        }
        return connection_string.build(pairs_out)

    def explain_login_failure(self, error: ConnectorError, database: str | None) -> ConnectorError:
        """SQL Server answers an unknown database with 4060 *then* 18456; FreeTDS keeps
        only the last, which reads as a wrong password. One login without the database
        tells them apart, and only on this failure path."""
        if not isinstance(error, AuthError) or not database:
            return error
        try:
            arrow_odbc.connect(
                self.connection_string(None, 30), login_timeout_sec=self.login_timeout
            )
        except arrow_odbc.Error:
            return error
        return ConfigError(
            f'Cannot open database "{database}": it does not exist or this login has no '
            "access to it",
            field="config.databaseName",
        )
