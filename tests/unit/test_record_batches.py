"""Rows of cell text as an Arrow batch (`connectors.toolkit.record_batches`)."""

from __future__ import annotations

import pyarrow as pa

from connectors.toolkit.record_batches import text_batch


def test_each_cell_position_becomes_a_string_column_and_empty_cells_become_null() -> None:
    batch = text_batch([["a", ""], ["", "d"]], 2)
    assert batch.num_columns == 2 and batch.num_rows == 2
    assert all(column.type == pa.string() for column in batch.columns)
    assert batch.column(0).to_pylist() == ["a", None]
    assert batch.column(1).to_pylist() == [None, "d"]


def test_a_batch_has_exactly_width_columns_with_distinct_names() -> None:
    batch = text_batch([["a", "b", "c"]], 3)
    assert len(set(batch.schema.names)) == 3


def test_no_rows_give_an_empty_batch_of_the_given_width() -> None:
    batch = text_batch([], 4)
    assert (batch.num_columns, batch.num_rows) == (4, 0)


def test_text_that_looks_like_nothing_is_kept() -> None:
    batch = text_batch([[" "], ["0"], ["null"]], 1)
    assert batch.column(0).to_pylist() == [" ", "0", "null"]
