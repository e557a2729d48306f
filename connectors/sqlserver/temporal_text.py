"""SQL Server's text forms of datetime2 and datetimeoffset, rewritten as ISO 8601.

Both drivers hand these types over as text (see connector.py for why):
`2026-02-12 10:00:00.5000000` and `2026-02-12 10:00:00.5000000 +01:00`. The CSV shows
every timestamp the same way, so they become `2026-02-12T10:00:00.5` and
`2026-02-12T10:00:00.5+01:00`: a `T` between date and time, the fraction's trailing
zeros cut (no fraction at all when it is zero), the offset as the server stored it,
directly after the time. All 7 digits and the years 0001-9999 survive, which a
nanosecond timestamp could not hold.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# RE2 syntax (pyarrow.compute); an optional group that did not take part is empty in
# the replacement.
_DATETIME2 = r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.0*|(\.\d*[1-9])0*)?$"
_DATETIMEOFFSET = (
    r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.0*|(\.\d*[1-9])0*)? ?([+-]\d{2}:\d{2})$"
)


def datetime2_iso(text: pa.Array) -> pa.Array:
    """`YYYY-MM-DD hh:mm:ss[.fffffff]` -> `YYYY-MM-DDThh:mm:ss[.f]`; nulls stay null."""
    return pc.replace_substring_regex(text, _DATETIME2, r"\1T\2\3")


def datetimeoffset_iso(text: pa.Array) -> pa.Array:
    """`YYYY-MM-DD hh:mm:ss[.fffffff] +hh:mm` -> `YYYY-MM-DDThh:mm:ss[.f]+hh:mm`."""
    return pc.replace_substring_regex(text, _DATETIMEOFFSET, r"\1T\2\3\4")
