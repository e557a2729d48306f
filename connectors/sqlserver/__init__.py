"""SQL Server source type ("sql-server"), over ODBC."""

from connectors.sqlserver.connector import SqlServerConnector

__all__ = ["SqlServerConnector"]
