"""What a source type asks for, declared as data: the one description the API serves (JSON
Schema plus hints for forms), checks inputs against, and the dashboard builds its forms from.

A declaration covers the shape of an input: which fields exist, their labels and help, which
are secret or required, their JSON type, bounds and allowed values. It does not replace a
connector's own checks of meaning (an A1 range, a read-only query, a host the network policy
refuses): `validate_credentials` / `validate_selection` keep those.

Keys may be dotted (`oauth.clientId`): the value sits in a nested object, the way the
connector reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from connectors.base import Problem

FieldKind = Literal[
    "text", "secret", "multiline", "query", "integer", "number", "boolean", "url", "json", "choice"
]
Scalar = str | int | float | bool

_JSON_TYPES: dict[str, str] = {
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "json": "object",
}


@dataclass(frozen=True, slots=True)
class Choice:
    value: Scalar
    label: str


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One input. `kind` decides the JSON type and the control: `secret` is a password
    input never shown again, `query` a multi-line SQL editor, `json` an object pasted as
    text, `choice` one of `choices` (for a boolean, choices make a tri-state select)."""

    key: str
    label: str
    kind: FieldKind = "text"
    help: str = ""
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    default: Scalar | None = None
    choices: tuple[Choice, ...] = ()
    placeholder: str = ""
    advanced: bool = False

    @property
    def secret(self) -> bool:
        return self.kind == "secret"

    @property
    def json_type(self) -> str:
        if self.kind == "choice" and self.choices:
            return _value_type(self.choices[0].value)
        return _JSON_TYPES.get(self.kind, "string")


def _value_type(value: Scalar) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return "number" if isinstance(value, float) else "string"


@dataclass(frozen=True, slots=True)
class CredentialVariant:
    """One way to sign in (a service account key or an OAuth refresh token, fields or a
    connection string); a data source's credentials follow exactly one."""

    key: str
    label: str
    fields: tuple[FieldSpec, ...]
    help: str = ""


@dataclass(frozen=True, slots=True)
class SourceTypeDeclaration:
    """`settings` belong to the data source and are defaults for every schedule;
    no `credential_variants` means credentials are a JSON object the form cannot describe;
    `selection` is what a schedule reads. `endpoint_hosts` are the vendor hosts the
    type's endpoint overrides may name without the operator's ENDPOINT_ALLOWLIST."""

    display_name: str
    credential_variants: tuple[CredentialVariant, ...]
    settings: tuple[FieldSpec, ...] = ()
    selection: tuple[FieldSpec, ...] = ()
    endpoint_hosts: frozenset[str] = frozenset()


# --- JSON Schema --------------------------------------------------------------------------


def field_schema(spec: FieldSpec) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": spec.json_type, "title": spec.label}
    if spec.help:
        schema["description"] = spec.help
    if spec.secret:
        schema["writeOnly"] = True
        schema["format"] = "password"
    if spec.kind == "url":
        schema["format"] = "uri"
    if spec.minimum is not None:
        schema["minimum"] = spec.minimum
    if spec.maximum is not None:
        schema["maximum"] = spec.maximum
    if spec.default is not None:
        schema["default"] = spec.default
    if spec.choices:
        schema["enum"] = [choice.value for choice in spec.choices]
    return schema


def object_schema(fields: Iterable[FieldSpec]) -> dict[str, Any]:
    """A JSON Schema object for `fields`, dotted keys as nested objects (a nested object
    holding a required field is itself required). Unknown keys are allowed: connectors
    accept options the forms do not show."""
    root: dict[str, Any] = {"type": "object", "properties": {}}
    for spec in fields:
        *parents, name = spec.key.split(".")
        node = root
        for parent in parents:
            if spec.required and parent not in node.get("required", []):
                node.setdefault("required", []).append(parent)
            node = node["properties"].setdefault(parent, {"type": "object", "properties": {}})
        node["properties"][name] = field_schema(spec)
        if spec.required:
            node.setdefault("required", []).append(name)
    return root


