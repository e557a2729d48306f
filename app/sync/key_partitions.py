"""One side of a keyed diff, kept on disk by partition so that the diff's memory does not
grow with the table.

A snapshot's keyed records (app/sync/diff.py `keyed_records`: key hash, value hash, row)
arrive a batch at a time. Each batch is written to one temp file sorted by partition, and
where each partition's run starts is remembered (a few hundred bytes a batch); a partition
is read back as its runs from every batch. The file is a staging temp file: nothing of it
is published, and `close` removes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from app.sync.diff import PARTITIONS, ROW, VALUE, partition_of

_RECORD_BYTES = 4 * 8


class PartitionedRecords:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._file = open(path, "w+b")  # noqa: SIM115 -- closed by close()
        self._starts: list[np.ndarray] = []  # per batch: where each partition's run starts

    def append(self, records: np.ndarray) -> None:
        partitions = partition_of(records)
        starts = np.zeros(PARTITIONS + 1, dtype=np.int64)
        np.cumsum(np.bincount(partitions, minlength=PARTITIONS), out=starts[1:])
        self._file.write(records[np.argsort(partitions, kind="stable")].data)
        self._starts.append(starts + self.count)
        self.count += len(records)

    def partition(self, which: int) -> np.ndarray:
        """The records of one partition, batch by batch in the order they came."""
        self._file.flush()
        pieces = [
            np.frombuffer(
                os.pread(
                    self._file.fileno(),
                    int(starts[which + 1] - starts[which]) * _RECORD_BYTES,
                    int(starts[which]) * _RECORD_BYTES,
                ),
                dtype=np.uint64,
            )
            for starts in self._starts
            if starts[which + 1] > starts[which]
        ]
        return np.concatenate(pieces).reshape(-1, 4) if pieces else np.empty((0, 4), np.uint64)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self.partition(which) for which in range(PARTITIONS))

    def value_hashes(self) -> np.ndarray:
        """Every record's value hash, in row order (for aligning rows in order instead)."""
        hashes = np.zeros(self.count, dtype=np.uint64)
        for records in self:
            hashes[records[:, ROW].astype(np.intp)] = records[:, VALUE]
        return hashes

    def close(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)
