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


# The vectorised path takes magnitudes in [1e-8, 1e14), whose decimal exponents e are
# -8 … 13: 10**(14 - e) turns one into 15 integer digits, and 10**1 … 10**22 are exact
# doubles. A magnitude gets the exponent of the last threshold below it, the thresholds
# being the doubles nearest each power of ten. That is its exponent, except for a threshold
# itself (one too low: 16 digits, which round it to its power of ten as 15 would) and for a
# threshold just below its power (one too high: 14 digits, likewise).
_EXPONENTS = range(-8, 14)
_THRESHOLDS = np.array([float(f"1e{e}") for e in _EXPONENTS])
_SCALES = np.array([float(f"1e{14 - e}") for e in _EXPONENTS])
_SPLITTER = 2.0**27 + 1


def _split(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Veltkamp's split: high + low == values exactly, each with at most 26 significant bits."""
    spread = _SPLITTER * values
    high = spread - (spread - values)
    return high, values - high


def _rounded_to_fifteen_digits(numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each number rounded to 15 significant digits (half to even, from its exact value),
    for magnitudes in [1e-8, 1e14), and which numbers those are (the others give noise).

    The 15 digits, as an integer over an exact power of ten, divided in one correctly
    rounded step, give the double whose shortest repr they are.
    """
    magnitude = np.abs(numbers)
    index = np.searchsorted(_THRESHOLDS, magnitude) - 1
    inside = (index >= 0) & (magnitude < 1e14)
    scale = _SCALES[index]
    with np.errstate(all="ignore"):  # the numbers outside overflow, and are not used
        product = numbers * scale
        nearest = np.round(product)
        # The product is rounded, so when it lands exactly halfway between two integers
        # the exact product may lie on either side. Dekker's product (the factors split
        # into halves whose products are exact) gives the rounding error exactly; its sign
        # says which side.
        numbers_high, numbers_low = _split(numbers)
        scale_high, scale_low = _split(scale)
        error = (
            ((numbers_high * scale_high - product) + numbers_high * scale_low)
            + numbers_low * scale_high
        ) + numbers_low * scale_low
        halfway = product - nearest  # exact; ±0.5 at a tie, which np.round sent to even
        beyond = (np.abs(halfway) == 0.5) & (halfway * error > 0)
        digits = np.where(beyond, nearest + 2 * halfway, nearest)
    return digits / scale, inside


def _float64_text(values: pa.Array) -> pa.Array:
    # Arrow's cast gives the shortest round-trip repr; doubles carry ~15.95 significant
    # decimal digits, so a 17-digit repr is arithmetic noise (0.30000000000000004). Those are
    # rounded to 15 significant digits, as spreadsheets display them: the exact binary value
    # rounded half to even, as format(x, ".15g") does.
    #
    # Inside [1e-8, 1e14) the rounding is taken for every value, noisy or not, and the text
    # cast once: a repr of 16 characters or fewer there has at most 15 significant digits
    # (16 digits would need a point or a sign besides), so rounding gives the same double.
    numbers = np.asarray(values)  # nulls are NaN, which is outside
    rounded, inside = _rounded_to_fifteen_digits(numbers)
    chosen = np.where(inside, rounded, numbers)
    nulls = np.asarray(values.is_null()) if values.null_count else None
    text = pa.array(chosen, pa.float64(), mask=nulls).cast(pa.string())
    if inside.all():
        return text
    noisy = np.asarray(pc.fill_null(pc.greater(pc.utf8_length(text), 16), False)) & ~inside
    if not noisy.any():
        return text
    # format pads exponents to two digits, as Arrow does not: "e-09" becomes "e-9". From
    # 1e14 up they have two or three digits already.
    written = [f"{x:.15g}".replace("e-0", "e-") for x in numbers[noisy].tolist()]
    return pc.replace_with_mask(text, pa.array(noisy), pa.array(written, pa.string()))


def _timestamp_text(values: pa.Array) -> pa.Array:
    kind = values.type
    if kind.tz is not None:
        # Arrow holds zoned timestamps as UTC instants, so without the zone they read as the
        # wall-clock time in UTC; the "Z" then says so.
        text = _timestamp_text(values.cast(pa.timestamp(kind.unit)))
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
    if pa.types.is_decimal(kind):
        return _decimal_text(values, kind.scale)
    if pa.types.is_integer(kind) or pa.types.is_date(kind):
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


def _decimal_text(values: pa.Array, scale: int) -> pa.Array:
    """Plain digits at the column's scale. Arrow writes a decimal whose adjusted exponent is
    below -6 in scientific notation (`0E-10`, `1.200E-7` for a scale of 10); its mantissa
    holds every digit of the unscaled integer, so padding those digits to the scale gives
    the plain form (`0.0000000000`, `0.0000001200`)."""
    text = values.cast(pa.string())
    scientific = pc.match_substring(text, "E")  # null where the value is: it stays null
    if not pc.any(scientific).as_py():
        return text
    sign = pc.replace_substring_regex(text, r"^(-?).*$", r"\1")
    digits = pc.replace_substring_regex(text, r"^-?(\d)\.?(\d*)E.*$", r"\1\2")
    plain = pc.binary_join_element_wise(
        sign, "0.", pc.utf8_lpad(digits, width=scale, padding="0"), ""
    )
    return pc.if_else(scientific, plain, text)


def render_batch(batch: pa.RecordBatch, names: list[str]) -> pa.RecordBatch:
    """A batch of canonical strings, with the normalised column names."""
    return pa.RecordBatch.from_arrays(
        [render_column(batch.column(i)) for i in range(len(names))], names=names
    )
