"""Spreadsheets as the stand-in keeps them, and the Sheets API's way of answering a values
read: A1 ranges, render options, trailing empty cells and rows left out.

A cell in a sheet's `rows` is one of:
- a string: shown and read as that string ("" is an empty cell);
- a number or boolean: read raw with UNFORMATTED_VALUE, shown as Sheets' "Automatic"
  format would show it;
- an object `{"value": 45366, "formatted": "15/03/2024", "type": "DATE"}`: `value` is the
  raw value, `formatted` what the sheet shows, `type` the number format type (DATE, TIME,
  DATE_TIME) that makes dateTimeRenderOption=FORMATTED_STRING return the text;
- null: an empty cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DATE_TYPES = frozenset({"DATE", "TIME", "DATE_TIME"})
_ENDPOINT = re.compile(r"^\$?([A-Za-z]{0,3})\$?([0-9]*)$")


class RangeError(ValueError):
    """Answered as 400 INVALID_ARGUMENT with the message Google uses."""


@dataclass
class Sheet:
    title: str
    rows: list[list[Any]]
    sheet_id: int = 0
    row_count: int | None = None  # grid size; defaults like a new sheet (1000 x 26) or larger
    column_count: int | None = None

    @property
    def grid_rows(self) -> int:
        return self.row_count or max(1000, len(self.rows))

    @property
    def grid_columns(self) -> int:
        return self.column_count or max(26, max((len(r) for r in self.rows), default=0))

    @classmethod
    def from_json(cls, body: dict[str, Any], sheet_id: int) -> Sheet:
        rows = body.get("rows")
        if rows is None and "generate" in body:
            rows = generated_rows(**body["generate"])
        return cls(
            title=body["title"],
            rows=[list(row) for row in rows or []],
            sheet_id=int(body.get("sheetId", sheet_id)),
            row_count=body.get("rowCount"),
            column_count=body.get("columnCount"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "sheetId": self.sheet_id,
            "rows": self.rows,
            "rowCount": self.row_count,
            "columnCount": self.column_count,
        }


@dataclass
class Spreadsheet:
    spreadsheet_id: str
    title: str
    sheets: list[Sheet] = field(default_factory=list)
    # Principals (service account emails, OAuth users) allowed to read; None: everyone.
    readers: list[str] | None = None
    # Drive's file `version` and `modifiedTime`: both move on with every change to the
    # spreadsheet through the control API, as Google moves them on with every edit.
    version: int = 1
    modified_time: str = "2026-01-01T00:00:00.000Z"

    def edited(self, previous: Spreadsheet | None) -> Spreadsheet:
        """This spreadsheet as the next edit of `previous` (None: newly created)."""
        self.version = previous.version + 1 if previous else self.version
        self.modified_time = _now_rfc3339()
        return self

    def drive_file(self, fields: str) -> dict[str, Any]:
        """The Drive API v3 `files.get` answer, with only the requested `fields` (Drive
        returns `kind`, `id`, `name` and `mimeType` when none are named); `version` is an
        int64, which Drive's JSON carries as a string."""
        every = {
            "kind": "drive#file",
            "id": self.spreadsheet_id,
            "name": self.title,
            "mimeType": "application/vnd.google-apps.spreadsheet",
            "version": str(self.version),
            "modifiedTime": self.modified_time,
        }
        wanted = [f.strip() for f in fields.split(",") if f.strip()] or [
            "kind",
            "id",
            "name",
            "mimeType",
        ]
        return {key: every[key] for key in wanted if key in every}

    @classmethod
    def from_json(cls, spreadsheet_id: str, body: dict[str, Any]) -> Spreadsheet:
        sheets = [Sheet.from_json(s, index) for index, s in enumerate(body.get("sheets", []))]
        return cls(spreadsheet_id, body.get("title", "Untitled"), sheets, body.get("readers"))

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "sheets": [s.to_json() for s in self.sheets],
            "readers": self.readers,
        }

    def sheet(self, title: str) -> Sheet | None:
        return next((s for s in self.sheets if s.title == title), None)

    def metadata(self) -> dict[str, Any]:
        return {
            "spreadsheetId": self.spreadsheet_id,
            "properties": {"title": self.title, "locale": "en_US", "timeZone": "Etc/GMT"},
            "sheets": [
                {
                    "properties": {
                        "sheetId": s.sheet_id,
                        "title": s.title,
                        "index": index,
                        "sheetType": "GRID",
                        "gridProperties": {
                            "rowCount": s.grid_rows,
                            "columnCount": s.grid_columns,
                        },
                    }
                }
                for index, s in enumerate(self.sheets)
            ],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{self.spreadsheet_id}/edit",
        }


