"""`/api/source-types`: what each installed source type asks for, so that forms and
generated clients need no copy of it."""

from __future__ import annotations

from functools import cache

import msgspec
from litestar import Controller, get

from app.auth.scopes import Scope
from app.source_types.schemas import (
    ChoiceOut,
    CredentialVariantOut,
    FieldOut,
    SourceTypeList,
    SourceTypeOut,
    SourceTypeSchemas,
)
from connectors.declaration import (
    FieldSpec,
    SourceTypeDeclaration,
    credentials_schema,
    object_schema,
)
from connectors.registry import (
    UnavailableSourceType,
    connector_class,
    declaration_of,
    source_types,
)


def field_out(spec: FieldSpec) -> FieldOut:
    return FieldOut(
        key=spec.key,
        label=spec.label,
        kind=spec.kind,
        help=spec.help,
        required=spec.required,
        secret=spec.secret,
        advanced=spec.advanced,
        placeholder=spec.placeholder,
        minimum=spec.minimum,
        maximum=spec.maximum,
        default=spec.default,
        choices=[ChoiceOut(value=c.value, label=c.label) for c in spec.choices],
    )


def declared(type_name: str, declaration: SourceTypeDeclaration) -> SourceTypeOut:
    return SourceTypeOut(
        type=type_name,
        display_name=declaration.display_name,
        available=True,
        unavailable_reason=None,
        credential_variants=[
            CredentialVariantOut(
                key=variant.key,
                label=variant.label,
                help=variant.help,
                fields=[field_out(spec) for spec in variant.fields],
            )
            for variant in declaration.credential_variants
        ],
        settings=[field_out(spec) for spec in declaration.settings],
        selection=[field_out(spec) for spec in declaration.selection],
        endpoint_hosts=sorted(declaration.endpoint_hosts),
        schemas=SourceTypeSchemas(
            credentials=(
                credentials_schema(declaration)
                if declaration.credential_variants
                else {"type": "object"}
            ),
            settings=object_schema(declaration.settings),
            selection=object_schema(declaration.selection),
        ),
    )


def unavailable(type_name: str, reason: str) -> SourceTypeOut:
    """A type that cannot load: its name, the reason, and nothing to fill in."""
    nothing = declared(type_name, SourceTypeDeclaration(type_name, credential_variants=()))
    return msgspec.structs.replace(nothing, available=False, unavailable_reason=reason)


@cache
def described_types() -> SourceTypeList:
    """Every registered type, read once: plugins are installed before the service starts."""
    described = []
    for type_name in source_types():
        try:
            cls = connector_class(type_name)
        except UnavailableSourceType as exc:
            described.append(unavailable(type_name, str(exc)))
        else:
            described.append(declared(type_name, declaration_of(cls)))
    return SourceTypeList(success=True, source_types=described)


class SourceTypeController(Controller):
    path = "/api/source-types"
    tags = ["Data sources"]

    @get("/", operation_id="listSourceTypes", opt={"scope": Scope.SOURCES_READ})
    async def list_source_types(self) -> SourceTypeList:
        """Every source type installed on this server, plugins included: its display name,
        the credentials, settings and selection it asks for (as form fields and as JSON
        Schema), and whether it can load here."""
        return described_types()
