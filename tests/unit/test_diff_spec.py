"""The diff's contract at its edges (`app.sync.diff`): row hashes and change positions as
typed arrays, key checks that name what is wrong, hash collisions that are not duplicates,
and unkeyed alignment where rows repeat."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from app.sync.diff import (
    KEY_A,
    KEY_B,
    PARTITIONS,
    ROW,
    VALUE,
    ChangeSet,
    RepeatedKeys,
    empty_keys,
    empty_keys_problem,
    join_partition,
    key_hashes,
    keyed_diff,
    keyed_records,
    ordered_diff,
    partition_of,
    repeated_keys_problem,
    row_hashes,
)


def rows_of(text: str) -> np.ndarray:
    """One row hash per letter: equal letters are equal rows."""
    return np.array([ord(letter) for letter in text], np.uint64)


def keyed(keys: dict[str, list[str | None]], values: list[int] | None = None) -> np.ndarray:
    table = pa.table({name: pa.array(column, pa.string()) for name, column in keys.items()})
    hashes = np.array(values if values is not None else [0] * table.num_rows, np.uint64)
    return keyed_records(key_hashes(table, table.column_names), hashes)


def split(side: np.ndarray) -> list[np.ndarray]:
    return [side[partition_of(side) == p] for p in range(PARTITIONS)]


def diff(old: np.ndarray, new: np.ndarray) -> ChangeSet | None:
    return keyed_diff(zip(split(old), split(new), strict=True))


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


def test_a_batch_without_rows_has_no_hashes() -> None:
    empty = pa.record_batch({"a": pa.array([], pa.string())})

    hashes = row_hashes(empty, ["a"])
    keys = key_hashes(empty, ["a"])

    assert (hashes.dtype, hashes.shape) == (np.uint64, (0,))
    assert (keys.dtype, keys.shape) == (np.uint64, (0, 2))


def test_a_table_without_batches_has_no_key_hashes() -> None:
    table = pa.Table.from_batches([], pa.schema([("id", pa.string())]))

    keys = key_hashes(table, ["id"])

    assert (keys.dtype, keys.shape) == (np.uint64, (0, 2))


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
    changes = diff(keyed(old, [1] * len(old["id"])), keyed(new, [2] * len(new["id"])))

    assert changes is not None
    assert_int64_positions(changes)


@pytest.mark.parametrize(("old", "new"), [("abc", "abc"), ("abc", "aXc"), ("", ""), ("ab", "")])
def test_unkeyed_positions_are_int64(old: str, new: str) -> None:
    assert_int64_positions(ordered_diff(rows_of(old), rows_of(new)))


# --- key checks ----------------------------------------------------------------------------


def test_distinct_keys_that_share_one_half_of_their_hash_are_not_repeats() -> None:
    forced = np.array([[7, 1], [7, 2], [8, 3]], np.uint64)  # "a" and "b" share a first half
    new = keyed_records(forced, np.zeros(3, np.uint64))

    assert diff(np.empty((0, 4), np.uint64), new) is not None  # no RepeatedKeys


def test_a_repeat_next_to_keys_sharing_a_half_is_found_exactly() -> None:
    forced = np.array([[7, 1], [7, 2], [7, 1]], np.uint64)
    new = keyed_records(forced, np.zeros(3, np.uint64))

    with pytest.raises(RepeatedKeys) as repeated:
        diff(np.empty((0, 4), np.uint64), new)

    assert repeated.value.rows.tolist() == [0, 2]
    assert repeated.value.distinct == 1


def test_repeats_count_each_repeated_key_once_however_often_it_comes() -> None:
    new = keyed({"id": ["a", "b", "a", "c", "a", "b", "d"]})

    with pytest.raises(RepeatedKeys) as repeated:
        diff(np.empty((0, 4), np.uint64), new)

    assert repeated.value.rows.tolist() == [0, 1, 2, 4, 5]
    assert repeated.value.rows.dtype == np.int64
    assert repeated.value.distinct == 2
    assert str(repeated.value) == "2 key value(s) repeat"


def test_repeated_keys_in_one_partition_are_counted_one_by_one() -> None:
    # Keys 1 and 2 repeat (twice, three times), key 3 does not; all in one partition.
    forced = np.array([[2, 2], [1, 1], [3, 3], [2, 2], [1, 1], [2, 2]], np.uint64)
    new = keyed_records(forced, np.zeros(6, np.uint64))

    joined = join_partition(np.empty((0, 4), np.uint64), new)

    assert joined.repeated_new_keys == 2
    assert sorted(joined.repeated_new.tolist()) == [0, 1, 3, 4, 5]


def test_without_partitions_nothing_changed() -> None:
    changes = keyed_diff([])

    assert changes is not None
    assert positions(changes) == {"added": [], "updated": [], "deleted": []}
    assert_int64_positions(changes)


def test_repeated_keys_are_named_by_all_their_columns_three_at_most() -> None:
    keys = pa.table(
        {
            "region": ["eu", "eu", "us", "us", "ap", "ap", "sa", "sa"],
            "id": ["1", "1", "2", "2", "3", "3", "4", "4"],
        }
    )

    assert str(repeated_keys_problem(keys, distinct=4)) == (
        "primary key region, id is not unique: 4 value(s) repeat, e.g. eu/1, us/2, ap/3"
    )


def test_the_number_of_repeated_examples_can_be_chosen() -> None:
    keys = pa.table({"id": ["1", "1", "2", "2"]})

    assert str(repeated_keys_problem(keys, distinct=2, examples=1)) == (
        "primary key id is not unique: 2 value(s) repeat, e.g. 1"
    )


def test_empty_keys_are_found_in_any_key_column() -> None:
    keys = pa.table(
        {"region": ["", "eu", "eu", None, "", "us"], "id": ["1", "2", "", "4", "5", "6"]}
    )

    assert empty_keys(keys, ["region", "id"]).tolist() == [True, False, True, True, True, False]


def test_empty_keys_are_named_by_data_row_counted_from_one() -> None:
    assert str(empty_keys_problem(["region", "id"], 4, [0, 2, 3])) == (
        "primary key region, id is empty in 4 row(s), e.g. data rows [1, 3, 4]; "
        "every row needs a key value"
    )


# --- keyed records and partitions ---------------------------------------------------------------


def test_a_keyed_record_holds_both_key_halves_the_value_hash_and_the_row() -> None:
    records = keyed_records(
        np.array([[1, 2], [3, 4]], np.uint64), np.array([5, 6], np.uint64), first_row=10
    )

    assert records.dtype == np.uint64
    assert records[:, KEY_A].tolist() == [1, 3]
    assert records[:, KEY_B].tolist() == [2, 4]
    assert records[:, VALUE].tolist() == [5, 6]
    assert records[:, ROW].tolist() == [10, 11]


def test_key_hashes_are_two_uint64_per_row_and_equal_for_equal_keys() -> None:
    table = pa.table({"id": ["a", "b", "a"], "n": ["1", "1", "1"]})

    hashes = key_hashes(table, ["id", "n"])

    assert hashes.dtype == np.uint64
    assert hashes.shape == (3, 2)
    assert hashes[0].tolist() == hashes[2].tolist()
    assert hashes[0, 0] != hashes[1, 0] and hashes[0, 1] != hashes[1, 1]
    assert key_hashes(table.slice(0, 0), ["id"]).shape == (0, 2)


def test_key_hashes_of_a_table_are_those_of_its_chunks() -> None:
    whole = pa.table({"id": ["a", "b", "c"]})
    chunked = pa.Table.from_batches(whole.to_batches(max_chunksize=1))

    assert key_hashes(chunked, ["id"]).tolist() == key_hashes(whole, ["id"]).tolist()


def test_partitions_are_the_top_six_bits_of_the_first_key_half() -> None:
    first_halves = [0, 2**58 - 1, 2**58, 2**63, 2**64 - 1]
    records = keyed_records(
        np.array([[a, 0] for a in first_halves], np.uint64), np.zeros(5, np.uint64)
    )

    assert partition_of(records).tolist() == [0, 0, 1, 32, 63]
    assert PARTITIONS == 64


def test_old_rows_repeating_a_key_leave_the_keyed_diff_to_rows_in_order() -> None:
    old = keyed({"id": ["a", "a"]})
    new = keyed({"id": ["a", "b"]})

    assert diff(old, new) is None


def test_a_new_repeat_is_reported_even_when_the_old_rows_repeat_too() -> None:
    with pytest.raises(RepeatedKeys):
        diff(keyed({"id": ["a", "a"]}), keyed({"id": ["b", "b"]}))


def test_one_partition_joined_names_rows_by_their_stored_position() -> None:
    old = keyed_records(
        np.array([[1, 1], [2, 2], [3, 3]], np.uint64), np.array([1, 2, 3], np.uint64), 100
    )
    new = keyed_records(
        np.array([[3, 3], [4, 4], [2, 2]], np.uint64), np.array([3, 4, 9], np.uint64), 200
    )

    joined = join_partition(old, new)

    assert joined.added.tolist() == [201]
    assert joined.updated.tolist() == [202]
    assert joined.deleted.tolist() == [100]
    assert joined.repeated_new.tolist() == []
    assert joined.repeated_new_keys == 0
    assert joined.old_repeats is False


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
