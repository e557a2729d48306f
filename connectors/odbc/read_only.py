"""The read-only query rule: one SELECT that only reads, checked on the exact text the
database will run.

Tenants are untrusted, so the rule must hold where the parser (sqlglot) and the server
would read the same text differently. `checked_query` returns the text to execute (the
query without surrounding whitespace and one leading and one trailing `;`) after
checking that very text, or raises `QueryRefused` with one sentence the user can act
on. The checks:

1. Size. At most 100,000 characters; at most 32 levels of parentheses, brackets and
   CASE, because sqlglot's parser recurses about 25 Python frames per level and runs
   out of the default recursion limit (1000) at 33 to 50 levels, depending on the
   construct and on how deep the caller already is; for PostgreSQL
   at most 2 levels and 200 brackets in all, because sqlglot parses each `ARRAY[...]`
   twice (as a type, then as a constructor), so the time doubles with every nested
   level, and chained subscripts are slow too.
2. Lexing as the server lexes. Our own scan splits the text into code, strings, quoted
   names and comments by the server's rules and refuses what two readers could split
   differently: a `/*` inside a block comment (SQL Server and PostgreSQL nest block
   comments; a reader that does not ends the comment early), anything left open, in
   PostgreSQL a backslash right before a quote (E'' strings, and
   standard_conforming_strings=off, make it an escape), `$` (dollar quoting) and
   U&"..." names, control characters and invisible or unusual spaces outside strings.
   sqlglot's tokens must then cover exactly the same code, strings and names, so the
   parser and the rules below see what the server will run.
3. Characters ODBC drivers act on before the server sees the text. Drivers rewrite
   escape sequences (`{call p}`, `{fn f()}`, `{?= call p}`, `--(*vendor...*)--`), so
   `{` is refused outside strings and quoted names, comments included; they read `?`
   as a parameter marker, so it is refused in code. `;` is refused in code too.
4. The start. It must be SELECT, WITH or `(`: SQL Server runs a batch's leading bare
   name as a stored procedure.
5. Words. T-SQL needs no `;` between statements: in `SELECT 1 DELETE FROM t` sqlglot
   reads DELETE as a column alias, but SQL Server runs a DELETE. So every unquoted word
   is compared with the verbs that start a statement that writes, runs code, changes
   the session or controls the batch (`_VERBS`), with T-SQL lock hints that take more
   than shared locks, stored procedure names and the functions of `_TSQL_DENIED`, and
   with FOR UPDATE/SHARE, NEXT VALUE FOR and an END that closes no CASE. A column
   named like a verb must be quoted (`[Update]`, `"update"`); the refusal says so.
6. Calls. Every `name(` (bare or quoted, any case, any schema) and every function node
   of the parsed tree is compared with `_DENIED_CALLS`: functions with side effects or
   that reach outside the query (other servers, files, SQL text run as a string).
7. Structure (sqlglot): exactly one statement, a query, and nothing in it that writes
   (DML or DDL in a CTE, SELECT ... INTO, locking clauses) or, in T-SQL, names a
   linked server (server.database.schema.table). Where sqlglot puts a statement inside
   the query (a CTE's body, a parenthesised subquery, the right side of UNION) only a
   reading kind may stand (`_READING`), so a statement kind sqlglot learns later is
   refused without being listed.

A user-defined function can still write, and no deny list is complete, which is why the
README still recommends read-only database credentials.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import Token

MAX_QUERY_CHARS = 100_000
MAX_NESTING = 32
MAX_BRACKET_NESTING = 2
MAX_BRACKETS = 200

_ONLY_READING = "only a single reading SELECT can be synced"
_NO_SIDE_EFFECTS = "only reading queries without side effects can be synced"

# Words that begin a statement which writes, runs code, changes the session or controls
# the batch. PostgreSQL needs `;` before a second statement (refused anyway), so its
# list is defence in depth; T-SQL's must be complete. Left out on purpose: T-SQL
# OPEN/CLOSE/FETCH/GET act only on cursors or conversations that need DECLARE; PRINT,
# THROW, IF, RETURN, BREAK and CONTINUE change nothing on their own.
_VERBS_BOTH = frozenset(
    [
        "ALTER",
        "BEGIN",
        "CHECKPOINT",
        "COMMIT",
        "CREATE",
        "DEALLOCATE",
        "DECLARE",
        "DELETE",
        "DROP",
        "EXECUTE",
        "GRANT",
        "INSERT",
        "INTO",
        "MERGE",
        "REVOKE",
        "ROLLBACK",
        "SET",
        "TRUNCATE",
        "UPDATE",
    ]
)
_VERBS = {
    "tsql": _VERBS_BOTH
    | frozenset(
        [
            "ADD",
            "BACKUP",
            "BULK",
            "DBCC",
            "DENY",
            "DISABLE",
            "ENABLE",
            "EXEC",
            "GO",
            "GOTO",
            "KILL",
            "MOVE",
            "RAISERROR",
            "READTEXT",
            "RECEIVE",
            "RECONFIGURE",
            "RESTORE",
            "REVERT",
            "SAVE",
            "SEND",
            "SETUSER",
            "SHUTDOWN",
            "UPDATETEXT",
            "USE",
            "WAITFOR",
            "WHILE",
            "WRITETEXT",
        ]
    ),
    "postgres": _VERBS_BOTH
    | frozenset(
        [
            "ABORT",
            "ANALYSE",
            "ANALYZE",
            "CALL",
            "CLUSTER",
            "COPY",
            "DISCARD",
            "DO",
            "LISTEN",
            "LOCK",
            "NOTIFY",
            "PREPARE",
            "REASSIGN",
            "REFRESH",
            "REINDEX",
            "RELEASE",
            "SAVEPOINT",
            "UNLISTEN",
            "VACUUM",
        ]
    ),
}
_VERB_NOTES = {
    "INTO": "SELECT ... INTO creates a table",
    "GO": "GO separates batches, so what follows would run as another batch",
    "WAITFOR": "WAITFOR holds the connection",
    "SET": "SET changes the session",
    "USE": "USE switches the database",
}

# T-SQL table hints that take more than shared locks and so block other users.
# NOLOCK, READUNCOMMITTED, READPAST, ROWLOCK and index hints stay allowed.
_LOCK_HINTS = frozenset(
    [
        "HOLDLOCK",
        "PAGLOCK",
        "REPEATABLEREAD",
        "SERIALIZABLE",
        "TABLOCK",
        "TABLOCKX",
        "UPDLOCK",
        "XLOCK",
    ]
)


@dataclass(frozen=True, slots=True)
class _DeniedCalls:
    """Function names a query may not call, compared in lower case."""

    names: frozenset[str]
    prefixes: tuple[str, ...]
    why: str

    def deny(self, name: str) -> bool:
        lowered = name.lower()
        return lowered in self.names or lowered.startswith(self.prefixes)


# PostgreSQL: sleeping, other servers (dblink), files (lo_*, pg_read_*, pg_ls_*,
# pg_stat_file, adminpack's pg_file_*), settings and other sessions (set_config,
# pg_terminate_backend, ...), locks, sequences, statistics, replication and WAL, and
# functions that run SQL given as a string, which this check cannot see (query_to_xml,
# cursor_to_xml, ts_stat, ts_rewrite, tablefunc's crosstab and connectby,
# pg_background). Extensions common on managed servers: pg_cron (schedule, ...), http
# and pg_net (http, http_*), aws_s3 and aws_lambda (query_export_to_s3,
# table_import_from_s3, invoke). The name is compared whatever the schema, so a
# tenant's own function of one of these names is refused too.
# txid_current, currval and current_setting only read and stay allowed.
_POSTGRES_DENIED = _DeniedCalls(
    names=frozenset(
        {
            "alter_job",
            "connectby",
            "http",
            "invoke",
            "loread",
            "lowrite",
            "nextval",
            "pg_cancel_backend",
            "pg_import_system_collations",
            "pg_logdir_ls",
            "pg_notify",
            "pg_promote",
            "pg_reload_conf",
            "pg_rotate_logfile",
            "pg_rotate_logfile_old",
            "pg_start_backup",
            "pg_stat_file",
            "pg_stat_statements_reset",
            "pg_stop_backup",
            "pg_switch_wal",
            "pg_switch_xlog",
            "pg_terminate_backend",
            "pg_truncate_visibility_map",
            "query_export_to_s3",
            "schedule",
            "schedule_in_database",
            "set_config",
            "setval",
            "table_import_from_s3",
            "ts_rewrite",
            "ts_stat",
            "unschedule",
        }
    ),
    prefixes=(
        "binary_upgrade_",
        "crosstab",
        "cursor_to_xml",
        "dblink",
        "http_",
        "lo_",
        "pg_advisory_",
        "pg_background_",
        "pg_backup_",
        "pg_copy_",
        "pg_create_",
        "pg_drop_",
        "pg_file_",
        "pg_logical_",
        "pg_log_",
        "pg_ls_",
        "pg_read_",
        "pg_replication_",
        "pg_sleep",
        "pg_stat_reset",
        "pg_try_advisory_",
        "pg_wal_replay_",
        "pg_xlog_replay_",
        "query_to_xml",
    ),
    why=_NO_SIDE_EFFECTS,
)
# T-SQL functions cannot write; these reach other servers or the server's files.
_TSQL_DENIED = _DeniedCalls(
    names=frozenset(
        {
            "dm_os_enumerate_filesystem",
            "dm_os_file_exists",
            "fn_get_audit_file",
            "fn_trace_gettable",
            "fn_xe_file_target_read_file",
            "opendatasource",
            "openquery",
            "openrowset",
            "openxml",
        }
    ),
    prefixes=(),
    why="a synced query may only read the database it connects to",
)
_DENIED_CALLS = {"tsql": _TSQL_DENIED, "postgres": _POSTGRES_DENIED}

# The statement kinds a query must not contain anywhere in its tree.
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
    exp.Comment,
)
# What may stand where sqlglot puts a whole statement inside the query (`_QUERY_SLOTS`):
# SELECT, UNION/INTERSECT/EXCEPT, a parenthesised query, VALUES.
_READING = (exp.Query, exp.Values)
# Those places, as (parent kind, argument). A parenthesised join is a Subquery too, around
# the first table with its joins.
# (A UNION's left side and EXISTS' body come from the same parse as a subquery's, and
# whatever is not a query there fails to parse or is wrapped in a Subquery.)
_QUERY_SLOTS = (
    (exp.CTE, "this"),
    (exp.Subquery, "this"),
    (exp.SetOperation, "expression"),
)

_SpanKind = Literal["code", "string", "name", "comment"]


@dataclass(frozen=True, slots=True)
class _Span:
    """A stretch of the query as the server reads it; `end` is exclusive."""

    kind: _SpanKind
    start: int
    end: int


class QueryRefused(ValueError):
    """The query may not be synced; `reason` is one sentence saying what and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def checked_query(query: str, dialect: str) -> str:
    """The exact text to execute for `query`, or QueryRefused.

    Every check below reads the returned text and nothing else, so what was checked is
    what runs. Dropping one leading and one trailing `;` is safe without lexing: a
    leading one can only be code, and `;` closes nothing, so a trailing one that sat in
    a comment leaves a comment, and one in an open string leaves it open and refused.
    """
    if dialect not in _VERBS:
        raise ValueError(f"no read-only rule for dialect {dialect!r}")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryRefused(
            f"the query is {len(query):,} characters long, which is more than the "
            f"{MAX_QUERY_CHARS:,} that can be checked"
        )
    text = query.strip()
    if text.startswith(";"):  # the `;WITH` habit of T-SQL writers
        text = text[1:].lstrip()
    if text.endswith(";"):
        text = text[:-1].rstrip()
    _check(text, dialect)
    return text


