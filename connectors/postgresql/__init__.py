"""PostgreSQL source type ("postgresql"): ADBC (libpq binary COPY) by default, or psqlODBC."""

from connectors.postgresql.connector import PostgresConnector

__all__ = ["PostgresConnector"]
