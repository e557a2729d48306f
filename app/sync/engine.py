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
not by the Redis lock (`run_records.record_success`, `app/sync/file_lock.py`).

A new version's objects are put in the storage backend (app/sync/csv_store.py) under keys
named by this run before the transaction that names the version commits: a reader never
sees them before then, a crash leaves only objects no row names, and a run that loses the
race for the version cannot overwrite the winner's.

Before fetching, a run asks the source whether anything changed since the fetch behind
the current file (app/sync/change_detection.py); when nothing did, it records an unchanged
run without fetching.

This module orchestrates; the run's rows in the store are app/sync/run_records.py, when a
failed run is retried is app/sync/retry_plan.py.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Callable

import anyio
import structlog
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError

from app.connector_environment import connector_environment
from app.db.models import utcnow
from app.sources.credential_health import clear_failed_after_sync
from app.storage.objects import StorageUnavailable
from app.sync import change_detection, run_records
from app.sync.admission import wake_next_runs
from app.sync.change_sets import save_positions
from app.sync.csv_store import version_stem
from app.sync.file_lock import TargetFileLock
from app.sync.previous_snapshot import previous_snapshot_of, published_stem
from app.sync.queue import enqueue_run
from app.sync.run_context import (
    EngineContext,
    Progress,
    RunInputs,
    RunInterrupted,
    SafetyHold,
)
from app.sync.snapshot import StagedSnapshot, stage_snapshot
from app.webhooks.events import publish_run_events
from connectors.base import (
    JSON,
    ChangeDetectionUnavailable,
    Connector,
    ConnectorError,
    TransientError,
)
from connectors.registry import connector_class

log = logging.getLogger("datasync.sync")
# Change sets kept per file, newest first; older ones are removed when a run publishes.
CHANGE_SETS_KEPT = 100


async def execute_run(ctx: EngineContext, run_id: uuid.UUID) -> None:
    with structlog.contextvars.bound_contextvars(run_id=str(run_id)):
        await _execute(ctx, run_id)


async def _execute(ctx: EngineContext, run_id: uuid.UUID) -> None:
    started = time.monotonic()
    user_id = await _claim(ctx, run_id)
    if user_id is None:
        return
    progress = Progress()
    heartbeat = asyncio.create_task(run_records.keep_heartbeat(ctx, run_id, progress))
    try:
        inputs = await run_records.load_inputs(ctx, run_id)
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
    except (RedisError, OperationalError, StorageUnavailable) as error:
        # A blip of the service's own Redis, database or file storage, not the source's
        # fault: retried. What went wrong is for the operator's log, not the tenant's run.
        which = (
            "Redis"
            if isinstance(error, RedisError)
            else "its file storage"
            if isinstance(error, StorageUnavailable)
            else "the database"
        )
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
    user_id = await run_records.claim(ctx, run_id)
    if user_id is not None:
        # Runs of this user refused while this one was ahead of them may start too if slots
        # are left.
        await _wake_next_runs(ctx, user_id, f"{run_id}-started", only_waiting=True)
    return user_id


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


def _save_from_thread(ctx: EngineContext, source_id: uuid.UUID, credentials: JSON) -> None:
    # Saved at once, before the connector uses the new token: if the worker died later in the
    # run, the stored (already redeemed) one would lock the source out.
    anyio.from_thread.run(run_records.save_rotated_credentials, ctx, source_id, credentials)


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


def _connector(ctx: EngineContext, inputs: RunInputs) -> Connector:
    return connector_class(inputs.source_type)(
        inputs.credentials,
        inputs.source_settings,
        connector_environment(
            ctx.settings, lambda new: _save_from_thread(ctx, inputs.data_source_id, new)
        ),
    )


def _check_for_changes(connector: Connector, inputs: RunInputs) -> run_records.ChangeCheck:
    """Reads the source's change marker, when the schedule and the connector allow it.
    Read even when this run must fetch anyway (a forced run, a full refresh due, a new
    selection): the fetch stores it for the next run to compare with."""
    fetch_started_at = utcnow()  # before the marker: a change from here on is seen next time
    read_marker = getattr(connector, "change_marker", None)
    if not inputs.change_options.enabled or read_marker is None:
        return run_records.ChangeCheck(None, fetch_started_at)
    try:
        marker = read_marker(inputs.selection)
    except ChangeDetectionUnavailable as refused:
        note = change_detection.skipped_note(refused.message)
        return run_records.ChangeCheck(None, fetch_started_at, note)
    return run_records.ChangeCheck(change_detection.storable(marker), fetch_started_at)


