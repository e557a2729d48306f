"""One sync run: claim → fetch → normalise → diff → write → record.

Called by the worker with a run id. arq may deliver a job more than once, so the run is
claimed with a compare-and-set on its status and a second delivery does nothing. The claim
also waits for the run's turn among its user's runs (app/sync/admission.py): a run that must
wait ends its job and is woken when a slot frees. Blocking work (the connector, Arrow
writers) runs in a thread; the event loop keeps the run's progress and heartbeat fresh
meanwhile.

Redis going away never changes a run's outcome by itself: a run that published its file is a
success whatever happens to Redis afterwards, and a run that Redis interrupts (no file lock,
a lost lock) ends as a transient error and is retried. Publication is fenced by the store,
not by the Redis lock (`_publish_and_record`, `app/sync/file_lock.py`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
import structlog
from arq.connections import ArqRedis
from redis.exceptions import RedisError
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import DataSource, FileVersion, Schedule, SyncRun, TargetFile, utcnow
from app.scheduling import next_slot_after, parse_cadence
from app.selection import merged_selection
from app.settings import Settings
from app.sources.credentials import CredentialsUnreadable, CredentialVault
from app.sources.service import connector_environment
from app.sync.admission import Outcome, claim_run, wake_next_runs
from app.sync.change_sets import save_positions
from app.sync.csv_store import CsvStore
from app.sync.file_lock import TargetFileLock
from app.sync.queue import enqueue_run
from app.sync.snapshot import (
    CsvFormat,
    StagedSnapshot,
    previous_snapshot_of,
    stage_snapshot,
)
from app.webhooks.events import publish_run_events
from connectors.base import JSON, ConnectorError, TransientError
from connectors.registry import connector_class

log = logging.getLogger("datasync.sync")

# A run's heartbeat: its row's `heartbeat_at` and the renewal of its file lock. A run whose
# heartbeat is older than admission.STALE_AFTER lost its worker.
HEARTBEAT_SECONDS = 2.0


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


async def execute_run(ctx: EngineContext, run_id: uuid.UUID) -> None:
    with structlog.contextvars.bound_contextvars(run_id=str(run_id)):
        await _execute(ctx, run_id)


async def _execute(ctx: EngineContext, run_id: uuid.UUID) -> None:
    started = time.monotonic()
    user_id = await _claim(ctx, run_id)
    if user_id is None:
        return
    progress = Progress()
    heartbeat = asyncio.create_task(_keep_heartbeat(ctx, run_id, progress))
    try:
        inputs = await _load_inputs(ctx, run_id)
        structlog.contextvars.bind_contextvars(schedule_id=str(inputs.schedule_id))
        file_lock = TargetFileLock(ctx.queue, inputs.file_id)
        await file_lock.acquire()
        progress.file_lock = file_lock
        try:
            await _sync(ctx, inputs, progress, started)
        finally:
            progress.file_lock = None
            await file_lock.release()
    except asyncio.CancelledError:
        await record_failure(ctx, run_id, RunInterrupted("the worker was stopped during the sync"))
        raise
    except (SafetyHold, ConnectorError) as error:
        await record_failure(ctx, run_id, error)
    except (RedisError, OperationalError) as error:
        # A blip of the service's own Redis or store, not the source's fault: retried. What
        # went wrong is for the operator's log, not for the tenant's run.
        which = "Redis" if isinstance(error, RedisError) else "the database"
        log.warning("sync interrupted", extra={"run_id": str(run_id), "error": str(error)})
        interrupted = TransientError(f"the service lost {which} during the sync; will try again")
        await record_failure(ctx, run_id, interrupted)
    except Exception:
        log.exception("sync run failed unexpectedly", extra={"run_id": str(run_id)})
        await record_failure(
            ctx, run_id, RuntimeError(f"internal error during the sync (run {run_id})")
        )
    finally:
        heartbeat.cancel()
        await _wake_next_runs(ctx, user_id, f"{run_id}-ended")


async def _claim(ctx: EngineContext, run_id: uuid.UUID) -> uuid.UUID | None:
    """queued → running, once and in the user's turn; returns the run's user if claimed.

    A second delivery of the same job finds nothing to claim; a run that must wait for its
    user's turn stays queued and is woken later."""
    async with ctx.sessions() as db:
        claim = await claim_run(db, run_id, ctx.settings.max_concurrent_runs_per_user)
        if claim.outcome is Outcome.GONE:
            log.info(
                "run already claimed or gone; duplicate delivery ignored",
                extra={"run_id": str(run_id)},
            )
            return None
        if claim.outcome is Outcome.STARTED:
            await db.execute(
                update(Schedule)
                .where(Schedule.id == claim.schedule_id)
                .values(last_sync_status="running")
            )
        await db.commit()
    if claim.outcome is not Outcome.STARTED or claim.user_id is None:
        return None
    # Runs of this user refused while this one was ahead of them may start too if slots are
    # left.
    await _wake_next_runs(ctx, claim.user_id, f"{run_id}-started", only_waiting=True)
    return claim.user_id


