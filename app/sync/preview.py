"""A dry run of a sync, on a worker: fetch, stage and diff as a run would, then read the first
rows back and throw the staged files away.

Nothing a run records is written: no file version, no history, no run row, no webhook, no
change-detection state. The one write is a credential rotation (Microsoft refresh tokens are
single use): the redeemed token is gone at the source, so the new one must be kept.

The job carries the selection as the user typed it (the schedule may not exist yet) and ids;
credentials are read here, from the store, never sent through Redis.
"""

from __future__ import annotations

import csv
import itertools
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from app.connector_environment import connector_environment
from app.credential_vault import CredentialsUnreadable, CredentialVault
from app.db.models import DataSource, TargetFile
from app.selection import merged_selection
from app.sync.headers import normalise_headers
from app.sync.previous_snapshot import PreviousSnapshot, previous_snapshot_of, published_stem
from app.sync.run_context import EngineContext
from app.sync.run_records import save_rotated_credentials
from app.sync.snapshot import CsvFormat, StagedSnapshot, stage_snapshot
from connectors.base import JSON, ConfigError, Connector, ConnectorError, Table
from connectors.registry import connector_class

log = logging.getLogger("datasync.sync.preview")

PREVIEW_SYNC = "preview_sync"
# How long the API waits for a preview's result before answering 504 (bounds: 5 to 600).
PREVIEW_TIMEOUT_SECONDS = 60
# The worker gives up a little after the API stopped waiting: nobody reads the result then.
PREVIEW_JOB_TIMEOUT_SECONDS = PREVIEW_TIMEOUT_SECONDS + 15
DEFAULT_ROWS = 50
MAX_ROWS = 500
# Rows per side compared to tell a column's kind (numbers or text) before and after.
KIND_SAMPLE_ROWS = 2_000

_NUMBER = r"^[+-]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?([eE][+-]?\d+)?%?$"
_ESCAPED_FORMULA = r"^'[=+\-@\t\r]"


@dataclass(frozen=True, slots=True)
class PreviewRequest:
    """What the API sends: plain values, as arq pickles job arguments."""

    data_source_id: str
    config: dict[str, Any]
    target_file_id: str | None
    limit: int

    def as_job(self) -> dict[str, Any]:
        return {
            "dataSourceId": self.data_source_id,
            "config": self.config,
            "targetFileId": self.target_file_id,
            "limit": self.limit,
        }

    @classmethod
    def of_job(cls, job: dict[str, Any]) -> PreviewRequest:
        return cls(job["dataSourceId"], dict(job["config"]), job["targetFileId"], int(job["limit"]))


@dataclass(frozen=True, slots=True)
class _Target:
    file_id: uuid.UUID
    version: int
    checksum: str
    row_count: int
    stem: str | None  # of the current version's objects, as its row names them


@dataclass(frozen=True, slots=True)
class _Inputs:
    source_id: uuid.UUID
    source_type: str
    credentials: JSON
    source_settings: JSON
    selection: JSON
    fmt: CsvFormat
    target: _Target | None
    max_drop_percent: float
    limit: int