def _may_skip_fetch(inputs: RunInputs, check: run_records.ChangeCheck) -> bool:
    stored = inputs.stored_marker
    return change_detection.unchanged(stored, check.marker) and change_detection.may_skip(
        stored,
        options=inputs.change_options,
        forced=inputs.force,
        schedule_id=inputs.schedule_id,
        current_fingerprint=inputs.fingerprint,
        file_version=inputs.file_version,
        now=check.fetch_started_at,
    )


def _fetch_and_stage(
    ctx: EngineContext,
    inputs: RunInputs,
    progress: Progress,
    connector: Connector,
    previous_stem: str | None,
) -> StagedSnapshot:
    ctx.store.remove_temp_files(inputs.file_id)  # left by a crashed run; we hold the file lock
    previous = previous_snapshot_of(
        ctx.store,
        inputs.file_id,
        inputs.file_version,
        inputs.file_checksum,
        inputs.file_rows,
        previous_stem,
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


def _upload(
    ctx: EngineContext, file_id: uuid.UUID, run_id: uuid.UUID, stem: str, staged: StagedSnapshot
) -> None:
    """Puts the staged files under the new version's keys. Before the transaction that
    publishes: it then has nothing left to write (on SQLite it holds the database's write
    lock), and nothing names these keys until it commits."""
    sources = (staged.csv, staged.parquet, staged.hashes)
    try:
        ctx.store.publish(
            file_id, stem, csv=staged.csv, parquet=staged.parquet, hashes=staged.hashes
        )
    except FileNotFoundError:
        if all(source.is_file() for source in sources):
            raise  # the store's own "not found" (a missing bucket, say), not a staged file
        # Only a sync that took the file's lock after this run lost it removes this run's
        # staged files (as a crashed run's leftovers): Redis forgot the lock. The store
        # consumes each file it puts, so only a file not put yet can be missing here.
        _discard_unpublished(ctx, file_id, run_id, stem)
        raise TransientError(
            "another sync of the same target file removed this run's staged files; will try again"
        ) from None


def _discard_unpublished(
    ctx: EngineContext, file_id: uuid.UUID, run_id: uuid.UUID, stem: str | None
) -> None:
    # Keys named by this run, which no row names: nothing can be reading them.
    store = ctx.store
    keys = [store.change_positions_key(file_id, run_id)]
    if stem is not None:
        keys += store.version_keys(file_id, stem).all()
    try:
        store.objects.delete(keys)
    except Exception as error:
        # Called while the run fails or loses; a failure here must not replace that error.
        # Nothing names these keys: the sweep collects them.
        log.warning(
            "could not remove an unpublished version",
            extra={"run_id": str(run_id), "error": repr(error)},
        )


def _remove_stale_objects(ctx: EngineContext, file_id: uuid.UUID, keys: list[str]) -> None:
    """After the commit that pruned their rows: removes the objects of pruned versions and
    all but the newest CHANGE_SETS_KEPT change sets. Best effort: the run has succeeded,
    and anything left is named by no row, so the sweep collects it."""
    try:
        ctx.store.objects.delete([*keys, *ctx.store.stale_change_sets(file_id, CHANGE_SETS_KEPT)])
    except Exception as error:
        log.warning(
            "could not remove the objects of pruned versions; the sweep will",
            extra={"file_id": str(file_id), "error": repr(error)},
        )


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
    connector = _connector(ctx, inputs)
    check = await anyio.to_thread.run_sync(_check_for_changes, connector, inputs)
    if _may_skip_fetch(inputs, check):
        await _record_unchanged(ctx, inputs, progress, started)
        return
    previous_stem = await published_stem(ctx.sessions, inputs.file_id, inputs.file_version)
    staged = await anyio.to_thread.run_sync(
        _fetch_and_stage, ctx, inputs, progress, connector, previous_stem
    )
    try:
        _check_hold(inputs, staged)
        progress.enter("writing")
        unchanged = inputs.file_version > 0 and staged.checksum == inputs.file_checksum
        version = inputs.file_version if unchanged else inputs.file_version + 1
        # The stem the new version's objects are put under and its row names.
        new_stem = None if unchanged else version_stem(version, inputs.run_id)
        if staged.changes.any:
            await anyio.to_thread.run_sync(
                save_positions,
                ctx.store,
                inputs.file_id,
                inputs.run_id,
                staged.changes,
                (version, new_stem or previous_stem),
                (inputs.file_version, previous_stem),
            )
        if new_stem is not None:
            await _to_the_end_in_thread(
                functools.partial(_upload, ctx, inputs.file_id, inputs.run_id, new_stem, staged)
            )
        if progress.file_lock is not None:
            await progress.file_lock.ensure_held()
        recorded: bool | None = None  # None: unknown, the commit may have happened
        try:
            recorded = await run_records.record_success(
                ctx,
                inputs,
                staged,
                version,
                unchanged,
                started,
                new_stem,
                lambda stale: _to_the_end_in_thread(
                    functools.partial(_remove_stale_objects, ctx, inputs.file_id, stale)
                ),
                check,
            )
        except TransientError:  # another sync published the file first: rolled back
            recorded = False
            raise
        finally:
            if recorded is False:
                await anyio.to_thread.run_sync(
                    _discard_unpublished, ctx, inputs.file_id, inputs.run_id, new_stem
                )
    finally:
        staged.discard()  # published files are no longer under their staged names
    if not recorded:
        log.info(
            "the run ended elsewhere while it ran (taken for dead, or deleted); nothing published",
            extra={"run_id": str(inputs.run_id)},
        )
        return
    await _publish_events(ctx, inputs.run_id, held=False)
    await _credentials_proved(ctx, inputs.data_source_id)
    log.info(
        "sync succeeded",
        extra={
            "run_id": str(inputs.run_id),
            "schedule_id": str(inputs.schedule_id),
            "rows": staged.row_count,
            **staged.changes.counts,
        },
    )


async def _record_unchanged(
    ctx: EngineContext, inputs: RunInputs, progress: Progress, started: float
) -> None:
    progress.enter("writing")
    if progress.file_lock is not None:
        await progress.file_lock.ensure_held()
    if not await run_records.record_unchanged(ctx, inputs, started):
        log.info(
            "the run ended elsewhere while it ran (taken for dead, or deleted)",
            extra={"run_id": str(inputs.run_id)},
        )
        return
    await _publish_events(ctx, inputs.run_id, held=False)
    await _credentials_proved(ctx, inputs.data_source_id)
    log.info(
        "sync skipped its fetch: the source reports no change",
        extra={"run_id": str(inputs.run_id), "schedule_id": str(inputs.schedule_id)},
    )


async def _credentials_proved(ctx: EngineContext, source_id: uuid.UUID) -> None:
    # The source's credential health is a side channel too.
    try:
        await clear_failed_after_sync(ctx.sessions, source_id)
    except Exception:
        log.exception("could not clear failed credentials", extra={"source_id": str(source_id)})


async def _publish_events(ctx: EngineContext, run_id: uuid.UUID, held: bool) -> None:
    # Webhooks are a side channel: failing to queue them must not change the run's outcome.
    try:
        await publish_run_events(ctx.sessions, ctx.queue, run_id, held)
    except Exception:
        log.exception("could not queue webhook deliveries", extra={"run_id": str(run_id)})


async def record_failure(ctx: EngineContext, run_id: uuid.UUID, error: Exception) -> None:
    """Ends a running run as failed, with its retry if the error is transient; a run that
    ended meanwhile keeps its outcome (run_records.end_with_error)."""
    message = error.message if isinstance(error, ConnectorError) else str(error)
    failed = await run_records.end_with_error(ctx, run_id, error, message)
    if failed is None:
        return
    if failed.retry is not None and failed.retry_at is not None:
        try:
            await enqueue_run(ctx.queue, failed.retry, defer_until=failed.retry_at)
        except RedisError as exc:
            # The retry is in the store: the recovery tick gives it a job once Redis answers.
            log.warning("could not enqueue the retry", extra={"error": str(exc)})
    await _publish_events(ctx, run_id, held=isinstance(error, SafetyHold))
    log.warning("sync failed", extra={"run_id": str(run_id), "error": failed.message})