def read_only_problem(query: str, dialect: str) -> str | None:
    """Why `query` is not a single read-only statement in `dialect`, or None if it is."""
    try:
        checked_query(query, dialect)
    except QueryRefused as refused:
        return refused.reason
    return None


def _check(text: str, dialect: str) -> None:
    if not text:
        raise QueryRefused("the query is empty: enter one SELECT statement")
    _refuse_control_characters(text)
    spans: list[_Span] = []
    for span in _spans(text, dialect):  # in order, so the first problem is the one named
        _refuse_characters(text, span, dialect)
        spans.append(span)
    _refuse_other_starts(text, spans)
    tokens = _tokens(text, dialect)
    kinds = _token_kinds(text, spans, tokens)
    _refuse_deep_nesting(text, tokens, kinds, dialect)
    _refuse_words(text, tokens, kinds, dialect)
    _refuse_calls(text, tokens, kinds, dialect)
    _refuse_tree(text, tokens, dialect)


# A NUL can end the text early in a C driver, and servers may differ on which other
# control characters end a `--` comment.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _refuse_control_characters(text: str) -> None:
    if match := _CONTROL.search(text):
        raise QueryRefused(
            f"the query contains the control character U+{ord(match.group()):04X} "
            f"({_where(text, match.start())}), which is not allowed: remove it"
        )


