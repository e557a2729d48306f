"""Each source type describes its inputs as data (connectors/declaration.py); the API and
the dashboard's forms trust that description, so it must agree with the connector."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import Problem
from connectors.declaration import (
    Choice,
    CredentialVariant,
    FieldSpec,
    SourceTypeDeclaration,
    chosen_variant,
    credentials_problems,
    field_problems,
    object_schema,
)
from connectors.excel.endpoints import MICROSOFT_AUTHORITY_HOSTS, MICROSOFT_GRAPH_HOSTS
from connectors.google_sheets.endpoints import SHEETS_API_HOSTS, TOKEN_HOSTS
from connectors.registry import connector_class, declaration_of, source_types

BUILT_IN = ["google-sheets", "microsoft-excel", "postgresql", "sql-server"]


@pytest.mark.parametrize("type_name", [*BUILT_IN, "test-table"])
def test_declared_selection_agrees_with_the_connectors_selection_keys(type_name: str) -> None:
    cls = connector_class(type_name)
    selection = declaration_of(cls).selection
    assert {spec.key for spec in selection} <= cls.selection_keys
    assert {spec.key for spec in selection if spec.required} == cls.required_selection_keys


@pytest.mark.parametrize("type_name", [*BUILT_IN, "test-table"])
def test_every_installed_type_has_a_display_name_and_credential_variants(type_name: str) -> None:
    declaration = declaration_of(connector_class(type_name))
    assert declaration.display_name and declaration.display_name != type_name
    assert declaration.credential_variants
    assert type_name in source_types()


def test_secrets_are_declared_secret() -> None:
    for type_name in BUILT_IN:
        for variant in declaration_of(connector_class(type_name)).credential_variants:
            for spec in variant.fields:
                last = spec.key.rsplit(".", 1)[-1]
                if last in {"password", "clientSecret", "refreshToken", "connectionString"}:
                    assert spec.secret, f"{type_name} {spec.key}"


def test_endpoint_hosts_are_the_vendors_own() -> None:
    assert declaration_of(connector_class("google-sheets")).endpoint_hosts == (
        SHEETS_API_HOSTS | TOKEN_HOSTS
    )
    assert declaration_of(connector_class("microsoft-excel")).endpoint_hosts == (
        MICROSOFT_AUTHORITY_HOSTS | MICROSOFT_GRAPH_HOSTS
    )
    assert not declaration_of(connector_class("postgresql")).endpoint_hosts


def test_a_connector_without_a_declaration_is_described_from_its_selection_keys() -> None:
    class Bare:
        type_name = "bare"
        selection_keys = frozenset({"path", "limit"})
        required_selection_keys = frozenset({"path"})

    declaration = declaration_of(Bare)  # type: ignore[arg-type]
    assert declaration.display_name == "bare"
    assert declaration.credential_variants == ()
    assert [(s.key, s.required) for s in declaration.selection] == [
        ("limit", False),
        ("path", True),
    ]


PORT = FieldSpec("port", "Port", kind="integer", minimum=1, maximum=65535)
MODE = FieldSpec("mode", "Mode", kind="choice", choices=(Choice("a", "A"), Choice("b", "B")))
FLAG = FieldSpec("flag", "Flag", kind="boolean")
NAME = FieldSpec("name", "Name", required=True)


@pytest.mark.parametrize(
    ("values", "problems"),
    [
        ({"name": "x"}, []),
        ({}, [Problem("settings.name", "is required")]),
        ({"name": ""}, [Problem("settings.name", "is required")]),
        ({"name": 3}, [Problem("settings.name", "must be text")]),
        (
            {"name": "x", "port": 0},
            [Problem("settings.port", "must be a whole number from 1 to 65,535")],
        ),
        (
            {"name": "x", "port": 2.5},
            [Problem("settings.port", "must be a whole number from 1 to 65,535")],
        ),
        (
            {"name": "x", "port": True},
            [Problem("settings.port", "must be a whole number from 1 to 65,535")],
        ),
        ({"name": "x", "mode": "c"}, [Problem("settings.mode", "must be one of: a, b")]),
        ({"name": "x", "flag": "yes"}, [Problem("settings.flag", "must be true or false")]),
        ({"name": "x", "unknown": object()}, []),
    ],
)
def test_field_problems_check_presence_type_bounds_and_choices(
    values: dict[str, Any], problems: list[Problem]
) -> None:
    assert field_problems((NAME, PORT, MODE, FLAG), values, "settings") == problems


OAUTH = CredentialVariant(
    "oauth",
    "OAuth",
    (
        FieldSpec("oauth.clientId", "Client", required=True),
        FieldSpec("oauth.secret", "Secret", kind="secret"),
    ),
)
KEY = CredentialVariant("key", "Key", (FieldSpec("key", "Key", kind="json", required=True),))
TWO_WAYS = SourceTypeDeclaration("Two ways", (KEY, OAUTH))


def test_dotted_keys_become_nested_required_objects_in_the_schema() -> None:
    schema = object_schema(OAUTH.fields)
    assert schema["required"] == ["oauth"]
    nested = schema["properties"]["oauth"]
    assert nested["required"] == ["clientId"]
    assert nested["properties"]["secret"] == {
        "type": "string",
        "title": "Secret",
        "writeOnly": True,
        "format": "password",
    }


def test_credentials_are_checked_against_the_variant_they_follow() -> None:
    assert chosen_variant(TWO_WAYS, {"oauth": {"clientId": "c"}}) is OAUTH
    assert chosen_variant(TWO_WAYS, {}) is KEY
    assert chosen_variant(TWO_WAYS, {"oauth": {"secret": "s"}}) is OAUTH
    assert chosen_variant(TWO_WAYS, {"key": {}, "oauth": {"clientId": "c", "secret": "s"}}) is OAUTH
    assert credentials_problems(TWO_WAYS, {"oauth": {"clientId": "c"}}) == []
    assert credentials_problems(TWO_WAYS, {"key": "text"}) == [
        Problem("credentials.key", "must be a JSON object")
    ]
