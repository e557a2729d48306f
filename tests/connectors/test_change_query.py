"""`config.changeQuery`: held to the rules of `config.query`, and its one row read as a
marker that is equal exactly when the row is."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from connectors.base import ConfigError
from connectors.toolkit.change_query import (
    change_query_problems,
    checked_change_query,
    marker_of_batches,
    marker_of_row,
)


def test_an_absent_or_empty_change_query_is_no_problem_and_no_query() -> None:
    for selection in ({}, {"changeQuery": None}, {"changeQuery": "  "}):
        assert change_query_problems(selection, "tsql") == []
        assert checked_change_query(selection, "tsql") is None


def test_a_reading_query_is_run_as_checked() -> None:
    selection = {"changeQuery": " SELECT MAX(updated_at), COUNT(*) FROM orders; "}
    assert change_query_problems(selection, "postgres") == []
    assert checked_change_query(selection, "postgres") == (
        "SELECT MAX(updated_at), COUNT(*) FROM orders"
    )


@pytest.mark.parametrize("dialect", ["tsql", "postgres"])
def test_a_query_that_writes_is_refused_under_its_field(dialect: str) -> None:
    selection = {"changeQuery": "SELECT 1; DELETE FROM orders"}
    [problem] = change_query_problems(selection, dialect)
    assert problem.field == "config.changeQuery"
    with pytest.raises(ConfigError) as refused:
        checked_change_query(selection, dialect)
    assert refused.value.field == "config.changeQuery"


def test_a_change_query_must_be_text() -> None:
    [problem] = change_query_problems({"changeQuery": 5}, "tsql")
    assert problem.field == "config.changeQuery"


def _batch(**columns: pa.Array) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(columns)


def test_the_same_row_gives_the_same_marker_and_another_row_another() -> None:
    at = dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)
    one = _batch(m=pa.array([at]), n=pa.array([1000], pa.int64()))
    again = _batch(m=pa.array([at]), n=pa.array([1000], pa.int64()))
    later = _batch(m=pa.array([at + dt.timedelta(microseconds=1)]), n=pa.array([1000]))
    more = _batch(m=pa.array([at]), n=pa.array([1001], pa.int64()))
    assert marker_of_batches([one]) == marker_of_batches([again])
    assert marker_of_batches([one]) != marker_of_batches([later])
    assert marker_of_batches([one]) != marker_of_batches([more])


def test_values_are_told_apart_by_kind_and_decimals_by_value() -> None:
    assert marker_of_row([1]) != marker_of_row(["1"])
    assert marker_of_row([None]) != marker_of_row([""])
    assert marker_of_row([True]) != marker_of_row([1])
    assert marker_of_row([b"\x01"]) != marker_of_row(["01"])
    assert marker_of_row([decimal.Decimal("1.50")]) == marker_of_row([decimal.Decimal("1.5")])
    assert marker_of_row([decimal.Decimal("100")]) != marker_of_row([decimal.Decimal("1")])
    assert marker_of_row([1, 2]) != marker_of_row([2, 1])


def test_a_timestamp_is_compared_as_an_instant() -> None:
    utc = dt.datetime(2026, 1, 2, 3, 0, tzinfo=dt.UTC)
    paris = utc.astimezone(dt.timezone(dt.timedelta(hours=1)))
    assert marker_of_row([utc]) == marker_of_row([paris])


def test_the_row_may_arrive_in_a_later_batch() -> None:
    empty = _batch(n=pa.array([], pa.int64()))
    row = _batch(n=pa.array([7], pa.int64()))
    assert marker_of_batches([empty, row]) == marker_of_row([7])


@pytest.mark.parametrize("rows", [[], [1, 2]])
def test_anything_but_one_row_fails_naming_the_field(rows: list[int]) -> None:
    with pytest.raises(ConfigError) as failed:
        marker_of_batches([_batch(n=pa.array(rows, pa.int64()))])
    assert failed.value.field == "config.changeQuery"
    assert "exactly one row" in failed.value.message
