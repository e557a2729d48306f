"""Canonical CSV text per Arrow type: the same value always renders to the same bytes."""

from __future__ import annotations

import datetime as dt
import decimal
import random
from decimal import Decimal

import pyarrow as pa
import pytest

from app.sync.render import render_batch, render_column


@pytest.mark.parametrize(
    ("values", "arrow_type", "expected"),
    [
        (["a", "", None, "Zoë 😀"], pa.string(), ["a", "", None, "Zoë 😀"]),
        ([True, False, None], pa.bool_(), ["true", "false", None]),
        ([1, -20, None, 2**62], pa.int64(), ["1", "-20", None, str(2**62)]),
        (
            [Decimal("12.50"), Decimal("-0.01"), None],
            pa.decimal128(10, 2),
            ["12.50", "-0.01", None],
        ),
        ([Decimal("123456789012345678.1234")], pa.decimal128(38, 4), ["123456789012345678.1234"]),
        (
            [0.1 + 0.2, 1.0, 1e20, 1 / 3, None],
            pa.float64(),
            ["0.3", "1", "1e+20", "0.333333333333333", None],
        ),
        ([0.1, 2.5], pa.float32(), ["0.1", "2.5"]),
        ([dt.date(2026, 2, 12), None], pa.date32(), ["2026-02-12", None]),
        ([dt.datetime(2026, 2, 12, 10, 0, 0)], pa.timestamp("us"), ["2026-02-12T10:00:00"]),
        (
            [dt.datetime(2026, 2, 12, 10, 0, 0, 120000)],
            pa.timestamp("ms"),
            ["2026-02-12T10:00:00.12"],
        ),
        ([dt.time(6, 30, 0, 500000)], pa.time64("us"), ["06:30:00.5"]),
        ([b"\x00\xff", None], pa.binary(), ["0x00FF", None]),
    ],
)
def test_each_type_renders_canonically(
    values: list[object], arrow_type: pa.DataType, expected: list[str | None]
) -> None:
    assert render_column(pa.array(values, arrow_type)).to_pylist() == expected


def test_small_decimals_at_a_large_scale_are_written_in_plain_digits() -> None:
    # Arrow's own text for these is scientific (`0E-10`, `1.200E-7`).
    values = [Decimal("0"), Decimal("0.0000001200"), Decimal("-0.0000000001"), Decimal("12.5")]
    assert render_column(pa.array([*values, None], pa.decimal128(18, 10))).to_pylist() == [
        "0.0000000000",
        "0.0000001200",
        "-0.0000000001",
        "12.5000000000",
        None,
    ]


@pytest.mark.parametrize("scale", [0, 2, 6, 7, 10, 20, 38])
def test_every_decimal_is_its_exact_value_at_the_columns_scale(scale: int) -> None:
    rng = random.Random(scale)
    unscaled = [
        rng.choice([1, -1]) * rng.randrange(10 ** rng.randrange(0, 39)) for _ in range(2_000)
    ]
    values = [Decimal(u).scaleb(-scale) for u in unscaled]
    rendered = render_column(pa.array(values, pa.decimal128(38, scale))).to_pylist()
    with decimal.localcontext(prec=80):
        expected = [format(v.quantize(Decimal(1).scaleb(-scale)), "f") for v in values]
    assert rendered == expected


def test_nanosecond_timestamps_keep_their_precision() -> None:
    seven_digits = pa.array([1_770_890_400_123_456_700], pa.timestamp("ns"))
    assert render_column(seven_digits).to_pylist() == ["2026-02-12T10:00:00.1234567"]


def test_zoned_timestamps_render_in_utc_with_z() -> None:
    berlin = pa.array(
        [dt.datetime(2026, 2, 12, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))],
        pa.timestamp("us", tz="Europe/Berlin"),
    )
    assert render_column(berlin).to_pylist() == ["2026-02-12T10:00:00Z"]


def test_null_column_is_all_empty() -> None:
    assert render_column(pa.nulls(2)).to_pylist() == [None, None]


@pytest.mark.parametrize(
    ("values", "arrow_type", "expected"),
    [
        pytest.param(
            [dt.datetime(2026, 2, 12, 10, 0, 0), None],
            pa.timestamp("s"),
            ["2026-02-12T10:00:00", None],
            id="whole-second-unit",
        ),
        pytest.param([dt.time(10, 0, 0)], pa.time32("s"), ["10:00:00"], id="time-in-seconds"),
        pytest.param(
            [dt.datetime(2026, 2, 12, 10, 0, 0, 500000), dt.datetime(2026, 2, 12, 10, 0, 1), None],
            pa.timestamp("us"),
            ["2026-02-12T10:00:00.5", "2026-02-12T10:00:01", None],
            id="fractions-and-whole-seconds-in-one-column",
        ),
        pytest.param(
            [dt.time(6, 30, 0, 250000), dt.time(6, 30, 1)],
            pa.time64("us"),
            ["06:30:00.25", "06:30:01"],
            id="times-with-and-without-a-fraction",
        ),
    ],
)
def test_fractions_of_seconds_lose_trailing_zeros_and_whole_seconds_lose_the_dot(
    values: list[object], arrow_type: pa.DataType, expected: list[str | None]
) -> None:
    assert render_column(pa.array(values, arrow_type)).to_pylist() == expected


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        pytest.param(pa.chunked_array([["a"], ["b", None]]), ["a", "b", None], id="chunked"),
        pytest.param(pa.array(["a", None], pa.large_string()), ["a", None], id="large-string"),
        pytest.param(pa.nulls(2), [None, None], id="null-type"),
        pytest.param(
            pa.array(["x", "y", "x", None]).dictionary_encode(),
            ["x", "y", "x", None],
            id="dictionary",
        ),
        pytest.param(
            pa.array([b"\x0a", None], pa.large_binary()), ["0x0A", None], id="large-binary"
        ),
        pytest.param(pa.array([b"\xab\x01"], pa.binary(2)), ["0xAB01"], id="fixed-size-binary"),
        pytest.param(pa.array([None, None], pa.binary()), [None, None], id="all-null-binary"),
        pytest.param(pa.array([[1, 2], None, []]), ["[1, 2]", None, "[]"], id="list"),
        pytest.param(
            pa.array([None, None], pa.list_(pa.int64())), [None, None], id="all-null-list"
        ),
    ],
)
def test_every_column_renders_as_a_string_column(
    column: pa.Array | pa.ChunkedArray, expected: list[str | None]
) -> None:
    rendered = render_column(column)

    assert rendered.type == pa.string()
    assert rendered.to_pylist() == expected


def test_a_batch_renders_column_by_column_under_the_normalised_names() -> None:
    batch = pa.RecordBatch.from_arrays(
        [pa.array([1, None]), pa.array([True, False])], names=["Order ID", "Paid?"]
    )

    rendered = render_batch(batch, ["order_id", "paid"])

    assert rendered.schema == pa.schema([("order_id", pa.string()), ("paid", pa.string())])
    assert rendered.to_pydict() == {"order_id": ["1", None], "paid": ["true", "false"]}
