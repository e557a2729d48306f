"""What a microsoft-excel data source and schedule ask for (connectors/declaration.py)."""

from __future__ import annotations

from connectors.declaration import CredentialVariant, FieldSpec, SourceTypeDeclaration
from connectors.excel.endpoints import (
    DEFAULT_AUTHORITY_HOST,
    DEFAULT_GRAPH_BASE_URL,
    MICROSOFT_AUTHORITY_HOSTS,
    MICROSOFT_GRAPH_HOSTS,
)

TENANT = FieldSpec(
    "tenantId",
    "Tenant ID",
    required=True,
    help="Directory (tenant) ID of the Entra ID app registration.",
)
CLIENT = FieldSpec("clientId", "Client ID", required=True, help="Application (client) ID.")

APP_ONLY = CredentialVariant(
    key="appOnly",
    label="App-only (client secret)",
    help="The app reads the drive named in the settings below.",
    fields=(
        TENANT,
        CLIENT,
        FieldSpec(
            "clientSecret",
            "Client secret",
            kind="secret",
            required=True,
            help="The secret's value (not its id).",
        ),
    ),
)
DELEGATED = CredentialVariant(
    key="delegated",
    label="Delegated (refresh token)",
    help="Reads the signed-in user's drive.",
    fields=(
        TENANT,
        CLIENT,
        FieldSpec("refreshToken", "Refresh token", kind="secret", required=True),
    ),
)

DECLARATION = SourceTypeDeclaration(
    display_name="Microsoft Excel (OneDrive / SharePoint)",
    credential_variants=(APP_ONLY, DELEGATED),
    settings=(
        FieldSpec(
            "driveId",
            "Drive ID",
            help="The drive that holds the workbooks (app-only access). Or give a user or "
            "site ID instead.",
        ),
        FieldSpec(
            "userId",
            "User ID",
            help="Instead of a drive ID: a user whose OneDrive holds the workbooks.",
        ),
        FieldSpec(
            "siteId",
            "SharePoint site ID",
            advanced=True,
            help="Instead of a drive ID: a site whose default library holds the workbooks.",
        ),
        FieldSpec(
            "authorityHost",
            "Authority host",
            kind="url",
            advanced=True,
            help=f"Default {DEFAULT_AUTHORITY_HOST} (national clouds differ).",
        ),
        FieldSpec(
            "graphBaseUrl",
            "Graph API root",
            kind="url",
            advanced=True,
            help=f"Default {DEFAULT_GRAPH_BASE_URL}",
        ),
    ),
    selection=(
        FieldSpec(
            "workbookId",
            "Workbook ID",
            required=True,
            help="The workbook's drive item id (01AZJL5P…).",
        ),
        FieldSpec("worksheetName", "Worksheet name", required=True),
        FieldSpec(
            "range",
            "Range",
            help="Such as A1:D100; empty reads the used range.",
            placeholder="A1:D100",
        ),
    ),
    endpoint_hosts=MICROSOFT_AUTHORITY_HOSTS | MICROSOFT_GRAPH_HOSTS,
)
