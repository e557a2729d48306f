"""One client session of the TDS stand-in: pysqlbridge's login, our query answers.

pysqlbridge's `Connection` carries a client through PRELOGIN, the TLS-wrapped LOGIN7
and the login acknowledgement. This subclass takes over once the client is logged in:
it refuses a database the server does not have (error 4060, as SQL Server does), answers
SQL batches and the RPCs ODBC drivers send for parameterised statements (sp_executesql,
sp_prepare, sp_prepexec, sp_execute, sp_unprepare) and `EXEC sp_describe_first_result_set`
(which clients use to learn declared column types), and returns results as a lazy
`Answer` of token chunks that the socket loop streams packet by packet, so a 200k-row
result is never encoded whole and a client can be cut off half way.

Test-only behaviour is asked for in a comment inside the query, which reaches the server
verbatim through any driver:

    /* standin: delay-seconds=30 */        wait before answering (query timeout tests)
    /* standin: drop-after-rows=5000 */    send that many rows, then reset the socket
"""

from __future__ import annotations

import re
import struct
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from pysqlbridge.tds import connection as tds_connection
from pysqlbridge.tds import rpc as tds_rpc
from pysqlbridge.tds.batch import parse_sql_batch
from pysqlbridge.tds.connection import Connection
from pysqlbridge.tds.packet import PacketType
from pysqlbridge.tds.result import (
    Bit,
    Column,
    Integer,
    NVarChar,
    QueryError,
    QueryResult,
    col_metadata,
)
from pysqlbridge.tds.rpc import ProcId, parse_rpc
from pysqlbridge.tds.token import DoneStatus, done, error, error_response
from sqlglot import exp

from tests.standins.tds.sqlite_engine import (
    NULLABLE,
    SERVER_VERSION,
    Database,
    parse_batch,
)

CANNOT_OPEN_DATABASE = 4060
UNKNOWN_PROCEDURE = 2812
SELECT_COMMAND = 0xC1
ROWS_PER_CHUNK = 256

_HINT = re.compile(r"/\*\s*standin:([^*]*)\*/", re.IGNORECASE)
_DESCRIBE = re.compile(r"^\s*EXEC(UTE)?\s+sp_describe_first_result_set\b", re.IGNORECASE)
# The columns of sp_describe_first_result_set's answer that clients read (SQL Server
# sends 30-odd more; a client picks the ones it wants by name).
_DESCRIBE_COLUMNS = [
    Column("is_hidden", Bit(), flags=NULLABLE),
    Column("column_ordinal", Integer(4), flags=NULLABLE),
    Column("name", NVarChar(128), flags=NULLABLE),
    Column("is_nullable", Bit(), flags=NULLABLE),
    Column("system_type_name", NVarChar(256), flags=NULLABLE),
]


@dataclass(frozen=True)
class Pause:
    """Stop sending for a while, as a long-running query does; attention ends it."""

    seconds: float


@dataclass(frozen=True)
class Drop:
    """Reset the connection here, as a network failure or a killed session does."""


Chunk = bytes | Pause | Drop


@dataclass
class Answer:
    """The response to one request, produced lazily by the socket loop."""

    chunks: Iterator[Chunk]


@dataclass
class Logins:
    """The SQL logins the stand-in admits (pysqlbridge asks `admits` and `configured`)."""

    accounts: dict[str, str] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return bool(self.accounts)

    def admits(self, user: str, password: str) -> bool:
        return self.accounts.get((user or "").lower()) == password


# --- RPC parameter types pysqlbridge does not read -------------------------------------
# pyodbc binds Decimal as DECIMALN and datetime as DATETIME2N; pysqlbridge's reader
# knows neither, so the stand-in reads them itself and delegates everything else.

_original_read_value = tds_rpc._read_value


