"""A run's rows in the store: claiming it, reading its inputs, its heartbeat, and ending it
as a success (with its file's new version) or as an error (with its retry).

Every change to a run's row is a compare-and-set on `status = 'running'`, so a run that the
recovery tick failed as dead, or that was deleted, is never overwritten by its late worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.credential_vault import CredentialsUnreadable, CredentialVault
from app.db.models import (
    DataSource,
    FileVersion,
    RunStatus,
    Schedule,
    SyncRun,
    TargetFile,
    Trigger,
    utcnow,
)
from app.scheduling import next_slot_after, parse_cadence
from app.selection import merged_selection
from app.sync import change_detection
from app.sync.admission import Outcome, claim_run
from app.sync.csv_store import stored_stem
from app.sync.retry_plan import next_attempt_at
from app.sync.run_context import EngineContext, Progress, RunInputs
from app.sync.snapshot import CsvFormat, StagedSnapshot
from connectors.base import JSON, ConnectorError, TransientError
from connectors.registry import connector_class

log = logging.getLogger("datasync.sync")

# A run's heartbeat: its row's `heartbeat_at` and the renewal of its file lock. A run whose
# heartbeat is older than admission.STALE_AFTER lost its worker.
HEARTBEAT_SECONDS = 2.0


async def claim(ctx: EngineContext, run_id: uuid.UUID) -> uuid.UUID | None:
    """queued → running, once and in the user's turn; returns the run's user if claimed.

    A second delivery of the same job finds nothing to claim; a run that must wait for its
    user's turn stays queued and is woken later."""
    async with ctx.sessions() as db:
        claimed = await claim_run(db, run_id, ctx.settings.max_concurrent_runs_per_user)
        if claimed.outcome is Outcome.GONE:
            log.info(
                "run already claimed or gone; duplicate delivery ignored",
                extra={"run_id": str(run_id)},
            )
            return None
        if claimed.outcome is Outcome.STARTED:
            await db.execute(
                update(Schedule)
                .where(Schedule.id == claimed.schedule_id)
                .values(last_sync_status=RunStatus.RUNNING)
            )
        await db.commit()
    if claimed.outcome is not Outcome.STARTED:
        return None
    return claimed.user_id


async def load_inputs(ctx: EngineContext, run_id: uuid.UUID) -> RunInputs:
    async with ctx.sessions() as db:
        run = await db.get(SyncRun, run_id)
        schedule = await db.get(Schedule, run.schedule_id) if run else None
        if run is None or schedule is None:
            raise ConnectorError("the schedule was deleted")
        source: DataSource = schedule.data_source
        file: TargetFile = schedule.target_file
    try:
        credentials = CredentialVault(ctx.settings.secret_key).open(source.credentials_encrypted)
    except CredentialsUnreadable as exc:
        raise ConnectorError(str(exc)) from None
    config = dict(schedule.config)
    try:
        connector = connector_class(source.type)
    except LookupError as missing:  # the source type's plugin was uninstalled
        raise ConnectorError(str(missing)) from None
    selection_keys = connector.selection_keys
    escape_formulas = file.escape_formulas
    if escape_formulas is None:
        escape_formulas = bool(getattr(connector, "escapes_formulas_by_default", False))
    selection = merged_selection(source.settings, config, selection_keys)
    fmt = CsvFormat(file.delimiter, file.encoding, file.header, escape_formulas)
    return RunInputs(
        run_id=run.id,
        schedule_id=schedule.id,
        data_source_id=source.id,
        file_id=file.id,
        source_type=source.type,
        credentials=credentials,
        source_settings=dict(source.settings),
        selection=selection,
        fmt=fmt,
        file_version=file.version,
        file_checksum=file.checksum or "",
        file_rows=file.row_count,
        force=run.force,
        max_drop_percent=float(config.get("maxRowDropPercent", 50)),
        change_options=change_detection.Options.of(config),
        stored_marker=change_detection.StoredMarker(
            marker=file.change_marker,
            fingerprint=file.change_fingerprint,
            schedule_id=file.change_schedule_id,
            fully_fetched_at=file.fully_fetched_at,
        ),
        fingerprint=change_detection.fingerprint(
            source.id, source.type, dict(source.settings), selection, fmt
        ),
    )


async def save_rotated_credentials(
    ctx: EngineContext, source_id: uuid.UUID, credentials: JSON
) -> None:
    """Sources that rotate credentials on use (Microsoft refresh tokens) hand the new ones
    back through the connector environment; they are sealed and stored."""
    sealed = CredentialVault(ctx.settings.secret_key).seal(credentials)
    async with ctx.sessions() as db:
        await db.execute(
            update(DataSource)
            .where(DataSource.id == source_id)
            .values(credentials_encrypted=sealed)
        )
        await db.commit()