_OPENERS = {"tsql": re.compile(r"--|/\*|['\"\[]"), "postgres": re.compile(r"--|/\*|['\"]")}
# Ending a `--` comment at any line break a server might honour is the safe direction:
# if the server reads on, it runs less than what was checked.
_LINE_END = re.compile("[\n\r\x85\u2028\u2029]")
_ODBC_VENDOR_ESCAPE = re.compile(r"--\s*\(\*")
_CLOSERS = {"'": "'", '"': '"', "[": "]"}


def _spans(text: str, dialect: str) -> Iterator[_Span]:
    """The query split into code, strings, quoted names and comments by the server's
    lexical rules, refusing anything two readers could split differently."""
    code_start = 0
    while match := _OPENERS[dialect].search(text, code_start):
        start = match.start()
        if start > code_start:
            yield _Span("code", code_start, start)
        opener = match.group()
        kind: _SpanKind
        if opener == "--":
            line_end = _LINE_END.search(text, start)
            end = line_end.start() if line_end else len(text)
            kind = "comment"
            if _ODBC_VENDOR_ESCAPE.match(text, start):
                raise QueryRefused(
                    "the query has a comment starting with --(*, which is not allowed: "
                    "ODBC drivers may rewrite it as an escape sequence"
                )
        elif opener == "/*":
            end = _block_comment_end(text, start)
            kind = "comment"
        else:
            end = _quoted_end(text, start, dialect)
            kind = "string" if opener == "'" else "name"
        yield _Span(kind, start, end)
        code_start = end
    if code_start < len(text):
        yield _Span("code", code_start, len(text))


