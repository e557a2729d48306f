"""Change counts on generated tables, checked against the edits that generated them."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from app.sync.diff import KeyedRows, KeyProblem, check_keys, keyed_diff, ordered_diff, row_hashes

COLUMNS = ["id", "name", "amount"]


def table(rows: list[list[str | None]]) -> pa.Table:
    return pa.table({c: pa.array([r[i] for r in rows], pa.string()) for i, c in enumerate(COLUMNS)})


def hashes(rows: list[list[str | None]]) -> np.ndarray:
    return row_hashes(table(rows), sorted(COLUMNS))


def keyed(rows: list[list[str | None]]) -> KeyedRows:
    return KeyedRows.of(table(rows).select(["id"]), hashes(rows))


def generated(n: int, seed: int) -> list[list[str | None]]:
    rng = random.Random(seed)
    return [
        [str(i), f"name-{rng.randrange(10**6)}", f"{rng.randrange(10**5)}.{rng.randrange(100):02d}"]
        for i in range(n)
    ]


@pytest.mark.parametrize("seed", range(5))
def test_keyed_diff_counts_match_the_generated_edits(seed: int) -> None:
    rng = random.Random(seed)
    old = generated(2_000, seed)
    ids = list(range(len(old)))
    rng.shuffle(ids)
    deleted, updated = set(ids[:37]), set(ids[37:100])
    new = [
        [r[0], r[1] + "-changed", r[2]] if int(r[0]) in updated else list(r)
        for r in old
        if int(r[0]) not in deleted
    ]
    new += [[f"new-{i}", "fresh", "1"] for i in range(25)]
    rng.shuffle(new)  # order does not matter when rows have a key

    changes = keyed_diff(keyed(old), keyed(new))

    assert changes.counts == {"added": 25, "updated": 63, "deleted": 37}


def test_keyed_diff_sees_null_versus_empty_string_as_a_change() -> None:
    changes = keyed_diff(keyed([["1", "a", None]]), keyed([["1", "a", ""]]))
    assert changes.counts == {"added": 0, "updated": 1, "deleted": 0}


def test_type_only_change_in_rendered_text_is_an_update() -> None:
    changes = keyed_diff(keyed([["1", "a", "1"]]), keyed([["1", "a", "1.0"]]))
    assert changes.counts["updated"] == 1


def test_unicode_values_compare_by_their_exact_text() -> None:
    same = keyed_diff(keyed([["1", "Zoë", "é"]]), keyed([["1", "Zoë", "é"]]))
    # "é" precomposed versus "e" + combining accent: different text, so an update.
    different = keyed_diff(keyed([["1", "Zoë", "é"]]), keyed([["1", "Zoë", "e\u0301"]]))
    assert same.counts["updated"] == 0
    assert different.counts["updated"] == 1


def test_separator_inside_values_cannot_hide_a_change() -> None:
    assert not np.array_equal(hashes([["1", "a", "b"]]), hashes([["1", "a\x1f", "b"]]))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("abc", "abc", (0, 0, 0)),
        ("abc", "abXc", (1, 0, 0)),
        ("abc", "ac", (0, 0, 1)),
        ("abc", "aXc", (0, 1, 0)),
        ("abcdef", "aXYdef", (0, 2, 0)),
        ("abcdef", "aXYZdef", (1, 2, 0)),
        ("abcdef", "aXdef", (0, 1, 1)),
        ("", "abc", (3, 0, 0)),
        ("abc", "", (0, 0, 3)),
        ("aab", "aaab", (1, 0, 0)),  # duplicate rows without a key
        ("abcd", "bcda", (1, 0, 1)),  # a row moved to the end: deleted there, added here
    ],
)
def test_ordered_diff_aligns_rows_like_diff1(
    old: str, new: str, expected: tuple[int, int, int]
) -> None:
    as_rows = lambda text: hashes([[c, c, c] for c in text])  # noqa: E731
    changes = ordered_diff(as_rows(old), as_rows(new))
    assert (
        changes.counts["added"],
        changes.counts["updated"],
        changes.counts["deleted"],
    ) == expected


@pytest.mark.parametrize("seed", range(5))
def test_ordered_diff_counts_match_separated_generated_edits(seed: int) -> None:
    rng = random.Random(seed)
    old = generated(3_000, seed)
    # Edits at positions at least 3 apart, so each is its own diff hunk.
    positions = sorted(rng.sample(range(0, 3_000, 3), 90))
    kinds = {p: rng.choice(["update", "delete", "insert"]) for p in positions}
    new: list[list[str | None]] = []
    for i, row in enumerate(old):
        kind = kinds.get(i)
        if kind == "update":
            new.append([row[0], "changed", row[2]])
        elif kind == "insert":
            new.extend([["inserted", str(i), "x"], row])
        elif kind != "delete":
            new.append(row)
    expected = {
        "added": sum(k == "insert" for k in kinds.values()),
        "updated": sum(k == "update" for k in kinds.values()),
        "deleted": sum(k == "delete" for k in kinds.values()),
    }

    assert ordered_diff(hashes(old), hashes(new)).counts == expected


def test_duplicate_keys_fail_with_examples() -> None:
    with pytest.raises(KeyProblem, match=r"not unique: 1 value\(s\) repeat, e.g. 7"):
        check_keys(KeyedRows.of(pa.table({"id": ["7", "8", "7"]}), np.zeros(3, np.uint64)))


def test_empty_keys_fail_naming_the_rows() -> None:
    with pytest.raises(KeyProblem, match=r"empty in 2 row\(s\), e.g. data rows \[2, 3\]"):
        check_keys(
            KeyedRows.of(
                pa.table({"id": pa.array(["1", "", None], pa.string())}), np.zeros(3, np.uint64)
            )
        )


def test_a_key_hash_collision_falls_back_to_an_exact_join() -> None:
    old = KeyedRows(
        pa.table({"id": ["a", "b"]}), np.array([1, 2], np.uint64), np.array([10, 20], np.uint64)
    )
    # "c" is forced onto the hash of "b": a collision the exact join must see through.
    new = KeyedRows(
        pa.table({"id": ["a", "c"]}), np.array([1, 2], np.uint64), np.array([10, 20], np.uint64)
    )
    assert keyed_diff(old, new).counts == {"added": 1, "updated": 0, "deleted": 1}


def test_two_old_keys_sharing_a_hash_fall_back_to_an_exact_join() -> None:
    # "a" and "b" are different keys forced onto one hash: the old side holds its keys
    # uniquely, but its hash index cannot tell them apart.
    old = KeyedRows(
        pa.table({"id": ["a", "b"]}), np.array([1, 1], np.uint64), np.array([10, 20], np.uint64)
    )
    new = KeyedRows(
        pa.table({"id": ["b", "a"]}), np.array([1, 1], np.uint64), np.array([21, 10], np.uint64)
    )

    assert not old.duplicated().any()
    assert positions(keyed_diff(old, new)) == {"added": [], "updated": [0], "deleted": []}


def test_composite_keys_identify_rows_by_all_their_columns() -> None:
    def rows(data: list[tuple[str, str, str]]) -> KeyedRows:
        keys = pa.table({"region": [r[0] for r in data], "id": [r[1] for r in data]})
        values = row_hashes(pa.table({"v": [r[2] for r in data]}), ["v"])
        return KeyedRows.of(keys, values)

    old = rows([("eu", "1", "x"), ("us", "1", "y")])
    new = rows([("eu", "1", "x"), ("us", "1", "z"), ("us", "2", "w")])
    assert keyed_diff(old, new).counts == {"added": 1, "updated": 1, "deleted": 0}


# --- positions: the rows /api/sync/runs/{id}/changes is built from ---------------------------
# added and updated are positions in the new snapshot, deleted in the old one.


def positions(changes: object) -> dict[str, list[int]]:
    """A ChangeSet's positions as lists, in the order the change set holds them."""
    return {kind: getattr(changes, kind).tolist() for kind in ("added", "updated", "deleted")}


