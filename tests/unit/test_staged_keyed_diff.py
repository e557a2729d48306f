"""Staging a snapshot with a primary key against the previous one (`stage_snapshot`): the
changes, the key errors a run fails with, the cases where rows are aligned in order
instead, and what staging leaves on disk."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.sync.diff import row_hashes
from app.sync.key_partitions import PartitionedRecords
from app.sync.previous_snapshot import PreviousSnapshot
from app.sync.snapshot import CsvFormat, StagedSnapshot, _write_old_records, stage_snapshot
from connectors.base import ConfigError, Table

FILE_ID = uuid.UUID(int=1)


class StagingFolder:
    """Where staging puts its temp files: the one part of the store it uses."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def temp_path(self, file_id: uuid.UUID, suffix: str) -> Path:
        folder = self.root / str(file_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f".tmp-{uuid.uuid4().hex}{suffix}"


def stage(
    tmp_path: Path,
    data: dict[str, list[str | None]],
    key: object,
    previous: PreviousSnapshot | None = None,
    batch_rows: int = 2,
) -> StagedSnapshot:
    table = pa.table({name: pa.array(values, pa.string()) for name, values in data.items()})
    store: Any = StagingFolder(tmp_path)
    return stage_snapshot(
        Table(columns=table.column_names, batches=iter(table.to_batches(batch_rows))),
        CsvFormat(),
        previous,
        key,
        store,
        FILE_ID,
        lambda phase: None,
    )


def as_previous(staged: StagedSnapshot) -> PreviousSnapshot:
    return PreviousSnapshot(
        1, staged.checksum, staged.row_count, staged.columns, staged.parquet, staged.hashes
    )


def positions(staged: StagedSnapshot) -> dict[str, list[int]]:
    changes = staged.changes
    return {kind: getattr(changes, kind).tolist() for kind in ("added", "updated", "deleted")}


def test_keyed_changes_are_positions_in_each_snapshot(tmp_path: Path) -> None:
    old = stage(tmp_path, {"id": ["1", "2", "3", "4"], "v": ["a", "b", "c", "d"]}, "id")

    new = stage(
        tmp_path,
        {"id": ["4", "3", "5", "1"], "v": ["d", "c-changed", "e", "a"]},
        "id",
        as_previous(old),
    )

    assert positions(new) == {"added": [2], "updated": [1], "deleted": [1]}


def test_a_first_snapshot_adds_every_row(tmp_path: Path) -> None:
    staged = stage(tmp_path, {"id": ["1", "2", "3"], "v": ["a", "b", "c"]}, ["id"])

    assert positions(staged) == {"added": [0, 1, 2], "updated": [], "deleted": []}


def test_repeated_keys_fail_the_run_naming_the_values_and_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        stage(tmp_path, {"id": ["7", "8", "7", "9", "9", "7"], "v": list("abcdef")}, "id")

    assert error.value.message == ("primary key id is not unique: 2 value(s) repeat, e.g. 7, 9")
    assert error.value.field == "config.primaryKey"


def test_empty_keys_fail_the_run_before_repeats_naming_data_rows(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        stage(
            tmp_path,
            {"id": ["1", "", "1", None, "", "", "2"], "v": list("abcdefg")},
            "id",
            batch_rows=3,
        )

    assert error.value.message == (
        "primary key id is empty in 4 row(s), e.g. data rows [2, 4, 5]; every row needs a key value"
    )
    assert error.value.field == "config.primaryKey"


def test_repeated_keys_fail_also_when_the_previous_rows_lack_the_key(tmp_path: Path) -> None:
    old = stage(tmp_path, {"v": ["a"]}, None)

    with pytest.raises(ConfigError, match="not unique"):
        stage(tmp_path, {"id": ["1", "1"], "v": ["a", "b"]}, "id", as_previous(old))


def test_old_rows_repeating_the_new_key_are_aligned_in_order(tmp_path: Path) -> None:
    # The key was set after a version whose rows repeat it: they cannot be matched by key.
    old = stage(tmp_path, {"id": ["1", "1", "2"], "v": ["a", "b", "c"]}, None)

    new = stage(tmp_path, {"id": ["1", "3", "2"], "v": ["a", "x", "c"]}, "id", as_previous(old))

    assert positions(new) == {"added": [], "updated": [1], "deleted": []}


def test_a_new_key_column_aligns_rows_in_order(tmp_path: Path) -> None:
    old = stage(tmp_path, {"v": ["a", "b"]}, None)

    new = stage(tmp_path, {"id": ["1", "2"], "v": ["a", "c"]}, "id", as_previous(old))

    assert positions(new) == {"added": [], "updated": [1], "deleted": []}
    assert new.changes.columns_added == ["id"]


def test_with_a_column_added_keyed_rows_compare_on_the_shared_columns(tmp_path: Path) -> None:
    old = stage(tmp_path, {"id": ["1", "2", "3"], "v": ["a", "b", "c"]}, "id")

    new = stage(
        tmp_path,
        {"id": ["3", "2", "1"], "v": ["c", "b-changed", "a"], "w": ["x", "y", "z"]},
        "id",
        as_previous(old),
    )

    assert positions(new) == {"added": [], "updated": [1], "deleted": []}
    assert new.changes.columns_added == ["w"]
    assert new.changes.columns_removed == []


def test_with_a_column_removed_keyed_rows_compare_on_the_shared_columns(tmp_path: Path) -> None:
    old = stage(tmp_path, {"id": ["1", "2"], "v": ["a", "b"], "w": ["x", "y"]}, "id")

    new = stage(tmp_path, {"id": ["2", "1"], "v": ["b", "a-changed"]}, "id", as_previous(old))

    assert positions(new) == {"added": [], "updated": [1], "deleted": []}
    assert new.changes.columns_removed == ["w"]


def test_the_hashes_file_holds_a_hash_per_row_over_every_column(tmp_path: Path) -> None:
    data: dict[str, list[str | None]] = {
        "id": ["1", "2", "3"],
        "b": ["x", None, ""],
        "a": list("pqr"),
    }

    staged = stage(tmp_path, data, "id")

    table = pa.table({name: pa.array(values, pa.string()) for name, values in data.items()})
    stored = np.load(staged.hashes, allow_pickle=False)
    assert stored.tolist() == row_hashes(table, ["a", "b", "id"]).tolist()
    assert pq.read_table(staged.parquet).num_rows == 3


def test_staging_leaves_only_the_three_staged_files(tmp_path: Path) -> None:
    old = stage(tmp_path, {"id": ["1", "2"], "v": ["a", "b"]}, "id")
    new = stage(tmp_path, {"id": ["2", "3"], "v": ["b", "c"]}, "id", as_previous(old))

    left = sorted(p.name for p in (tmp_path / str(FILE_ID)).iterdir())

    staged_names = {p.name for s in (old, new) for p in (s.csv, s.parquet, s.hashes)}
    assert set(left) == staged_names


def test_a_failed_staging_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        stage(tmp_path, {"id": ["1", "1"], "v": ["a", "b"]}, "id")

    assert list((tmp_path / str(FILE_ID)).iterdir()) == []


def test_a_previous_snapshot_that_cannot_be_read_fails_the_run_early(tmp_path: Path) -> None:
    """The previous snapshot is read while the new rows arrive; when that fails, the run
    stops fetching then, not after the whole table has been pulled and written."""
    pulled = 0

    def slow_batches() -> Any:
        nonlocal pulled
        for n in range(1000):
            pulled += 1
            time.sleep(0.001)
            yield pa.record_batch({"id": [str(n)], "v": ["a"]})

    lost = PreviousSnapshot(1, "", 1, ["id", "v"], tmp_path / "gone.parquet", tmp_path / "gone.npy")
    store: Any = StagingFolder(tmp_path)

    with pytest.raises(FileNotFoundError):
        stage_snapshot(
            Table(columns=["id", "v"], batches=slow_batches()),
            CsvFormat(),
            lost,
            "id",
            store,
            FILE_ID,
            lambda phase: None,
        )

    assert pulled < 500
    assert list((tmp_path / str(FILE_ID)).iterdir()) == []


def test_a_failed_run_stops_reading_the_previous_snapshot(tmp_path: Path) -> None:
    old = stage(tmp_path, {"id": [str(n) for n in range(10)], "v": ["a"] * 10}, "id")
    records = PartitionedRecords(tmp_path / "previous-keys")
    stopped = threading.Event()
    stopped.set()

    _write_old_records(as_previous(old), ["id", "v"], ["id"], records, stopped)

    assert records.count == 0
    records.close()
