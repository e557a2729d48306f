"""Excel cell values rendered the way a workbook user reads them. Pure: no I/O.

Graph's `values` hold what Excel stores: numbers (dates are serial numbers), strings,
booleans, "" for empty cells and error strings such as "#N/A". Only the cell's
`numberFormat` tells a date from a number, so rendering needs both.
"""

from __future__ import annotations

import enum
import re
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from connectors.toolkit.spreadsheet_numbers import number_text

CellValue = str | int | float | bool | None

# Excel's 1900 date system: serial 1 is 1900-01-01, and serial 60 is 1900-02-29, a day that
# never existed (Lotus 1-2-3's leap-year bug, kept for compatibility). Serials from 61 on
# therefore count from 1899-12-30; serials below 61 from 1899-12-31.
_EPOCH_FROM_61 = date(1899, 12, 30)
_EPOCH_BELOW_61 = date(1899, 12, 31)
_FAKE_LEAP_DAY = 60
_LAST_SERIAL = 2958465  # 9999-12-31; beyond it Excel shows ##### instead of a date
_MS_PER_DAY = 86_400_000


class FormatKind(enum.Enum):
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"
    ELAPSED = "elapsed"  # [h]:mm:ss durations, which can exceed 24 hours


# Parts of a format code that never denote a date or time token: quoted literals, escaped
# characters, fill (*x) and padding (_x) directives, and AM/PM markers (their "m" and "a"
# would otherwise read as month tokens).
_NON_TOKENS = re.compile(r'"[^"]*"|\\.|[*_].|am/pm|a/p', re.IGNORECASE)
_BRACKETS = re.compile(r"\[([^\]]*)\]")
_ELAPSED_BRACKET = re.compile(r"^(h+|m+|s+)$", re.IGNORECASE)


@lru_cache(maxsize=1024)
def classify_number_format(number_format: str) -> FormatKind:
    """What Excel displays for a number under this format code.

    Only the first section counts (positive numbers; dates are never negative).
    """
    section = _first_section(number_format)
    elapsed = any(_ELAPSED_BRACKET.match(m) for m in _BRACKETS.findall(section))
    # Colours ([Red]), locales ([$-409]) and conditions ([>=100]) are not tokens.
    tokens = _BRACKETS.sub(" ", _NON_TOKENS.sub(" ", section)).lower()
    if tokens.strip() == "general" or "general" in tokens:
        return FormatKind.NUMBER
    has_time = elapsed or "h" in tokens or "s" in tokens
    # A lone "m" is a month unless hours or seconds make it minutes.
    has_date = "y" in tokens or "d" in tokens or ("m" in tokens and not has_time)
    if elapsed:
        return FormatKind.ELAPSED
    if has_date and has_time:
        return FormatKind.DATETIME
    if has_date:
        return FormatKind.DATE
    if has_time:
        return FormatKind.TIME
    return FormatKind.NUMBER


def _first_section(number_format: str) -> str:
    """The text before the first `;` that is not inside quotes or escaped."""
    in_quotes = False
    escaped = False
    for i, ch in enumerate(number_format):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            in_quotes = not in_quotes
        elif ch == ";" and not in_quotes:
            return number_format[:i]
    return number_format


def serial_to_iso(serial: float, kind: FormatKind) -> str | None:
    """An Excel 1900-system serial as ISO 8601 text for a date/datetime/time format, or
    None where Excel itself shows no date (negative or beyond 9999-12-31)."""
    if serial < 0 or serial >= _LAST_SERIAL + 1:
        return None
    # Excel keeps times to the millisecond; rounding here avoids 13:44:59.999.
    total_ms = round(serial * _MS_PER_DAY)
    days, ms_of_day = divmod(total_ms, _MS_PER_DAY)
    clock = _clock_text(ms_of_day)
    if kind is FormatKind.TIME:
        return clock
    day_text = _day_text(days)
    if kind is FormatKind.DATETIME:
        return f"{day_text}T{clock}"
    return day_text


@lru_cache(maxsize=65_536)  # a column of dates repeats few distinct days
def _day_text(days: int) -> str:
    if days == _FAKE_LEAP_DAY:
        return "1900-02-29"
    if days == 0:
        return "1900-01-00"  # what Excel shows for serial 0 under a date format
    if days < _FAKE_LEAP_DAY:
        return (_EPOCH_BELOW_61 + timedelta(days=days)).isoformat()
    return (_EPOCH_FROM_61 + timedelta(days=days)).isoformat()


def _clock_text(ms_of_day: int) -> str:
    seconds, ms = divmod(ms_of_day, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    text = f"{hour:02d}:{minute:02d}:{second:02d}"
    return f"{text}.{ms:03d}" if ms else text


def render_cell(value: Any, number_format: str, text: str) -> str:
    """One cell as the CSV should hold it.

    `text` is Graph's display text, used only where the value alone cannot say what the
    user sees (elapsed durations, serials outside Excel's calendar).
    """
    if value is None or value == "":
        return ""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return value  # text as typed (leading zeros kept) and errors such as "#N/A"
    if isinstance(value, int | float):
        kind = classify_number_format(number_format or "General")
        if kind is FormatKind.NUMBER:
            return number_text(value)
        if kind is FormatKind.ELAPSED:
            return text
        iso = serial_to_iso(float(value), kind)
        return iso if iso is not None else number_text(value)
    return str(value)


def render_rows(
    values: list[list[Any]],
    number_formats: list[list[Any]] | None,
    texts: list[list[Any]] | None,
    width: int,
) -> list[list[str]]:
    """Rows of rendered cells, each padded or cut to `width`. The three grids have the
    same shape in Graph's answer; a missing format grid means General everywhere."""
    rows: list[list[str]] = []
    for r, row_values in enumerate(values):
        formats = number_formats[r] if number_formats else []
        row_texts = texts[r] if texts else []
        rendered = [
            render_cell(
                row_values[c] if c < len(row_values) else None,
                str(formats[c]) if c < len(formats) and formats[c] is not None else "General",
                str(row_texts[c]) if c < len(row_texts) and row_texts[c] is not None else "",
            )
            for c in range(width)
        ]
        rows.append(rendered)
    return rows
