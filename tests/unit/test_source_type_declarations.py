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
    credentials_schema,
    field_problems,
    field_schema,
    object_schema,
    value_at,
    value_problem,
    with_connector_problems,
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


@pytest.mark.parametrize(
    ("spec", "schema"),
    [
        (
            FieldSpec("password", "Password", kind="secret", help="Never shown again"),
            {
                "type": "string",
                "title": "Password",
                "description": "Never shown again",
                "writeOnly": True,
                "format": "password",
            },
        ),
        (
            FieldSpec("tokenUri", "Token endpoint", kind="url"),
            {"type": "string", "title": "Token endpoint", "format": "uri"},
        ),
        (
            FieldSpec("port", "Port", kind="integer", minimum=1, maximum=65535, default=5432),
            {"type": "integer", "title": "Port", "minimum": 1, "maximum": 65535, "default": 5432},
        ),
        (
            FieldSpec("ratio", "Ratio", kind="number", minimum=0.5),
            {"type": "number", "title": "Ratio", "minimum": 0.5},
        ),
        (FieldSpec("key", "Key", kind="json"), {"type": "object", "title": "Key"}),
        (FieldSpec("on", "On", kind="boolean"), {"type": "boolean", "title": "On"}),
        (FieldSpec("q", "Query", kind="query"), {"type": "string", "title": "Query"}),
        (
            FieldSpec(
                "level", "Level", kind="choice", choices=(Choice(1, "One"), Choice(2, "Two"))
            ),
            {"type": "integer", "title": "Level", "enum": [1, 2]},
        ),
        (
            FieldSpec("scale", "Scale", kind="choice", choices=(Choice(0.5, "Half"),)),
            {"type": "number", "title": "Scale", "enum": [0.5]},
        ),
        (
            FieldSpec(
                "tls", "TLS", kind="choice", choices=(Choice(True, "Yes"), Choice(False, "No"))
            ),
            {"type": "boolean", "title": "TLS", "enum": [True, False]},
        ),
        (
            FieldSpec("mode", "Mode", kind="choice", choices=(Choice("a", "A"),), default="a"),
            {"type": "string", "title": "Mode", "default": "a", "enum": ["a"]},
        ),
        (FieldSpec("empty", "Empty", kind="choice"), {"type": "string", "title": "Empty"}),
    ],
)
def test_each_field_is_described_as_json_schema(spec: FieldSpec, schema: dict[str, Any]) -> None:
    assert field_schema(spec) == schema


def test_a_field_is_secret_only_when_its_kind_is_secret() -> None:
    assert FieldSpec("p", "P", kind="secret").secret
    assert not FieldSpec("p", "P", kind="text").secret


def test_an_object_schema_nests_dotted_keys_and_lists_required_ones_in_order() -> None:
    schema = object_schema(
        (
            FieldSpec("server", "Server", required=True),
            FieldSpec("tls.mode", "Mode"),
            FieldSpec("user", "User", required=True),
            FieldSpec("tls.ca", "CA", required=True),
            FieldSpec("tls.cert", "Cert", required=True),
        )
    )
    assert schema["type"] == "object"
    assert schema["required"] == ["server", "user", "tls"]
    assert list(schema["properties"]) == ["server", "tls", "user"]
    assert schema["properties"]["tls"] == {
        "type": "object",
        "properties": {
            "mode": {"type": "string", "title": "Mode"},
            "ca": {"type": "string", "title": "CA"},
            "cert": {"type": "string", "title": "Cert"},
        },
        "required": ["ca", "cert"],
    }
    assert object_schema(()) == {"type": "object", "properties": {}}
    assert "required" not in object_schema((FieldSpec("a.b", "B"),))


def test_credentials_with_one_way_to_sign_in_are_one_object_and_several_a_one_of() -> None:
    single = SourceTypeDeclaration("One", (KEY,))
    assert credentials_schema(single) == object_schema(KEY.fields) | {"title": "Key"}
    assert credentials_schema(TWO_WAYS) == {
        "oneOf": [
            object_schema(KEY.fields) | {"title": "Key"},
            object_schema(OAUTH.fields) | {"title": "OAuth"},
        ]
    }


