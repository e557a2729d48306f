"""Change counts on generated tables, checked against the edits that generated them."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from app.sync.diff import (
    PARTITIONS,
    ChangeSet,
    RepeatedKeys,
    empty_keys,
    key_hashes,
    keyed_diff,
    keyed_records,
    ordered_diff,
    partition_of,
    row_hashes,
)

COLUMNS = ["id", "name", "amount"]


def table(rows: list[list[str | None]]) -> pa.Table:
    return pa.table({c: pa.array([r[i] for r in rows], pa.string()) for i, c in enumerate(COLUMNS)})


def hashes(rows: list[list[str | None]]) -> np.ndarray:
    return row_hashes(table(rows), sorted(COLUMNS))


def keyed(rows: list[list[str | None]]) -> np.ndarray:
    return keyed_records(key_hashes(table(rows), ["id"]), hashes(rows))


def records(key_a: list[int], key_b: list[int], values: list[int]) -> np.ndarray:
    """Keyed records with chosen key hashes, to force keys onto one hash half."""
    forced = np.array([key_a, key_b], np.uint64).T.reshape(-1, 2)
    return keyed_records(forced, np.array(values, np.uint64))


def diff(old: np.ndarray, new: np.ndarray) -> ChangeSet:
    """keyed_diff over both sides split into partitions, as staging splits them."""

    def split(side: np.ndarray) -> list[np.ndarray]:
        return [side[partition_of(side) == p] for p in range(PARTITIONS)]

    changes = keyed_diff(zip(split(old), split(new), strict=True))
    assert changes is not None
    return changes


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

    changes = diff(keyed(old), keyed(new))

    assert changes.counts == {"added": 25, "updated": 63, "deleted": 37}


def test_keyed_diff_sees_null_versus_empty_string_as_a_change() -> None:
    changes = diff(keyed([["1", "a", None]]), keyed([["1", "a", ""]]))
    assert changes.counts == {"added": 0, "updated": 1, "deleted": 0}


def test_type_only_change_in_rendered_text_is_an_update() -> None:
    changes = diff(keyed([["1", "a", "1"]]), keyed([["1", "a", "1.0"]]))
    assert changes.counts["updated"] == 1


def test_unicode_values_compare_by_their_exact_text() -> None:
    same = diff(keyed([["1", "Zoë", "é"]]), keyed([["1", "Zoë", "é"]]))
    # "é" precomposed versus "e" + combining accent: different text, so an update.
    different = diff(keyed([["1", "Zoë", "é"]]), keyed([["1", "Zoë", "e\u0301"]]))
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


def test_repeated_keys_fail_naming_every_row_that_holds_one() -> None:
    with pytest.raises(RepeatedKeys) as repeated:
        diff(keyed([["1", "a", "1"]]), keyed([["7", "a", "1"], ["8", "b", "1"], ["7", "c", "1"]]))

    assert repeated.value.rows.tolist() == [0, 2]
    assert repeated.value.distinct == 1


def test_empty_keys_are_null_or_empty_text() -> None:
    keys = pa.table({"id": pa.array(["1", "", None], pa.string())})

    assert empty_keys(keys, ["id"]).tolist() == [False, True, True]


def test_keys_sharing_one_half_of_their_hash_are_different_keys() -> None:
    # "b" and "c" forced onto one first half: the second tells them apart.
    old = records([1, 2], [100, 200], [10, 20])
    new = records([1, 2], [100, 201], [10, 20])

    assert positions(diff(old, new)) == {"added": [1], "updated": [], "deleted": [1]}


def test_two_old_keys_sharing_one_half_of_their_hash_are_told_apart() -> None:
    old = records([1, 1], [100, 200], [10, 20])
    new = records([1, 1], [200, 100], [21, 10])

    assert positions(diff(old, new)) == {"added": [], "updated": [0], "deleted": []}


# Keys that look alike but are different text, and whole numbers at the edges of the
# vectorised path (18 digits) and past it (19 digits: hashed as text).
LOOKALIKE_KEYS = [
    "7",
    "007",
    "+7",
    "7.0",
    " 7",
    "-7",
    "0",
    "-0",
    "00",
    "x7",
    "\x007",
    "999999999999999999",
    "-999999999999999999",
    "1000000000000000000",
    "9223372036854775807",
    None,
]


def key_pairs(keys: list[str | None]) -> list[tuple[int, int]]:
    found = key_hashes(pa.table({"id": pa.array(keys, pa.string())}), ["id"])
    return [(int(a), int(b)) for a, b in found]


def test_keys_that_read_alike_are_different_keys() -> None:
    pairs = key_pairs(LOOKALIKE_KEYS)

    assert len(set(pairs)) == len(LOOKALIKE_KEYS)


def test_a_keys_hash_does_not_depend_on_the_other_keys_of_its_batch() -> None:
    """A batch of whole numbers only is hashed all at once; a mixed batch value by value.
    Either way a key gets the same hash, so a key matches across snapshots whatever rows
    surround it."""
    alone = {key: key_pairs([key])[0] for key in LOOKALIKE_KEYS}
    whole_numbers = ["7", "-7", "0", "999999999999999999", "-999999999999999999"]

    assert key_pairs(LOOKALIKE_KEYS) == [alone[key] for key in LOOKALIKE_KEYS]
    assert key_pairs(whole_numbers) == [alone[key] for key in whole_numbers]


def test_whole_number_keys_never_share_a_first_half() -> None:
    keys = [str(n) for n in range(-50_000, 50_000)]

    assert len({a for a, _ in key_pairs(keys)}) == len(keys)


MASK = 2**64 - 1


def splitmix64_finalizer(value: int) -> int:
    """SplitMix64's output function, in Python integers, as published with the generator."""
    z = value & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def test_a_whole_number_keys_halves_are_splitmix64_of_its_value() -> None:
    # SplitMix64 seeded with 0 first outputs 0xE220A8397B1DCDAF: its state advances by
    # 0x9E3779B97F4A7C15, the first half's seed, before the output function.
    assert key_pairs(["0"])[0][0] == 0xE220A8397B1DCDAF
    for number in (0, 1, 123, -5, 999_999_999_999_999_999, -999_999_999_999_999_999):
        a, b = key_pairs([str(number)])[0]
        assert a == splitmix64_finalizer(number + 0x9E3779B97F4A7C15)
        assert b == splitmix64_finalizer(number + 0xD1B54A32D192ED03)