async def keep_heartbeat(ctx: EngineContext, run_id: uuid.UUID, progress: Progress) -> None:
    """Never ends by itself: a heartbeat that died with one error would let the run be taken
    for dead (and retried) while it is still running."""
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        try:
            async with ctx.sessions() as db:
                await db.execute(
                    update(SyncRun)
                    .where(SyncRun.id == run_id, SyncRun.status == RunStatus.RUNNING)
                    .values(
                        heartbeat_at=utcnow(),
                        rows_fetched=progress.rows_fetched,
                        phase=progress.phase,
                    )
                )
                await db.commit()
        except Exception as error:
            log.warning("could not record the run's heartbeat", extra={"error": str(error)})
        if progress.file_lock is not None:
            await progress.file_lock.renew()


@dataclass(frozen=True, slots=True)
class ChangeCheck:
    """What a run learnt from the source's change marker before fetching: the marker (None
    when detection is off, unavailable or has nothing to compare), the time the fetch
    started, and why detection was skipped when the source refused to say."""

    marker: str | None
    fetch_started_at: datetime
    note: str | None = None


async def record_success(
    ctx: EngineContext,
    inputs: RunInputs,
    staged: StagedSnapshot,
    version: int,
    unchanged: bool,
    started: float,
    new_stem: str | None,
    remove_stale_objects: Callable[[list[str]], Awaitable[None]],
    check: ChangeCheck | None = None,
) -> bool:
    """Records the run's success and, unless unchanged, `version` as the file's current
    version, whose objects the run has already put under `new_stem`; False if the run ended
    elsewhere meanwhile. Versions beyond the kept number lose their rows in the same
    transaction; their objects go only after it commits (`remove_stale_objects`, given their
    keys).

    Why publication is safe without trusting the Redis file lock: before it touches a file,
    the transaction moves the run's row (still `running`: the recovery tick may have failed
    it as dead and retried it) and then the file's row, from the version this run diffed
    against to `version`, both as compare-and-sets. On PostgreSQL those UPDATEs lock both
    rows until the transaction ends; on SQLite the first one takes the database's write
    lock. So writers of one file publish one after the other, whatever Redis forgot: the
    second finds the version moved on, publishes nothing and fails transiently (its retry
    diffs against the new version). Each run's objects are keyed by the run, so a writer
    that loses, crashes or rolls back never touched the winner's; a version becomes current
    only when this transaction commits.

    Objects of pruned versions are removed after the commit, not before: were the commit to
    fail, the rows it would have deleted stay, and must still find their objects. Removal
    also stays out of the transaction because a store call may retry for minutes while the
    rows (on SQLite, the whole database) are locked. A removal that fails leaves objects no
    row names, which the sweep collects (app/storage/sweep.py).
    """
    duration_ms = int((time.monotonic() - started) * 1000)
    changes = staged.changes
    async with ctx.sessions() as db:
        taken = await _take_for_writing(db, inputs, version)
        if taken is None:
            return False
        run, schedule, file = taken
        if not unchanged:
            db.add(
                FileVersion(
                    file_id=file.id,
                    version=version,
                    size_bytes=staged.size_bytes,
                    row_count=staged.row_count,
                    column_count=len(staged.columns),
                    checksum=staged.checksum,
                    run_id=run.id,
                    object_stem=new_stem,
                )
            )
            file.size_bytes = staged.size_bytes
            file.row_count = staged.row_count
            file.column_count = len(staged.columns)
            file.checksum = staged.checksum
        # The file now reflects this fetch: what the source's marker said before it.
        file.change_marker = check.marker if check else None
        file.change_fingerprint = inputs.fingerprint
        file.change_schedule_id = inputs.schedule_id
        file.fully_fetched_at = check.fetch_started_at if check else None
        run.change_detection = check.note if check else None
        run.status, run.phase = RunStatus.SUCCESS, "done"
        run.completed_at, run.duration_ms = utcnow(), duration_ms
        run.rows_fetched = run.row_count = staged.row_count
        run.column_count = len(staged.columns)
        run.added, run.updated, run.deleted = (
            changes.counts[k] for k in ("added", "updated", "deleted")
        )
        run.columns_added, run.columns_removed = changes.columns_added, changes.columns_removed
        run.file_version = version
        run.bytes_written = 0 if unchanged else staged.size_bytes
        _update_schedule_after_run(schedule, run)
        schedule.last_sync_row_count = staged.row_count
        await db.flush()
        stale = await _prune_versions(db, file.id, ctx.settings.file_versions_kept)
        await db.commit()
    await remove_stale_objects(
        [key for old in stale for key in ctx.store.version_keys(file.id, old).all()]
    )
    return True


