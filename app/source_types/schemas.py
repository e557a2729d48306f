"""What `GET /api/source-types` answers: each installed source type's declaration
(connectors/declaration.py) as form fields and as JSON Schema."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from app.schema import CamelStruct
from connectors.declaration import FieldKind

# A JSON number documented once: an integer default such as 60 would match both `integer`
# and `number` of a oneOf and make the document ambiguous.
Scalar = str | float | bool


class ChoiceOut(CamelStruct):
    value: Scalar
    label: str


class FieldOut(CamelStruct):
    key: Annotated[
        str,
        msgspec.Meta(
            description="The JSON key; a dotted key (`oauth.clientId`) is a nested object"
        ),
    ]
    label: str
    kind: Annotated[
        FieldKind,
        msgspec.Meta(
            description="The control: `secret` a password input never shown again, `query` "
            "a multi-line SQL editor, `json` an object pasted as text, `choice` one of "
            "`choices`"
        ),
    ]
    help: str
    required: bool
    secret: bool
    advanced: Annotated[bool, msgspec.Meta(description="Shown under “Advanced”")]
    placeholder: str
    minimum: float | None
    maximum: float | None
    default: Scalar | None
    choices: list[ChoiceOut]


class CredentialVariantOut(CamelStruct):
    key: str
    label: str
    help: str
    fields: list[FieldOut]


class SourceTypeSchemas(CamelStruct):
    credentials: Annotated[dict[str, Any], msgspec.Meta(description="JSON Schema")]
    settings: Annotated[dict[str, Any], msgspec.Meta(description="JSON Schema")]
    selection: Annotated[dict[str, Any], msgspec.Meta(description="JSON Schema")]


class SourceTypeOut(CamelStruct):
    type: Annotated[str, msgspec.Meta(description="The `type` of a data source")]
    display_name: str
    available: Annotated[
        bool,
        msgspec.Meta(
            description="False when the type is registered but cannot load on this server "
            "(a missing driver or dependency); its fields are then empty"
        ),
    ]
    unavailable_reason: str | None
    credential_variants: Annotated[
        list[CredentialVariantOut],
        msgspec.Meta(
            description="Ways to sign in; credentials follow exactly one. Empty: credentials "
            "are a JSON object the type does not describe"
        ),
    ]
    settings: Annotated[
        list[FieldOut],
        msgspec.Meta(description="The data source's settings, defaults for every schedule"),
    ]
    selection: Annotated[
        list[FieldOut], msgspec.Meta(description="What a schedule's `config` reads")
    ]
    endpoint_hosts: Annotated[
        list[str],
        msgspec.Meta(
            description="Vendor hosts the type's endpoint overrides may name without the "
            "operator's ENDPOINT_ALLOWLIST"
        ),
    ]
    schemas: SourceTypeSchemas


class SourceTypeList(CamelStruct):
    success: Literal[True]
    source_types: list[SourceTypeOut]
