"""`v{N}.hashes.npy`, a hash per row of a snapshot over all its columns in row order (a 1-D
uint64 .npy array, as `np.save` writes it), written and read a batch at a time so that
neither side holds a table's worth of hashes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np


class RowHashesFile:
    """The staged `v{N}.hashes.npy`: a 1-D uint64 .npy array, a hash per row in row order,
    written a batch at a time. Its header, the same 128 bytes `np.save` writes for any
    length, goes in front once the length is known."""

    HEADER_BYTES = 128

    def __init__(self, path: Path) -> None:
        self.count = 0
        self._handle = open(path, "wb")  # noqa: SIM115 -- closed by finish()
        self._handle.write(bytes(self.HEADER_BYTES))

    def write(self, hashes: np.ndarray) -> None:
        self._handle.write(hashes.astype("<u8", copy=False).tobytes())
        self.count += len(hashes)

    def finish(self) -> None:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": "<u8", "fortran_order": False, "shape": (self.count,)}
        )
        if len(header.getvalue()) != self.HEADER_BYTES:
            raise AssertionError("an .npy header of another size than np.save writes")
        self._handle.seek(0)
        self._handle.write(header.getvalue())
        self._handle.close()

    def close(self) -> None:
        self._handle.close()


class StoredRowHashes:
    """Reads a stored `v{N}.hashes.npy` front to back, a batch of rows at a time."""

    def __init__(self, path: Path) -> None:
        self._handle = open(path, "rb")  # noqa: SIM115 -- closed by close()
        major, _ = np.lib.format.read_magic(self._handle)
        read_header = (
            np.lib.format.read_array_header_1_0
            if major == 1
            else np.lib.format.read_array_header_2_0
        )
        _, _, self._dtype = read_header(self._handle)

    def read(self, rows: int) -> np.ndarray:
        data = self._handle.read(rows * self._dtype.itemsize)
        return np.frombuffer(data, dtype=self._dtype).astype(np.uint64)

    def close(self) -> None:
        self._handle.close()