def _warning(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


async def run_preview(ctx: EngineContext, job: dict[str, Any]) -> dict[str, Any]:
    """`{"preview": {...}}`, or `{"error": message}` with the message a failed run records."""
    try:
        inputs = await _load(ctx, PreviewRequest.of_job(job))
        connector = connector_class(inputs.source_type)(
            inputs.credentials,
            inputs.source_settings,
            connector_environment(
                ctx.settings,
                lambda new: anyio.from_thread.run(
                    save_rotated_credentials, ctx, inputs.source_id, new
                ),
            ),
        )
        preview = await anyio.to_thread.run_sync(_preview, ctx, inputs, connector)
    except ConnectorError as error:
        return {"error": error.message}
    except Exception as error:
        log.exception("a preview failed")
        return {"error": str(error) or "the preview failed; see the worker's log"}
    return {"preview": preview}


async def _load(ctx: EngineContext, request: PreviewRequest) -> _Inputs:
    async with ctx.sessions() as db:
        source = await db.get(DataSource, uuid.UUID(request.data_source_id))
        file = (
            await db.get(TargetFile, uuid.UUID(request.target_file_id))
            if request.target_file_id
            else None
        )
        if source is None:
            raise ConnectorError("the data source was deleted")
        if request.target_file_id and file is None:
            raise ConnectorError("the target file was deleted")
    try:
        credentials = CredentialVault(ctx.settings.secret_key).open(source.credentials_encrypted)
    except CredentialsUnreadable as exc:
        raise ConnectorError(str(exc)) from None
    try:
        connector = connector_class(source.type)
    except LookupError as missing:
        raise ConnectorError(str(missing)) from None
    escape = file.escape_formulas if file is not None else None
    if escape is None:
        escape = bool(getattr(connector, "escapes_formulas_by_default", False))
    fmt = (
        CsvFormat(file.delimiter, file.encoding, file.header, escape)
        if file is not None
        else CsvFormat(escape_formulas=escape)
    )
    config = request.config
    return _Inputs(
        source_id=source.id,
        source_type=source.type,
        credentials=credentials,
        source_settings=dict(source.settings),
        selection=merged_selection(source.settings, config, connector.selection_keys),
        fmt=fmt,
        target=_Target(
            file.id,
            file.version,
            file.checksum or "",
            file.row_count,
            await published_stem(ctx.sessions, file.id, file.version),
        )
        if file is not None
        else None,
        max_drop_percent=float(config.get("maxRowDropPercent", 50)),
        limit=request.limit,
    )


def _preview(ctx: EngineContext, inputs: _Inputs, connector: Connector) -> dict[str, Any]:
    # Staged under an id of its own: a run of the target file clears the temp files in the
    # target's folder when it starts, and would pull a preview's from under it.
    staging_id = uuid.uuid4()
    try:
        return _stage_and_read(ctx, inputs, connector, staging_id)
    finally:
        ctx.store.remove_staging(staging_id)


def _stage_and_read(
    ctx: EngineContext, inputs: _Inputs, connector: Connector, staging_id: uuid.UUID
) -> dict[str, Any]:
    target = inputs.target
    previous = (
        previous_snapshot_of(
            ctx.store,
            target.file_id,
            target.version,
            target.checksum,
            target.row_count,
            target.stem,
        )
        if target is not None
        else None
    )
    primary_key = inputs.selection.get("primaryKey")
    table = connector.fetch(inputs.selection, lambda _rows: None)
    warnings = _header_warnings(table.columns)
    try:
        staged = stage_snapshot(
            table, inputs.fmt, previous, primary_key, ctx.store, staging_id, lambda _phase: None
        )
    except ConfigError as problem:
        if problem.field != "config.primaryKey" or not primary_key:
            raise
        _close(table)
        warnings.append(
            _warning(
                "primary_key",
                f"A sync would fail: {problem.message}. The counts below compare rows in "
                "order instead.",
            )
        )
        table = connector.fetch(inputs.selection, lambda _rows: None)
        staged = stage_snapshot(
            table, inputs.fmt, previous, None, ctx.store, staging_id, lambda _phase: None
        )
    try:
        rows = _first_rows(staged, inputs.fmt, inputs.limit)
        warnings += _hold_warnings(inputs, staged)
        if previous is not None:
            warnings += _kind_warnings(previous, staged)
        if inputs.fmt.escape_formulas:
            warnings += _formula_warnings(staged)
    finally:
        staged.discard()
    return {
        "columns": staged.columns,
        "rows": rows,
        "rowCount": staged.row_count,
        "changes": staged.changes.counts,
        "columnsAdded": list(staged.changes.columns_added),
        "columnsRemoved": list(staged.changes.columns_removed),
        "warnings": warnings,
    }


def _close(table: Table) -> None:
    close = getattr(table.batches, "close", None)
    if close is not None:
        close()


def _first_rows(staged: StagedSnapshot, fmt: CsvFormat, limit: int) -> list[list[str]]:
    """Read back from the staged CSV, so the rows are the file's bytes, not a re-rendering."""
    with staged.csv.open(newline="", encoding=fmt.encoding) as handle:
        reader: Iterator[list[str]] = csv.reader(handle, delimiter=fmt.delimiter)
        if fmt.header and staged.columns:
            next(reader, None)
        return [list(row) for row in itertools.islice(reader, limit)]


def _header_warnings(raw: list[str]) -> list[dict[str, str]]:
    warnings = []
    for position, (header, name) in enumerate(
        zip(raw, normalise_headers(raw), strict=True), start=1
    ):
        text = (header or "").strip()
        if not text:
            warnings.append(
                _warning(
                    "blank_header",
                    f"Column {position} has no header; the CSV names it {name!r}.",
                )
            )
        elif text != name:
            warnings.append(
                _warning(
                    "duplicate_header",
                    f"Header {text!r} appears more than once; column {position} is named "
                    f"{name!r} in the CSV.",
                )
            )
    return warnings


def _hold_warnings(inputs: _Inputs, staged: StagedSnapshot) -> list[dict[str, str]]:
    advice = (
        "a sync would stop there and leave the CSV untouched; a manual sync with "
        "?force=true accepts it"
    )
    if staged.row_count == 0:
        return [_warning("safety_hold", f"Safety hold: the source returned no rows; {advice}.")]
    target = inputs.target
    if target is None or not target.version or not target.row_count:
        return []
    drop = (target.row_count - staged.row_count) / target.row_count * 100
    if drop <= inputs.max_drop_percent:
        return []
    return [
        _warning(
            "safety_hold",
            f"Safety hold: the source returned {staged.row_count} rows, {drop:.0f}% fewer "
            f"than the {target.row_count} in the current file (limit "
            f"{inputs.max_drop_percent:g}%); {advice}.",
        )
    ]


def _sample(path: Any, columns: list[str]) -> pa.Table:
    parquet = pq.ParquetFile(path)
    batch = next(parquet.iter_batches(batch_size=KIND_SAMPLE_ROWS, columns=columns), None)
    return pa.Table.from_batches([batch]) if batch is not None else pa.table({})


def _numbers_only(values: pa.ChunkedArray) -> bool:
    filled = pc.drop_null(values)
    filled = pc.filter(filled, pc.not_equal(filled, ""))
    if len(filled) == 0:
        return False
    return bool(pc.all(pc.match_substring_regex(filled, _NUMBER)).as_py()) and bool(
        pc.all(pc.match_substring_regex(filled, r"\d")).as_py()
    )


def _first_text(values: pa.ChunkedArray) -> str | None:
    for value in values.to_pylist():
        if value and not (re.match(_NUMBER, value) and re.search(r"\d", value)):
            return str(value)
    return None


def _kind_warnings(previous: PreviousSnapshot, staged: StagedSnapshot) -> list[dict[str, str]]:
    """Numbers that became text, told from the first rows of both versions."""
    shared = [c for c in staged.columns if c in previous.columns]
    if not shared:
        return []
    old = _sample(previous.parquet, shared)
    new = _sample(staged.parquet, shared)
    if old.num_rows == 0 or new.num_rows == 0:
        return []
    warnings = []
    for column in shared:
        if not _numbers_only(old.column(column)):
            continue
        example = _first_text(new.column(column))
        if example is not None:
            warnings.append(
                _warning(
                    "type_changed",
                    f"Column {column!r} held only numbers in the current version; the new "
                    f"data has text in it (e.g. {example[:40]!r}).",
                )
            )
    return warnings


def _formula_warnings(staged: StagedSnapshot) -> list[dict[str, str]]:
    escaped: dict[str, int] = {}
    for batch in pq.ParquetFile(staged.parquet).iter_batches(batch_size=65_536):
        for name, values in zip(batch.schema.names, batch.columns, strict=True):
            count = pc.sum(pc.match_substring_regex(values, _ESCAPED_FORMULA)).as_py() or 0
            if count:
                escaped[name] = escaped.get(name, 0) + int(count)
    if not escaped:
        return []
    total = sum(escaped.values())
    where = ", ".join(repr(name) for name in escaped)
    return [
        _warning(
            "formulas_escaped",
            f"{total} cell(s) that start like a formula (=, +, -, @) get a leading ' so "
            f"spreadsheet programs show them as text (column(s) {where}).",
        )
    ]
