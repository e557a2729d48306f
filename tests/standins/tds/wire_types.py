"""TDS column types pysqlbridge does not encode, written from [MS-TDS] 2.2.5.

pysqlbridge ships INTN, FLTN, BITN, GUIDN, DATETIMN, NVARCHAR and the binary
types. A SQL Server result set also carries exact decimals, money, the
SQL Server 2008 date/time family (date, time(n), datetime2(n),
datetimeoffset(n)), single-byte varchar, the MAX (PLP) forms and the legacy
text/ntext LOBs. Each class here declares itself in COLMETADATA (`type_info`)
and encodes one row value (`encode`); None is NULL in every nullable form.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass
from decimal import Context, Decimal

from pysqlbridge.tds.result import DEFAULT_COLLATION, ColumnType

_USHORT = struct.Struct("<H")
_ULONG = struct.Struct("<I")
_ULONGLONG = struct.Struct("<Q")

PLP_NULL = b"\xff" * 8
MAX_MARKER = 0xFFFF
VARIABLE_NULL = b"\xff\xff"

# The default collation (LCID 0x0409, sort id 52: SQL_Latin1_General_CP1_CI_AS)
# stores varchar bytes in Windows code page 1252.
VARCHAR_CODEC = "cp1252"

DATE_EPOCH = dt.date(1, 1, 1)
SMALL_EPOCH = dt.datetime(1900, 1, 1)


# SQL Server decimals reach 38 digits; Python's default context rounds at 28.
EXACT = Context(prec=80)


def _plp(raw: bytes) -> bytes:
    """The chunked MAX form: total length, one chunk, zero terminator."""
    if not raw:
        return _ULONGLONG.pack(0) + _ULONG.pack(0)
    return _ULONGLONG.pack(len(raw)) + _ULONG.pack(len(raw)) + raw + _ULONG.pack(0)


def _decimal_width(precision: int) -> int:
    """Bytes of magnitude plus the sign byte, fixed by precision in [MS-TDS]."""
    if precision <= 9:
        return 5
    if precision <= 19:
        return 9
    if precision <= 28:
        return 13
    return 17


def _time_bytes(scale: int) -> int:
    return 3 if scale <= 2 else 4 if scale <= 4 else 5


def _ticks(value: str | dt.time | dt.datetime, scale: int) -> int:
    """Time of day in units of 10**-scale seconds, from text keeping all 7 digits.

    The stand-in stores temporal values as text, so 100 ns digits survive (Python's
    datetime would cut them to microseconds)."""
    text = value.isoformat() if not isinstance(value, str) else value
    clock = text.split("T")[-1].split(" ")[-1] if ("T" in text or " " in text) else text
    hms, _, fraction = clock.partition(".")
    hours, minutes, seconds = (int(part) for part in hms.split(":"))
    digits = (fraction + "0000000")[:7]
    hundred_ns = (hours * 3600 + minutes * 60 + seconds) * 10**7 + int(digits)
    return round(hundred_ns / 10 ** (7 - scale))


def _parse_date(text: str) -> dt.date:
    return dt.date.fromisoformat(text[:10])


@dataclass(frozen=True)
class DecimalN(ColumnType):
    """DECIMALN (0x6A) or NUMERICN (0x6C): sign byte, then the unscaled magnitude."""

    precision: int = 18
    scale: int = 0
    type_id: int = 0x6A

    def type_info(self) -> bytes:
        return bytes([self.type_id, _decimal_width(self.precision), self.precision, self.scale])

    def encode(self, value: object) -> bytes:
        if value is None:
            return b"\x00"
        exact = Decimal(str(value)).scaleb(self.scale, EXACT).to_integral_value()
        width = _decimal_width(self.precision)
        magnitude = int(exact.copy_abs()).to_bytes(width - 1, "little")
        return bytes([width, 0 if exact < 0 else 1]) + magnitude


@dataclass(frozen=True)
class MoneyN(ColumnType):
    """MONEYN (0x6E): money is int64 ten-thousandths sent high half first;
    smallmoney is int32."""

    width: int = 8

    def type_info(self) -> bytes:
        return bytes([0x6E, self.width])

    def encode(self, value: object) -> bytes:
        if value is None:
            return b"\x00"
        units = int(Decimal(str(value)).scaleb(4, EXACT).to_integral_value())
        if self.width == 4:
            return b"\x04" + struct.pack("<i", units)
        high, low = units >> 32, units & 0xFFFFFFFF
        return b"\x08" + struct.pack("<iI", high, low)


@dataclass(frozen=True)
class SmallDateTime(ColumnType):
    """DATETIMN width 4: days since 1900-01-01 and minutes since midnight."""

    def type_info(self) -> bytes:
        return bytes([0x6F, 4])

    def encode(self, value: object) -> bytes:
        if value is None:
            return b"\x00"
        moment = dt.datetime.fromisoformat(str(value)[:19])
        days = (moment.date() - SMALL_EPOCH.date()).days
        return b"\x04" + struct.pack("<HH", days, moment.hour * 60 + moment.minute)


@dataclass(frozen=True)
class DateN(ColumnType):
    """DATEN (0x28): three bytes of days since 0001-01-01."""

    def type_info(self) -> bytes:
        return bytes([0x28])

    def encode(self, value: object) -> bytes:
        if value is None:
            return b"\x00"
        days = (_parse_date(str(value)) - DATE_EPOCH).days
        return b"\x03" + days.to_bytes(3, "little")


@dataclass(frozen=True)
class TimeN(ColumnType):
    """TIMEN (0x29): 3-5 bytes of 10**-scale second ticks."""

    scale: int = 7

    def type_info(self) -> bytes:
        return bytes([0x29, self.scale])

    def encode(self, value: object) -> bytes:
        if value is None:
            return b"\x00"
        width = _time_bytes(self.scale)
        return bytes([width]) + _ticks(str(value), self.scale).to_bytes(width, "little")


@dataclass(frozen=True)
class DateTime2N(ColumnType):
    """DATETIME2N (0x2A): time ticks then date days."""

    scale: int = 7

    def type_info(self) -> bytes:
        return bytes([0x2A, self.scale])

    def encode(self, value: object) -> bytes:
        if value is None:
            return b"\x00"
        text = str(value)
        if len(text) == 10:
            text += " 00:00:00"
        width = _time_bytes(self.scale)
        days = (_parse_date(text) - DATE_EPOCH).days
        return (
            bytes([width + 3])
            + _ticks(text, self.scale).to_bytes(width, "little")
            + days.to_bytes(3, "little")
        )


@dataclass(frozen=True)
class DateTimeOffsetN(ColumnType):
    """DATETIMEOFFSETN (0x2B): the UTC instant as datetime2, then the offset in
    minutes. Text in is 'YYYY-MM-DD hh:mm:ss[.fffffff] +hh:mm'."""

    scale: int = 7

    def type_info(self) -> bytes:
        return bytes([0x2B, self.scale])

    def encode(self, value: object) -> bytes:
        if value is None:
            return b"\x00"
        text = str(value).strip()
        local, offset_text = text[:-6].strip(), text[-6:]
        sign = -1 if offset_text[0] == "-" else 1
        offset = sign * (int(offset_text[1:3]) * 60 + int(offset_text[4:6]))
        local_ticks = _ticks(local, 7)
        local_day = _parse_date(local)
        # Shift to UTC on whole 100 ns ticks so no fractional digit is lost.
        total = (local_day - DATE_EPOCH).days * 86400 * 10**7 + local_ticks
        total -= offset * 60 * 10**7
        days, day_ticks = divmod(total, 86400 * 10**7)
        width = _time_bytes(self.scale)
        scaled = day_ticks // 10 ** (7 - self.scale)
        return (
            bytes([width + 5])
            + scaled.to_bytes(width, "little")
            + days.to_bytes(3, "little")
            + struct.pack("<h", offset)
        )


@dataclass(frozen=True)
class VarChar(ColumnType):
    """BIGVARCHR (0xA7) sized or MAX, or BIGCHAR (0xAF) when `fixed`; cp1252 bytes."""

    max_bytes: int | None = 8000
    fixed: bool = False

    def type_info(self) -> bytes:
        size = MAX_MARKER if self.max_bytes is None else self.max_bytes
        return bytes([0xAF if self.fixed else 0xA7]) + _USHORT.pack(size) + DEFAULT_COLLATION

    def encode(self, value: object) -> bytes:
        if value is None:
            return PLP_NULL if self.max_bytes is None else VARIABLE_NULL
        raw = str(value).encode(VARCHAR_CODEC, "replace")
        if self.max_bytes is None:
            return _plp(raw)
        if self.fixed:
            raw = raw.ljust(self.max_bytes, b" ")
        return _USHORT.pack(len(raw)) + raw


@dataclass(frozen=True)
class NChar(ColumnType):
    """NCHAR (0xEF): fixed width, space padded UTF-16."""

    chars: int = 1

    def type_info(self) -> bytes:
        return bytes([0xEF]) + _USHORT.pack(self.chars * 2) + DEFAULT_COLLATION

    def encode(self, value: object) -> bytes:
        if value is None:
            return VARIABLE_NULL
        raw = str(value).ljust(self.chars).encode("utf-16-le")
        return _USHORT.pack(len(raw)) + raw


@dataclass(frozen=True)
class NVarCharMax(ColumnType):
    """NVARCHAR (0xE7) declared 0xFFFF. An empty value is a zero total length *and* a
    terminator: pysqlbridge's form without the terminator desynchronises FreeTDS and
    hangs Microsoft's driver."""

    def type_info(self) -> bytes:
        return bytes([0xE7]) + _USHORT.pack(MAX_MARKER) + DEFAULT_COLLATION

    def encode(self, value: object) -> bytes:
        if value is None:
            return PLP_NULL
        return _plp(str(value).encode("utf-16-le", "surrogatepass"))


