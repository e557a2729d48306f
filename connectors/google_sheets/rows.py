"""Turning Sheets API `values` into rectangular rows of strings: pure functions, no I/O.

Empty cells are the empty string "", never null: the API does not distinguish a cell that
was never written from one that was cleared, and omits both at the end of a row, so "" is
the one value an empty cell can have. The engine renders "" as an empty CSV field.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.columns import column_letters
from connectors.toolkit.spreadsheet_numbers import number_text

# Day 0 of Sheets' (and Lotus/Excel's) serial date system.
SERIAL_EPOCH = datetime(1899, 12, 30)
_MS_PER_DAY = 86_400_000


def pad_row(row: Sequence[str], width: int) -> list[str]:
    """The row cut or padded with "" to `width` cells: the API omits a row's trailing empty
    cells, so a short row means empty cells at its end, not missing data."""
    if len(row) >= width:
        return list(row[:width])
    return [*row, *([""] * (width - len(row)))]


def first_cell_beyond(row: Sequence[str], width: int) -> int | None:
    """The 0-based index of the first non-empty cell at or after `width`, or None. Such a
    cell has no column to land in; the caller reports it instead of dropping it."""
    for index in range(width, len(row)):
        if row[index] != "":
            return index
    return None


def is_blank(row: Sequence[str]) -> bool:
    return all(cell == "" for cell in row)


class TrailingBlankRowTrimmer:
    """Drops blank rows at the end of a sheet read in chunks while keeping blank rows
    between data rows. A blank row is held back until a later non-blank row shows it is
    not trailing; whatever is still held when the reading ends is dropped. The API itself
    omits trailing empty rows per response, so a chunk that ends early says "blank rows
    here" unless nothing follows: `hold` records them without materialising them."""

    def __init__(self) -> None:
        self._held = 0

    def hold(self, count: int) -> None:
        """Records `count` blank rows the API left out of a response."""
        self._held += count

    def feed(self, rows: Iterable[list[str]], width: int) -> list[list[str]]:
        """The rows that are now known not to be trailing, held blank rows first."""
        released: list[list[str]] = []
        for row in rows:
            if is_blank(row):
                self._held += 1
                continue
            if self._held:
                released.extend([""] * width for _ in range(self._held))
                self._held = 0
            released.append(row)
        return released


def serial_to_iso(serial: float) -> str:
    """A Sheets date/time serial (days since 1899-12-30, time as the day's fraction) as
    ISO 8601: whole days -> `2024-03-15`; a fraction below one day -> `13:30:00` (a time of
    day); otherwise `2024-03-15T13:30:00`. Milliseconds appear only when non-zero."""
    millis = round(serial * _MS_PER_DAY)
    moment = SERIAL_EPOCH + timedelta(milliseconds=millis)
    spec = "milliseconds" if millis % 1000 else "seconds"
    if millis % _MS_PER_DAY == 0:
        return moment.date().isoformat()
    if 0 < millis < _MS_PER_DAY:
        return moment.time().isoformat(timespec=spec)
    return moment.isoformat(timespec=spec)


def render_unformatted_cell(raw: Any, date_probe: Any) -> str:
    """One cell of an UNFORMATTED_VALUE read. `raw` is the cell read with serial-number
    dates, `date_probe` the same cell read with dateTimeRenderOption=FORMATTED_STRING:
    where the first is a number and the second a string, the cell is formatted as a date,
    time or date-time in the sheet, so its serial becomes ISO 8601 instead of a number.
    Other numbers show at most 15 significant digits, as the sheet shows them."""
    if raw is None or raw == "":
        return ""
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"  # what the sheet shows for a checkbox/boolean
    if isinstance(raw, int | float):
        if isinstance(date_probe, str):
            return serial_to_iso(float(raw))
        return number_text(raw)
    return str(raw)


def merge_unformatted_rows(
    raw_rows: Sequence[Sequence[Any]], date_probe_rows: Sequence[Sequence[Any]]
) -> list[list[str]]:
    """Cell-by-cell `render_unformatted_cell` over two reads of the same range. Both reads
    omit the same empty cells, so the shapes match; a missing probe cell reads as "no date"."""
    merged: list[list[str]] = []
    for index, raw_row in enumerate(raw_rows):
        probe_row = date_probe_rows[index] if index < len(date_probe_rows) else ()
        merged.append(
            [
                render_unformatted_cell(cell, probe_row[i] if i < len(probe_row) else None)
                for i, cell in enumerate(raw_row)
            ]
        )
    return merged


def formatted_rows(values: Sequence[Sequence[Any]]) -> list[list[str]]:
    """Rows of a FORMATTED_VALUE read. The API already sends every cell as the string the
    sheet shows; anything else (a stand-in or proxy sending numbers) is made text."""
    rows: list[list[str]] = []
    for row in values:
        if all(type(cell) is str for cell in row):
            rows.append(row)  # type: ignore[arg-type]  # checked: every cell is a str
        else:
            rows.append([_as_text(cell) for cell in row])
    return rows


def _as_text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, int | float):
        return number_text(cell)
    return str(cell)


@dataclass(frozen=True, slots=True)
class ChunkSizing:
    """How many rows to ask for per request, so that a response stays near `target_bytes`
    (Google recommends at most ~2 MB per payload; larger reads get slow and time out).

    Sizes adapt to the bytes per requested row actually seen, but at most double from one
    chunk to the next: a run of blank rows costs almost nothing and must not make the next
    request, perhaps over dense data, a hundred times larger."""

    # Below 2 MB with a margin: row sizes vary from one chunk to the next.
    target_bytes: int = 1_500_000
    min_rows: int = 100
    max_rows: int = 50_000
    # A guess before anything was seen: Google's pretty-printed JSON costs ~10 bytes per
    # cell around the value, and typical cells hold under ten characters.
    assumed_bytes_per_cell: int = 20

    def first(self, width: int) -> int:
        per_row = max(1, width) * self.assumed_bytes_per_cell
        return self._clamp(self.target_bytes // per_row)

    def next(self, previous_rows: int, response_bytes: int) -> int:
        per_row = response_bytes / max(1, previous_rows)
        ideal = int(self.target_bytes / max(per_row, 1.0))
        return self._clamp(min(ideal, previous_rows * 2))

    def _clamp(self, rows: int) -> int:
        return max(self.min_rows, min(self.max_rows, rows))


def overflow_message(row_number: int, col_index: int, value: str, width: int) -> str:
    """Why a value outside the header's columns fails the run (the column list is fixed by
    the time later chunks arrive, and dropping the value would lose data silently)."""
    shown = value if len(value) <= 40 else value[:37] + "..."
    return (
        f"Cell {column_letters(col_index + 1)}{row_number} holds {shown!r} but the header row "
        f"has only {width} column(s) (up to {column_letters(width)}): give that column a header, "
        "or set config.range to the columns to sync."
    )
