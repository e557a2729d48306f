"""SQL Server: credentials to an ODBC connection string, and the T-SQL query rule.

Arrow types produced (arrow-odbc over the Microsoft driver or FreeTDS, both measured):
tinyint uint8, smallint int16, int int32, bigint int64, bit bool, decimal/numeric(p,s)
decimal128(p,s), money decimal128(19,4), smallmoney decimal128(10,4), float float64,
real float32, date date32, datetime timestamp[ms], smalldatetime timestamp[s],
datetime2(0) timestamp[s], (1-3) [ms], (4-6) [us], datetime2(7) string
'YYYY-MM-DD hh:mm:ss.fffffff' (see map_schema), time time64[ns],
datetimeoffset string 'YYYY-MM-DD hh:mm:ss.fffffff +hh:mm' (the driver's text form,
offset kept as the server stored it), uniqueidentifier string (upper-case 8-4-4-4-12),
char/varchar/nchar/nvarchar/text/ntext string, binary fixed_size_binary(n),
varbinary/image binary.
"""

from __future__ import annotations

from typing import ClassVar

import arrow_odbc
import pyarrow as pa

from connectors.base import AuthError, ConfigError, ConnectorError
from connectors.odbc import connection_string, drivers
from connectors.odbc.connector import OdbcConnector

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
            arrow_odbc.connect(self.connection_string(None, 30), login_timeout_sec=15)
        except arrow_odbc.Error:
            return error
        return ConfigError(
            f'Cannot open database "{database}": it does not exist or this login has no '
            "access to it",
            field="config.databaseName",
        )
