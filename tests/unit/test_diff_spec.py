"""The diff's contract at its edges (`app.sync.diff`): row hashes and change positions as
typed arrays, key checks that name what is wrong, hash collisions that are not duplicates,
and unkeyed alignment where rows repeat."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from app.sync.diff import (
    ChangeSet,
    KeyedRows,
    KeyProblem,
    check_keys,
    keyed_diff,
    ordered_diff,
    row_hashes,
)


def rows_of(text: str) -> np.ndarray:
    """One row hash per letter: equal letters are equal rows."""
    return np.array([ord(letter) for letter in text], np.uint64)


def keyed(keys: dict[str, list[str | None]], values: list[int] | None = None) -> KeyedRows:
    table = pa.table({name: pa.array(column, pa.string()) for name, column in keys.items()})
    hashes = np.array(values if values is not None else [0] * table.num_rows, np.uint64)
    return KeyedRows.of(table, hashes)


def positions(changes: ChangeSet) -> dict[str, list[int]]:
    return {kind: getattr(changes, kind).tolist() for kind in ("added", "updated", "deleted")}


# --- row hashes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        pytest.param(pa.table({"a": pa.array([], pa.string())}), ["a"], id="no-rows"),
        pytest.param(pa.table({"a": ["x", "y"]}), [], id="no-columns"),
        pytest.param(pa.table({"a": ["x", None], "b": ["1", "2"]}), ["a", "b"], id="rows"),
    ],
)
def test_row_hashes_are_one_uint64_per_row(table: pa.Table, columns: list[str]) -> None:
    hashes = row_hashes(table, columns)

    assert hashes.dtype == np.uint64
    assert len(hashes) == table.num_rows


def test_without_compared_columns_every_row_hashes_the_same() -> None:
    hashes = row_hashes(pa.table({"a": ["x", "y", "z"]}), [])

    assert hashes.tolist() == [0, 0, 0]


# --- change positions are int64 row numbers, also when there are none ------------------------


def assert_int64_positions(changes: ChangeSet) -> None:
    for kind in ("added", "updated", "deleted"):
        assert getattr(changes, kind).dtype == np.int64, kind


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param({"id": ["1", "2"]}, {"id": ["2", "3"]}, id="some"),
        pytest.param({"id": ["1"]}, {"id": ["1"]}, id="none"),
    ],
)
def test_keyed_positions_are_int64(
    old: dict[str, list[str | None]], new: dict[str, list[str | None]]
) -> None:
    changes = keyed_diff(keyed(old, [1] * len(old["id"])), keyed(new, [2] * len(new["id"])))

    assert_int64_positions(changes)


def test_positions_from_the_exact_join_after_a_hash_collision_are_int64() -> None:
    old = KeyedRows(
        pa.table({"id": ["a", "b"]}), np.array([1, 2], np.uint64), np.array([10, 20], np.uint64)
    )
    new = KeyedRows(
        pa.table({"id": ["a", "c"]}), np.array([1, 2], np.uint64), np.array([11, 20], np.uint64)
    )

    changes = keyed_diff(old, new)

    assert positions(changes) == {"added": [1], "updated": [0], "deleted": [1]}
    assert_int64_positions(changes)


@pytest.mark.parametrize(("old", "new"), [("abc", "abc"), ("abc", "aXc"), ("", ""), ("ab", "")])
def test_unkeyed_positions_are_int64(old: str, new: str) -> None:
    assert_int64_positions(ordered_diff(rows_of(old), rows_of(new)))


# --- key checks ----------------------------------------------------------------------------


def test_distinct_keys_that_share_a_hash_are_not_duplicates() -> None:
    rows = KeyedRows(
        pa.table({"id": ["a", "b", "c"]}),
        np.array([7, 7, 8], np.uint64),  # "a" and "b" forced onto one hash
        np.zeros(3, np.uint64),
    )

    check_keys(rows)  # no KeyProblem
    assert rows.duplicated().tolist() == [False, False, False]


def test_a_duplicate_next_to_a_hash_collision_is_found_exactly() -> None:
    rows = KeyedRows(
        pa.table({"id": ["a", "b", "a"]}),
        np.array([7, 7, 7], np.uint64),
        np.zeros(3, np.uint64),
    )

    assert rows.duplicated().tolist() == [True, False, True]


def test_duplicate_keys_are_named_by_all_their_columns_three_at_most() -> None:
    rows = keyed(
        {
            "region": ["eu", "eu", "us", "us", "ap", "ap", "sa", "sa"],
            "id": ["1", "1", "2", "2", "3", "3", "4", "4"],
        }
    )

    with pytest.raises(KeyProblem) as problem:
        check_keys(rows)

    assert str(problem.value) == (
        "primary key region, id is not unique: 4 value(s) repeat, e.g. eu/1, us/2, ap/3"
    )


def test_empty_keys_are_found_in_any_key_column_and_named_by_data_row() -> None:
    rows = keyed({"region": ["", "eu", "eu", None, "", "us"], "id": ["1", "2", "", "4", "5", "6"]})

    with pytest.raises(KeyProblem) as problem:
        check_keys(rows)

    assert str(problem.value) == (
        "primary key region, id is empty in 4 row(s), e.g. data rows [1, 3, 4]; "
        "every row needs a key value"
    )


def test_the_number_of_examples_can_be_chosen() -> None:
    rows = keyed({"id": ["1", "1", "2", "2"]})

    with pytest.raises(KeyProblem, match=r"2 value\(s\) repeat, e.g. 1$"):
        check_keys(rows, examples=1)


# --- unkeyed alignment where rows repeat --------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # The first of two equal rows changed: one update, not a delete and an insert.
        ("aa", "ba", {"added": [], "updated": [0], "deleted": []}),
        ("bb", "ab", {"added": [], "updated": [0], "deleted": []}),
        # Two rows swapped: a change, never "nothing changed".
        ("ab", "ba", {"added": [0], "updated": [], "deleted": [1]}),
        ("aa", "bab", {"added": [0], "updated": [2], "deleted": []}),
    ],
)
def test_unkeyed_alignment_compares_the_ends_of_both_snapshots_from_the_back(
    old: str, new: str, expected: dict[str, list[int]]
) -> None:
    assert positions(ordered_diff(rows_of(old), rows_of(new))) == expected


def test_unkeyed_rows_that_repeat_hundreds_of_times_still_align() -> None:
    # difflib's "autojunk" would treat a row making up over 1% of 200+ rows as noise and
    # report every blank row as changed.
    old = rows_of("A" + " " * 250 + "Z")
    new = rows_of("B" + " " * 250 + "Y")

    assert positions(ordered_diff(old, new)) == {"added": [], "updated": [0, 251], "deleted": []}
