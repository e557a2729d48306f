"""A1 addresses, row blocks and OData path segments for worksheets. Pure: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from connectors import columns

MAX_ROWS = 1_048_576  # Excel's sheet size
MAX_COLUMNS = 16_384  # column XFD

_CELL = r"\$?([A-Za-z]{1,3})?\$?(\d{1,7})?"
_A1 = re.compile(rf"^{_CELL}(?::{_CELL})?$")


class AddressError(ValueError):
    """An address that is not A1 notation Excel accepts."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """A rectangle of cells, 1-based and inclusive. An open side (None) means "as far as
    the used range goes": `A:D` has no rows, `2:10` no columns."""

    first_row: int | None
    first_column: int | None
    last_row: int | None
    last_column: int | None


@dataclass(frozen=True, slots=True)
class CellBlock:
    """A closed rectangle of cells, 1-based and inclusive."""

    first_row: int
    first_column: int
    last_row: int
    last_column: int

    @property
    def width(self) -> int:
        return self.last_column - self.first_column + 1

    @property
    def height(self) -> int:
        return self.last_row - self.first_row + 1

    @property
    def address(self) -> str:
        """`B2:E5000`, the form `range(address=…)` takes."""
        return (
            f"{column_letters(self.first_column)}{self.first_row}:"
            f"{column_letters(self.last_column)}{self.last_row}"
        )


def column_letters(index: int) -> str:
    """1 → A, 27 → AA, 16384 → XFD."""
    if not 1 <= index <= MAX_COLUMNS:
        raise AddressError(f"column {index} is outside A..XFD")
    return columns.column_letters(index)


def column_index(letters: str) -> int:
    """A → 1, AA → 27, XFD → 16384."""
    index = columns.column_index(letters)
    if not 1 <= index <= MAX_COLUMNS:
        raise AddressError(f"column {letters} is beyond the last column XFD")
    return index


def strip_sheet_prefix(address: str) -> str:
    """`'My Sheet'!A1:D5` → `A1:D5`; Graph's usedRange addresses carry the sheet name."""
    return address.rsplit("!", 1)[1] if "!" in address else address


def parse_a1(address: str) -> Bounds:
    """Parse `A1`, `A1:D50`, `A:D` or `2:10` (with optional `$` and sheet prefix)."""
    text = strip_sheet_prefix(address.strip())
    match = _A1.match(text)
    if not text or not match:
        raise AddressError(f"{address!r} is not an A1 range such as A1:D100, A:D or 2:10")
    col1, row1, col2, row2 = match.groups()
    if ":" not in text:
        if not (col1 and row1):
            raise AddressError(f"{address!r} is not a cell such as B2")
        col2, row2 = col1, row1
    # Both ends must be of one kind: cell:cell, column:column or row:row.
    if bool(col1) != bool(col2) or bool(row1) != bool(row2) or not (col1 or row1):
        raise AddressError(f"{address!r} mixes cells, whole columns and whole rows")
    rows = _ordered(_row(row1), _row(row2)) if row1 and row2 else (None, None)
    cols = _ordered(column_index(col1), column_index(col2)) if col1 and col2 else (None, None)
    return Bounds(rows[0], cols[0], rows[1], cols[1])


def _row(text: str) -> int:
    row = int(text)
    if not 1 <= row <= MAX_ROWS:
        raise AddressError(f"row {row} is outside 1..{MAX_ROWS}")
    return row


def _ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a <= b else (b, a)


def used_block(used_range_address: str) -> CellBlock:
    """The used range Graph reports (`Sheet1!B2:E9`, or `Sheet1!A1` when empty)."""
    bounds = parse_a1(used_range_address)
    assert bounds.first_row and bounds.first_column and bounds.last_row and bounds.last_column
    return CellBlock(bounds.first_row, bounds.first_column, bounds.last_row, bounds.last_column)


def clip_to_used(selection: Bounds, used: CellBlock) -> CellBlock | None:
    """The part of `selection` worth reading: open sides take the used range's extent, and
    rows and columns past the used range's end are empty anyway. An explicit start is kept
    (so `headerRow` counts from where the user's range starts). None when nothing is left."""
    first_row = selection.first_row or used.first_row
    last_row = min(selection.last_row or used.last_row, used.last_row)
    first_col = selection.first_column or used.first_column
    last_col = min(selection.last_column or used.last_column, used.last_column)
    if first_row > last_row or first_col > last_col:
        return None
    return CellBlock(first_row, first_col, last_row, last_col)


def rows_per_block(width: int, max_rows: int, max_cells: int) -> int:
    """Rows per `range(address=…)` request: at most `max_rows`, and few enough that a wide
    sheet stays under Graph's response payload limit."""
    return max(1, min(max_rows, max_cells // max(1, width)))


def row_blocks(block: CellBlock, rows: int) -> list[CellBlock]:
    """`block` cut into consecutive blocks of at most `rows` rows, full width each."""
    return [
        CellBlock(
            start, block.first_column, min(start + rows - 1, block.last_row), block.last_column
        )
        for start in range(block.first_row, block.last_row + 1, rows)
    ]


def worksheet_segment(name: str) -> str:
    """The path segment addressing a worksheet by name: `worksheets('Q1 ''24')`.

    OData string literals double single quotes; the result is percent-encoded for the URL
    path, keeping the quotes and parentheses OData needs to see.
    """
    literal = "'" + name.replace("'", "''") + "'"
    return f"worksheets({quote(literal, safe=chr(39))})"