async def _take_for_writing(
    db: AsyncSession, inputs: RunInputs, version: int, *still: ColumnElement[bool]
) -> tuple[SyncRun, Schedule, TargetFile] | None:
    """The compare-and-sets a run's success is recorded behind (see record_success): the run
    is still running, and the file is still at the version the run read (and `still` holds
    of it), moved to `version`. None if the run ended or anything was deleted meanwhile;
    TransientError if another sync published the file first."""
    ours = await db.execute(
        update(SyncRun)
        .where(SyncRun.id == inputs.run_id, SyncRun.status == RunStatus.RUNNING)
        .values(phase="writing")
        .execution_options(synchronize_session=False)
    )
    if ours.rowcount != 1:  # type: ignore[attr-defined]
        return None
    moved = await db.execute(
        update(TargetFile)
        .where(TargetFile.id == inputs.file_id, TargetFile.version == inputs.file_version, *still)
        .values(version=version)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise TransientError(
            "another sync published the same target file meanwhile; will try again"
        )
    run = await db.get(SyncRun, inputs.run_id)
    schedule = await db.get(Schedule, inputs.schedule_id)
    file = await db.get(TargetFile, inputs.file_id)
    if run is None or schedule is None or file is None:
        return None  # deleted meanwhile; the files are pruned with the target file
    return run, schedule, file


async def record_unchanged(ctx: EngineContext, inputs: RunInputs, started: float) -> bool:
    """Records a run whose source said nothing changed since the current file was fetched:
    a success with no changes, the current file's rows, and no fetch. False if the run
    ended elsewhere meanwhile.

    The decision was taken on the file's state as the run read it; the same compare-and-set
    as a publication (record_success) makes sure that state is still current: a file
    another sync published meanwhile fails this run transiently, and its retry decides
    again."""
    duration_ms = int((time.monotonic() - started) * 1000)
    stored = inputs.stored_marker
    async with ctx.sessions() as db:
        taken = await _take_for_writing(
            db,
            inputs,
            inputs.file_version,
            TargetFile.change_marker == stored.marker,
            TargetFile.change_schedule_id == inputs.schedule_id,
        )
        if taken is None:
            return False
        run, schedule, file = taken
        run.status, run.phase = RunStatus.SUCCESS, "done"
        run.completed_at, run.duration_ms = utcnow(), duration_ms
        run.rows_fetched = 0
        run.row_count, run.column_count = file.row_count, file.column_count
        run.added = run.updated = run.deleted = 0
        run.columns_added = run.columns_removed = None
        run.file_version = file.version
        run.bytes_written = 0
        run.fetch_skipped = True
        _update_schedule_after_run(schedule, run)
        schedule.last_sync_row_count = file.row_count
        await db.commit()
    return True


async def _prune_versions(db: AsyncSession, file_id: uuid.UUID, keep: int) -> list[str]:
    """Deletes the rows of all but the newest `keep` versions; the stems they named."""
    versions = (
        await db.scalars(
            select(FileVersion)
            .where(FileVersion.file_id == file_id)
            .order_by(FileVersion.version.desc())
        )
    ).all()
    for old in versions[keep:]:
        await db.delete(old)
    return [stored_stem(old.version, old.object_stem) for old in versions[keep:]]


def _update_schedule_after_run(schedule: Schedule, run: SyncRun) -> None:
    schedule.last_sync_at = run.completed_at
    schedule.last_sync_status = run.status
    schedule.last_sync_duration_ms = run.duration_ms
    schedule.last_sync_error = run.error
    if schedule.enabled and schedule.next_sync_at is None:
        cadence, _ = parse_cadence(schedule.frequency, schedule.config)
        if cadence is not None:
            schedule.next_sync_at = next_slot_after(cadence, datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class FailedRun:
    """A run ended as an error: what it says, and its retry if one was planned."""

    message: str
    retry: SyncRun | None
    retry_at: datetime | None


async def end_with_error(
    ctx: EngineContext, run_id: uuid.UUID, error: Exception, message: str
) -> FailedRun | None:
    """Ends a running run as failed, adding its retry if the error is transient and attempts
    are left. None if the run ended meanwhile: its worker recorded it (a publication that
    committed just as the task was cancelled), or the recovery tick failed it as dead."""
    now = utcnow()
    async with ctx.sessions() as db:
        # A compare-and-set, so it also waits for a publication holding the run's row.
        ending = await db.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.status == RunStatus.RUNNING)
            .values(status=RunStatus.ERROR, phase="done")
            .execution_options(synchronize_session=False)
        )
        if ending.rowcount != 1:  # type: ignore[attr-defined]
            return None
        run = await db.get(SyncRun, run_id)
        schedule = await db.get(Schedule, run.schedule_id) if run else None
        if run is None or schedule is None:
            return None
        retry_at = next_attempt_at(ctx.settings, error, run.attempt, now)
        retry = None
        if retry_at is not None:
            retry = SyncRun(
                schedule_id=run.schedule_id,
                user_id=run.user_id,
                trigger=Trigger.RETRY,
                attempt=run.attempt + 1,
                slot_at=run.slot_at,
                force=run.force,
                data_source_type=run.data_source_type,
                ready_at=retry_at,
            )
            db.add(retry)
            message = (
                f"{message} (attempt {run.attempt}; retrying at {retry_at:%Y-%m-%dT%H:%M:%SZ})"
            )
        run.status, run.phase = RunStatus.ERROR, "done"
        run.error = message
        run.retry_at = retry_at
        run.completed_at = now
        # From the store's start time: the recovery tick fails runs of other workers.
        started_at = run.started_at or now
        run.duration_ms = max(0, int((now - started_at).total_seconds() * 1000))
        _update_schedule_after_run(schedule, run)
        await db.commit()
    return FailedRun(message, retry, retry_at)