def _block_comment_end(text: str, start: int) -> int:
    close = text.find("*/", start + 2)
    if close < 0:
        raise QueryRefused(
            f"the query has a /* comment that is never closed ({_where(text, start)}): "
            "end it with */"
        )
    if text.find("/*", start + 2, close + 1) >= 0:
        raise QueryRefused(
            f"the query opens a /* comment inside another comment ({_where(text, start)}), "
            "which is not allowed because readers disagree on where nested comments end: "
            "remove the inner /*"
        )
    return close + 2


def _quoted_end(text: str, start: int, dialect: str) -> int:
    """Where the string or quoted name opened at `start` ends (a doubled closing
    character stands for itself)."""
    opener = text[start]
    closer = _CLOSERS[opener]
    at = start + 1
    while True:
        close = text.find(closer, at)
        if close < 0:
            what = "string" if opener == "'" else "quoted name"
            raise QueryRefused(
                f"the query has a {what} that is never closed ({_where(text, start)}): "
                f"end it with {closer}"
            )
        if not text.startswith(closer, close + 1):
            break
        at = close + 2
    end = close + 1
    if dialect == "postgres" and opener == "'" and "\\'" in text[start:end]:
        # With a backslash never right before a quote, the string ends at the same
        # place whether backslashes escape or not (E'' strings,
        # standard_conforming_strings), so every reader agrees on where it ends.
        raise QueryRefused(
            f"the query has a backslash right before a quote in a string "
            f"({_where(text, start)}), which is not allowed because PostgreSQL may read it "
            "as an escape: write a quote inside a string as ''"
        )
    if dialect == "postgres" and opener == '"' and text[max(0, start - 2) : start].lower() == "u&":
        raise QueryRefused(
            f'the query uses a Unicode-escaped name U&"..." ({_where(text, start)}), '
            "which is not allowed: write the name itself in double quotes"
        )
    return end