def _now_rfc3339() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def generated_rows(rows: int, columns: int, seed: int = 0) -> list[list[str]]:
    """A header and `rows` data rows of deterministic text (large-sheet tests without
    shipping megabytes through the control API)."""
    header = [f"col{c + 1}" for c in range(columns)]
    return [header] + [[f"r{r + seed}c{c + 1}" for c in range(columns)] for r in range(1, rows + 1)]


def split_range(text: str) -> tuple[str, str | None]:
    """`'My sheet'!A1:B2` -> ("My sheet", "A1:B2"); `Sheet1` -> ("Sheet1", None)."""
    if text.startswith("'"):
        match = re.match(r"^'((?:[^']|'')*)'(?:!(.*))?$", text, re.S)
        if not match:
            raise RangeError(f"Unable to parse range: {text}")
        return match.group(1).replace("''", "'"), match.group(2)
    title, bang, cells = text.partition("!")
    return title, (cells if bang else None)


def grid_bounds(cells: str | None, sheet: Sheet, full_text: str) -> tuple[int, int, int, int]:
    """(first_row, first_col, last_row, last_col), 1-based inclusive, clipped to the grid.
    A range starting outside the grid is refused like Google refuses it."""
    max_row, max_col = sheet.grid_rows, sheet.grid_columns
    if cells is None:
        return 1, 1, max_row, max_col
    start, colon, end = cells.partition(":")
    c1, r1 = _endpoint(start, full_text)
    c2, r2 = _endpoint(end, full_text) if colon else (c1, r1)
    if colon and not c1 and not c2:  # 2:500
        first_row, last_row, first_col, last_col = r1 or 1, r2 or max_row, 1, max_col
    elif colon and not r1 and not r2:  # A:L
        first_row, last_row, first_col, last_col = 1, max_row, c1 or 1, c2 or max_col
    else:
        if not c1 or not r1:
            raise RangeError(f"Unable to parse range: {full_text}")
        first_row, first_col = r1, c1
        last_row, last_col = r2 or max_row, c2 or max_col
    first_row, last_row = sorted((first_row, last_row))
    first_col, last_col = sorted((first_col, last_col))
    if first_row > max_row or first_col > max_col:
        raise RangeError(
            f"Range ({full_text}) exceeds grid limits. Max rows: {max_row}, max columns: {max_col}"
        )
    return first_row, first_col, min(last_row, max_row), min(last_col, max_col)


def _endpoint(text: str, full_text: str) -> tuple[int, int]:
    match = _ENDPOINT.match(text)
    if not match or not text:
        raise RangeError(f"Unable to parse range: {full_text}")
    letters, digits = match.groups()
    col = 0
    for char in letters.upper():
        col = col * 26 + ord(char) - ord("A") + 1
    return col, int(digits) if digits else 0


def a1(first_row: int, first_col: int, last_row: int, last_col: int) -> str:
    return f"{_letters(first_col)}{first_row}:{_letters(last_col)}{last_row}"


def _letters(col: int) -> str:
    out = ""
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def read_values(
    sheet: Sheet,
    bounds: tuple[int, int, int, int],
    value_render: str,
    date_time_render: str,
) -> list[list[Any]]:
    """The cells in `bounds`, rendered, each row without its trailing empty cells and the
    block without its trailing empty rows — exactly what the API leaves out."""
    first_row, first_col, last_row, last_col = bounds
    out: list[list[Any]] = []
    for row in sheet.rows[first_row - 1 : last_row]:
        cells = row[first_col - 1 : last_col]
        if not all(type(c) is str for c in cells):
            cells = [_render(c, value_render, date_time_render) for c in cells]
        while cells and cells[-1] == "":
            cells = cells[:-1]
        out.append(cells)
    while out and not out[-1]:
        out.pop()
    return out


def _render(cell: Any, value_render: str, date_time_render: str) -> Any:
    if cell is None:
        return ""
    if isinstance(cell, dict):
        value, shown, kind = cell.get("value"), cell.get("formatted"), cell.get("type")
        if value_render == "FORMATTED_VALUE":
            return shown if shown is not None else _render(value, value_render, date_time_render)
        if kind in DATE_TYPES and date_time_render == "FORMATTED_STRING":
            return shown
        return _render(value, value_render, date_time_render)
    if value_render == "FORMATTED_VALUE":
        if isinstance(cell, bool):
            return "TRUE" if cell else "FALSE"
        if isinstance(cell, float) and cell.is_integer():
            return str(int(cell))
        return str(cell)
    return cell
