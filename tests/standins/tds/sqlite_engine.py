"""T-SQL answered from SQLite, with SQL Server column types kept on the side.

SQLite has no datetime2, money or uniqueidentifier, so each database keeps a catalog
of the SQL Server type of every column (read from the T-SQL CREATE TABLE in the seed)
and stores values in SQLite as exact text (decimals, dates, times, GUIDs), integers,
floats or blobs. A SELECT is parsed once with sqlglot's `tsql` dialect: its projections
are typed against the catalog (`annotate_types`), and it is rewritten for SQLite
(schema prefixes dropped, N'' literals and CASTs made SQLite-safe) and run there. Rows
stream out of a SQLite cursor, so a 1M-row table is never listed in memory.

Dates and times are stored as text 'YYYY-MM-DD hh:mm:ss[.fffffff]', which sorts like the
values. GETDATE() (and CURRENT_TIMESTAMP, SYSDATETIME()) is UTC now, or the fixed instant
a Database is given (`now`), so that tests of `DATEADD(day, -7, GETDATE())` queries can
compare with fixed expected files; DATEADD keeps the time of day, as SQL Server's does.

Known stand-in limit: decimals are stored as text, so comparing a decimal column with a
number in WHERE compares text; filter on integer or text columns in tests.

Errors are raised as pysqlbridge `QueryError`s carrying the number and wording a real
SQL Server uses (208 invalid object, 207 invalid column, 102 syntax), because the
connector under test classifies on those.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from pysqlbridge.tds.result import (
    Binary,
    Bit,
    Column,
    ColumnType,
    DateTime,
    Float,
    Integer,
    NVarChar,
    QueryError,
    UniqueIdentifier,
    VarBinary,
)
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from tests.standins.tds.wire_types import (
    DateN,
    DateTime2N,
    DateTimeOffsetN,
    DecimalN,
    LegacyLob,
    MoneyN,
    NChar,
    NVarCharMax,
    SmallDateTime,
    TimeN,
    VarBinaryMax,
    VarChar,
)

INVALID_OBJECT = 208
INVALID_COLUMN = 207
SYNTAX_ERROR = 102
NULLABLE = 0x0001 | 0x0008  # nullable, read/write unknown: what a table column declares

T = exp.DataType.Type

# SQLite storage class for each SQL Server type family; anything not listed is TEXT so
# that decimals and 100 ns timestamps stay exact.
_SQLITE_AFFINITY = {
    T.UTINYINT: "INTEGER",
    T.TINYINT: "INTEGER",
    T.SMALLINT: "INTEGER",
    T.INT: "INTEGER",
    T.BIGINT: "INTEGER",
    T.BIT: "INTEGER",
    T.BOOLEAN: "INTEGER",
    T.FLOAT: "REAL",
    T.DOUBLE: "REAL",
    T.VARBINARY: "BLOB",
    T.BINARY: "BLOB",
    T.IMAGE: "BLOB",
}

SERVER_VERSION = (
    "Microsoft SQL Server 2022 (RTM) - 16.0.1000.6 (X64) \n"
    "\tDataSync TDS stand-in (pysqlbridge over SQLite)"
)


_TYPE_TEXT = re.compile(r"^\s*([a-z0-9_]+)\s*(?:\(([^)]*)\))?", re.IGNORECASE)


def wire_type(type_text: str, table: str = "t") -> ColumnType:
    """The TDS column type SQL Server declares for a T-SQL type name such as
    `decimal(19,4)` or `nvarchar(max)`.

    Works from text rather than sqlglot's DataType because sqlglot folds `real` and
    `float`, and `text` and `ntext`, into one type each, and SQL Server does not."""
    match = _TYPE_TEXT.match(type_text)
    if not match:
        return NVarCharMax()
    kind = match.group(1).lower()
    raw = [p.strip().lower() for p in (match.group(2) or "").split(",") if p.strip()]
    is_max = raw[:1] == ["max"]
    params = [int(p) for p in raw if p != "max"]

    def size(default: int) -> int | None:
        return None if is_max else (params[0] if params else default)

    scale = params[0] if params else 7
    simple: dict[str, ColumnType] = {
        "tinyint": Integer(1),
        "utinyint": Integer(1),
        "smallint": Integer(2),
        "int": Integer(4),
        "integer": Integer(4),
        "bigint": Integer(8),
        "bit": Bit(),
        "boolean": Bit(),
        "real": Float(4),
        "float": Float(8),
        "double": Float(8),
        "money": MoneyN(8),
        "smallmoney": MoneyN(4),
        "date": DateN(),
        "datetime": DateTime(),
        "smalldatetime": SmallDateTime(),
        "uniqueidentifier": UniqueIdentifier(),
        "uuid": UniqueIdentifier(),
        "text": LegacyLob(unicode=False, table=table),
        "ntext": LegacyLob(unicode=True, table=table),
        "image": VarBinaryMax(),
    }
    if kind in simple:
        return simple[kind]
    if kind in ("decimal", "numeric"):
        return DecimalN(params[0] if params else 18, params[1] if len(params) > 1 else 0)
    if kind == "time":
        return TimeN(scale)
    if kind in ("datetime2", "timestamp"):
        return DateTime2N(scale)
    if kind in ("datetimeoffset", "timestamptz"):
        return DateTimeOffsetN(scale)
    if kind == "varchar":
        return VarChar(size(8000))
    if kind == "char":
        return VarChar(size(1), fixed=True)
    if kind == "nchar":
        return NChar(size(1) or 1)
    if kind == "varbinary":
        found = size(8000)
        return VarBinaryMax() if found is None else VarBinary(found)
    if kind == "binary":
        return Binary(size(1) or 1)
    # nvarchar and anything unforeseen: text is the one form every value has.
    found = size(4000) if kind == "nvarchar" else None
    return NVarCharMax() if found is None else NVarChar(found)


def _guess_wire_type(value: object) -> ColumnType:
    """For an expression sqlglot could not type: go by the first value SQLite gave."""
    if isinstance(value, bool | int):
        return Integer(8)
    if isinstance(value, float):
        return Float(8)
    if isinstance(value, bytes):
        return VarBinaryMax()
    return NVarCharMax()


_CREATE_TABLE = re.compile(
    r"CREATE\s+TABLE\s+([\w.\[\]]+)\s*\((.*?)\)\s*;", re.IGNORECASE | re.DOTALL
)


@dataclass
class TableInfo:
    name: str
    # Column name -> the T-SQL type as declared, e.g. "datetime2(7)".
    columns: dict[str, str] = field(default_factory=dict)


@dataclass
class StreamedResult:
    """A result set ready to encode: columns now, rows as SQLite yields them."""

    columns: list[Column]
    rows: Iterator[list[object]]


def _split_columns(body: str) -> list[str]:
    """Column definitions of a CREATE TABLE body, split on top-level commas."""
    parts, depth, current = [], 0, ""
    for char in body:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _is_text(node: exp.Expression) -> bool:
    if isinstance(node, exp.National) or (isinstance(node, exp.Literal) and node.is_string):
        return True
    return isinstance(node, exp.Cast) and node.to.this in (T.NVARCHAR, T.VARCHAR, T.TEXT)


def _strftime(value: exp.Expression, modifier: str | None = None) -> exp.Expression:
    """SQLite text for a point in time, milliseconds kept (GETDATE() is a datetime)."""
    arguments = [exp.Literal.string("%Y-%m-%d %H:%M:%f"), value]
    if modifier:
        arguments.append(exp.Literal.string(modifier))
    return exp.Anonymous(this="STRFTIME", expressions=arguments)


def _unqualify(node: exp.Expression) -> exp.Expression:
    """dbo.Orders / SalesDB.dbo.Orders -> Orders: one schema per database here."""
    if isinstance(node, exp.Table):
        node.set("db", None)
        node.set("catalog", None)
    return node


class Database:
    """One SQL Server database backed by one SQLite file."""

    def __init__(self, name: str, path: Path, now: str | None = None) -> None:
        self.name = name
        self.path = path
        self.now = now
        self.tables: dict[str, TableInfo] = {}
        self._lock = threading.Lock()

    # --- seeding -------------------------------------------------------------------

    def run_seed(self, script: str) -> None:
        """Run a T-SQL seed script. CREATE TABLE (as the seeds in fixtures/sqlserver/
        write it: `Name type [NULL]` per column) fills the catalog; the rest runs on
        SQLite after translation."""
        connection = self.connect()
        try:
            connection.execute(
                'CREATE TABLE IF NOT EXISTS __catalog ("table" TEXT, "column" TEXT, "type" TEXT)'
            )
            for match in _CREATE_TABLE.finditer(script):
                self._create_table(connection, match.group(1), match.group(2))
            rest = _CREATE_TABLE.sub("", script)
            for statement in sqlglot.parse(rest, read="tsql"):
                if statement is not None:
                    connection.execute(self.to_sqlite(statement))
            connection.commit()
        finally:
            connection.close()

    def load_catalog(self) -> None:
        """Rebuild the type catalog from the `__catalog` table a seed left."""
        connection = self.connect()
        try:
            for table, column, type_text in connection.execute(
                'SELECT "table", "column", "type" FROM __catalog ORDER BY rowid'
            ):
                info = self.tables.setdefault(table.lower(), TableInfo(table))
                info.columns[column] = type_text
        finally:
            connection.close()

    def _create_table(self, connection: sqlite3.Connection, qualified: str, body: str) -> None:
        table = qualified.replace("[", "").replace("]", "").split(".")[-1]
        info = TableInfo(table)
        sqlite_columns = []
        for definition in _split_columns(body):
            name, type_text = definition.split()[:2]
            name = name.strip("[]")
            info.columns[name] = type_text
            data_type = exp.DataType.build(type_text, dialect="tsql")
            affinity = _SQLITE_AFFINITY.get(data_type.this, "TEXT")
            sqlite_columns.append(f'"{name}" {affinity}')
            connection.execute("INSERT INTO __catalog VALUES (?, ?, ?)", (table, name, type_text))
        self.tables[table.lower()] = info
        connection.execute(f'CREATE TABLE "{table}" ({", ".join(sqlite_columns)})')

    # --- queries -------------------------------------------------------------------

    def connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        connection.execute("PRAGMA journal_mode=WAL")
        return connection

    def to_sqlite(self, statement: exp.Expression) -> str:
        """Rewrite a parsed T-SQL statement into SQL that SQLite runs with the same
        meaning over this stand-in's storage."""

        def rewrite(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Table):
                return _unqualify(node)
            if isinstance(node, exp.CurrentTimestamp):
                return (
                    exp.Literal.string(self.now)
                    if self.now
                    else _strftime(exp.Literal.string("now"))
                )
            if isinstance(node, exp.DateAdd) and isinstance(node.expression.to_py(), int):
                # sqlglot writes SQLite's DATE(), which drops the time of day.
                modifier = f"{node.expression.to_py()} {(node.text('unit') or 'day').lower()}"
                return _strftime(node.this.transform(rewrite), modifier)
            if isinstance(node, exp.National):
                return exp.Literal.string(node.this)
            if isinstance(node, exp.Add) and any(_is_text(side) for side in node.unnest_operands()):
                # T-SQL '+' on strings concatenates; SQLite's would add numbers.
                return exp.DPipe(this=node.this, expression=node.expression)
            if isinstance(node, exp.Cast):
                target = node.to.this
                if target in (T.UTINYINT, T.TINYINT, T.SMALLINT, T.INT, T.BIGINT, T.BIT):
                    node.set("to", exp.DataType.build("INTEGER"))
                elif target in (T.FLOAT, T.DOUBLE):
                    node.set("to", exp.DataType.build("REAL"))
                elif target in (T.NVARCHAR, T.VARCHAR, T.CHAR, T.NCHAR, T.TEXT):
                    node.set("to", exp.DataType.build("TEXT"))
                else:
                    # Decimals, dates and GUIDs are stored as exact text; the wire type
                    # comes from the annotated CAST, so SQLite just keeps the value.
                    return node.this
            return node

        return statement.copy().transform(rewrite).sql("sqlite")

    def _schema(self) -> dict[str, dict[str, str]]:
        return {info.name: dict(info.columns) for info in self.tables.values()}

    def check_tables(self, statement: exp.Expression) -> None:
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            name = table.name.lower()
            if name and name not in ctes and name not in self.tables:
                raise QueryError(
                    f"Invalid object name '{table.sql('tsql')}'.", number=INVALID_OBJECT
                )

    def describe(self, statement: exp.Expression) -> list[tuple[str, str]]:
        """(name, declared T-SQL type) of each output column, as
        sp_describe_first_result_set reports them; unknown types as nvarchar(max)."""
        self.check_tables(statement)
        types = self._projection_types(statement)
        connection = self.connect()
        try:
            cursor = connection.execute(f"SELECT * FROM ({self.to_sqlite(statement)}) LIMIT 0")
            names = [d[0] for d in cursor.description]
        except sqlite3.OperationalError as exc:
            raise _as_query_error(exc) from None
        finally:
            connection.close()
        return [
            (name, (types[i] if i < len(types) else None) or "nvarchar(max)")
            for i, name in enumerate(names)
        ]

    def _projection_types(self, statement: exp.Expression) -> list[str | None]:
        """The declared T-SQL type of each output column, None where unknown."""
        schema = self._schema()
        tree = statement.copy().transform(_unqualify)
        try:
            qualified = qualify(tree, schema=schema, dialect="tsql", identify=False)
        except OptimizeError as exc:
            match = re.search(r"Column '\"?([^'\"]+)\"?' could not be resolved", str(exc))
            name = match.group(1) if match else str(exc)
            raise QueryError(f"Invalid column name '{name}'.", number=INVALID_COLUMN) from None
        typed = annotate_types(qualified, schema=schema, dialect="tsql")
        sources = {
            table.alias_or_name.lower(): self.tables.get(table.name.lower())
            for table in typed.find_all(exp.Table)
        }
        types: list[str | None] = []
        for projection in typed.selects:
            inner = projection.unalias()
            info = sources.get(inner.table.lower()) if isinstance(inner, exp.Column) else None
            if info is not None:
                declared = {k.lower(): v for k, v in info.columns.items()}
                if inner.name.lower() in declared:
                    types.append(declared[inner.name.lower()])
                    continue
            found = projection.type
            unknown = found is None or found.this in (T.UNKNOWN, T.NULL)
            types.append(None if unknown else found.sql("tsql"))
        return types

    def select(self, statement: exp.Expression, parameters: dict[str, object]) -> StreamedResult:
        self.check_tables(statement)
        types = self._projection_types(statement)
        connection = self.connect()
        try:
            cursor = connection.execute(self.to_sqlite(statement), parameters)
        except sqlite3.OperationalError as exc:
            connection.close()
            raise _as_query_error(exc) from None
        names = [d[0] for d in cursor.description]
        first = cursor.fetchmany(1000)
        columns = []
        for index, name in enumerate(names):
            declared = types[index] if index < len(types) else None
            if declared is None:
                sample = next((row[index] for row in first if row[index] is not None), None)
                column_type = _guess_wire_type(sample)
            else:
                column_type = wire_type(declared)
            columns.append(Column(name, column_type, flags=NULLABLE))

        def rows() -> Iterator[list[object]]:
            try:
                yield from (list(row) for row in first)
                while batch := cursor.fetchmany(5000):
                    yield from (list(row) for row in batch)
            finally:
                connection.close()

        return StreamedResult(columns, rows())

    def execute(self, statement: exp.Expression, parameters: dict[str, object]) -> int:
        """Run a data-changing statement (tests edit data between syncs)."""
        self.check_tables(statement)
        with self._lock:
            connection = self.connect()
            try:
                cursor = connection.execute(self.to_sqlite(statement), parameters)
                connection.commit()
                return cursor.rowcount
            except sqlite3.OperationalError as exc:
                raise _as_query_error(exc) from None
            finally:
                connection.close()


def _as_query_error(exc: sqlite3.Error) -> QueryError:
    text = str(exc)
    if text.startswith("no such column:"):
        name = text.split(":", 1)[1].strip().split(".")[-1]
        return QueryError(f"Invalid column name '{name}'.", number=INVALID_COLUMN)
    if text.startswith("no such table:"):
        name = text.split(":", 1)[1].strip()
        return QueryError(f"Invalid object name '{name}'.", number=INVALID_OBJECT)
    return QueryError(f"Incorrect syntax: {text}", number=SYNTAX_ERROR)


def parse_batch(sql: str) -> list[exp.Expression]:
    """Statements of a batch, or a SQL Server style syntax error."""
    try:
        return [s for s in sqlglot.parse(sql, read="tsql") if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        near = first.get("highlight") or first.get("description") or "the end of the batch"
        raise QueryError(f"Incorrect syntax near '{near}'.", number=SYNTAX_ERROR) from None
