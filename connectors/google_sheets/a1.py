"""A1 notation, sheet titles and spreadsheet ids: parsing and validation, no I/O.

Only the forms Google documents for the values API are accepted (`A1:L1000`, `A:L`,
`1:1000`, `A5:L` and a single cell `B2`); named ranges are not, because the connector has
to know the range's rows to read it in chunks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connectors.columns import column_index, column_letters

# Sheets' limits: 18,278 columns (ZZZ) and 10 million cells, so no row number above 10M.
MAX_COLUMN = 18_278
MAX_ROW = 10_000_000

_ENDPOINT = re.compile(r"^\$?(?P<col>[A-Za-z]{1,3})?\$?(?P<row>[0-9]{1,8})?$")
_BARE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
# docs.google.com/spreadsheets/d/<id>/edit, also the /u/<n>/d/<id> form of multi-login URLs.
_URL_ID = re.compile(r"/spreadsheets/(?:u/\d+/)?d/([A-Za-z0-9_-]+)")
# Old-style links carry the id as a `key=` or `id=` query parameter.
_QUERY_ID = re.compile(r"[?&#](?:key|id)=([A-Za-z0-9_-]+)")


class RangeSyntaxError(ValueError):
    """The text is not an A1 range this connector can read; str() says why."""


@dataclass(frozen=True, slots=True)
class CellRange:
    """A rectangle of cells, 1-based and inclusive. `None` as a last row or column means
    "to the end of the sheet", as in `A5:L` (open rows) or `1:1000` (open columns)."""

    first_row: int
    first_col: int
    last_row: int | None
    last_col: int | None

    @property
    def width(self) -> int | None:
        return None if self.last_col is None else self.last_col - self.first_col + 1

    def rows_a1(self, first_row: int, last_row: int, last_col: int | None = None) -> str:
        """The A1 text for rows `first_row..last_row` of this range's columns, the last
        column optionally clipped (to the sheet's grid, which Google refuses to exceed)."""
        end_col = self.last_col if last_col is None else last_col
        if end_col is None:
            # Open columns start at A (only `1:1000` forms are open), so a row range says it.
            return f"{first_row}:{last_row}"
        return f"{column_letters(self.first_col)}{first_row}:{column_letters(end_col)}{last_row}"


WHOLE_SHEET = CellRange(first_row=1, first_col=1, last_row=None, last_col=None)


def quote_sheet_title(title: str) -> str:
    """The title as A1 notation needs it: always single-quoted, inner quotes doubled, so
    titles with spaces, `!` or quotes (`Bob's data`) address the right sheet."""
    return "'" + title.replace("'", "''") + "'"


def split_sheet_prefix(text: str) -> tuple[str | None, str]:
    """`'Sales Data'!A1:B2` -> ("Sales Data", "A1:B2"); `A1:B2` -> (None, "A1:B2")."""
    text = text.strip()
    if text.startswith("'"):
        # A quoted title ends at the first single quote not doubled.
        i = 1
        title_chars: list[str] = []
        while i < len(text):
            if text[i] == "'":
                if i + 1 < len(text) and text[i + 1] == "'":
                    title_chars.append("'")
                    i += 2
                    continue
                break
            title_chars.append(text[i])
            i += 1
        else:
            raise RangeSyntaxError("the sheet name's opening quote is never closed")
        rest = text[i + 1 :]
        if not rest.startswith("!"):
            raise RangeSyntaxError("a quoted sheet name must be followed by ! and the cells")
        return "".join(title_chars), rest[1:]
    if "!" in text:
        title, _, cells = text.rpartition("!")
        return title, cells
    return None, text


def parse_a1_range(text: str) -> CellRange:
    """Parses the cells part of an A1 range (no sheet prefix). `$` markers are ignored and
    reversed corners (`B5:A1`) are normalised, as Sheets does."""
    cells = text.strip()
    if not cells:
        raise RangeSyntaxError("the range is empty")
    start_text, sep, end_text = cells.partition(":")
    if not sep:
        col, row = _endpoint(start_text, cells)
        if col is None or row is None:
            raise RangeSyntaxError(
                f"{cells!r} is not a cell or range; write it like A1:L1000, A:L or 2:500"
            )
        return CellRange(row, col, row, col)
    start_col, start_row = _endpoint(start_text, cells)
    end_col, end_row = _endpoint(end_text, cells)

    if start_col is not None and start_row is not None and end_col is not None:
        if end_row is None:  # A5:L — columns bounded, rows to the end of the sheet
            first_col, last_col = sorted((start_col, end_col))
            return CellRange(start_row, first_col, None, last_col)
        first_row, last_row = sorted((start_row, end_row))
        first_col, last_col = sorted((start_col, end_col))
        return CellRange(first_row, first_col, last_row, last_col)
    if start_row is None and end_row is None and start_col is not None and end_col is not None:
        first_col, last_col = sorted((start_col, end_col))  # A:L — whole columns
        return CellRange(1, first_col, None, last_col)
    if start_col is None and end_col is None and start_row is not None and end_row is not None:
        first_row, last_row = sorted((start_row, end_row))  # 2:500 — whole rows
        return CellRange(first_row, 1, last_row, None)
    raise RangeSyntaxError(
        f"{cells!r} mixes forms; write it like A1:L1000, A2:L (to the last row), A:L or 2:500"
    )


def _endpoint(text: str, whole: str) -> tuple[int | None, int | None]:
    match = _ENDPOINT.match(text.strip())
    if not match or not text.strip():
        raise RangeSyntaxError(
            f"{whole!r} is not A1 notation; write it like A1:L1000 (named ranges are not supported)"
        )
    col = column_index(match["col"]) if match["col"] else None
    row = int(match["row"]) if match["row"] else None
    if col is not None and col > MAX_COLUMN:
        raise RangeSyntaxError(f"column {match['col'].upper()} is beyond Sheets' last column ZZZ")
    if row is not None and not 1 <= row <= MAX_ROW:
        raise RangeSyntaxError(f"row {row} is outside 1..{MAX_ROW:,}")
    return col, row


def spreadsheet_id_from(text: str) -> str | None:
    """The spreadsheet id in a bare id or any Google Sheets URL form; None if there is none."""
    text = text.strip()
    if _BARE_ID.match(text):
        return text
    if "://" in text or text.startswith("docs.google.com"):
        for pattern in (_URL_ID, _QUERY_ID):
            match = pattern.search(text)
            if match:
                return match.group(1)
    return None