@pytest.mark.parametrize(
    ("spec", "value", "problem"),
    [
        (FieldSpec("n", "N", kind="integer"), 3, None),
        (FieldSpec("n", "N", kind="integer"), 3.0, "must be a whole number"),
        (FieldSpec("n", "N", kind="integer"), False, "must be a whole number"),
        (FieldSpec("n", "N", kind="number"), 3, None),
        (FieldSpec("n", "N", kind="number"), 2.5, None),
        (FieldSpec("n", "N", kind="number"), True, "must be a number"),
        (FieldSpec("n", "N", kind="number"), "2", "must be a number"),
        (
            FieldSpec("n", "N", kind="integer", minimum=1000),
            999,
            "must be a whole number of at least 1,000",
        ),
        (FieldSpec("n", "N", kind="integer", minimum=1000), 1000, None),
        (
            FieldSpec("n", "N", kind="integer", maximum=10),
            11,
            "must be a whole number of at most 10",
        ),
        (FieldSpec("n", "N", kind="integer", maximum=10), 10, None),
        (
            FieldSpec("n", "N", kind="number", minimum=0.5, maximum=2),
            0.25,
            "must be a number from 0.5 to 2",
        ),
        (FieldSpec("n", "N", kind="number", minimum=0.5, maximum=2), 2.0, None),
        (FieldSpec("o", "O", kind="json"), {}, None),
        (FieldSpec("o", "O", kind="json"), [], "must be a JSON object"),
        (FieldSpec("b", "B", kind="boolean"), 0, "must be true or false"),
        (FieldSpec("t", "T", kind="secret"), "s", None),
        (FieldSpec("t", "T", kind="query"), ["SELECT 1"], "must be text"),
        (FieldSpec("l", "L", kind="choice", choices=(Choice(1, "One"), Choice(2, "Two"))), 2, None),
        (
            FieldSpec("l", "L", kind="choice", choices=(Choice(1, "One"), Choice(2, "Two"))),
            3,
            "must be one of: 1, 2",
        ),
        (
            FieldSpec("l", "L", kind="choice", choices=(Choice(1, "One"),)),
            "1",
            "must be a whole number",
        ),
    ],
)
def test_a_value_is_checked_against_its_fields_type_bounds_and_choices(
    spec: FieldSpec, value: Any, problem: str | None
) -> None:
    assert value_problem(spec, value) == problem


def test_a_missing_required_field_can_be_explained_in_the_callers_words() -> None:
    assert field_problems((NAME,), {}, "config", missing="required here or there") == [
        Problem("config.name", "required here or there")
    ]


def test_dotted_values_are_read_from_nested_objects() -> None:
    values = {"oauth": {"clientId": "c"}, "flat": "f"}
    assert value_at(values, "oauth.clientId") == "c"
    assert value_at(values, "flat") == "f"
    assert value_at(values, "flat.deeper") is None
    assert value_at(values, "oauth.secret") is None


def test_the_connectors_words_stand_where_both_name_a_field_or_a_part_of_it() -> None:
    declared = [
        Problem("credentials.port", "must be a whole number"),
        Problem("credentials.portal", "is required"),
        Problem("credentials.oauth.clientId", "is required"),
        Problem("settings", "must be an object"),
        Problem("config.range", "must be text"),
    ]
    own = [
        Problem("credentials.port", "must be an integer from 1 to 65535"),
        Problem("credentials.oauth", "must be {clientId, clientSecret, refreshToken}"),
        Problem("settings.driver", "unknown driver"),
    ]
    assert with_connector_problems(declared, own) == [
        Problem("credentials.portal", "is required"),
        Problem("config.range", "must be text"),
        *own,
    ]


def test_the_variant_is_the_one_with_most_of_its_own_fields_filled_in() -> None:
    shared = FieldSpec("tenantId", "Tenant", required=True)
    secret = CredentialVariant("secret", "Secret", (shared, FieldSpec("clientSecret", "S")))
    token = CredentialVariant(
        "token", "Token", (shared, FieldSpec("refreshToken", "R"), FieldSpec("scope", "Scope"))
    )
    tenant = SourceTypeDeclaration("Tenant", (secret, token))
    # The field every variant has decides nothing, nor does an empty one.
    assert chosen_variant(tenant, {"tenantId": "t"}) is secret
    assert chosen_variant(tenant, {"tenantId": "t", "refreshToken": ""}) is secret
    assert chosen_variant(tenant, {"tenantId": "t", "refreshToken": "r"}) is token
    assert chosen_variant(tenant, {"clientSecret": "s", "refreshToken": "r"}) is secret
    assert chosen_variant(tenant, {"clientSecret": "s", "refreshToken": "r", "scope": "x"}) is token
    assert credentials_problems(SourceTypeDeclaration("Bare", ()), {"any": 1}) == []