async def _wake_next_runs(
    ctx: EngineContext, user_id: uuid.UUID, reason: str, only_waiting: bool = False
) -> None:
    # Best effort: the scheduler tick wakes whatever a failure here leaves waiting.
    try:
        limit = ctx.settings.max_concurrent_runs_per_user
        await wake_next_runs(
            ctx.sessions, ctx.queue, limit, user_id, reason, only_waiting=only_waiting
        )
    except RedisError as error:
        log.warning("could not wake the user's next runs", extra={"error": str(error)})
    except Exception:
        log.exception("could not wake the user's next runs", extra={"user_id": str(user_id)})


async def _load_inputs(ctx: EngineContext, run_id: uuid.UUID) -> RunInputs:
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
    return RunInputs(
        run_id=run.id,
        schedule_id=schedule.id,
        data_source_id=source.id,
        file_id=file.id,
        source_type=source.type,
        credentials=credentials,
        source_settings=dict(source.settings),
        selection=merged_selection(source.settings, config, selection_keys),
        fmt=CsvFormat(file.delimiter, file.encoding, file.header, escape_formulas),
        file_version=file.version,
        file_checksum=file.checksum or "",
        file_rows=file.row_count,
        force=run.force,
        max_drop_percent=float(config.get("maxRowDropPercent", 50)),
    )


def _save_from_thread(ctx: EngineContext, source_id: uuid.UUID, credentials: JSON) -> None:
    # Saved at once, before the connector uses the new token: if the worker died later in the
    # run, the stored (already redeemed) one would lock the source out.
    anyio.from_thread.run(_save_rotated_credentials, ctx, source_id, credentials)


