"""What changed between two snapshots of a table, computed on row hashes with pandas.

Each row is summarised by a 64-bit hash of its canonical values in the columns both
snapshots share (see `row_hashes`), so a diff of a million rows needs keys and hashes in
memory, not two copies of the table.

- With a primary key: added = keys only in the new snapshot, deleted = keys only in the
  old, updated = keys in both whose shared columns differ.
- Without one: rows are aligned in order the way diff(1) aligns lines; in a block of old
  rows replaced by new ones, as many rows as both sides have count as updated and the
  rest as deleted or added.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

# Separates values inside a row before hashing; nulls hash as a byte no text cell holds,
# so NULL and "" stay different.
_SEPARATOR = "\x1f"
_NULL = "\x00"

Positions = np.ndarray  # int64 row positions

# Matched key pairs compared against each other at a time.
_PAIRS_PER_CHECK = 65_536


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
    arrays = [batch.column(name) for name in columns]
    joined = pc.binary_join_element_wise(
        *arrays, _SEPARATOR, null_handling="replace", null_replacement=_NULL
    )
    values = joined.cast(pa.binary()).to_numpy(zero_copy_only=False)
    digest = xxhash.xxh3_64_intdigest
    return np.fromiter(map(digest, values), dtype=np.uint64, count=len(values))


def _positions(mask: pd.Series, column: pd.Series) -> Positions:
    return np.sort(column[mask].to_numpy(dtype=np.int64))


@dataclass(slots=True)
class KeyedRows:
    """A snapshot as the keyed diff sees it: the key values, and per row a hash of its key
    and a hash of its compared values. Joining on 64-bit key hashes is several times faster
    than joining on strings; matches are then checked against the real keys."""

    keys: pa.Table
    key_hashes: np.ndarray
    value_hashes: np.ndarray
    _index: pd.Index | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, keys: pa.Table, value_hashes: np.ndarray) -> KeyedRows:
        return cls(keys, row_hashes(keys, keys.column_names), value_hashes)

    @property
    def index(self) -> pd.Index:
        """The key hashes as an index, built once: the hash table that tells whether they
        are unique is the one the diff then looks rows up in."""
        if self._index is None:
            self._index = pd.Index(self.key_hashes)
        return self._index

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "_key": self.key_hashes,
                "_hash": self.value_hashes,
                "_row": np.arange(len(self.key_hashes), dtype=np.int64),
            }
        )

    def duplicated(self) -> np.ndarray:
        """Mask of rows whose key occurs more than once (exact, collisions ruled out)."""
        # Sorted, repeats sit side by side: a copy of the hashes where a hash table would
        # take five times that.
        ordered = np.sort(self.key_hashes)
        if not (ordered[1:] == ordered[:-1]).any():
            return np.zeros(len(self.key_hashes), dtype=bool)
        suspects: np.ndarray = pd.Series(self.key_hashes).duplicated(keep=False).to_numpy()
        exact: np.ndarray = self.keys.to_pandas().duplicated(keep=False).to_numpy()
        return np.asarray(suspects & exact)


def check_keys(rows: KeyedRows, examples: int = 3) -> None:
    """Fails on empty or duplicate keys, naming a few offending values."""
    names = ", ".join(rows.keys.column_names)
    empty = np.zeros(rows.keys.num_rows, dtype=bool)
    for column in rows.keys.columns:
        empty |= np.asarray(pc.fill_null(pc.equal(column, ""), True))
    if empty.any():
        shown = (np.flatnonzero(empty)[:examples] + 1).tolist()
        raise KeyProblem(
            f"primary key {names} is empty in {int(empty.sum())} row(s), e.g. data rows {shown}; every row needs a key value"
        )
    duplicated = rows.duplicated()
    if duplicated.any():
        repeated = rows.keys.filter(pa.array(duplicated)).to_pandas().drop_duplicates()
        shown_keys = [
            "/".join(map(str, row)) for row in repeated.head(examples).itertuples(index=False)
        ]
        raise KeyProblem(
            f"primary key {names} is not unique: {len(repeated)} value(s) repeat, e.g. {', '.join(shown_keys)}"
        )


def keyed_diff(old: KeyedRows, new: KeyedRows) -> ChangeSet:
    """Both sides hold unique keys (`check_keys`), so a hash index on the old key hashes
    finds each new row's partner directly."""
    if not old.index.is_unique:
        # Two different old keys share a hash (`check_keys` rules out equal keys): the hash
        # index cannot say which one a new row's key is.
        return _exact_keyed_diff(old, new)
    partner = old.index.get_indexer(new.key_hashes)
    matched_new = np.flatnonzero(partner >= 0)
    matched_old = partner[matched_new]
    if not _same_keys(old, new, matched_old, matched_new):
        # Two different keys share a 64-bit hash (about once in 10^19 pairs): join exactly.
        return _exact_keyed_diff(old, new)
    unmatched_old = np.ones(len(old.key_hashes), dtype=bool)
    unmatched_old[matched_old] = False
    changed = old.value_hashes[matched_old] != new.value_hashes[matched_new]
    return ChangeSet(
        added=np.flatnonzero(partner < 0).astype(np.int64),
        updated=matched_new[changed].astype(np.int64),
        deleted=np.flatnonzero(unmatched_old).astype(np.int64),
    )


def _same_keys(old: KeyedRows, new: KeyedRows, old_rows: np.ndarray, new_rows: np.ndarray) -> bool:
    # A slice at a time: the keys of every matched pair at once would be two more copies of
    # the key columns in memory.
    for start in range(0, len(old_rows), _PAIRS_PER_CHECK):
        end = start + _PAIRS_PER_CHECK
        old_keys = old.keys.take(pa.array(old_rows[start:end], pa.int64()))
        new_keys = new.keys.take(pa.array(new_rows[start:end], pa.int64()))
        for a, b in zip(old_keys.columns, new_keys.columns, strict=True):
            if pc.all(pc.equal(a, b)).as_py() is False:
                return False
    return True


def _exact_keyed_diff(old: KeyedRows, new: KeyedRows) -> ChangeSet:
    names = old.keys.column_names
    left = pd.concat([old.keys.to_pandas(), old.frame().drop(columns="_key")], axis=1)
    right = pd.concat([new.keys.to_pandas(), new.frame().drop(columns="_key")], axis=1)
    merged = left.merge(right, on=names, how="outer", suffixes=("_old", "_new"), indicator=True)
    changed = (merged["_merge"] == "both") & (merged["_hash_old"] != merged["_hash_new"])
    return ChangeSet(
        added=_positions(merged["_merge"] == "right_only", merged["_row_new"]),
        updated=_positions(changed, merged["_row_new"]),
        deleted=_positions(merged["_merge"] == "left_only", merged["_row_old"]),
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
