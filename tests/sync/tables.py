"""Tables the `test-table` source serves: CSV files the tests rewrite between syncs."""

from __future__ import annotations

import csv
from pathlib import Path


def write_table(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(text.splitlines()))