# Where each refused character was found and why it is refused.
_CHARACTER_REASONS = {
    "{": (
        "{ outside a string",
        "ODBC drivers rewrite {call ...}, {fn ...} and other escape sequences before the "
        "database sees them",
    ),
    "?": ("? outside a string", "ODBC drivers read it as a parameter marker"),
    ";": ("; before its end", _ONLY_READING),
    "$": (
        "$ outside a string",
        "use single-quoted strings instead of $$ quoting, and double quotes for names "
        'containing $ ("a$b")',
    ),
}
_REFUSED_CHARACTERS = {
    ("tsql", "comment"): re.compile(r"\{"),
    ("tsql", "code"): re.compile(r"[{?;]"),
    ("postgres", "comment"): re.compile(r"\{"),
    ("postgres", "code"): re.compile(r"[{?;$]"),
}
_PARAMETER_MARKER_HINT = {
    "tsql": "",
    "postgres": " (for the jsonb ? operators use jsonb_exists, jsonb_exists_any or "
    "jsonb_exists_all)",
}
_UNUSUAL_SPACE = ("Zs", "Zl", "Zp", "Cf")


def _refuse_characters(text: str, span: _Span, dialect: str) -> None:
    """Refuse characters drivers act on, statement separators, and invisible or
    unusual spaces outside strings (servers may not treat them as sqlglot does)."""
    refused = _REFUSED_CHARACTERS.get((dialect, span.kind))
    if refused is None:
        return
    if match := refused.search(text, span.start, span.end):
        char = match.group()
        found, why = _CHARACTER_REASONS[char]
        hint = _PARAMETER_MARKER_HINT[dialect] if char == "?" else ""
        raise QueryRefused(
            f"the query contains {found} ({_where(text, match.start())}), which is not "
            f"allowed: {why}{hint}"
        )
    if span.kind == "code" and not text[span.start : span.end].isascii():
        for at in range(span.start, span.end):
            if not text[at].isascii() and unicodedata.category(text[at]) in _UNUSUAL_SPACE:
                raise QueryRefused(
                    f"the query contains the invisible or unusual space character "
                    f"U+{ord(text[at]):04X} outside strings ({_where(text, at)}), which is "
                    "not allowed: use ordinary spaces"
                )


_FIRST_WORD = re.compile(r"\s*(\(|[^\W\d]\w*|\S*)")


def _refuse_other_starts(text: str, spans: list[_Span]) -> None:
    """The query must start with SELECT, WITH or `(`. sqlglot also reads `x UNION
    SELECT 1` as a query, while SQL Server runs a batch's leading bare name as a stored
    procedure; and sqlglot keeps the rest of a leading command (EXPLAIN ...) as one
    opaque token."""
    first = next(
        (
            span
            for span in spans
            if span.kind != "comment" and not text[span.start : span.end].isspace()
        ),
        None,
    )
    if first is None:
        raise QueryRefused(f"the query is only comments: {_ONLY_READING}")
    word = ""
    if first.kind == "code":
        match = _FIRST_WORD.match(text, first.start, first.end)
        word = match.group(1) if match else ""
    if word.upper() not in ("SELECT", "WITH", "("):
        shown = word or text[first.start : first.start + 20]
        raise QueryRefused(
            f"the query starts with {shown}, not SELECT: {_ONLY_READING} (or WITH ... SELECT)"
        )


def _tokens(text: str, dialect: str) -> list[Token]:
    try:
        return Dialect.get_or_raise(dialect).tokenize(text)
    except TokenError as exc:
        raise QueryRefused(
            f"the query could not be read as {_dialect_name(dialect)}: {str(exc).splitlines()[0]}"
        ) from None


