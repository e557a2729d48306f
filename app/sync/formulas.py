"""CSV formula injection: text that a spreadsheet program would run as a formula.

Excel, LibreOffice and Google Sheets read a cell that starts with `=`, `+`, `-` or `@` as a
formula (`=HYPERLINK(…)`, `+cmd|' /C calc'!A0`, `@SUM(…)`), and a leading tab or carriage
return hides such a start from a quick look. A CSV synced from a spreadsheet carries text
that anyone with edit rights on the sheet typed; opened in Excel, it runs. OWASP's advice is
to prefix such cells with `'`, which spreadsheet programs show as plain text.

Numbers are left alone even when signed (`-5`, `+1.5e3`, `-0.25`, `-12.5%`): they are no
formula, and quoting them would turn every negative number into text. The escaping is a pure
function of the cell, so the same source gives the same bytes on every run (stable diff,
checksum and ETag).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# What spreadsheet programs treat as the start of a formula (or hide one behind).
_FORMULA_START = r"^[=+\-@\t\r]"
# A plain signed number, as spreadsheets show them: digits with an optional fraction,
# exponent and percent sign; thousands separators allowed in the integer part.
_SIGNED_NUMBER = r"^[+-](\d{1,3}(,\d{3})+|\d+)?(\.\d+)?([eE][+-]?\d+)?%?$"


def escape_formulas(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """`values` (string, large_string or string_view, whole or chunked) with `'` before every
    cell that would start a formula; the result has the type of `values`."""
    # Arrow's regex kernels do not take string_view: work on a large_string copy (lossless
    # whatever the size) and give the result back as string_view.
    text = values.cast(pa.large_string()) if values.type == pa.string_view() else values
    starts_formula = pc.match_substring_regex(text, _FORMULA_START)
    if not pc.any(starts_formula).as_py():
        return values
    number = pc.and_(
        pc.match_substring_regex(text, _SIGNED_NUMBER),
        pc.match_substring_regex(text, r"\d"),
    )
    escape = pc.fill_null(pc.and_(starts_formula, pc.invert(number)), False)
    # The separator and the quote take the cells' type: Arrow joins only alike strings.
    quoted = pc.binary_join_element_wise(pa.scalar("'", text.type), text, pa.scalar("", text.type))
    return pc.if_else(escape, quoted, text).cast(values.type)
