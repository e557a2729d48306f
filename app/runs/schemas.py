from __future__ import annotations

from app.schema import CamelStruct


class Changes(CamelStruct, omit_defaults=True):
    added: int
    updated: int
    deleted: int
    columns_added: list[str] | None = None
    columns_removed: list[str] | None = None


class Progress(CamelStruct):
    rows_fetched: int
    phase: str


class RunOut(CamelStruct):
    """A history entry: the reference page's fields plus trigger, attempt, fileVersion."""

    id: str
    schedule_id: str
    status: str
    trigger: str
    attempt: int
    data_source_type: str
    started_at: str | None
    completed_at: str | None
    duration: str | None
    duration_ms: int | None
    row_count: int | None
    column_count: int | None
    changes: Changes | None
    error: str | None
    retry_after: str | None
    file_version: int | None
    bytes_written: int | None
    created_at: str
    progress: Progress | None = None


class SyncResult(CamelStruct):
    """The page's `syncResult`, plus runId, durationMs and fileVersion."""

    schedule_id: str
    run_id: str
    status: str
    row_count: int | None
    column_count: int | None
    duration: str | None
    duration_ms: int | None
    synced_at: str | None
    changes: Changes | None
    file_version: int | None