def _token_kinds(text: str, spans: list[_Span], tokens: list[Token]) -> list[_SpanKind]:
    """The kind of span each token lies in, after checking that sqlglot's tokens split
    the text into the same code, strings and names as `_spans`; otherwise the parser
    would be checking something other than what the server runs."""
    starts = [span.start for span in spans]
    kinds: list[_SpanKind] = []
    matched: set[int] = set()
    covered = bytearray(len(text))
    for token in tokens:
        index = bisect_right(starts, token.start) - 1
        span = spans[index]
        end = token.end + 1
        if span.kind == "code" and end <= span.end:
            kinds.append("code")
        elif span.kind == "code" and _is_prefixed_string(text, token, spans, index):
            kinds.append("string")
            matched.add(index + 1)
        elif span.kind in ("string", "name") and (token.start, end) == (span.start, span.end):
            kinds.append(span.kind)
            matched.add(index)
        else:
            raise _unclear(text, token.start)
        covered[token.start : end] = b"\x01" * (end - token.start)
    for index, span in enumerate(spans):
        if span.kind in ("string", "name") and index not in matched:
            raise _unclear(text, span.start)
        if span.kind == "code":
            for at in range(span.start, span.end):
                if not covered[at] and not text[at].isspace():
                    raise _unclear(text, at)
    return kinds


_STRING_PREFIX = re.compile(r"[A-Za-z]{1,2}&?")


def _is_prefixed_string(text: str, token: Token, spans: list[_Span], index: int) -> bool:
    """True for N'...', E'...', B'...', X'...', U&'...': a token that starts in code
    with a prefix and ends with the string right after it."""
    if index + 1 >= len(spans):
        return False
    string = spans[index + 1]
    return (
        string.kind == "string"
        and token.end + 1 == string.end
        and _STRING_PREFIX.fullmatch(text, token.start, string.start) is not None
    )


def _unclear(text: str, at: int) -> QueryRefused:
    return QueryRefused(
        f"the query could not be read unambiguously ({_where(text, at)}), which is not "
        "allowed: simplify the quotes, comments or unusual characters there"
    )


def _refuse_deep_nesting(
    text: str, tokens: list[Token], kinds: list[_SpanKind], dialect: str
) -> None:
    stack: list[str] = []
    brackets = 0
    for token, kind in zip(tokens, kinds, strict=True):
        if kind != "code":
            continue
        piece = text[token.start : token.end + 1].upper()
        if piece in ("(", "[", "CASE"):
            stack.append(piece)
            if len(stack) > MAX_NESTING:
                what = {"(": "parentheses", "[": "brackets", "CASE": "CASE expressions"}[piece]
                raise QueryRefused(
                    f"the query nests {what} more than {MAX_NESTING} deep, which is more "
                    "than can be checked: flatten it, for example with a CTE"
                )
        if piece == "[" and dialect == "postgres":
            brackets += 1
            if stack.count("[") > MAX_BRACKET_NESTING or brackets > MAX_BRACKETS:
                raise QueryRefused(
                    f"the query nests brackets more than {MAX_BRACKET_NESTING} deep or has "
                    f"more than {MAX_BRACKETS} of them, which is more than can be checked "
                    "in time: simplify the arrays"
                )
        opener = {")": "(", "]": "[", "END": "CASE"}.get(piece)
        if opener is None:
            continue
        if stack and stack[-1] == opener:
            stack.pop()
        elif piece == "END":
            raise QueryRefused(
                f"the query has an END that closes no CASE ({_where(text, token.start)}), "
                f"which is not allowed: {_ONLY_READING}"
            )


# A number (skipped, so that `1DELETE` and `1e5DELETE` still show DELETE) or a word.
_NUMBER_OR_WORD = re.compile(r"0[xX][0-9A-Fa-f]*|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|([^\W\d]\w*)")


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    upper: str
    token: int
    at: int