def credentials_schema(declaration: SourceTypeDeclaration) -> dict[str, Any]:
    variants = [
        object_schema(variant.fields) | {"title": variant.label}
        for variant in declaration.credential_variants
    ]
    return variants[0] if len(variants) == 1 else {"oneOf": variants}


# --- checks -------------------------------------------------------------------------------


def value_at(values: Mapping[str, Any], key: str) -> Any:
    """The value under a dotted key, or None when any step is missing."""
    current: Any = values
    for part in key.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def value_problem(spec: FieldSpec, value: Any) -> str | None:
    """Why `value` does not fit `spec`'s type, bounds or choices, or None."""
    kind = spec.json_type
    if kind == "boolean":
        if not isinstance(value, bool):
            return "must be true or false"
    elif kind in ("integer", "number"):
        whole = kind == "integer"
        is_number = isinstance(value, int if whole else (int, float)) and not isinstance(
            value, bool
        )
        low, high = spec.minimum, spec.maximum
        if (
            not is_number
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            return _number_rule(whole, low, high)
    elif kind == "object":
        if not isinstance(value, Mapping):
            return "must be a JSON object"
    elif not isinstance(value, str):
        return "must be text"
    if spec.choices and value not in [choice.value for choice in spec.choices]:
        return "must be one of: " + ", ".join(str(choice.value) for choice in spec.choices)
    return None


def _number_rule(whole: bool, low: float | None, high: float | None) -> str:
    noun = "a whole number" if whole else "a number"
    if low is not None and high is not None:
        return f"must be {noun} from {_plain(low)} to {_plain(high)}"
    if low is not None:
        return f"must be {noun} of at least {_plain(low)}"
    if high is not None:
        return f"must be {noun} of at most {_plain(high)}"
    return f"must be {noun}"


def _plain(bound: float) -> str:
    return f"{int(bound):,}" if float(bound).is_integer() else str(bound)


def field_problems(
    fields: Iterable[FieldSpec],
    values: Mapping[str, Any],
    prefix: str,
    missing: str = "is required",
) -> list[Problem]:
    """Presence, type, bounds and choices of `values` against `fields`, each Problem named
    `prefix.key` (`missing` is the message for a required field left out). Keys no field
    declares are left to the connector."""
    problems = []
    for spec in fields:
        value = value_at(values, spec.key)
        if value is None or value == "":
            if spec.required:
                problems.append(Problem(f"{prefix}.{spec.key}", missing))
            continue
        problem = value_problem(spec, value)
        if problem:
            problems.append(Problem(f"{prefix}.{spec.key}", problem))
    return problems


def chosen_variant(
    declaration: SourceTypeDeclaration, credentials: Mapping[str, Any]
) -> CredentialVariant:
    """The variant `credentials` follow: the one with most of its fields present, so that an
    OAuth login missing its refresh token is still read as OAuth; the first on a tie (a field
    every variant has adds to each alike)."""

    def fields_present(variant: CredentialVariant) -> int:
        return sum(
            1 for spec in variant.fields if value_at(credentials, spec.key) not in (None, "")
        )

    return max(declaration.credential_variants, key=fields_present)


def credentials_problems(
    declaration: SourceTypeDeclaration, credentials: Mapping[str, Any]
) -> list[Problem]:
    if not declaration.credential_variants:
        return []
    variant = chosen_variant(declaration, credentials)
    return field_problems(variant.fields, credentials, "credentials")


def with_connector_problems(declared: list[Problem], own: list[Problem]) -> list[Problem]:
    """The declaration's problems and the connector's own checks of meaning, one per field:
    where both name a field, or one names a part of the other (`credentials` and
    `credentials.serviceAccountInfo`), the connector's words stand, being the more specific
    ("is required: the sheet's exact title")."""
    return [p for p in declared if not any(_related(p.field, o.field) for o in own)] + own


def _related(field: str, other: str) -> bool:
    return field == other or field.startswith(other + ".") or other.startswith(field + ".")
