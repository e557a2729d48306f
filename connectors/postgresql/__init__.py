"""PostgreSQL source type ("postgresql"), over ODBC (psqlODBC)."""

from connectors.postgresql.connector import PostgresConnector

__all__ = ["PostgresConnector"]