def _bare_words(text: str, tokens: list[Token], kinds: list[_SpanKind]) -> list[_Word]:
    words: list[_Word] = []
    for index, (token, kind) in enumerate(zip(tokens, kinds, strict=True)):
        if kind != "code":
            continue
        for match in _NUMBER_OR_WORD.finditer(text, token.start, token.end + 1):
            if word := match.group(1):
                words.append(_Word(word, word.upper(), index, match.start()))
    return words


def _following(words: list[_Word], position: int, count: int) -> tuple[str, ...]:
    """Up to `count` words right after words[position], stopping at any other token
    (a string, a parenthesis, a comma); comments and spaces are not tokens."""
    found: list[str] = []
    previous = words[position]
    for later in words[position + 1 : position + 1 + count]:
        if later.token - previous.token > 1:
            break
        found.append(later.upper)
        previous = later
    return tuple(found)


def _refuse_words(text: str, tokens: list[Token], kinds: list[_SpanKind], dialect: str) -> None:
    words = _bare_words(text, tokens, kinds)
    for position, word in enumerate(words):
        where = _where(text, word.at)
        following = _following(words, position, 2)
        if word.upper == "FOR" and following[:1] in (("UPDATE",), ("SHARE",), ("NO",), ("KEY",)):
            raise QueryRefused(
                f"the query locks rows with FOR UPDATE or FOR SHARE ({where}), which is not "
                f"allowed: {_ONLY_READING}, without locking rows"
            )
        if dialect == "tsql":
            _refuse_tsql_word(word, following, where)
        if word.upper in _VERBS[dialect]:
            note = _VERB_NOTES.get(word.upper, _ONLY_READING)
            quoted = f"[{word.text}]" if dialect == "tsql" else f'"{word.text.lower()}"'
            raise QueryRefused(
                f"the query contains {word.upper} ({where}), which is not allowed: {note} "
                f"(a column named {word.text} must be quoted, as {quoted})"
            )


def _refuse_tsql_word(word: _Word, following: tuple[str, ...], where: str) -> None:
    if word.upper == "NEXT" and following == ("VALUE", "FOR"):
        raise QueryRefused(
            f"the query takes NEXT VALUE FOR a sequence ({where}), which is not allowed: "
            f"it advances the sequence, and {_NO_SIDE_EFFECTS}"
        )
    if word.upper in _LOCK_HINTS:
        raise QueryRefused(
            f"the query asks for {word.upper} locks ({where}), which is not allowed: they "
            "block other users of the database (NOLOCK, READUNCOMMITTED and READPAST are "
            "allowed)"
        )
    if word.upper.startswith(("SP_", "XP_")):
        raise QueryRefused(
            f"the query names the stored procedure {word.text} ({where}), which is not "
            f"allowed: {_ONLY_READING}, and stored procedures cannot be run from it"
        )
    if _TSQL_DENIED.deny(word.text):
        raise QueryRefused(
            f"the query calls {word.text} ({where}), which is not allowed: {_TSQL_DENIED.why}"
        )


def _refuse_calls(text: str, tokens: list[Token], kinds: list[_SpanKind], dialect: str) -> None:
    """Refuse `name(` for denied names, bare or quoted; the server resolves a quoted
    name exactly and an unquoted one case-folded, so comparing in lower case covers
    both (and refuses a quoted "PG_SLEEP" that would not resolve, which is harmless)."""
    denied = _DENIED_CALLS[dialect]
    for index in range(len(tokens) - 1):
        following = tokens[index + 1]
        if kinds[index + 1] != "code" or text[following.start : following.end + 1] != "(":
            continue
        name = _called_name(text, tokens[index], kinds[index])
        if name is not None and denied.deny(name):
            raise QueryRefused(
                f"the query calls {name.lower()} ({_where(text, tokens[index].start)}), "
                f"which is not allowed: {denied.why}"
            )


def _called_name(text: str, token: Token, kind: _SpanKind) -> str | None:
    piece = text[token.start : token.end + 1]
    if kind == "name":
        closer = _CLOSERS[piece[0]]
        return piece[1:-1].replace(closer * 2, closer)
    if kind != "code":
        return None
    words = [m for m in _NUMBER_OR_WORD.finditer(piece) if m.group(1)]
    if words and words[-1].end() == len(piece):
        return words[-1].group(1)
    return None


