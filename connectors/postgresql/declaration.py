"""What a postgresql data source and schedule ask for (connectors/declaration.py)."""

from __future__ import annotations

from dataclasses import replace

from connectors.declaration import Choice, CredentialVariant, FieldSpec, SourceTypeDeclaration
from connectors.odbc.declared_fields import (
    CONNECTION_STRING,
    DRIVER,
    LIMIT_SETTINGS,
    PASSWORD,
    QUERY_TIMEOUT,
    USERNAME,
    change_query_field,
    database_field,
    port_field,
    query_field,
    server_field,
)
from connectors.postgresql.login import DEFAULT_PORT, SSL_MODES

FIELDS = CredentialVariant(
    key="fields",
    label="Server and login",
    fields=(
        server_field("db.example.com"),
        port_field(DEFAULT_PORT),
        USERNAME,
        PASSWORD,
        FieldSpec(
            "database",
            "Database",
            help="The database schedules read unless they name another.",
        ),
        FieldSpec(
            "sslmode",
            "TLS (sslmode)",
            kind="choice",
            default="prefer",
            choices=tuple(Choice(mode, mode) for mode in SSL_MODES),
            help="verify-full checks the server's certificate and name.",
        ),
    ),
)

ADBC_DRIVER_NAME = "ADBC"

POSTGRES_DRIVER = replace(
    DRIVER,
    label="Driver",
    help="Empty (or ADBC) reads through the ADBC PostgreSQL driver: libpq's binary COPY "
    "straight into Arrow, the fastest way. A psqlODBC driver name (PostgreSQL Unicode) "
    "reads through ODBC instead: for Amazon Redshift and other PostgreSQL-compatible "
    "servers without COPY ... TO STDOUT in binary format.",
    placeholder=ADBC_DRIVER_NAME,
)
# psqlODBC reads into buffers sized by these; the ADBC path has no such buffers.
_PSQLODBC_ONLY = {"maxTextSize", "maxBinarySize"}
POSTGRES_LIMIT_SETTINGS = tuple(
    replace(field, help=f"psqlODBC only. {field.help}".strip())
    if field.key in _PSQLODBC_ONLY
    else field
    for field in LIMIT_SETTINGS
)

DECLARATION = SourceTypeDeclaration(
    display_name="PostgreSQL",
    credential_variants=(FIELDS, CONNECTION_STRING),
    settings=(POSTGRES_DRIVER, *POSTGRES_LIMIT_SETTINGS),
    selection=(
        database_field(required=False),
        query_field("SELECT * FROM public.orders"),
        change_query_field("SELECT max(updated_at), count(*) FROM public.orders"),
        QUERY_TIMEOUT,
    ),
)
