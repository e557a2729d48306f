"""The Arrow types of the ADBC path, made the ones the psqlODBC path hands over, so that a
data source renders the same CSV bytes whichever driver read it (app/sync/render.py).

What the ADBC PostgreSQL driver gives (adbc-driver-postgresql 1.13, measured) and what
becomes of it:
- numeric: an `arrow.opaque` extension over exact text, the declared precision and scale
  only in the field's `POSTGRESQL:typmod` metadata. The driver builds that text from the
  binary wire format slowly (half the CPU of reading a table with two numeric columns), so
  numeric columns are read as the server's own text instead (`::text`, numeric's output
  function: exact, at the value's scale, NaN and the infinities spelled "NaN",
  "Infinity"). numeric(p<=38, s) becomes decimal128(p, s), a cast of that text; numeric
  without precision, or wider than decimal128's 38 digits, stays that text.
- timestamptz: timestamp[us, tz=UTC]; becomes timestamp[us], the same UTC wall-clock time
  psqlODBC reads in the UTC session.
- uuid: the `arrow.uuid` extension (16 bytes); becomes upper-case hyphenated text, as
  psqlODBC's SQL_GUID.
- json/jsonb: the `arrow.json` extension over text; becomes that text.
- real: float32; becomes float64 through its shortest text, which is what psqlODBC reads
  (0.1, not 0.10000000149011612).
- smallint, integer, bigint, boolean, double, date, timestamp, time, text, varchar, char,
  name, enums, bytea: the same types as psqlODBC's, as they are. A date or timestamp the
  driver cannot carry over ('infinity', years past about 262,000) fails the read naming
  the column, where psqlODBC writes a wrong date (today's, for 'infinity'); dates before
  the common era are right through ADBC (4713 BC is -4712) and wrong through psqlODBC.

Every other type the driver decodes into something psqlODBC does not give: interval
(month_day_nano_interval), arrays (lists), money (an int64 of cents), inet, bit, xml,
geometric types, timetz and anything it does not know (opaque bytes of the binary wire
format). For those the query is read as a subquery whose column is cast server-side to the
server's own text, as psqlODBC reads them (money to a number, as psqlODBC does).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.base import ConfigError

Convert = Callable[[pa.Array], pa.Array]

_PG_TYPE = b"POSTGRESQL:type"
_PG_TYPMOD = b"POSTGRESQL:typmod"
_VARHDRSZ = 4
_MAX_DECIMAL128_DIGITS = 38
_HEX = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
# Where the four hyphens go in the 32 hex digits of a uuid.
_UUID_GROUPS = ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))


def _pg_type(field: pa.Field) -> str:
    return str((field.metadata or {}).get(_PG_TYPE, b"").decode())


def _is_faithful(field: pa.Field) -> bool:
    """Whether the driver's value of this column converts to what psqlODBC gives."""
    kind = field.type
    if isinstance(kind, pa.BaseExtensionType):
        name = kind.extension_name
        return name in ("arrow.uuid", "arrow.json")
    if _pg_type(field) == "money":
        return False
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_date32(kind)
        or pa.types.is_timestamp(kind)
        or pa.types.is_time64(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


# `{}` is the column. format's %s is the type's output function, the text psqlODBC reads;
# a `::text` cast is not always that (inet's gives '::1/128' for '::1'). num_nulls looks at
# the value itself, where IS NULL would also be true for a row whose fields are all null.
_AS_SERVER_TEXT = "CASE WHEN num_nulls({0}) = 0 THEN format('%s', {0}) END"
_MONEY_AS_NUMBER = "{0}::numeric::float8"  # psqlODBC reads money as a double
_NUMERIC_AS_TEXT = "{0}::text"


def _is_numeric(field: pa.Field) -> bool:
    kind = field.type
    return (
        isinstance(kind, pa.BaseExtensionType)
        and kind.extension_name == "arrow.opaque"
        and kind.type_name == "numeric"
    )


def server_side_casts(schema: pa.Schema) -> dict[int, str]:
    """The columns (by position) the server must convert, with the expression."""
    casts = {}
    for index, field in enumerate(schema):
        if _is_numeric(field):
            casts[index] = _NUMERIC_AS_TEXT
        elif _pg_type(field) == "money":
            casts[index] = _MONEY_AS_NUMBER
        elif not _is_faithful(field):
            casts[index] = _AS_SERVER_TEXT
    return casts


def with_server_side_casts(query: str, width: int, casts: dict[int, str]) -> str:
    """`query` as a subquery whose columns, renamed by position (the names may repeat or
    be blank), are converted where `casts` says. A projection over a subquery keeps its
    rows' order. The caller names the result's columns after the original ones again."""
    names = [f'"c{index}"' for index in range(width)]
    columns = ", ".join(
        casts[index].format(name) if index in casts else name for index, name in enumerate(names)
    )
    return f"SELECT {columns} FROM (\n{query}\n) AS datasync_query({', '.join(names)})"


def batch_converter(
    described: pa.Schema, schema: pa.Schema
) -> Callable[[pa.RecordBatch], pa.RecordBatch]:
    """The conversion of every batch of a result with `schema` (the driver's, after the
    server-side casts) to the psqlODBC path's types, its columns named as in `described`
    (the query's own schema, before the casts)."""
    names = described.names
    converts = [
        _numeric_converter(declared) if _is_numeric(declared) else _converter(field)
        for declared, field in zip(described, schema, strict=True)
    ]
    if all(convert is None for convert in converts) and names == schema.names:
        return _unchanged

    def convert(batch: pa.RecordBatch) -> pa.RecordBatch:
        columns = [
            column if change is None else change(column)
            for column, change in zip(batch.columns, converts, strict=True)
        ]
        return pa.RecordBatch.from_arrays(columns, names=names)

    return convert


def _unchanged(batch: pa.RecordBatch) -> pa.RecordBatch:
    return batch


def _converter(field: pa.Field) -> Convert | None:
    kind = field.type
    if isinstance(kind, pa.BaseExtensionType):
        name = kind.extension_name
        if name == "arrow.uuid":
            return uuid_text
        return _storage
    if pa.types.is_date32(kind):
        return _within_calendar(field.name, pa.int32(), _EARLIEST_DAY)
    if pa.types.is_timestamp(kind):  # the driver's are in microseconds
        check = _within_calendar(field.name, pa.int64(), _EARLIEST_MICROSECOND)
        if kind.tz is None:
            return check
        unit = kind.unit
        return lambda values: check(values).cast(pa.timestamp(unit))
    if pa.types.is_float32(kind):
        return _float32_as_float64
    return None


# PostgreSQL's earliest date, 4713 BC, is 2,440,588 days before 1970. The driver moves
# dates and timestamps from PostgreSQL's epoch (2000) to Arrow's by an addition that wraps
# around for 'infinity' and '-infinity' (stored as the integer type's extremes) and for
# timestamps after about 262,000 AD: they all land far below the earliest real value.
_EARLIEST_DAY = -2_500_000
_EARLIEST_MICROSECOND = _EARLIEST_DAY * 86_400 * 1_000_000


def _within_calendar(column: str, storage: pa.DataType, earliest: int) -> Convert:
    """Refuses what the driver could not carry over (psqlODBC gives wrong dates for
    these, today's date for 'infinity'): a wrong date in a file is worse than a failed
    sync that says what to change."""

    def checked(values: pa.Array) -> pa.Array:
        lowest = pc.min(values.view(storage)).as_py()
        if lowest is not None and lowest < earliest:
            raise ConfigError(
                f"column {column!r} holds infinity or a date beyond what can be carried "
                "over exactly; CAST it to text in the query",
                field="config.query",
            )
        return values

    return checked


def _storage(values: pa.Array) -> pa.Array:
    storage: pa.Array = values.storage
    return storage


def numeric_precision_and_scale(typmod: int) -> tuple[int, int] | None:
    """numeric(p, s) from PostgreSQL's type modifier; None without a declared precision
    (and for a negative scale, which PostgreSQL 15 allows and decimal128 here does not)."""
    if typmod < _VARHDRSZ:
        return None
    bits = typmod - _VARHDRSZ
    precision, scale = bits >> 16, bits & 0x7FF
    if scale & 0x400:  # an 11-bit two's complement scale
        return None
    return precision, scale


def _numeric_converter(field: pa.Field) -> Convert | None:
    """For a numeric column as the driver describes it, the conversion of the server's
    text of it (see `_NUMERIC_AS_TEXT`)."""
    typmod = int((field.metadata or {}).get(_PG_TYPMOD, b"-1"))
    declared = numeric_precision_and_scale(typmod)
    if declared is None or not 0 < declared[0] <= _MAX_DECIMAL128_DIGITS:
        return None  # the text is the exact value
    decimal = pa.decimal128(*declared)
    column = field.name

    def exact(text: pa.Array) -> pa.Array:
        try:
            return text.cast(decimal)
        except pa.ArrowInvalid:
            raise ConfigError(
                f"column {column!r} is numeric{declared} and holds NaN or Infinity, which an "
                f"exact decimal cannot; CAST it to text in the query",
                field="config.query",
            ) from None

    return exact


def _float32_as_float64(values: pa.Array) -> pa.Array:
    return values.cast(pa.string()).cast(pa.float64())


def uuid_text(values: pa.Array) -> pa.Array:
    """16-byte uuids as upper-case hyphenated text, vectorised: each byte indexes its two
    hex digits, and the hyphens are columns of a fixed-width character matrix."""
    storage = values.storage if isinstance(values.type, pa.BaseExtensionType) else values
    count = len(storage)
    data = storage.buffers()[1]
    raw = np.frombuffer(data, dtype=np.uint8, count=count * 16, offset=storage.offset * 16)
    digits = np.empty((count, 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX[raw.reshape(count, 16) >> 4]
    digits[:, 1::2] = _HEX[raw.reshape(count, 16) & 0x0F]
    text = np.full((count, 36), ord("-"), dtype=np.uint8)
    at = 0
    for start, end in _UUID_GROUPS:
        text[:, at : at + end - start] = digits[:, start:end]
        at += end - start + 1
    offsets = np.arange(0, (count + 1) * 36, 36, dtype=np.int32)
    validity = storage.is_valid()
    nulls = count - int(pc.sum(validity).as_py() or 0)
    return pa.StringArray.from_buffers(
        count,
        pa.py_buffer(offsets),
        pa.py_buffer(text.tobytes()),
        validity.buffers()[1] if nulls else None,
        nulls,
    )
