from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from app.db.models import RunStatus, Trigger
from app.schema import CamelStruct, Pagination


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
    status: RunStatus
    trigger: Trigger
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
    ready_at: Annotated[
        str | None,
        msgspec.Meta(description="A queued run: when it may start (a retry waits for its backoff)"),
    ] = None
    progress: Progress | None = None
    fetch_skipped: Annotated[
        bool,
        msgspec.Meta(
            description="The source reported no change since the fetch behind the current "
            "file, so nothing was fetched: changes are all 0 and rowCount is the current "
            "file's (config.changeDetection)"
        ),
    ] = False
    change_detection: Annotated[
        str | None,
        msgspec.Meta(
            description="Why change detection did not decide this run, when the source "
            'refused its metadata request (e.g. "skipped: the service account lacks '
            'drive.metadata.readonly"); the run fetched as usual'
        ),
    ] = None


class SyncResult(CamelStruct):
    """The page's `syncResult`, plus runId, durationMs and fileVersion."""

    schedule_id: str
    run_id: str
    status: Annotated[
        RunStatus,
        msgspec.Meta(description="running (also while queued), success or error"),
    ]
    row_count: int | None
    column_count: int | None
    duration: str | None
    duration_ms: int | None
    synced_at: str | None
    changes: Changes | None
    file_version: int | None
    fetch_skipped: Annotated[
        bool,
        msgspec.Meta(description="Nothing was fetched: the source reported no change"),
    ] = False


class SyncCompleted(CamelStruct):
    """A manual sync that finished within the wait, or one still going (then with `runId`)."""

    success: Literal[True]
    sync_result: SyncResult
    message: str
    run_id: str | msgspec.UnsetType = msgspec.UNSET


class History(CamelStruct):
    success: Literal[True]
    history: list[RunOut]
    total_count: int
    pagination: Pagination


class RunList(CamelStruct):
    success: Literal[True]
    runs: list[RunOut]
    total_count: int
    pagination: Pagination


class RunDetail(CamelStruct):
    success: Literal[True]
    run: RunOut