async def _save_rotated_credentials(
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


async def _keep_heartbeat(ctx: EngineContext, run_id: uuid.UUID, progress: Progress) -> None:
    """Never ends by itself: a heartbeat that died with one error would let the run be taken
    for dead (and retried) while it is still running."""
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        try:
            async with ctx.sessions() as db:
                await db.execute(
                    update(SyncRun)
                    .where(SyncRun.id == run_id, SyncRun.status == "running")
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


def _check_hold(inputs: RunInputs, staged: StagedSnapshot) -> None:
    if inputs.force:
        return
    advice = "the CSV was left untouched; check the source, or run a manual sync with ?force=true to accept it"
    if staged.row_count == 0:
        raise SafetyHold(f"Safety hold: the source returned no rows; {advice}")
    previous = inputs.file_rows
    if inputs.file_version and previous:
        drop = (previous - staged.row_count) / previous * 100
        if drop > inputs.max_drop_percent:
            raise SafetyHold(
                f"Safety hold: the source returned {staged.row_count} rows, {drop:.0f}% fewer than the "
                f"{previous} in the current file (limit {inputs.max_drop_percent:g}%); {advice}"
            )


def _fetch_and_stage(ctx: EngineContext, inputs: RunInputs, progress: Progress) -> StagedSnapshot:
    ctx.store.remove_temp_files(inputs.file_id)  # left by a crashed run; we hold the file lock
    connector = connector_class(inputs.source_type)(
        inputs.credentials,
        inputs.source_settings,
        connector_environment(
            ctx.settings, lambda new: _save_from_thread(ctx, inputs.data_source_id, new)
        ),
    )
    previous = previous_snapshot_of(
        ctx.store, inputs.file_id, inputs.file_version, inputs.file_checksum, inputs.file_rows
    )
    table = connector.fetch(inputs.selection, progress.rows)
    return stage_snapshot(
        table,
        inputs.fmt,
        previous,
        inputs.selection.get("primaryKey"),
        ctx.store,
        inputs.file_id,
        progress.enter,
    )


def _flush_to_disk(staged: StagedSnapshot) -> None:
    # Before the transaction that publishes: the fsyncs inside it (CsvStore.publish) then find
    # nothing left to write, and on SQLite that transaction holds the database's write lock.
    for path in (staged.parquet, staged.hashes, staged.csv):
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


def _publish_and_prune(
    ctx: EngineContext,
    inputs: RunInputs,
    staged: StagedSnapshot,
    version: int,
    unchanged: bool,
    kept: list[int],
) -> None:
    store = ctx.store
    if not unchanged:
        try:
            store.publish(staged.parquet, store.snapshot_path(inputs.file_id, version))
            store.publish(staged.hashes, store.hashes_path(inputs.file_id, version))
            # The CSV goes last: once it exists under its version name, everything it needs
            # does.
            store.publish(staged.csv, store.csv_path(inputs.file_id, version))
        except FileNotFoundError:
            # Only a sync that took the file's lock after this run lost it removes this run's
            # staged files (as a crashed run's leftovers): Redis forgot the lock.
            raise TransientError(
                "another sync of the same target file removed this run's staged files; "
                "will try again"
            ) from None
    store.prune(inputs.file_id, kept)


async def _to_the_end_in_thread(work: Callable[[], None]) -> None:
    """Runs `work` in a thread and waits for it even if this task is cancelled meanwhile: an
    abandoned thread could move files into place after the store rows were released, over
    the files of the writer that comes next."""
    done = asyncio.ensure_future(anyio.to_thread.run_sync(work))
    try:
        await asyncio.shield(done)
    except asyncio.CancelledError:
        await done
        raise


async def _sync(ctx: EngineContext, inputs: RunInputs, progress: Progress, started: float) -> None:
    staged = await anyio.to_thread.run_sync(_fetch_and_stage, ctx, inputs, progress)
    try:
        _check_hold(inputs, staged)
        progress.enter("writing")
        unchanged = inputs.file_version > 0 and staged.checksum == inputs.file_checksum
        version = inputs.file_version if unchanged else inputs.file_version + 1
        if staged.changes.any:
            await anyio.to_thread.run_sync(
                save_positions,
                ctx.store,
                inputs.file_id,
                inputs.run_id,
                staged.changes,
                version,
                inputs.file_version,
            )
        if not unchanged:
            await anyio.to_thread.run_sync(_flush_to_disk, staged)
        if progress.file_lock is not None:
            await progress.file_lock.ensure_held()
        recorded = await _publish_and_record(ctx, inputs, staged, version, unchanged, started)
    finally:
        staged.discard()  # published files are no longer under their staged names
    if not recorded:
        log.info(
            "the run ended elsewhere while it ran (taken for dead, or deleted); nothing published",
            extra={"run_id": str(inputs.run_id)},
        )
        return
    await _publish_events(ctx, inputs.run_id, held=False)
    log.info(
        "sync succeeded",
        extra={
            "run_id": str(inputs.run_id),
            "schedule_id": str(inputs.schedule_id),
            "rows": staged.row_count,
            **staged.changes.counts,
        },
    )


async def _publish_and_record(
    ctx: EngineContext,
    inputs: RunInputs,
    staged: StagedSnapshot,
    version: int,
    unchanged: bool,
    started: float,
) -> bool:
    """Publishes the staged files as `version` (unless unchanged) and records the run's
    success, in one store transaction; False if the run ended elsewhere meanwhile.

    Why publication is safe without trusting the Redis file lock: before it touches a file,
    the transaction moves the run's row (still `running`: the recovery tick may have failed
    it as dead and retried it) and then the file's row, from the version this run diffed
    against to `version`, both as compare-and-sets. On PostgreSQL those UPDATEs lock both
    rows until the transaction ends; on SQLite the first one takes the database's write
    lock. So writers of one file publish one after the other, whatever Redis forgot: the
    second finds the version moved on, publishes nothing and fails transiently (its retry
    diffs against the new version). Files are moved into place and old versions pruned
    while the rows are held, and a version becomes current only when this transaction
    commits: files published by a writer that then crashed or rolled back are never current,
    and the next writer replaces them. (Should the commit itself fail after the prune, the
    pruned versions' rows outlive their files until the next run prunes them.)
    """
    duration_ms = int((time.monotonic() - started) * 1000)
    changes = staged.changes
    async with ctx.sessions() as db:
        ours = await db.execute(
            update(SyncRun)
            .where(SyncRun.id == inputs.run_id, SyncRun.status == "running")
            .values(phase="writing")
            .execution_options(synchronize_session=False)
        )
        if ours.rowcount != 1:  # type: ignore[attr-defined]
            return False
        moved = await db.execute(
            update(TargetFile)
            .where(TargetFile.id == inputs.file_id, TargetFile.version == inputs.file_version)
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
            return False  # deleted meanwhile; the files are pruned with the target file
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
                )
            )
            file.size_bytes = staged.size_bytes
            file.row_count = staged.row_count
            file.column_count = len(staged.columns)
            file.checksum = staged.checksum
        run.status, run.phase = "success", "done"
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
        kept = await _prune_versions(db, file.id, ctx.settings.file_versions_kept)
        await _to_the_end_in_thread(
            functools.partial(_publish_and_prune, ctx, inputs, staged, version, unchanged, kept)
        )
        await db.commit()
    return True


async def _prune_versions(db: AsyncSession, file_id: uuid.UUID, keep: int) -> list[int]:
    versions = (
        await db.scalars(
            select(FileVersion)
            .where(FileVersion.file_id == file_id)
            .order_by(FileVersion.version.desc())
        )
    ).all()
    for old in versions[keep:]:
        await db.delete(old)
    return [v.version for v in versions[:keep]]


def _update_schedule_after_run(schedule: Schedule, run: SyncRun) -> None:
    schedule.last_sync_at = run.completed_at
    schedule.last_sync_status = run.status
    schedule.last_sync_duration_ms = run.duration_ms
    schedule.last_sync_error = run.error
    if schedule.enabled and schedule.next_sync_at is None:
        cadence, _ = parse_cadence(schedule.frequency, schedule.config)
        if cadence is not None:
            schedule.next_sync_at = next_slot_after(cadence, datetime.now(UTC))


async def _publish_events(ctx: EngineContext, run_id: uuid.UUID, held: bool) -> None:
    # Webhooks are a side channel: failing to queue them must not change the run's outcome.
    try:
        await publish_run_events(ctx.sessions, ctx.queue, run_id, held)
    except Exception:
        log.exception("could not queue webhook deliveries", extra={"run_id": str(run_id)})


def retry_delay_seconds(settings: Settings, attempt: int, hint: float | None) -> float:
    """Exponential backoff with full jitter on top of half the step, never sooner than the
    source asked (Retry-After)."""
    step = settings.retry_base_seconds * 2 ** (attempt - 1)
    delay = step / 2 + random.uniform(0, step / 2)
    return float(max(delay, hint or 0.0))


async def record_failure(ctx: EngineContext, run_id: uuid.UUID, error: Exception) -> None:
    """Ends a running run as failed, with its retry if the error is transient. A run that
    ended meanwhile keeps its outcome: its worker recorded it (a publication that committed
    just as the task was cancelled), or the recovery tick failed it as dead and retried it."""
    message = error.message if isinstance(error, ConnectorError) else str(error)
    now = utcnow()
    retry: SyncRun | None = None
    retry_at: datetime | None = None
    async with ctx.sessions() as db:
        # A compare-and-set, so it also waits for a publication holding the run's row.
        ending = await db.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.status == "running")
            .values(status="error", phase="done")
            .execution_options(synchronize_session=False)
        )
        if ending.rowcount != 1:  # type: ignore[attr-defined]
            return
        run = await db.get(SyncRun, run_id)
        schedule = await db.get(Schedule, run.schedule_id) if run else None
        if run is None or schedule is None:
            return
        if isinstance(error, TransientError):
            delay = (
                0.0
                if isinstance(error, RunInterrupted)
                else retry_delay_seconds(ctx.settings, run.attempt, error.retry_after)
            )
            retry_at = now + timedelta(seconds=delay)
            if run.attempt <= ctx.settings.max_retries:
                retry = SyncRun(
                    schedule_id=run.schedule_id,
                    user_id=run.user_id,
                    trigger="retry",
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
        run.status, run.phase = "error", "done"
        run.error = message
        run.retry_at = retry_at if retry is not None else None  # no retry: nothing to wait for
        run.completed_at = now
        # From the store's start time: the recovery tick fails runs of other workers.
        started_at = run.started_at or now
        run.duration_ms = max(0, int((now - started_at).total_seconds() * 1000))
        _update_schedule_after_run(schedule, run)
        await db.commit()
    if retry is not None and retry_at is not None:
        try:
            await enqueue_run(ctx.queue, retry, defer_until=retry_at)
        except RedisError as exc:
            # The retry is in the store: the recovery tick gives it a job once Redis answers.
            log.warning("could not enqueue the retry", extra={"error": str(exc)})
    await _publish_events(ctx, run_id, held=isinstance(error, SafetyHold))
    log.warning("sync failed", extra={"run_id": str(run_id), "error": message})
