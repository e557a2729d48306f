"""CSV bytes for batches of canonical strings, with RFC 4180 quoting only where needed.

A field is quoted when it holds the delimiter, a quote or a line break, and when it is the
empty string, so that an empty string (`""`) and a null (nothing) stay apart in the file.

Arrow's CSV writer quotes every text field in its "needed" style, and in its "none" style
refuses any value with a structural character. Most batches hold neither such values nor
empty strings, and for those "none" is exactly minimal quoting at Arrow's speed; the other
batches are assembled here from Arrow string kernels.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv


def csv_lines(batch: pa.RecordBatch, delimiter: str) -> pa.Buffer:
    """The batch's rows as CSV lines (every column a string column), as one buffer."""
    if not any(pc.any(pc.equal(column, "")).as_py() for column in batch.columns):
        sink = pa.BufferOutputStream()
        try:
            pacsv.write_csv(
                batch,
                sink,
                pacsv.WriteOptions(include_header=False, delimiter=delimiter, quoting_style="none"),
            )
            return sink.getvalue()
        except pa.ArrowInvalid:
            pass  # a value holds a structural character: quote it ourselves
    return _quoted_lines(batch, delimiter)


def header_bytes(names: list[str], delimiter: str) -> bytes:
    header = pa.RecordBatch.from_arrays(
        [pa.array([name], pa.string()) for name in names], names=names
    )
    return bytes(csv_lines(header, delimiter).to_pybytes())


def _quoted_lines(batch: pa.RecordBatch, delimiter: str) -> pa.Buffer:
    # Only batches with a row and a column get here: Arrow's writer takes any other.
    special = "[" + re.escape(delimiter) + '"\\r\\n]'
    fields = []
    for values in batch.columns:
        needs_quotes = pc.fill_null(
            pc.or_(pc.equal(values, ""), pc.match_substring_regex(values, special)), False
        )
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
        fields.append(pc.if_else(needs_quotes, quoted, values))
    lines = pc.binary_join_element_wise(
        *fields, delimiter, null_handling="replace", null_replacement=""
    )
    lines = pc.binary_join_element_wise(lines, "\n", "")
    # The lines lie back to back in the array's data buffer: that span is the CSV text.
    offsets = np.frombuffer(
        lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4
    )
    return lines.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
