"""Reading one sheet as a table: the header, then data rows in chunks of rows sized to keep
each response near Google's ~2 MB guidance, one Arrow batch per chunk."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from connectors.base import ConfigError, ProgressCallback, Table
from connectors.google_sheets.a1 import quote_sheet_title
from connectors.google_sheets.api import GoogleSheetsAPI, SheetInfo
from connectors.google_sheets.rows import (
    ChunkSizing,
    TrailingBlankRowTrimmer,
    first_cell_beyond,
    formatted_rows,
    merge_unformatted_rows,
    overflow_message,
    pad_row,
)
from connectors.google_sheets.selection import SheetSelection
from connectors.toolkit.record_batches import text_batch


@dataclass(frozen=True, slots=True)
class _Chunk:
    first_row: int  # sheet row number of rows[0]
    requested: int  # rows asked for; the API leaves out trailing blank ones
    rows: list[list[str]]
    response_bytes: int


class SheetReader:
    def __init__(
        self,
        api: GoogleSheetsAPI,
        selection: SheetSelection,
        sheet: SheetInfo,
        progress: ProgressCallback,
        sizing: ChunkSizing | None = None,
    ) -> None:
        self._api = api
        self._selection = selection
        self._sheet = sheet
        self._progress = progress
        self._sizing = sizing or ChunkSizing()
        cells = selection.cells
        # Google refuses ranges beyond the sheet's grid, so clip the range to it.
        self._last_row = min(cells.last_row or sheet.row_count, sheet.row_count)
        self._last_col = None if cells.last_col is None else min(cells.last_col, sheet.column_count)

    def table(self) -> Table:
        """Reads the header and the first chunk now (so a bad range or missing access fails
        here) and the rest lazily as the engine consumes batches."""
        cells = self._selection.cells
        header_at = cells.first_row + self._selection.header_row - 1
        if header_at > self._last_row or cells.first_col > self._sheet.column_count:
            self._api.close()
            return Table(columns=[], batches=iter(()))  # the range lies outside the grid

        # A bounded range fixes the columns, blank headers included (the engine names them
        # column_N); nothing can lie beyond it.
        width = (
            self._last_col - cells.first_col + 1
            if self._last_col is not None
            else self._sheet.column_count
        )
        # Sized for the full grid width: too small a first chunk only costs a request or
        # two (sizes then grow), too large a one could exceed the response guidance.
        size = self._sizing.first(width)
        first = self._read(header_at, min(self._last_row, header_at + size - 1))
        header = first.rows[0] if first.rows else []
        if self._last_col is None:
            # Open columns: as wide as the header, or as the widest row of the first chunk
            # when data sits under a blank header cell at the end of the header row.
            width = max((len(row) for row in first.rows), default=0)
        columns = pad_row(header, width)
        data = _Chunk(first.first_row + 1, first.requested - 1, first.rows[1:], 0)
        return Table(columns=columns, batches=self._batches(data, first, width))

    def _batches(self, data: _Chunk, first: _Chunk, width: int) -> Iterator[pa.RecordBatch]:
        trimmer = TrailingBlankRowTrimmer()
        emitted = 0
        chunk, previous = data, first
        try:
            while True:
                rows = self._rectangular(chunk, width, trimmer)
                emitted += len(rows)
                if rows and width:
                    yield text_batch(rows, width)
                self._progress(emitted)
                next_row = previous.first_row + previous.requested
                if next_row > self._last_row:
                    return  # rows still held by the trimmer were trailing blanks
                size = self._sizing.next(previous.requested, previous.response_bytes)
                chunk = previous = self._read(next_row, min(self._last_row, next_row + size - 1))
        finally:
            self._api.close()

    def _rectangular(
        self, chunk: _Chunk, width: int, trimmer: TrailingBlankRowTrimmer
    ) -> list[list[str]]:
        for offset, row in enumerate(chunk.rows):
            if len(row) > width:
                # Only ranges with open columns (which start at column A) get here, so the
                # row's index is the sheet's column number minus one.
                beyond = first_cell_beyond(row, width)
                if beyond is not None:
                    raise ConfigError(
                        overflow_message(chunk.first_row + offset, beyond, row[beyond], width),
                        field="config.range",
                    )
        padded = [row if len(row) == width else pad_row(row, width) for row in chunk.rows]
        released = trimmer.feed(padded, width)
        trimmer.hold(chunk.requested - len(chunk.rows))
        return released

    def _read(self, first_row: int, last_row: int) -> _Chunk:
        a1 = self._selection.cells.rows_a1(first_row, last_row, self._last_col)
        qualified = f"{quote_sheet_title(self._sheet.title)}!{a1}"
        sid = self._selection.spreadsheet_id
        if not self._selection.unformatted:
            read = self._api.values(sid, qualified, unformatted=False, dates_as_text=False)
            rows = formatted_rows(read.rows)
            size = read.response_bytes
        else:
            # The values API cannot say which numbers are dates; a second read with dates as
            # text can: a cell that is a number in one and text in the other is a date.
            raw = self._api.values(sid, qualified, unformatted=True, dates_as_text=False)
            probe = self._api.values(sid, qualified, unformatted=True, dates_as_text=True)
            rows = merge_unformatted_rows(raw.rows, probe.rows)
            size = max(raw.response_bytes, probe.response_bytes)
        return _Chunk(first_row, last_row - first_row + 1, rows, size)