def _read_value(payload: bytes, at: int, type_id: int) -> tuple[object, int]:
    if type_id in (0x6A, 0x6C):  # DECIMALN / NUMERICN: maxlen, precision, scale, value
        scale = payload[at + 2]
        length = payload[at + 3]
        at += 4
        if length == 0:
            return None, at
        sign = 1 if payload[at] == 1 else -1
        magnitude = int.from_bytes(payload[at + 1 : at + length], "little")
        return str(Decimal(sign * magnitude).scaleb(-scale)), at + length
    if type_id in (0x28, 0x29, 0x2A, 0x2B):  # DATEN, TIMEN, DATETIME2N, DATETIMEOFFSETN
        import datetime as dt

        scale = 0
        if type_id != 0x28:
            scale = payload[at]
            at += 1
        length = payload[at]
        at += 1
        if length == 0:
            return None, at
        raw = payload[at : at + length]
        time_width = 3 if scale <= 2 else 4 if scale <= 4 else 5
        if type_id == 0x28:
            day = dt.date(1, 1, 1) + dt.timedelta(days=int.from_bytes(raw, "little"))
            return day.isoformat(), at + length
        ticks = int.from_bytes(raw[:time_width], "little") * 10 ** (7 - scale)
        seconds, fraction = divmod(ticks, 10**7)
        clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{fraction:07d}"
        if type_id == 0x29:
            return clock, at + length
        days = int.from_bytes(raw[time_width : time_width + 3], "little")
        day = dt.date(1, 1, 1) + dt.timedelta(days=days)
        return f"{day.isoformat()} {clock}", at + length
    return _original_read_value(payload, at, type_id)


tds_rpc._read_value = _read_value


# --- token helpers ------------------------------------------------------------------


def _done(token: int, status: int, row_count: int = 0, command: int = 0) -> bytes:
    """DONE (0xFD), DONEINPROC (0xFF) or DONEPROC (0xFE), TDS 7.2+ widths."""
    return bytes([token]) + struct.pack("<HHQ", status, command, row_count)


DONE, DONE_PROC, DONE_IN_PROC = 0xFD, 0xFE, 0xFF


def _return_status(value: int = 0) -> bytes:
    return b"\x79" + struct.pack("<i", value)


def _return_value_int(ordinal: int, name: str, value: int) -> bytes:
    """RETURNVALUE for an int OUTPUT parameter: the prepared statement handle."""
    encoded = name.encode("utf-16-le")
    return (
        b"\xac"
        + struct.pack("<H", ordinal)
        + bytes([len(name)])
        + encoded
        + b"\x01"  # status: output parameter
        + struct.pack("<IH", 0, 0x0001)  # user type, flags (nullable)
        + b"\x26\x04"  # INTN(4)
        + b"\x04"
        + struct.pack("<i", value)
    )


def _row_tokens(
    columns: list[Column], rows: Iterator[list[object]], drop_after: int | None
) -> Generator[Chunk, None, int]:
    """ROW tokens in chunks of a few hundred rows; returns how many rows were sent."""
    encoders = [column.type.encode for column in columns]
    chunk = bytearray()
    sent = 0
    for values in rows:
        if drop_after is not None and sent >= drop_after:
            if chunk:
                yield bytes(chunk)
            yield Drop()
            return sent
        chunk += b"\xd1"
        for encode, value in zip(encoders, values, strict=True):
            chunk += encode(value)
        sent += 1
        if sent % ROWS_PER_CHUNK == 0:
            yield bytes(chunk)
            chunk = bytearray()
    if chunk:
        yield bytes(chunk)
    return sent


