"""Canonical CSV text per Arrow type: the same value always renders to the same bytes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from app.sync.render import render_column


@pytest.mark.parametrize(
    ("values", "arrow_type", "expected"),
    [
        (["a", "", None, "Zoë 😀"], pa.string(), ["a", "", None, "Zoë 😀"]),
        ([True, False, None], pa.bool_(), ["true", "false", None]),
        ([1, -20, None, 2**62], pa.int64(), ["1", "-20", None, str(2**62)]),
        ([Decimal("12.50"), Decimal("-0.01"), None], pa.decimal128(10, 2), ["12.50", "-0.01", None]),
        ([Decimal("123456789012345678.1234")], pa.decimal128(38, 4), ["123456789012345678.1234"]),
        ([0.1 + 0.2, 1.0, 1e20, 1 / 3, None], pa.float64(), ["0.3", "1", "1e+20", "0.333333333333333", None]),
        ([0.1, 2.5], pa.float32(), ["0.1", "2.5"]),
        ([dt.date(2026, 2, 12), None], pa.date32(), ["2026-02-12", None]),
        ([dt.datetime(2026, 2, 12, 10, 0, 0)], pa.timestamp("us"), ["2026-02-12T10:00:00"]),
        ([dt.datetime(2026, 2, 12, 10, 0, 0, 120000)], pa.timestamp("ms"), ["2026-02-12T10:00:00.12"]),
        ([dt.time(6, 30, 0, 500000)], pa.time64("us"), ["06:30:00.5"]),
        ([b"\x00\xff", None], pa.binary(), ["0x00FF", None]),
    ],
)
def test_each_type_renders_canonically(values: list[object], arrow_type: pa.DataType, expected: list[str | None]) -> None:
    assert render_column(pa.array(values, arrow_type)).to_pylist() == expected


def test_nanosecond_timestamps_keep_their_precision() -> None:
    seven_digits = pa.array([1_770_890_400_123_456_700], pa.timestamp("ns"))
    assert render_column(seven_digits).to_pylist() == ["2026-02-12T10:00:00.1234567"]


def test_zoned_timestamps_render_in_utc_with_z() -> None:
    berlin = pa.array([dt.datetime(2026, 2, 12, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))], pa.timestamp("us", tz="Europe/Berlin"))
    assert render_column(berlin).to_pylist() == ["2026-02-12T10:00:00Z"]


def test_null_column_is_all_empty() -> None:
    assert render_column(pa.nulls(2)).to_pylist() == [None, None]
