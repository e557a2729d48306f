"""Rows of cell text as the Arrow batch a Table yields."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa


def text_batch(rows: Sequence[Sequence[str]], width: int) -> pa.RecordBatch:
    """One string column per cell position, `width` of them; every row holds exactly
    `width` cells. An empty cell holds no value: it becomes null, which the CSV writes as a
    bare empty field (an empty string would be written as a quoted "")."""
    columns = [pa.array([row[c] or None for row in rows], type=pa.string()) for c in range(width)]
    # The engine ignores batch field names; these only need to be distinct.
    return pa.RecordBatch.from_arrays(columns, names=[f"c{c}" for c in range(width)])
