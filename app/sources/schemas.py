"""Data source bodies. Credentials are write-only: sent on create and update, never returned.

The name and type limits are documented with `KwargDefinition` rather than enforced by
msgspec: app.sources.service checks them itself, with its own words, from the same values.
Credentials and settings are checked by each source type's connector.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar.params import KwargDefinition

from app.schema import CamelStruct, Pagination
from connectors.registry import source_types

SOURCE_NAME_MAX = 200
# Something besides white space (the name is stored stripped).
SOURCE_NAME_PATTERN = r"\S"

_NAME = KwargDefinition(
    min_length=1,
    max_length=SOURCE_NAME_MAX,
    pattern=SOURCE_NAME_PATTERN,
    description=f"1 to {SOURCE_NAME_MAX} characters, not only spaces; surrounding spaces "
    "are dropped",
)
_CREDENTIALS_SHAPES = (
    "The fields of one of the type's `credentialVariants` in GET /api/source-types"
)
_SETTINGS = (
    "The type's `settings` in GET /api/source-types (endpoint overrides may name only the "
    "type's `endpointHosts` or hosts on the operator's allowlist), and a default selection "
    "with the keys of a schedule's config"
)


class DataSourceCreate(CamelStruct):
    name: Annotated[str, _NAME]
    type: Annotated[
        str,
        KwargDefinition(
            # The registered source types (connectors.registry), read once at start.
            schema_extra={"enum": source_types()},
            description="The source type; its connector checks credentials and settings",
        ),
    ]
    credentials: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description=f"Write-only: stored encrypted, never returned. {_CREDENTIALS_SHAPES}"
        ),
    ]
    settings: Annotated[dict[str, Any], msgspec.Meta(description=_SETTINGS)] = msgspec.field(
        default_factory=dict
    )


class DataSourceUpdate(CamelStruct):
    """Partial update: omitted (or null) fields keep their values."""

    name: Annotated[str | None, _NAME] = None
    credentials: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(description="Replaces the stored credentials (write-only, as on create)"),
    ] = None
    settings: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(description="Merged key by key into the stored settings; null removes a key"),
    ] = None


class CredentialStatus(CamelStruct):
    """What the last credentials check found (a daily check on the worker, or
    POST /api/data-sources/{id}/check-credentials)."""

    status: Annotated[
        Literal["ok", "expiring", "failed"] | None,
        msgspec.Meta(
            description="`ok`; `expiring`: a known expiry is near (a Google app in testing "
            "mode ends refresh tokens 7 days after the grant); `failed`: the source rejected "
            "the credentials (a revoked grant, a wrong password); null: never checked (or "
            "new credentials not checked yet, or a source type without the check)"
        ),
    ]
    checked_at: Annotated[
        str | None, msgspec.Meta(description="When the last check finished (ISO 8601)")
    ]
    message: Annotated[
        str | None,
        msgspec.Meta(
            description="What was found and, when not ok, how to fix it (authorise again, "
            "or PATCH the data source with new credentials, naming the field)"
        ),
    ]


class DataSourceOut(CamelStruct):
    id: str
    name: str
    type: str
    settings: dict[str, Any]
    has_credentials: Annotated[
        bool, msgspec.Meta(description="Credentials are stored (they are never returned)")
    ]
    credential_status: CredentialStatus
    created_at: str
    updated_at: str


class DataSourceCreated(CamelStruct):
    success: Literal[True]
    data_source: DataSourceOut
    message: str


class DataSourceList(CamelStruct):
    success: Literal[True]
    data_sources: list[DataSourceOut]
    total_count: int
    pagination: Pagination


class DataSourceDetail(CamelStruct):
    success: Literal[True]
    data_source: DataSourceOut


class DataSourceUpdated(CamelStruct):
    success: Literal[True]
    data_source: DataSourceOut
    message: str


class ConnectionTested(CamelStruct):
    success: Literal[True]
    message: str
    details: Annotated[
        dict[str, Any],
        msgspec.Meta(description="What the source reported, by source type (e.g. the server)"),
    ]


class CredentialsChecked(CamelStruct):
    success: Literal[True]
    credential_status: CredentialStatus