def keyed_rows(rows: list[tuple[str, str]]) -> KeyedRows:
    """(id, value) rows keyed on id."""
    return keyed([[key, value, "0"] for key, value in rows])


def test_keyed_positions_follow_each_snapshots_own_order() -> None:
    old = keyed_rows([("1", "a"), ("2", "b"), ("3", "c"), ("4", "d")])
    new = keyed_rows([("4", "d"), ("3", "c-changed"), ("5", "e"), ("1", "a")])

    assert positions(keyed_diff(old, new)) == {"added": [2], "updated": [1], "deleted": [1]}


def test_keyed_positions_of_a_pure_reorder_are_empty() -> None:
    old = keyed_rows([("1", "a"), ("2", "b"), ("3", "c")])
    new = keyed_rows([("3", "c"), ("1", "a"), ("2", "b")])

    assert positions(keyed_diff(old, new)) == {"added": [], "updated": [], "deleted": []}


def test_keyed_positions_from_the_exact_join_after_a_key_hash_collision() -> None:
    hashes_of = lambda *values: np.array(values, np.uint64)  # noqa: E731
    old = KeyedRows(pa.table({"id": ["a", "b", "x"]}), hashes_of(1, 2, 3), hashes_of(10, 20, 30))
    # "c" is forced onto the hash of "b"; "x" moved to the front and changed.
    new = KeyedRows(pa.table({"id": ["x", "c", "a"]}), hashes_of(3, 2, 1), hashes_of(31, 20, 10))

    assert positions(keyed_diff(old, new)) == {"added": [1], "updated": [0], "deleted": [1]}