class StandInSession(Connection):
    """A logged-in client of the stand-in."""

    def __init__(
        self, *, databases: dict[str, Database], default_database: str, **kwargs: object
    ) -> None:
        super().__init__(
            query_handler=lambda _query: QueryResult(columns=[], rows=[]),
            database=default_database,
            **kwargs,  # type: ignore[arg-type]
        )
        self._databases = {name.lower(): db for name, db in databases.items()}
        self._current = self._databases[default_database.lower()]
        self._prepared: dict[int, str] = {}
        self._next_handle = 1
        self.streaming = False
        self.attention = False

    @property
    def spid(self) -> int:
        return self._spid

    def wrap(self, data: bytes) -> bytes:
        """Encrypt outgoing packets when the client asked for a TLS session."""
        if self._session_encrypted and self._tunnel is not None:
            return self._tunnel.wrap(data)
        return data

    # --- login ------------------------------------------------------------------

    def _answer_sql_login(self, responses: list[bytes]) -> bool:
        assert self._login is not None
        requested = (self._login.database or "").strip()
        if requested and requested.lower() not in self._databases:
            password = tds_connection.deobfuscate_password(self._login.password)
            if self._logins is not None and self._logins.admits(self._login.user_name, password):
                # SQL Server answers 4060 and then 18456; clients show both.
                self._send(
                    responses,
                    error(
                        CANNOT_OPEN_DATABASE,
                        f'Cannot open database "{requested}" requested by the login. '
                        "The login failed.",
                        severity=11,
                        server=self._server_name,
                        tds_version=self._tds_version,
                    )
                    + error_response(
                        tds_connection.LOGIN_FAILED,
                        f"Login failed for user '{self._login.user_name}'.",
                        server=self._server_name,
                        severity=14,
                        tds_version=self._tds_version,
                    ),
                )
                self._state = tds_connection.ConnectionState.FAILED
                return True
        if requested:
            self._current = self._databases[requested.lower()]
            self._database = self._current.name
        return super()._answer_sql_login(responses)

    # --- requests ---------------------------------------------------------------

    def _step_query(self, responses: list) -> bool:  # type: ignore[type-arg]
        message = self._take_message()
        if message is None:
            return False
        if message.type is PacketType.ATTENTION:
            # Mid-stream the socket loop acknowledges it at a token boundary.
            self.attention = True
            if not self.streaming:
                self._send(responses, done(status=DoneStatus.FINAL | DoneStatus.ATTENTION))
            return True
        if message.type is PacketType.SSPI:
            return True
        if message.type is PacketType.TRANSACTION_MANAGER:
            self._answer_transaction(message.payload, responses)
            return True
        if message.type is PacketType.SQL_BATCH:
            sql = parse_sql_batch(message.payload, self._tds_version)
            responses.append(Answer(self._batch(sql, {}, DONE)))
            return True
        if message.type is PacketType.RPC:
            responses.append(Answer(self._rpc(message.payload)))
            return True
        raise tds_connection.TdsProtocolError(f"unexpected {message.type.name} request")

    def _rpc(self, payload: bytes) -> Iterator[Chunk]:
        call = parse_rpc(payload, self._tds_version)
        params = call.parameters
        proc = call.proc_id
        name = call.procedure.lower()
        if proc is ProcId.EXECUTE_SQL or name == "sp_executesql":
            yield from self._batch(str(params[0].value), _named_after(params, 2), DONE_IN_PROC)
        elif proc is ProcId.PREP_EXEC or name == "sp_prepexec":
            handle = self._prepare(str(params[2].value))
            yield from self._batch(str(params[2].value), _named_after(params, 3), DONE_IN_PROC)
            yield _return_status() + _return_value_int(0, params[0].name, handle)
        elif proc is ProcId.PREPARE or name == "sp_prepare":
            handle = self._prepare(str(params[2].value))
            yield _return_status() + _return_value_int(0, params[0].name, handle)
        elif proc is ProcId.EXECUTE or name == "sp_execute":
            sql = self._prepared.get(int(params[0].value))  # type: ignore[call-overload]
            if sql is None:
                yield error(
                    8179,
                    f"Could not find prepared statement with handle {params[0].value}.",
                    server=self._server_name,
                )
            else:
                yield from self._batch(sql, _named_after(params, 1), DONE_IN_PROC)
            yield _return_status()
        elif proc is ProcId.UNPREPARE or name == "sp_unprepare":
            self._prepared.pop(int(params[0].value), None)  # type: ignore[call-overload]
            yield _return_status()
        else:
            yield error(
                UNKNOWN_PROCEDURE,
                f"Could not find stored procedure '{call.procedure}'.",
                server=self._server_name,
            )
            yield _done(DONE_PROC, DoneStatus.ERROR)
            return
        yield _done(DONE_PROC, DoneStatus.FINAL)

    def _prepare(self, sql: str) -> int:
        handle = self._next_handle
        self._next_handle += 1
        self._prepared[handle] = sql
        return handle

    def _batch(self, sql: str, parameters: dict[str, object], done_token: int) -> Iterator[Chunk]:
        """Answer every statement of a batch; the last DONE is final for a plain batch."""
        # A described query is compiled, not run: its test hints do not apply.
        hints = {} if _DESCRIBE.match(sql) else _hints(sql)
        if hints.get("delay-seconds"):
            yield Pause(float(hints["delay-seconds"]))
        drop_after = int(hints["drop-after-rows"]) if "drop-after-rows" in hints else None
        sql = re.sub(
            r"@@VERSION", "N'" + SERVER_VERSION.replace("'", "''") + "'", sql, flags=re.IGNORECASE
        )
        sql = re.sub(r"@@SPID", str(self._spid), sql, flags=re.IGNORECASE)
        sql = re.sub(r"DB_NAME\(\)", f"N'{self._current.name}'", sql, flags=re.IGNORECASE)
        more = DoneStatus.MORE if done_token == DONE_IN_PROC else DoneStatus.FINAL
        try:
            statements = parse_batch(sql)
        except QueryError as exc:
            yield error(exc.number, str(exc), server=self._server_name, severity=exc.severity)
            yield _done(done_token, DoneStatus.ERROR | more)
            return
        if not statements:
            yield _done(done_token, more)
            return
        for index, statement in enumerate(statements):
            last = index == len(statements) - 1
            status = more if last else DoneStatus.MORE
            try:
                yield from self._statement(statement, parameters, done_token, status, drop_after)
            except QueryError as exc:
                yield error(exc.number, str(exc), server=self._server_name, severity=exc.severity)
                yield _done(done_token, DoneStatus.ERROR | more)
                return

    def _statement(
        self,
        statement: exp.Expression,
        parameters: dict[str, object],
        done_token: int,
        status: int,
        drop_after: int | None,
    ) -> Iterator[Chunk]:
        if isinstance(statement, exp.Query):
            result = self._current.select(statement, parameters)
            yield col_metadata(result.columns, self._tds_version)
            count = yield from _row_tokens(result.columns, result.rows, drop_after)
            yield _done(done_token, status | DoneStatus.COUNT, count, SELECT_COMMAND)
        elif isinstance(statement, exp.Insert | exp.Update | exp.Delete):
            count = self._current.execute(statement, parameters)
            yield _done(done_token, status | DoneStatus.COUNT, count)
        elif isinstance(statement, exp.Execute) and statement.this.name.lower() == (
            "sp_describe_first_result_set"
        ):
            described = self._current.describe(_described_query(statement, parameters))
            rows = [[False, i, name, True, kind] for i, (name, kind) in enumerate(described, 1)]
            yield col_metadata(_DESCRIBE_COLUMNS, self._tds_version)
            count = yield from _row_tokens(_DESCRIBE_COLUMNS, iter(rows), None)
            yield _done(done_token, status | DoneStatus.COUNT, count, SELECT_COMMAND)
        elif isinstance(statement, exp.Use):
            found = self._databases.get(statement.this.name.lower())
            if found is None:
                raise QueryError(
                    f"Database '{statement.this.name}' does not exist. Make sure that the "
                    "name is entered correctly.",
                    number=911,
                )
            self._current = found
            yield _done(done_token, status)
        else:
            # SET options, transactions and the like: accepted and ignored.
            yield _done(done_token, status)


