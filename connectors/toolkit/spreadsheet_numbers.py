"""A spreadsheet's number as the text its user sees: one rule for Google Sheets and Excel.

Spreadsheets hold doubles and show at most 15 significant digits, so `0.1 + 0.2` is `0.3`
in the cell, as it is in a SQL source's float columns, which the engine rounds the same way.
The notation differs from the engine's on purpose: a spreadsheet user sees plain
digits (`12345678901.5`, `0.0000001`), never an exponent, and spreadsheet columns mix
numbers with text in one column, so their cells reach the engine as text.
"""

from __future__ import annotations

import math
from decimal import Decimal

SIGNIFICANT_DIGITS = 15


def number_text(number: int | float) -> str:
    """Integers as their digits; other numbers at most 15 significant digits, in plain
    decimal notation without trailing zeros; `-0` as `0`."""
    if isinstance(number, int):
        return str(number)  # JSON integers are exact; a double's noise is not in them
    if not math.isfinite(number):
        return str(number)
    # `.15g` drops the fraction's trailing zeros itself; Decimal writes its exponent out.
    text = f"{Decimal(f'{number:.{SIGNIFICANT_DIGITS}g}'):f}"
    return "0" if text == "-0" else text
