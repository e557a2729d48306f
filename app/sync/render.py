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
| timestamp | `2026-02-12T10:00:00.1234567` (fraction as precise as the value, trailing zeros cut); with a time zone, in UTC with `Z` |
| time | `10:00:00.5` |
| binary | `0x` + upper-case hex, as SQL Server shows it |
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

_TRAILING_FRACTION_ZEROS = r"(\.\d*[1-9])0+$"
_ZERO_FRACTION = r"\.0+$"


def _trim_fraction(text: pa.Array) -> pa.Array:
    text = pc.replace_substring_regex(text, _TRAILING_FRACTION_ZEROS, r"\1")
    return pc.replace_substring_regex(text, _ZERO_FRACTION, "")


_EXPONENT_ZEROS = re.compile(r"e([+-])0+(\d)")


def _float64_text(values: pa.Array) -> pa.Array:
    # Arrow's cast gives the shortest round-trip repr; doubles carry ~15.95 significant
    # decimal digits, so a 17-digit repr is arithmetic noise (0.30000000000000004). Those few
    # are re-rendered at 15 significant digits, as spreadsheets display them.
    text = values.cast(pa.string())
    noisy = pc.fill_null(pc.greater(pc.utf8_length(text), 16), False)
    if not pc.any(noisy).as_py():
        return text
    fixed = [
        _EXPONENT_ZEROS.sub(r"e\1\2", f"{v:.15g}") if is_noisy and v is not None else t
        for v, t, is_noisy in zip(values.to_pylist(), text.to_pylist(), noisy.to_pylist(), strict=True)
    ]
    return pa.array(fixed, pa.string())


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
        return pc.if_else(values, "true", "false")
    if pa.types.is_floating(kind):
        if kind == pa.float64():
            return _float64_text(values)
        return values.cast(pa.string())
    if pa.types.is_integer(kind) or pa.types.is_decimal(kind) or pa.types.is_date(kind):
        return values.cast(pa.string())
    if pa.types.is_timestamp(kind):
        if kind.tz is not None:
            utc = values.cast(pa.timestamp(kind.unit, tz="UTC"))
            text = _trim_fraction(pc.strftime(utc, format="%Y-%m-%dT%H:%M:%S"))
            return pc.binary_join_element_wise(text, pa.scalar("Z"), "")
        return _trim_fraction(pc.strftime(values, format="%Y-%m-%dT%H:%M:%S"))
    if pa.types.is_time(kind):
        return _trim_fraction(values.cast(pa.string()))
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return pa.array(
            [None if v is None else "0x" + v.hex().upper() for v in values.to_pylist()], pa.string()
        )
    # Anything else (lists, structs) has no canonical CSV form; its text form is stable.
    return pa.array([None if v is None else str(v) for v in values.to_pylist()], pa.string())


def render_batch(batch: pa.RecordBatch, names: list[str]) -> pa.RecordBatch:
    """A batch of canonical strings, with the normalised column names."""
    return pa.RecordBatch.from_arrays([render_column(batch.column(i)) for i in range(len(names))], names=names)
