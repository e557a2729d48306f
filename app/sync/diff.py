"""What changed between two snapshots of a table, computed on row hashes.

Each row is summarised by a 64-bit hash of its canonical values in the columns both
snapshots share (see `row_hashes`), so a diff of a million rows needs hashes, not two
copies of the table.

- With a primary key: added = keys only in the new snapshot, deleted = keys only in the
  old, updated = keys in both whose shared columns differ. A key is known by a 128-bit
  hash (`key_hashes`), and each side's rows are kept as fixed-size records split into
  partitions by key (`keyed_records`, `partition_of`), so the diff holds one partition of
  each side at a time (`keyed_diff`): its memory does not grow with the table.
- Without one: rows are aligned in order the way diff(1) aligns lines; in a block of old
  rows replaced by new ones, as many rows as both sides have count as updated and the
  rest as deleted or added.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

# Separates values inside a row before hashing; nulls hash as a byte no text cell holds,
# so NULL and "" stay different.
_SEPARATOR = "\x1f"
_NULL = "\x00"

Positions = np.ndarray  # int64 row positions


@dataclass(slots=True)
class ChangeSet:
    added: Positions  # positions in the new snapshot
    updated: Positions  # positions in the new snapshot
    deleted: Positions  # positions in the old snapshot
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "deleted": len(self.deleted),
        }

    @property
    def any(self) -> bool:
        return bool(
            len(self.added)
            or len(self.updated)
            or len(self.deleted)
            or self.columns_added
            or self.columns_removed
        )


class KeyProblem(ValueError):
    """Duplicate or empty primary key values; the message names examples."""


def row_hashes(batch: pa.RecordBatch | pa.Table, columns: list[str]) -> np.ndarray:
    """uint64 hash per row over `columns` (canonical strings), in the given order."""
    if isinstance(batch, pa.Table):
        # Chunk by chunk: the per-row values below are Python objects, and a whole table's
        # worth of them at once would cost far more memory than the hashes.
        parts = [row_hashes(chunk, columns) for chunk in batch.select(columns).to_batches()]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
    if batch.num_rows == 0:
        return np.empty(0, dtype=np.uint64)
    if not columns:
        return np.zeros(batch.num_rows, dtype=np.uint64)
    values = _joined(batch, columns)
    digest = xxhash.xxh3_64_intdigest
    return np.fromiter(map(digest, values), dtype=np.uint64, count=len(values))


def _joined(batch: pa.RecordBatch, columns: list[str]) -> np.ndarray:
    """Per row, the bytes its hash is taken of."""
    arrays = [batch.column(name) for name in columns]
    return _as_bytes(
        pc.binary_join_element_wise(
            *arrays, _SEPARATOR, null_handling="replace", null_replacement=_NULL
        )
    )


def _as_bytes(texts: pa.Array) -> np.ndarray:
    """Per value (none of them null), its bytes."""
    values: np.ndarray = texts.cast(pa.binary()).to_numpy(zero_copy_only=False)
    return values


# Key hashes are split into this many partitions by their top bits; the keyed diff holds one
# partition of each side in memory at a time.
_PARTITION_BITS = np.uint64(6)
PARTITIONS = 2**6
_PARTITION_SHIFT = np.uint64(64) - _PARTITION_BITS

# The columns of a keyed record: a row's key as two independent 64-bit hashes, the hash of
# its compared values, and its position in its snapshot.
KEY_A, KEY_B, VALUE, ROW = range(4)


def key_hashes(batch: pa.RecordBatch | pa.Table, columns: list[str]) -> np.ndarray:
    """Per row, its key (the canonical text of `columns`) as a 128-bit hash: two uint64
    columns. Two keys count as the same key when both halves agree; different keys do so
    about once in 2**128 pairs, far more rarely than a changed row keeps its value hash.

    Key hashes are never stored: both sides of a diff are hashed by the same run, so how a
    key is hashed may change from one release to the next."""
    if isinstance(batch, pa.Table):
        parts = [key_hashes(chunk, columns) for chunk in batch.select(columns).to_batches()]
        return np.concatenate(parts) if parts else np.empty((0, 2), dtype=np.uint64)
    if batch.num_rows == 0:
        return np.empty((0, 2), dtype=np.uint64)
    if len(columns) == 1:
        return _single_key_hashes(batch.column(columns[0]))
    return _text_key_hashes(_joined(batch, columns))


# The canonical text of a whole number that fits in 64 bits, as render.py writes integers.
_WHOLE_NUMBER = r"^(0|-?[1-9][0-9]{0,17})$"
_KEY_SEEDS = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xD1B54A32D192ED03))


def _single_key_hashes(values: pa.Array) -> np.ndarray:
    """A one-column key's hashes. Whole numbers, the commonest keys by far, are hashed from
    their value, vectorised (a bijection of 64 bits for the first half: two whole-number
    keys never share it); other keys from their text, a Python call each."""
    whole = pc.fill_null(pc.match_substring_regex(values, _WHOLE_NUMBER), False)
    if pc.all(whole).as_py():
        return _number_hashes(values)
    mask = np.asarray(whole)
    hashes = np.empty((len(values), 2), dtype=np.uint64)
    hashes[mask] = _number_hashes(pc.filter(values, whole))
    others = pc.filter(values, pc.invert(whole)).fill_null(_NULL)
    hashes[~mask] = _text_key_hashes(_as_bytes(others))
    return hashes


def _number_hashes(numbers: pa.Array) -> np.ndarray:
    value = np.asarray(numbers.cast(pa.int64())).view(np.uint64)
    return np.stack([_mix(value, seed) for seed in _KEY_SEEDS], axis=1)


def _mix(value: np.ndarray, seed: np.uint64) -> np.ndarray:
    """SplitMix64's finalizer of `value + seed`: every step is invertible, so distinct
    values stay distinct, and nearby values land far apart (in every partition)."""
    z = value + seed
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _text_key_hashes(texts: np.ndarray) -> np.ndarray:
    packed = b"".join(map(xxhash.xxh3_128_digest, texts))
    return np.frombuffer(packed, dtype=np.uint64).reshape(-1, 2)


def keyed_records(keys: np.ndarray, values: np.ndarray, first_row: int = 0) -> np.ndarray:
    """One row per snapshot row: KEY_A, KEY_B, VALUE, ROW (uint64), rows numbered from
    `first_row`."""
    records = np.empty((len(values), 4), dtype=np.uint64)
    records[:, KEY_A : KEY_B + 1] = keys
    records[:, VALUE] = values
    records[:, ROW] = np.arange(first_row, first_row + len(values), dtype=np.uint64)
    return records


def partition_of(records: np.ndarray) -> np.ndarray:
    """Each record's partition, 0 … PARTITIONS - 1, from the top bits of its key."""
    return (records[:, KEY_A] >> _PARTITION_SHIFT).astype(np.uint8)


