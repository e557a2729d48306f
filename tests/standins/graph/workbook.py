"""Worksheet contents as Excel holds them, and the range answers Graph gives for them.

A worksheet is a grid of stored values (numbers — dates are serials —, strings, booleans,
"" for empty) with a number format per cell. Graph answers a range with three grids of the
same shape: `values`, `text` (what Excel displays) and `numberFormat`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

GENERAL = "General"
_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


@dataclass
class Worksheet:
    name: str
    values: list[list[Any]]  # row 1 first, column A first
    formats: list[list[str]] | None = None  # None: General everywhere
    column_formats: list[str] | None = None  # a format per column, when `formats` is None
    id: str = ""
    position: int = 0
    used: tuple[int, int, int, int] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.used = _used_bounds(self.values)

    def number_format(self, row: int, column: int) -> str:
        """Format of the 1-based cell (row, column)."""
        if self.formats is not None:
            line = self.formats[row - 1] if row - 1 < len(self.formats) else []
            return line[column - 1] if column - 1 < len(line) else GENERAL
        if self.column_formats is not None and column - 1 < len(self.column_formats):
            return self.column_formats[column - 1] or GENERAL
        return GENERAL

    def value(self, row: int, column: int) -> Any:
        line = self.values[row - 1] if 0 < row <= len(self.values) else []
        value = line[column - 1] if 0 < column <= len(line) else ""
        return "" if value is None else value

    def used_address(self) -> tuple[int, int, int, int]:
        """(first_row, first_col, last_row, last_col) of cells with values; A1 when empty,
        as Graph answers for a blank sheet."""
        return self.used or (1, 1, 1, 1)

    def range_answer(
        self, first_row: int, first_col: int, last_row: int, last_col: int
    ) -> dict[str, Any]:
        rows = range(first_row, last_row + 1)
        cols = range(first_col, last_col + 1)
        values = [[self.value(r, c) for c in cols] for r in rows]
        formats = [[self.number_format(r, c) for c in cols] for r in rows]
        texts = [
            [display_text(values[i][j], formats[i][j]) for j in range(len(cols))]
            for i in range(len(rows))
        ]
        address = f"{column_letters(first_col)}{first_row}:{column_letters(last_col)}{last_row}"
        sheet = f"'{self.name}'" if re.search(r"[^A-Za-z0-9_]", self.name) else self.name
        return {
            "@odata.type": "#microsoft.graph.workbookRange",
            "address": f"{sheet}!{address}",
            "addressLocal": f"{sheet}!{address}",
            "cellCount": len(rows) * len(cols),
            "columnCount": len(cols),
            "columnIndex": first_col - 1,
            "rowCount": len(rows),
            "rowIndex": first_row - 1,
            "values": values,
            "text": texts,
            "numberFormat": formats,
            "valueTypes": [[_value_type(v) for v in row] for row in values],
        }


def _used_bounds(values: list[list[Any]]) -> tuple[int, int, int, int] | None:
    rows = [r for r, line in enumerate(values, 1) if any(v not in ("", None) for v in line)]
    if not rows:
        return None
    cols = [c for line in values for c, v in enumerate(line, 1) if v not in ("", None)]
    return rows[0], min(cols), rows[-1], max(cols)


def _value_type(value: Any) -> str:
    if value in ("", None):
        return "Empty"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Double"
    if isinstance(value, str) and value.startswith("#"):
        return "Error"
    return "String"


def display_text(value: Any, number_format: str) -> str:
    """Roughly what Excel shows: enough for a client that prefers `text` for some cells."""
    if value in ("", None):
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return value
    lowered = re.sub(r'"[^"]*"|\[[^\]]*\]', "", number_format).lower()
    if number_format.startswith("[h]"):
        total = round(float(value) * 86400)
        return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"
    if any(t in lowered for t in ("y", "d")) or ("m" in lowered and "h" not in lowered):
        day = dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
        return f"{day.month}/{day.day}/{day.year}"
    if "h" in lowered:
        seconds = round((float(value) % 1) * 86400)
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def column_letters(index: int) -> str:
    letters = ""
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def column_number(letters: str) -> int:
    number = 0
    for ch in letters.upper():
        number = number * 26 + ord(ch) - 64
    return number


def parse_address(address: str) -> tuple[int, int, int, int] | None:
    """`A1:D5000` or `B2` (optionally `Sheet!`-prefixed) → bounds, None if not understood."""
    text = address.rsplit("!", 1)[-1]
    ends = text.split(":")
    if len(ends) not in (1, 2):
        return None
    cells = [_CELL.match(end) for end in ends]
    if not all(cells):
        return None
    (c1, r1), (c2, r2) = cells[0].groups(), cells[-1].groups()  # type: ignore[union-attr]
    return (
        min(int(r1), int(r2)),
        min(column_number(c1), column_number(c2)),
        max(int(r1), int(r2)),
        max(column_number(c1), column_number(c2)),
    )


def worksheet_from_definition(definition: dict[str, Any]) -> Worksheet:
    """A worksheet from JSON: `{"name", "rows": [[cell…]…], "columnFormats"?: […]}` where a
    cell is a plain value or `{"value": v, "numberFormat": "yyyy-mm-dd"}`."""
    values: list[list[Any]] = []
    formats: list[list[str]] = []
    has_cell_formats = False
    column_formats = definition.get("columnFormats")
    for line in definition.get("rows", []):
        row_values, row_formats = [], []
        for c, cell in enumerate(line):
            if isinstance(cell, dict):
                has_cell_formats = True
                row_values.append(cell.get("value", ""))
                row_formats.append(cell.get("numberFormat", GENERAL))
            else:
                row_values.append(cell)
                fallback = (
                    column_formats[c] if column_formats and c < len(column_formats) else GENERAL
                )
                row_formats.append(fallback)
        values.append(row_values)
        formats.append(row_formats)
    return Worksheet(
        name=str(definition["name"]),
        values=values,
        formats=formats if has_cell_formats else None,
        column_formats=None if has_cell_formats else column_formats,
    )
