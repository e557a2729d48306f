"""What one sync run carries through the engine: the services it uses, its inputs as read
from the store, its progress, and the ways it can stop short of success."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.settings import Settings
from app.sync.change_detection import Options, StoredMarker
from app.sync.csv_store import CsvStore
from app.sync.file_lock import TargetFileLock
from app.sync.snapshot import CsvFormat
from connectors.base import JSON, TransientError


@dataclass(slots=True)
class EngineContext:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    queue: ArqRedis
    store: CsvStore


class Progress:
    """Written by the fetching thread, read by the heartbeat on the event loop."""

    def __init__(self) -> None:
        self.rows_fetched = 0
        self.phase = "fetching"
        self.file_lock: TargetFileLock | None = None  # renewed with each heartbeat

    def rows(self, count: int) -> None:
        self.rows_fetched = count

    def enter(self, phase: str) -> None:
        self.phase = phase


class SafetyHold(Exception):
    """The new data looks like an accident (empty, or far fewer rows); the file is kept."""


class RunInterrupted(TransientError):
    """The run's worker stopped or died. The source is not at fault, so the retry starts at
    once rather than after a backoff."""


@dataclass(frozen=True, slots=True)
class RunInputs:
    """Everything the blocking part needs, read from the store before it starts."""

    run_id: uuid.UUID
    schedule_id: uuid.UUID
    data_source_id: uuid.UUID
    file_id: uuid.UUID
    source_type: str
    credentials: JSON
    source_settings: JSON
    selection: JSON
    fmt: CsvFormat
    file_version: int
    file_checksum: str
    file_rows: int
    force: bool
    max_drop_percent: float
    # Change detection (app/sync/change_detection.py): the schedule's options, what the
    # target file holds about the fetch it came from, and this run's settings fingerprint.
    change_options: Options = field(default_factory=Options)
    stored_marker: StoredMarker = field(default_factory=StoredMarker)
    fingerprint: str = ""
