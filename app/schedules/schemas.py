from __future__ import annotations

from typing import Any

import msgspec

from app.schema import CamelStruct


class ScheduleCreate(CamelStruct):
    name: str
    data_source_id: str
    target_file_id: str
    frequency: str
    enabled: bool = True
    config: dict[str, Any] = msgspec.field(default_factory=dict)


class ScheduleUpdate(CamelStruct):
    """Partial update: omitted fields keep their values; `config` is merged key by key
    (a key set to null is removed)."""

    name: str | None = None
    data_source_id: str | None = None
    target_file_id: str | None = None
    frequency: str | None = None
    enabled: bool | None = None
    config: dict[str, Any] | None = None


class ScheduleOut(CamelStruct):
    id: str
    name: str
    data_source_id: str
    data_source_type: str
    data_source_name: str
    target_file_id: str
    target_file_name: str
    frequency: str
    enabled: bool
    config: dict[str, Any]
    last_sync_at: str | None
    next_sync_at: str | None
    last_sync_status: str | None
    last_sync_row_count: int | None
    last_sync_error: str | None
    last_sync_duration: str | None
    last_sync_duration_ms: int | None
    created_at: str
    updated_at: str
