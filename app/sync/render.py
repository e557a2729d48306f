"""Canonical text for every value that lands in a CSV cell.

One rendering per Arrow type, vectorised with pyarrow.compute, so the same source value
always becomes the same bytes (which is what lets an unchanged source leave the file, its
checksum and its ETag untouched):

| Arrow type | CSV text |
|---|---|
| string | as is ("" stays an empty string, distinct from null) |
| null (any type) | empty, unquoted |
| bool | `true` / `false` |
| integers | decimal digits |
| decimal | exact, at the column's scale (`12.50`) |
| float64 | 15 significant digits, shortest form (`0.1 + 0.2` → `0.3`, `1.0` → `1`) |
| float32 | shortest repr that round-trips as float32 (`0.1`, not `0.100000001`) |
| date | `2026-02-12` |
| timestamp | `2026-02-12T10:00:00.1234567` (trailing fraction zeros cut); zoned: UTC with `Z` |
| time | `10:00:00.5` |
| binary | `0x` + upper-case hex, as SQL Server shows it |
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_TRAILING_FRACTION_ZEROS = r"(\.\d*[1-9])0+$"
_ZERO_FRACTION = r"\.0+$"
_UNITS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _trim_fraction(text: pa.Array, ticks: pa.Array, unit: str) -> pa.Array:
    """Cuts trailing zeros of the fraction of seconds ("10:00:00.500000" → "10:00:00.5").

    Arrow prints a fixed-width fraction for sub-second units. Most columns hold whole
    seconds only; then the fraction is sliced off, which is much faster than a regex.
    """
    per_second = _UNITS_PER_SECOND[unit]
    if per_second == 1:
        return text
    whole = np.asarray(ticks.cast(pa.int64()).fill_null(0)) % per_second
    if not whole.any():
        width = len(str(per_second))  # "." plus the digits
        return pc.utf8_slice_codeunits(text, 0, -width)
    text = pc.replace_substring_regex(text, _TRAILING_FRACTION_ZEROS, r"\1")
    return pc.replace_substring_regex(text, _ZERO_FRACTION, "")


def _float64_text(values: pa.Array) -> pa.Array:
    # Arrow's cast gives the shortest round-trip repr; doubles carry ~15.95 significant
    # decimal digits, so a 17-digit repr is arithmetic noise (0.30000000000000004). Those are
    # rounded to 15 significant digits, as spreadsheets display them.
    text = values.cast(pa.string())
    noisy = pc.fill_null(pc.greater(pc.utf8_length(text), 16), False)
    if not pc.any(noisy).as_py():
        return text
    numbers = np.asarray(values.fill_null(0.0))
    magnitude = np.abs(numbers)
    # Vectorised where the scale 10**(14 - exponent) is an exact double (10**0 … 10**22):
    # dividing by it is then correctly rounded. The product x * scale is rounded too and may
    # land on a tie that goes the wrong way, so of the neighbouring 15-digit candidates the
    # one nearest the value wins.
    fast = (magnitude >= 1e-8) & (magnitude < 1e14)
    with np.errstate(all="ignore"):
        scale = 10.0 ** (14 - np.floor(np.log10(np.where(fast, magnitude, 1.0))))
        nearest = np.round(numbers * scale)
        candidates = np.stack([nearest - 1, nearest, nearest + 1]) / scale
        best = np.argmin(np.abs(candidates - numbers), axis=0)
        rounded = np.take_along_axis(candidates, best[None], axis=0)[0]
    fixed = (
        pa.array(np.where(fast, rounded, numbers), pa.float64())
        .cast(pa.string())
        .to_numpy(zero_copy_only=False)
    )
    for index in np.flatnonzero(~fast & np.asarray(noisy)):
        fixed[index] = f"{numbers[index]:.15g}".replace("e-0", "e-").replace("e+0", "e+")
    return pc.if_else(noisy, pa.array(fixed, pa.string()), text)


def _timestamp_text(values: pa.Array) -> pa.Array:
    kind = values.type
    if kind.tz is not None:
        # Wall-clock time in UTC, then the "Z" that says so.
        utc_wall = values.cast(pa.timestamp(kind.unit, tz="UTC")).cast(pa.timestamp(kind.unit))
        text = _timestamp_text(utc_wall)
        return pc.binary_join_element_wise(text, pa.scalar("Z"), "")
    text = pc.replace_substring(values.cast(pa.string()), " ", "T", max_replacements=1)
    return _trim_fraction(text, values, kind.unit)


def render_column(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The canonical string array for one column; nulls stay null."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    kind = values.type
    if pa.types.is_string(kind):
        return values
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return values.cast(pa.string())
    if pa.types.is_null(kind):
        return pa.nulls(len(values), pa.string())
    if pa.types.is_dictionary(kind):
        return render_column(values.cast(kind.value_type))
    if pa.types.is_boolean(kind):
        return values.cast(pa.string())  # "true" / "false"
    if pa.types.is_floating(kind):
        if kind == pa.float64():
            return _float64_text(values)
        return values.cast(pa.string())
    if pa.types.is_integer(kind) or pa.types.is_decimal(kind) or pa.types.is_date(kind):
        return values.cast(pa.string())
    if pa.types.is_timestamp(kind):
        return _timestamp_text(values)
    if pa.types.is_time(kind):
        return _trim_fraction(values.cast(pa.string()), values, kind.unit)
    if (
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_fixed_size_binary(kind)
    ):
        return pa.array(
            [None if v is None else "0x" + v.hex().upper() for v in values.to_pylist()], pa.string()
        )
    # Anything else (lists, structs) has no canonical CSV form; its text form is stable.
    return pa.array([None if v is None else str(v) for v in values.to_pylist()], pa.string())


def render_batch(batch: pa.RecordBatch, names: list[str]) -> pa.RecordBatch:
    """A batch of canonical strings, with the normalised column names."""
    return pa.RecordBatch.from_arrays(
        [render_column(batch.column(i)) for i in range(len(names))], names=names
    )
