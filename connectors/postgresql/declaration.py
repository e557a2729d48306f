"""What a postgresql data source and schedule ask for (connectors/declaration.py)."""

from __future__ import annotations

from connectors.declaration import Choice, CredentialVariant, FieldSpec, SourceTypeDeclaration
from connectors.odbc.declared_fields import (
    CONNECTION_STRING,
    DRIVER,
    LIMIT_SETTINGS,
    PASSWORD,
    QUERY_TIMEOUT,
    USERNAME,
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

DECLARATION = SourceTypeDeclaration(
    display_name="PostgreSQL",
    credential_variants=(FIELDS, CONNECTION_STRING),
    settings=(DRIVER, *LIMIT_SETTINGS),
    selection=(
        database_field(required=False),
        query_field("SELECT * FROM public.orders"),
        QUERY_TIMEOUT,
    ),
)
