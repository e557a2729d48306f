"""Source types by name, loaded lazily from the `datasync.connectors` entry-point group.

Built-in connectors are declared in this project's own pyproject.toml the same way a
third-party package would declare one, so the engine and the API never import a concrete
connector and a new source type needs no change to `app/`.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from connectors.base import Connector
from connectors.declaration import FieldSpec, SourceTypeDeclaration

ENTRY_POINT_GROUP = "datasync.connectors"


class UnknownSourceType(LookupError):
    def __init__(self, type_name: str) -> None:
        super().__init__(
            f"unknown data source type {type_name!r}; known types: {', '.join(source_types())}"
        )
        self.type_name = type_name


class UnavailableSourceType(LookupError):
    """Registered, but its module cannot be loaded (a missing optional dependency, a broken
    plugin)."""

    def __init__(self, type_name: str, reason: str) -> None:
        super().__init__(
            f"data source type {type_name!r} is not available on this server: {reason}"
        )
        self.type_name = type_name


@cache
def _entry_points() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def source_types() -> list[str]:
    """Every registered type name, sorted."""
    return sorted(_entry_points())


@cache
def connector_class(type_name: str) -> type[Connector]:
    """The connector class registered for `type_name`, imported on first use."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == type_name:
            try:
                cls: type[Connector] = ep.load()
            # A plugin that fails to load, for whatever reason, must not take the service
            # down with it: its type is listed as unavailable, with the reason.
            except Exception as exc:
                raise UnavailableSourceType(type_name, str(exc) or type(exc).__name__) from None
            return cls
    raise UnknownSourceType(type_name)


def declaration_of(cls: type[Connector]) -> SourceTypeDeclaration:
    """What `cls` declares it asks for; for a connector that declares nothing, its type
    name, credentials as one JSON object and its selection keys as text fields."""
    declared = getattr(cls, "declaration", None)
    if isinstance(declared, SourceTypeDeclaration):
        return declared
    return SourceTypeDeclaration(
        display_name=cls.type_name,
        credential_variants=(),
        selection=tuple(
            FieldSpec(key, key, required=key in cls.required_selection_keys)
            for key in sorted(cls.selection_keys)
        ),
    )