class RepeatedKeys(KeyProblem):
    """Rows of the new snapshot share a key; `rows` are all of them, in order, and
    `distinct` is how many key values repeat."""

    def __init__(self, rows: Positions, distinct: int) -> None:
        super().__init__(f"{distinct} key value(s) repeat")
        self.rows = rows
        self.distinct = distinct


@dataclass(slots=True)
class _Joined:
    added: Positions
    updated: Positions
    deleted: Positions
    repeated_new: Positions  # rows of the new side whose key another new row has too
    repeated_new_keys: int  # how many key values those rows share
    old_repeats: bool  # the old side holds a key more than once


def join_partition(old: np.ndarray, new: np.ndarray) -> _Joined:
    """The keyed diff of one partition of each side (records as `keyed_records` makes).

    Both sides sorted together by key, old before new, put the rows of one key side by
    side: an old row followed by a new one is a matched pair, and two rows of one side are
    a repeated key."""
    key_a = np.concatenate([old[:, KEY_A], new[:, KEY_A]])
    key_b = np.concatenate([old[:, KEY_B], new[:, KEY_B]])
    from_new = np.concatenate([np.zeros(len(old), np.uint64), np.ones(len(new), np.uint64)])
    # The partition's bits are the same in every key here: shifted out, they make room for
    # the side, so one sort of one array orders by first key half, then side.
    order = np.argsort((key_a << _PARTITION_BITS) | from_new)
    a, b = key_a[order], key_b[order]
    if ((a[1:] == a[:-1]) & (b[1:] != b[:-1])).any():
        # Different keys share a first half: order by the second half too.
        order = np.lexsort((from_new, key_b, key_a))
        a, b = key_a[order], key_b[order]
    side = from_new[order].astype(bool)
    same_key = (a[1:] == a[:-1]) & (b[1:] == b[:-1])
    repeated = same_key & (side[1:] == side[:-1])
    repeated_new = repeated & side[1:]
    in_repeat = np.zeros(len(order), bool)
    in_repeat[1:] |= repeated_new
    in_repeat[:-1] |= repeated_new
    pair = same_key & ~side[:-1] & side[1:]
    matched_old = order[:-1][pair]
    matched_new = order[1:][pair] - len(old)
    changed = old[matched_old, VALUE] != new[matched_new, VALUE]
    unmatched_old = np.ones(len(old), bool)
    unmatched_old[matched_old] = False
    unmatched_new = np.ones(len(new), bool)
    unmatched_new[matched_new] = False
    rows = np.concatenate([old[:, ROW], new[:, ROW]])
    return _Joined(
        added=new[unmatched_new, ROW].astype(np.int64),
        updated=new[matched_new[changed], ROW].astype(np.int64),
        deleted=old[unmatched_old, ROW].astype(np.int64),
        repeated_new=rows[order[in_repeat]].astype(np.int64),
        # A repeated key's first pair is the one not preceded by another.
        repeated_new_keys=int(
            (repeated_new[1:] & ~repeated_new[:-1]).sum() + repeated_new[:1].sum()
        ),
        old_repeats=bool((repeated & ~side[1:]).any()),
    )