@dataclass(frozen=True)
class VarBinaryMax(ColumnType):
    """BIGVARBINARY (0xA5) declared 0xFFFF: varbinary(max) values go as PLP."""

    def type_info(self) -> bytes:
        return bytes([0xA5]) + _USHORT.pack(MAX_MARKER)

    def encode(self, value: object) -> bytes:
        if value is None:
            return PLP_NULL
        return _plp(bytes(value))  # type: ignore[arg-type]


@dataclass(frozen=True)
class LegacyLob(ColumnType):
    """TEXT (0x23) or NTEXT (0x63): the pre-2005 LOBs, which carry a text pointer
    and timestamp before each value and name their table in COLMETADATA."""

    unicode: bool = False
    table: str = "t"

    def type_info(self) -> bytes:
        name = self.table.encode("utf-16-le")
        return (
            bytes([0x63 if self.unicode else 0x23])
            + _ULONG.pack(0x7FFFFFFE if self.unicode else 0x7FFFFFFF)
            + DEFAULT_COLLATION
            + b"\x01"
            + _USHORT.pack(len(self.table))
            + name
        )

    def encode(self, value: object) -> bytes:
        if value is None:
            return b"\x00"  # a zero-length text pointer is NULL; nothing follows
        raw = str(value).encode("utf-16-le" if self.unicode else VARCHAR_CODEC, "replace")
        return b"\x10" + b"\x00" * 16 + b"\x00" * 8 + _ULONG.pack(len(raw)) + raw
