"""The numeric settings of a SQL data source, bounded, and the values a read uses.

Memory: arrow-odbc allocates one transit buffer before the first row, sized for the longest
possible row (each text column at `maxTextSize` bytes, each binary column at
`maxBinarySize`) times `batchRows`, and never more than MAX_BYTES_PER_BATCH: with long rows
it fetches fewer rows per batch, and a single row longer than the cap fails with an error
naming `maxTextSize` (measured: five nvarchar(max) columns at 16 MiB each). So the product
is bounded by the cap, and each factor by its own bound below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import Problem
from connectors.toolkit.problems import raise_first_problem

MIB = 1024 * 1024
MAX_BYTES_PER_BATCH = 64 * MIB


@dataclass(frozen=True, slots=True)
class Bound:
    lowest: int
    highest: int
    default: int
    unit: str


LOGIN_TIMEOUT = Bound(1, 60, 15, "seconds")
BATCH_ROWS = Bound(1, 100_000, 50_000, "rows")
MAX_TEXT_SIZE = Bound(1, 16 * MIB, 4000, "bytes")
MAX_BINARY_SIZE = Bound(1, 16 * MIB, 64 * 1024, "bytes")

BOUNDS = {
    "loginTimeoutSeconds": LOGIN_TIMEOUT,
    "batchRows": BATCH_ROWS,
    "maxTextSize": MAX_TEXT_SIZE,
    "maxBinarySize": MAX_BINARY_SIZE,
}


def _within(value: Any, bound: Bound) -> bool:
    # bool is an int in Python, and JSON's 1e9 is a float: neither is a count.
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and bound.lowest <= value <= bound.highest
    )


def limit_problems(settings: Mapping[str, Any]) -> list[Problem]:
    return [
        Problem(
            f"settings.{key}",
            f"must be a whole number from {bound.lowest} to {bound.highest} ({bound.unit})",
        )
        for key, bound in BOUNDS.items()
        if key in settings and not _within(settings[key], bound)
    ]


@dataclass(frozen=True, slots=True)
class ReadLimits:
    login_timeout_seconds: int
    batch_rows: int
    max_text_size: int
    max_binary_size: int

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], default_text_size: int) -> ReadLimits:
        """The limits `settings` ask for; ConfigError when one is out of bounds (a data
        source stored before the bounds existed)."""
        raise_first_problem(limit_problems(settings))
        return cls(
            login_timeout_seconds=settings.get("loginTimeoutSeconds", LOGIN_TIMEOUT.default),
            batch_rows=settings.get("batchRows", BATCH_ROWS.default),
            max_text_size=settings.get("maxTextSize", default_text_size),
            max_binary_size=settings.get("maxBinarySize", MAX_BINARY_SIZE.default),
        )
