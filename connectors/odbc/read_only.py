"""The read-only query rule, decided by a real SQL parser (sqlglot), not a regex.

A query is accepted when it is exactly one statement that reads: a SELECT, a set
operation of SELECTs, or WITH ... SELECT. Refused: any DML/DDL (INSERT, UPDATE, DELETE,
MERGE, EXEC, DROP, ...) including ones nested in a CTE (PostgreSQL's
`WITH d AS (DELETE ... RETURNING *) SELECT ...` writes), `SELECT ... INTO` (creates a
table), several statements, and anything the parser can only keep as an opaque command.
Functions with side effects cannot be told apart by syntax, which is why the README
still recommends read-only database credentials.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

_WRITES = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Command,
    exp.Execute,
    exp.Declare,
    exp.Copy,
    exp.Use,
    exp.Set,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Grant,
    exp.Revoke,
    exp.Lock,  # SELECT ... FOR UPDATE takes write locks
)

_NAMES = {"truncatetable": "TRUNCATE", "lock": "locking clause (FOR UPDATE/SHARE)"}


def read_only_problem(query: str, dialect: str) -> str | None:
    """Why `query` is not a single read-only statement in `dialect`, or None if it is."""
    if not query.strip():
        return "the query is empty"
    try:
        statements = [s for s in sqlglot.parse(query, read=dialect) if s is not None]
    except (ParseError, TokenError) as exc:
        first = getattr(exc, "errors", None) or [{}]
        detail = first[0].get("description") or str(exc).splitlines()[0]
        return f"the query could not be parsed as {_dialect_name(dialect)}: {detail}"
    if len(statements) != 1:
        return f"the query must be exactly one statement, found {len(statements)}"
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        kind = _first_word(query) if statement.key == "command" else _name(statement)
        return f"only SELECT (or WITH ... SELECT) queries are allowed, not {kind}"
    for node in statement.walk():
        if isinstance(node, exp.Select) and node.args.get("into") is not None:
            return "SELECT ... INTO creates a table; only reading queries are allowed"
        if isinstance(node, _WRITES):
            return f"the query contains a {_name(node)}; only reading is allowed"
    return None


def _name(node: exp.Expr) -> str:
    return _NAMES.get(node.key, node.key.upper())


def _first_word(query: str) -> str:
    words = query.split()
    return words[0].upper() if words else "an empty statement"


def _dialect_name(dialect: str) -> str:
    return {"tsql": "T-SQL", "postgres": "PostgreSQL SQL"}.get(dialect, dialect)
