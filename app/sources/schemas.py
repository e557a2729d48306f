from __future__ import annotations

from typing import Any

import msgspec

from app.schema import CamelStruct


# `settings` is checked by the service, not typed here: the app also has a dependency named
# `settings`, and Litestar reports a body field that shares a dependency's name as a server
# error (500) instead of a 400 when it fails validation.


class DataSourceCreate(CamelStruct):
    name: str
    type: str
    credentials: dict[str, Any]
    settings: Any = msgspec.field(default_factory=dict)


class DataSourceUpdate(CamelStruct):
    name: str | None = None
    credentials: dict[str, Any] | None = None
    # Merged key by key; a key set to null is removed.
    settings: Any = None


class DataSourceOut(CamelStruct):
    id: str
    name: str
    type: str
    settings: dict[str, Any]
    has_credentials: bool
    created_at: str
    updated_at: str
