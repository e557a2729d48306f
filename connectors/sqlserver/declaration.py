"""What a sql-server data source and schedule ask for (connectors/declaration.py)."""

from __future__ import annotations

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
from connectors.sqlserver.login import DEFAULT_PORT

FIELDS = CredentialVariant(
    key="fields",
    label="Server and login",
    fields=(
        server_field("sql.example.com"),
        port_field(DEFAULT_PORT),
        USERNAME,
        PASSWORD,
        FieldSpec(
            "encrypt",
            "Encryption",
            kind="choice",
            choices=(Choice(True, "Require encryption"), Choice(False, "Off")),
            help="Empty keeps the driver's default.",
        ),
        FieldSpec(
            "trustServerCertificate",
            "Trust the server certificate (self-signed servers)",
            kind="boolean",
        ),
    ),
)

DECLARATION = SourceTypeDeclaration(
    display_name="SQL Server",
    credential_variants=(FIELDS, CONNECTION_STRING),
    settings=(DRIVER, *LIMIT_SETTINGS),
    selection=(
        database_field(required=True),
        query_field("SELECT * FROM dbo.Orders"),
        change_query_field("SELECT MAX(rowversion_col), COUNT(*) FROM dbo.Orders"),
        QUERY_TIMEOUT,
    ),
)