@pytest.mark.parametrize("seed", range(3))
def test_keyed_positions_match_the_generated_edits(seed: int) -> None:
    rng = random.Random(seed)
    old = generated(500, seed)
    ids = list(range(len(old)))
    rng.shuffle(ids)
    deleted, updated = set(ids[:20]), set(ids[20:50])
    new = [
        [r[0], r[1] + "-changed", r[2]] if int(r[0]) in updated else list(r)
        for r in old
        if int(r[0]) not in deleted
    ]
    new += [[f"new-{i}", "fresh", "1"] for i in range(15)]
    rng.shuffle(new)

    expected = {
        "added": [i for i, r in enumerate(new) if str(r[0]).startswith("new-")],
        "updated": [i for i, r in enumerate(new) if str(r[1]).endswith("-changed")],
        "deleted": sorted(deleted),  # an old row's position is its id here
    }
    assert positions(keyed_diff(keyed(old), keyed(new))) == expected


def letter_rows(text: str) -> np.ndarray:
    """One row per letter: equal letters are equal (duplicate) rows."""
    return hashes([[c, c, c] for c in text])


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("abc", "abc", {"added": [], "updated": [], "deleted": []}),
        ("", "abc", {"added": [0, 1, 2], "updated": [], "deleted": []}),
        ("abc", "", {"added": [], "updated": [], "deleted": [0, 1, 2]}),
        ("abc", "abXc", {"added": [2], "updated": [], "deleted": []}),
        ("abc", "ac", {"added": [], "updated": [], "deleted": [1]}),
        ("abcdef", "aXYZdef", {"added": [3], "updated": [1, 2], "deleted": []}),
        ("abcdef", "aXdef", {"added": [], "updated": [1], "deleted": [2]}),
        # A row moved to the end: deleted where it was, added where it is.
        ("abcd", "bcda", {"added": [3], "updated": [], "deleted": [0]}),
        # Duplicate rows: the common beginning is kept, the extra copy is the later one.
        ("aab", "aaab", {"added": [2], "updated": [], "deleted": []}),
        ("abab", "ab", {"added": [], "updated": [], "deleted": [2, 3]}),
        ("xaay", "xay", {"added": [], "updated": [], "deleted": [2]}),
        # Separated hunks: b replaced, e deleted, Y inserted, each at its own place.
        ("abcdefghij", "aXcdfghYij", {"added": [7], "updated": [1], "deleted": [4]}),
    ],
)
def test_unkeyed_positions_of_added_updated_and_deleted_rows(
    old: str, new: str, expected: dict[str, list[int]]
) -> None:
    assert positions(ordered_diff(letter_rows(old), letter_rows(new))) == expected


@pytest.mark.parametrize("seed", range(3))
def test_unkeyed_positions_match_separated_generated_edits(seed: int) -> None:
    rng = random.Random(seed)
    old = generated(1_500, seed)
    # Edits at least 3 rows apart, so each is its own hunk.
    kinds = {
        p: rng.choice(["update", "delete", "insert"]) for p in rng.sample(range(0, 1_500, 3), 60)
    }
    new: list[list[str | None]] = []
    expected: dict[str, list[int]] = {"added": [], "updated": [], "deleted": []}
    for i, row in enumerate(old):
        kind = kinds.get(i)
        if kind == "update":
            expected["updated"].append(len(new))
            new.append([row[0], "changed", row[2]])
        elif kind == "insert":
            expected["added"].append(len(new))
            new.extend([["inserted", str(i), "x"], row])
        elif kind == "delete":
            expected["deleted"].append(i)
        else:
            new.append(row)

    assert positions(ordered_diff(hashes(old), hashes(new))) == expected