def _described_query(statement: exp.Execute, parameters: dict[str, object]) -> exp.Expression:
    """The one SELECT in sp_describe_first_result_set's @tsql (literal or parameter)."""
    arguments = statement.expressions
    first = arguments[0] if arguments else None
    value = first.expression if isinstance(first, exp.EQ) else first
    if isinstance(value, exp.Parameter | exp.Placeholder):
        text = str(parameters.get(value.name, ""))
    elif isinstance(value, exp.National | exp.Literal):
        text = value.this
    else:
        raise QueryError("Procedure expects parameter '@tsql'.", number=201)
    statements = parse_batch(text)
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise QueryError(
            "The metadata could not be determined because the statement is not a query.",
            number=11501,
        )
    return statements[0]


def _hints(sql: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in _HINT.finditer(sql):
        for item in match.group(1).split():
            key, _, value = item.partition("=")
            found[key.strip().lower()] = value.strip()
    return found


def _named_after(params: list[tds_rpc.Parameter], start: int) -> dict[str, object]:
    """Parameter values after the fixed arguments, keyed by name without '@'.

    sp_execute passes values positionally (unnamed) in declaration order; those are
    matched to @P1, @P2... which is how ODBC drivers name the markers they rewrite."""
    values: dict[str, object] = {}
    for position, param in enumerate(params[start:], start=1):
        key = param.name.lstrip("@") if param.name else f"P{position}"
        values[key] = param.value
    return values