def test_whole_number_keys_spread_over_every_partition() -> None:
    keys = [str(n) for n in range(6_400)]
    found = keyed_records(key_hashes(pa.table({"id": keys}), ["id"]), np.zeros(6_400, np.uint64))

    counts = np.bincount(partition_of(found), minlength=PARTITIONS)
    assert counts.min() > 50 and counts.max() < 150  # 100 each on average


def test_composite_keys_identify_rows_by_all_their_columns() -> None:
    def rows(data: list[tuple[str, str, str]]) -> np.ndarray:
        keys = pa.table({"region": [r[0] for r in data], "id": [r[1] for r in data]})
        values = row_hashes(pa.table({"v": [r[2] for r in data]}), ["v"])
        return keyed_records(key_hashes(keys, ["region", "id"]), values)

    old = rows([("eu", "1", "x"), ("us", "1", "y")])
    new = rows([("eu", "1", "x"), ("us", "1", "z"), ("us", "2", "w")])
    assert diff(old, new).counts == {"added": 1, "updated": 1, "deleted": 0}


# --- positions: the rows /api/sync/runs/{id}/changes is built from ---------------------------
# added and updated are positions in the new snapshot, deleted in the old one.


def positions(changes: object) -> dict[str, list[int]]:
    """A ChangeSet's positions as lists, in the order the change set holds them."""
    return {kind: getattr(changes, kind).tolist() for kind in ("added", "updated", "deleted")}


def keyed_rows(rows: list[tuple[str, str]]) -> np.ndarray:
    """(id, value) rows keyed on id."""
    return keyed([[key, value, "0"] for key, value in rows])


def test_keyed_positions_follow_each_snapshots_own_order() -> None:
    old = keyed_rows([("1", "a"), ("2", "b"), ("3", "c"), ("4", "d")])
    new = keyed_rows([("4", "d"), ("3", "c-changed"), ("5", "e"), ("1", "a")])

    assert positions(diff(old, new)) == {"added": [2], "updated": [1], "deleted": [1]}


def test_keyed_positions_of_a_pure_reorder_are_empty() -> None:
    old = keyed_rows([("1", "a"), ("2", "b"), ("3", "c")])
    new = keyed_rows([("3", "c"), ("1", "a"), ("2", "b")])

    assert positions(diff(old, new)) == {"added": [], "updated": [], "deleted": []}


def test_keyed_positions_when_keys_share_one_half_of_their_hash() -> None:
    # "c" is forced onto the first half of "b"'s hash; "x" moved to the front and changed.
    old = records([1, 2, 3], [10, 20, 30], [10, 20, 30])
    new = records([3, 2, 1], [30, 21, 10], [31, 20, 10])

    assert positions(diff(old, new)) == {"added": [1], "updated": [0], "deleted": [1]}


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
    assert positions(diff(keyed(old), keyed(new))) == expected


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
