"""The SQL store: the source of truth for users, sources, files, schedules and runs.

Redis only carries jobs; losing it loses no schedule and no history.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class RunStatus(StrEnum):
    """A run's life: queued until a worker starts it, then running, then success or error."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"


class Trigger(StrEnum):
    """What created a run: its schedule's slot, a person's "Sync now", or a failed run."""

    SCHEDULE = "schedule"
    MANUAL = "manual"
    RETRY = "retry"


class DeliveryStatus(StrEnum):
    """A webhook delivery attempt: pending until it is sent, then success or failed, or
    cancelled when its webhook was disabled before it went out."""

    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: DateTimeUTC(timezone=True), dict[str, Any]: JSON}


class Timestamped:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class User(Timestamped, Base):
    __tablename__ = "users"
    # One admin: the account the first-user registration policy let in. The partial unique
    # index settles two registrations racing on an empty store.
    __table_args__ = (
        Index(
            "uq_users_single_admin",
            "is_admin",
            unique=True,
            sqlite_where=text("is_admin"),
            postgresql_where=text("is_admin"),
        ),
    )

    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    # `sub` of a host-app JWT; such users never log in here.
    external_id: Mapped[str | None] = mapped_column(String(300), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # In every session token; a password change bumps it, which ends every older session.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RevokedToken(Base):
    """A session token ended before its expiry (logout). Kept until it would have expired."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ApiKey(Timestamped, Base):
    __tablename__ = "api_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(20))
    last_used_at: Mapped[datetime | None]
    # The scopes the key is limited to (app/auth/scopes.py); None: full access.
    scopes: Mapped[list[str] | None] = mapped_column(JSON)


class ApiClient(Timestamped, Base):
    """An OAuth client (client credentials grant): its id is `id`, its secret is stored
    only as a hash, and the tokens it gets carry at most `scopes`."""

    __tablename__ = "api_clients"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)


class DataSource(Timestamped, Base):
    __tablename__ = "data_sources"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(50))
    credentials_encrypted: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The daily credentials check (app/sources/credential_health.py): ok, expiring, failed,
    # or NULL while never checked. A worker claims a due check by moving
    # `credential_check_due_at` on (compare-and-set), so one check runs per source per day
    # across workers; NULL means due now (never checked, or new credentials).
    credential_status: Mapped[str | None] = mapped_column(String(16))
    credential_message: Mapped[str | None] = mapped_column(Text)
    credential_checked_at: Mapped[datetime | None] = mapped_column()
    credential_expires_at: Mapped[datetime | None] = mapped_column()
    credential_check_due_at: Mapped[datetime | None] = mapped_column(index=True)


class TargetFile(Timestamped, Base):
    __tablename__ = "target_files"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    delimiter: Mapped[str] = mapped_column(String(1), default=",")
    encoding: Mapped[str] = mapped_column(String(20), default="utf-8")
    header: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    column_count: Mapped[int] = mapped_column(Integer, default=0)
    checksum: Mapped[str | None] = mapped_column(String(64))
    # Prefix text cells that would start a spreadsheet formula with "'"; None: as the source
    # type suggests (on for spreadsheets, off for databases).
    escape_formulas: Mapped[bool | None] = mapped_column(Boolean)
    # Change detection (app/sync/change_detection.py): the source's change marker read
    # before the fetch the current version came from, by which schedule and under which
    # settings (a fingerprint), and when that full fetch started. None when the last
    # publication had no marker.
    change_marker: Mapped[str | None] = mapped_column(String(200))
    change_fingerprint: Mapped[str | None] = mapped_column(String(64))
    change_schedule_id: Mapped[uuid.UUID | None]
    fully_fetched_at: Mapped[datetime | None]

    versions: Mapped[list[FileVersion]] = relationship(
        back_populates="file", cascade="all, delete-orphan", passive_deletes=True
    )


class FileVersion(Base):
    __tablename__ = "file_versions"
    __table_args__ = (UniqueConstraint("file_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    file_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("target_files.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    row_count: Mapped[int] = mapped_column(BigInteger)
    column_count: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The stem of the version's object keys; NULL for versions published before 0008, whose
    # objects are `v{version}.*` (app/sync/csv_store.py `stored_stem`).
    object_stem: Mapped[str | None] = mapped_column(String(80))

    file: Mapped[TargetFile] = relationship(back_populates="versions")


class Schedule(Timestamped, Base):
    __tablename__ = "schedules"
    __table_args__ = (Index("ix_schedules_due", "enabled", "next_sync_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    data_source_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("data_sources.id"), index=True)
    target_file_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("target_files.id"), index=True)
    frequency: Mapped[str] = mapped_column(String(10))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    next_sync_at: Mapped[datetime | None]
    last_sync_at: Mapped[datetime | None]
    last_sync_status: Mapped[str | None] = mapped_column(String(10))
    last_sync_row_count: Mapped[int | None] = mapped_column(BigInteger)
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    last_sync_duration_ms: Mapped[int | None] = mapped_column(BigInteger)

    data_source: Mapped[DataSource] = relationship(lazy="joined")
    target_file: Mapped[TargetFile] = relationship(lazy="joined")


class SyncRun(Base):
    __tablename__ = "sync_runs"
    __table_args__ = (
        # One run per scheduled slot, whatever the number of schedulers racing to claim it.
        UniqueConstraint("schedule_id", "slot_at", "attempt", name="uq_sync_runs_slot"),
        Index("ix_sync_runs_schedule_started", "schedule_id", "created_at"),
        Index("ix_sync_runs_user_created", "user_id", "created_at"),
        # Per-user admission counts a user's running runs and queued runs in `ready_at` order.
        Index("ix_sync_runs_user_status_ready", "user_id", "status", "ready_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(10))  # a Trigger
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    slot_at: Mapped[datetime | None]
    force: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default=RunStatus.QUEUED)
    phase: Mapped[str] = mapped_column(String(10), default="queued")
    rows_fetched: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the run may start: its creation, or for a retry the end of its backoff. A user's
    # runs start in this order (app/sync/admission.py).
    ready_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When it first found its user's slots taken; None if it never waited.
    waiting_since: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    column_count: Mapped[int | None] = mapped_column(Integer)
    added: Mapped[int | None] = mapped_column(BigInteger)
    updated: Mapped[int | None] = mapped_column(BigInteger)
    deleted: Mapped[int | None] = mapped_column(BigInteger)
    columns_added: Mapped[list[str] | None] = mapped_column(JSON)
    columns_removed: Mapped[list[str] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    retry_at: Mapped[datetime | None]
    file_version: Mapped[int | None] = mapped_column(Integer)
    bytes_written: Mapped[int | None] = mapped_column(BigInteger)
    data_source_type: Mapped[str] = mapped_column(String(50))
    # The source's change marker matched the current file's: nothing was fetched.
    fetch_skipped: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Why change detection did not decide this run, when the source refused to say.
    change_detection: Mapped[str | None] = mapped_column(Text)


class Webhook(Timestamped, Base):
    __tablename__ = "webhooks"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Only events of these schedules; None means every schedule of the user.
    schedule_ids: Mapped[list[str] | None] = mapped_column(JSON)


class WebhookDelivery(Base):
    """One attempt to deliver one event to one webhook; retries are further rows with the
    same `event_id` and a higher `attempt`."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", "attempt", name="uq_webhook_deliveries_attempt"),
        Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(30))
    payload: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(10), default=DeliveryStatus.PENDING)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
