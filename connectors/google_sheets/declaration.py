"""What a google-sheets data source and schedule ask for (connectors/declaration.py)."""

from __future__ import annotations

from connectors.declaration import Choice, CredentialVariant, FieldSpec, SourceTypeDeclaration
from connectors.google_sheets.endpoints import (
    DEFAULT_SHEETS_API_ROOT,
    DEFAULT_TOKEN_URI,
    SHEETS_API_HOSTS,
    TOKEN_HOSTS,
)
from connectors.google_sheets.selection import MAX_RETRY_BUDGET_SECONDS

SERVICE_ACCOUNT = CredentialVariant(
    key="serviceAccount",
    label="Service account key",
    fields=(
        FieldSpec(
            "serviceAccountInfo",
            "Service account JSON key",
            kind="json",
            required=True,
            help="Paste the key file from Google Cloud (IAM → Service accounts → Keys → Add "
            "key → JSON). Then share each spreadsheet with the key's client_email. Enable the "
            "Google Drive API in the same project for change detection.",
            placeholder='{ "type": "service_account", "client_email": "…", "private_key": "…" }',
        ),
    ),
)
OAUTH = CredentialVariant(
    key="oauth",
    label="OAuth user (refresh token)",
    fields=(
        FieldSpec("oauth.clientId", "OAuth client ID", required=True),
        FieldSpec("oauth.clientSecret", "OAuth client secret", kind="secret", required=True),
        FieldSpec(
            "oauth.refreshToken",
            "Refresh token",
            kind="secret",
            required=True,
            help="Issued for the spreadsheets.readonly scope, and drive.metadata.readonly so "
            "that an unchanged spreadsheet is not downloaded again (change detection).",
        ),
    ),
)

DECLARATION = SourceTypeDeclaration(
    display_name="Google Sheets",
    credential_variants=(SERVICE_ACCOUNT, OAUTH),
    settings=(
        FieldSpec(
            "sheetsBaseUrl",
            "Sheets API root",
            kind="url",
            advanced=True,
            help=f"Default {DEFAULT_SHEETS_API_ROOT}",
        ),
        FieldSpec(
            "tokenUri",
            "Token endpoint",
            kind="url",
            advanced=True,
            help=f"Default {DEFAULT_TOKEN_URI}",
        ),
        FieldSpec(
            "retryBudgetSeconds",
            "Retry budget (seconds)",
            kind="number",
            minimum=0,
            maximum=MAX_RETRY_BUDGET_SECONDS,
            default=60,
            advanced=True,
            help="How long one run may wait out Google's rate limits before it fails.",
        ),
    ),
    selection=(
        FieldSpec(
            "spreadsheetId",
            "Spreadsheet ID or URL",
            required=True,
            help="The long id in the spreadsheet's address (…/spreadsheets/d/<id>/edit).",
        ),
        FieldSpec("sheetName", "Sheet name", required=True, help="The tab's exact title."),
        FieldSpec(
            "range",
            "Range",
            help="A1 notation such as A1:L1000; empty reads the whole sheet.",
            placeholder="A1:L1000",
        ),
        FieldSpec(
            "valueRender",
            "Values",
            kind="choice",
            default="formatted",
            choices=(
                Choice("formatted", "As the sheet shows them"),
                Choice("unformatted", "Raw numbers and ISO dates"),
            ),
            advanced=True,
        ),
    ),
    endpoint_hosts=SHEETS_API_HOSTS | TOKEN_HOSTS,
)