def keyed_diff(partitions: Iterable[tuple[np.ndarray, np.ndarray]]) -> ChangeSet | None:
    """Joins old and new records partition by partition (the same key always lands in the
    same partition). None when the old snapshot holds a key more than once, so that its
    rows cannot be told apart by key (then rows are aligned in order instead); raises
    `RepeatedKeys` when the new one does."""
    added: list[Positions] = []
    updated: list[Positions] = []
    deleted: list[Positions] = []
    repeated: list[Positions] = []
    repeated_keys = 0
    old_repeats = False
    for old, new in partitions:
        joined = join_partition(old, new)
        added.append(joined.added)
        updated.append(joined.updated)
        deleted.append(joined.deleted)
        repeated.append(joined.repeated_new)
        repeated_keys += joined.repeated_new_keys
        old_repeats |= joined.old_repeats
    if repeated_keys:
        raise RepeatedKeys(_sorted(repeated), repeated_keys)
    if old_repeats:
        return None
    return ChangeSet(added=_sorted(added), updated=_sorted(updated), deleted=_sorted(deleted))


def check_repeats(partitions: Iterable[np.ndarray]) -> None:
    """Raises `RepeatedKeys` when the records (one side's, by partition) repeat a key."""
    nothing = np.empty((0, 4), dtype=np.uint64)
    repeated: list[Positions] = []
    repeated_keys = 0
    for records in partitions:
        joined = join_partition(nothing, records)
        repeated.append(joined.repeated_new)
        repeated_keys += joined.repeated_new_keys
    if repeated_keys:
        raise RepeatedKeys(_sorted(repeated), repeated_keys)


def _sorted(parts: list[Positions]) -> Positions:
    return np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)


def empty_keys(batch: pa.RecordBatch | pa.Table, columns: list[str]) -> np.ndarray:
    """Mask of the rows whose key is empty (null or "") in any of `columns`."""
    empty = np.zeros(batch.num_rows, dtype=bool)
    for name in columns:
        empty |= np.asarray(pc.fill_null(pc.equal(batch.column(name), ""), True))
    return empty


def empty_keys_problem(columns: list[str], count: int, first_rows: list[int]) -> KeyProblem:
    """`first_rows`: positions (from 0) of the first empty keys."""
    shown = [row + 1 for row in first_rows]
    return KeyProblem(
        f"primary key {', '.join(columns)} is empty in {count} row(s), e.g. data rows {shown}; every row needs a key value"
    )


def repeated_keys_problem(keys: pa.Table, distinct: int, examples: int = 3) -> KeyProblem:
    """`keys`: the key columns of the rows whose key repeats, in snapshot order."""
    shown: list[str] = []
    for row in keys.to_pylist():
        text = "/".join(map(str, row.values()))
        if text not in shown:
            shown.append(text)
            if len(shown) == examples:
                break
    return KeyProblem(
        f"primary key {', '.join(keys.column_names)} is not unique: {distinct} value(s) repeat, e.g. {', '.join(shown)}"
    )


def ordered_diff(old: np.ndarray, new: np.ndarray) -> ChangeSet:
    """diff(1)-style alignment of two sequences of row hashes."""
    shortest = min(len(old), len(new))
    mismatch = np.flatnonzero(old[:shortest] != new[:shortest])
    prefix = int(mismatch[0]) if len(mismatch) else shortest
    rest = shortest - prefix
    tail_mismatch = (
        np.flatnonzero(old[len(old) - rest :][::-1] != new[len(new) - rest :][::-1])
        if rest
        else np.empty(0, dtype=np.int64)
    )
    suffix = int(tail_mismatch[0]) if len(tail_mismatch) else rest
    old_mid = old[prefix : len(old) - suffix]
    new_mid = new[prefix : len(new) - suffix]
    added: list[range] = []
    updated: list[range] = []
    deleted: list[range] = []
    if len(old_mid) == 0:
        added.append(range(prefix, prefix + len(new_mid)))
    elif len(new_mid) == 0:
        deleted.append(range(prefix, prefix + len(old_mid)))
    else:
        matcher = difflib.SequenceMatcher(None, old_mid.tolist(), new_mid.tolist(), autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            i1, i2, j1, j2 = i1 + prefix, i2 + prefix, j1 + prefix, j2 + prefix
            if tag == "equal":
                continue
            paired = min(i2 - i1, j2 - j1)
            updated.append(range(j1, j1 + paired))
            deleted.append(range(i1 + paired, i2))
            added.append(range(j1 + paired, j2))
    return ChangeSet(added=_concat(added), updated=_concat(updated), deleted=_concat(deleted))


def _concat(ranges: list[range]) -> Positions:
    if not ranges:
        return np.empty(0, dtype=np.int64)
    return np.concatenate([np.arange(r.start, r.stop, dtype=np.int64) for r in ranges])
