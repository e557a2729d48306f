"""The ODBC base shared by the database source types (SQL Server, PostgreSQL)."""

from connectors.odbc.connector import OdbcConnector

__all__ = ["OdbcConnector"]