def _refuse_tree(text: str, tokens: list[Token], dialect: str) -> None:
    try:
        # The very tokens checked against `_spans`, not a second tokenization.
        parsed = Dialect.get_or_raise(dialect).parser().parse(tokens, text)
        statements = [s for s in parsed if s is not None]
        nodes = [node for statement in statements for node in statement.walk()]
    except (ParseError, TokenError) as exc:
        first = getattr(exc, "errors", None) or [{}]
        detail = first[0].get("description") or str(exc).splitlines()[0]
        raise QueryRefused(
            f"the query could not be parsed as {_dialect_name(dialect)}: {detail}"
        ) from None
    except RecursionError:
        raise QueryRefused(
            "the query is nested too deeply to be checked: simplify it, for example with a CTE"
        ) from None
    if len(statements) != 1:
        raise QueryRefused(
            f"the query must be exactly one statement, found {len(statements)}: {_ONLY_READING}"
        )
    if not isinstance(statements[0], exp.Query):
        # The start rule leaves only `(`: an expression such as (SELECT 1) + 1.
        raise QueryRefused(
            f"the query is an expression, not a SELECT: {_ONLY_READING} (or WITH ... SELECT)"
        )
    denied = _DENIED_CALLS[dialect]
    for node in nodes:
        if isinstance(node, exp.Select) and node.args.get("into") is not None:
            raise QueryRefused(
                f"the query uses SELECT ... INTO, which creates a table: {_ONLY_READING}"
            )
        if isinstance(node, exp.Lock):
            raise QueryRefused(
                f"the query locks rows (FOR UPDATE or FOR SHARE), which is not allowed: "
                f"{_ONLY_READING}, without locking rows"
            )
        if isinstance(node, exp.Table) and _in_query_slot(node) and not node.args.get("joins"):
            raise QueryRefused(
                f"the query has the name {node.name} alone in parentheses, where a SELECT "
                f"or a join belongs, which is not allowed: {_ONLY_READING}"
            )
        if isinstance(node, _WRITES) or (_in_query_slot(node) and not _reads(node)):
            raise QueryRefused(
                f"the query contains a {_statement_name(node)}, which is not "
                f"allowed: {_ONLY_READING}"
            )
        if isinstance(node, exp.NextValueFor):
            raise QueryRefused(
                "the query takes NEXT VALUE FOR a sequence, which is not allowed: it "
                f"advances the sequence, and {_NO_SIDE_EFFECTS}"
            )
        if isinstance(node, exp.Func):
            for name in _function_names(node):
                if denied.deny(name):
                    raise QueryRefused(
                        f"the query calls {name.lower()}, which is not allowed: {denied.why}"
                    )
        if dialect == "tsql" and isinstance(node, exp.Table) and isinstance(node.this, exp.Dot):
            raise QueryRefused(
                f"the query reads {node.sql(dialect='tsql')} through a linked server "
                "(a four-part name), which is not allowed: a synced query may only read "
                "the server it connects to"
            )


def _in_query_slot(node: exp.Expr) -> bool:
    parent = node.parent
    return any(isinstance(parent, kind) and node.arg_key == arg for kind, arg in _QUERY_SLOTS)


def _reads(node: exp.Expr) -> bool:
    """A reading kind, or the first table of a parenthesised join."""
    return isinstance(node, _READING) or bool(node.args.get("joins"))


def _function_names(node: exp.Func) -> list[str]:
    """The name the server resolves: as written for functions sqlglot does not know,
    sqlglot's names for the ones it turned into typed nodes."""
    if isinstance(node, exp.Anonymous):
        return [node.name]
    return list(type(node).sql_names())


def _statement_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return {"truncatetable": "TRUNCATE"}.get(node.key, node.key.upper())


def _where(text: str, at: int) -> str:
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    return f"line {line}, column {column}"


def _dialect_name(dialect: str) -> str:
    return {"tsql": "T-SQL", "postgres": "PostgreSQL SQL"}.get(dialect, dialect)
