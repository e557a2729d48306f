"""The files staging keeps beside a snapshot: the row hashes file, which must stay what
`np.save` writes (older versions' files are read by newer code and the other way round),
and the keyed records kept by partition for the diff."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.sync.diff import PARTITIONS, ROW, VALUE, keyed_records, partition_of
from app.sync.key_partitions import PartitionedRecords
from app.sync.row_hashes_file import RowHashesFile, StoredRowHashes


@pytest.mark.parametrize("rows", [0, 1, 70_000])
def test_row_hashes_written_in_batches_are_byte_for_byte_what_np_save_writes(
    tmp_path: Path, rows: int
) -> None:
    hashes = np.random.default_rng(rows).integers(0, 2**64, rows, dtype=np.uint64)
    written = RowHashesFile(tmp_path / "batched.npy")
    for start in range(0, rows, 30_000):
        written.write(hashes[start : start + 30_000])
    written.finish()
    np.save(tmp_path / "whole.npy", hashes, allow_pickle=False)

    assert (tmp_path / "batched.npy").read_bytes() == (tmp_path / "whole.npy").read_bytes()


def test_stored_row_hashes_are_read_front_to_back_in_batches(tmp_path: Path) -> None:
    hashes = np.arange(10, dtype=np.uint64) * np.uint64(2**40)
    np.save(tmp_path / "v1.hashes.npy", hashes, allow_pickle=False)

    stored = StoredRowHashes(tmp_path / "v1.hashes.npy")
    parts = [stored.read(4), stored.read(4), stored.read(4)]
    stored.close()

    assert [p.tolist() for p in parts] == [
        hashes[:4].tolist(),
        hashes[4:8].tolist(),
        hashes[8:].tolist(),
    ]
    assert all(p.dtype == np.uint64 for p in parts)


def test_stored_row_hashes_in_the_npy_2_format_are_read_too(tmp_path: Path) -> None:
    hashes = np.arange(5, dtype=np.uint64)
    with open(tmp_path / "v2.npy", "wb") as handle:
        np.lib.format.write_array(handle, hashes, version=(2, 0))

    stored = StoredRowHashes(tmp_path / "v2.npy")

    assert stored.read(5).tolist() == hashes.tolist()
    stored.close()


def generated_records(rows: int, first_row: int = 0) -> np.ndarray:
    rng = np.random.default_rng(first_row)
    keys = rng.integers(0, 2**64, (rows, 2), dtype=np.uint64)
    return keyed_records(keys, rng.integers(0, 2**64, rows, dtype=np.uint64), first_row)


def test_each_partition_reads_back_its_records_of_every_batch_in_order(tmp_path: Path) -> None:
    batches = [generated_records(500, 0), generated_records(300, 500), generated_records(0, 800)]
    kept = PartitionedRecords(tmp_path / "keys")
    for batch in batches:
        kept.append(batch)

    everything = np.concatenate(batches)
    partitions = list(kept)

    assert kept.count == 800
    assert len(partitions) == PARTITIONS
    for which, records in enumerate(partitions):
        expected = everything[partition_of(everything) == which]
        assert records.dtype == np.uint64
        assert records.tolist() == expected.tolist()
    kept.close()


def test_value_hashes_come_back_in_row_order(tmp_path: Path) -> None:
    records = generated_records(1_000)
    kept = PartitionedRecords(tmp_path / "keys")
    kept.append(records[:600])
    kept.append(records[600:])

    assert kept.value_hashes().tolist() == records[np.argsort(records[:, ROW]), VALUE].tolist()
    kept.close()


def test_closing_removes_the_file(tmp_path: Path) -> None:
    kept = PartitionedRecords(tmp_path / "keys")
    kept.append(generated_records(10))

    kept.close()

    assert not (tmp_path / "keys").exists()


def test_closing_after_the_file_was_swept_away_is_quiet(tmp_path: Path) -> None:
    # The staging sweep or a crashed run's cleanup may have removed it already; closing is
    # part of cleaning up after a failed run and must not raise over the run's own error.
    kept = PartitionedRecords(tmp_path / "keys")
    (tmp_path / "keys").unlink()

    kept.close()
    kept.close()

    assert not (tmp_path / "keys").exists()
