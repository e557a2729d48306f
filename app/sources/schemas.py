from __future__ import annotations

from typing import Any

import msgspec

from app.schema import CamelStruct


class DataSourceCreate(CamelStruct):
    name: str
    type: str
    credentials: dict[str, Any]
    settings: dict[str, Any] = msgspec.field(default_factory=dict)


class DataSourceUpdate(CamelStruct):
    name: str | None = None
    credentials: dict[str, Any] | None = None
    # Merged key by key; a key set to null is removed.
    settings: dict[str, Any] | None = None


class DataSourceOut(CamelStruct):
    id: str
    name: str
    type: str
    settings: dict[str, Any]
    has_credentials: bool
    created_at: str
    updated_at: str
