"""The read-only query rule word for word, and at its edges.

A refusal is the one sentence the user acts on: what was found, where (line and column, for
the rules that read the text itself), why, and what to do instead. test_read_only.py checks
that each query is refused for the right reason; these cases pin the whole sentence, so a
refusal that loses its position, its advice or the name of what it found fails here. The
accepted cases sit right at the boundaries: sizes and depths at their limits, comments and
quotes where they open and close.
"""

from __future__ import annotations

import pytest

from connectors.odbc.read_only import MAX_QUERY_CHARS, checked_query, read_only_problem

ONLY_READING = "only a single reading SELECT can be synced"
NO_SIDE_EFFECTS = "only reading queries without side effects can be synced"
NESTED_COMMENT = (
    "the query opens a /* comment inside another comment (line 1, column 1), which is not "
    "allowed because readers disagree on where nested comments end: remove the inner /*"
)

REFUSALS = [
    # What the text holds, before any parsing.
    ("tsql", "", "the query is empty: enter one SELECT statement"),
    (
        "tsql",
        "SELECT 1 \x00 DELETE",
        "the query contains the control character U+0000 (line 1, column 10), which is not "
        "allowed: remove it",
    ),
    (
        "tsql",
        "SELECT 1 /* open",
        "the query has a /* comment that is never closed (line 1, column 10): end it with */",
    ),
    ("tsql", "/*/* */ SELECT 1", NESTED_COMMENT),
    ("tsql", "/* x /*/ SELECT 1", NESTED_COMMENT),  # the inner /* shares its * with the */
    (
        "tsql",
        "SELECT 'open",
        "the query has a string that is never closed (line 1, column 8): end it with '",
    ),
    (
        "tsql",
        "SELECT [open",
        "the query has a quoted name that is never closed (line 1, column 8): end it with ]",
    ),
    (
        "tsql",
        "SELECT 1 --(*vendor(Microsoft),product(ODBC) fn NOW()*)--",
        "the query has a comment starting with --(*, which is not allowed: ODBC drivers may "
        "rewrite it as an escape sequence",
    ),
    (
        "postgres",
        "SELECT 'a\\' , pg_sleep(1) --'",
        "the query has a backslash right before a quote in a string (line 1, column 8), which "
        "is not allowed because PostgreSQL may read it as an escape: write a quote inside a "
        "string as ''",
    ),
    (
        "postgres",
        'U&"x"',
        'the query uses a Unicode-escaped name U&"..." (line 1, column 3), which is not '
        "allowed: write the name itself in double quotes",
    ),
    (
        "tsql",
        "SELECT {fn NOW()}",
        "the query contains { outside a string (line 1, column 8), which is not allowed: ODBC "
        "drivers rewrite {call ...}, {fn ...} and other escape sequences before the database "
        "sees them",
    ),
    (
        "tsql",
        "SELECT * FROM t WHERE id = ?",
        "the query contains ? outside a string (line 1, column 28), which is not allowed: ODBC "
        "drivers read it as a parameter marker",
    ),
    (
        "postgres",
        "SELECT data ? 'k' FROM t",
        "the query contains ? outside a string (line 1, column 13), which is not allowed: ODBC "
        "drivers read it as a parameter marker (for the jsonb ? operators use jsonb_exists, "
        "jsonb_exists_any or jsonb_exists_all)",
    ),
    (
        "postgres",
        "SELECT 1; SELECT 2",
        f"the query contains ; before its end (line 1, column 9), which is not allowed: {ONLY_READING}",
    ),
    (
        "postgres",
        "SELECT $1",
        "the query contains $ outside a string (line 1, column 8), which is not allowed: use "
        'single-quoted strings instead of $$ quoting, and double quotes for names containing $ ("a$b")',
    ),
    (
        "tsql",
        "SELECT 1\u00a0DELETE FROM t",
        "the query contains the invisible or unusual space character U+00A0 outside strings "
        "(line 1, column 9), which is not allowed: use ordinary spaces",
    ),
    # How it starts.
    ("tsql", "-- only a comment", f"the query is only comments: {ONLY_READING}"),
    (
        "tsql",
        "DELETE FROM t",
        f"the query starts with DELETE, not SELECT: {ONLY_READING} (or WITH ... SELECT)",
    ),
    ("tsql", "1'a'", f"the query starts with 1, not SELECT: {ONLY_READING} (or WITH ... SELECT)"),
    # A start that is no word is shown as its first 20 characters.
    (
        "tsql",
        "'a long string that goes on' AS x",
        f"the query starts with 'a long string that , not SELECT: {ONLY_READING} (or WITH ... SELECT)",
    ),
    # Reading it as the server does.
    (
        "postgres",
        "SELECT x'GG'",
        "the query could not be read as PostgreSQL SQL: Error tokenizing 'SELECT x'GG'",
    ),
    (
        "postgres",
        "SELECT a #-- x\nFROM t",
        "the query could not be read unambiguously (line 1, column 10), which is not allowed: "
        "simplify the quotes, comments or unusual characters there",
    ),
    # Depth.
    (
        "tsql",
        "SELECT 'x', " + "(" * 40 + "1" + ")" * 40,  # counted after a string too
        "the query nests parentheses more than 32 deep, which is more than can be checked: "
        "flatten it, for example with a CTE",
    ),
    (
        "postgres",
        "SELECT " + "(" * 32 + "a[1]" + ")" * 32,
        "the query nests brackets more than 32 deep, which is more than can be checked: "
        "flatten it, for example with a CTE",
    ),
    (
        "postgres",
        "SELECT ARRAY[ARRAY[ARRAY[1]]]",
        "the query nests brackets more than 2 deep or has more than 200 of them, which is more "
        "than can be checked in time: simplify the arrays",
    ),
    (
        "tsql",
        "SELECT " + "NOT " * 5000 + "1",
        "the query is nested too deeply to be checked: simplify it, for example with a CTE",
    ),
    (
        "tsql",
        "SELECT 1 END CONVERSATION 'x'",
        f"the query has an END that closes no CASE (line 1, column 10), which is not allowed: {ONLY_READING}",
    ),
    # Words.
    (
        "tsql",
        "SELECT 'x' DELETE FROM t",  # found after a string too
        f"the query contains DELETE (line 1, column 12), which is not allowed: {ONLY_READING} "
        "(a column named DELETE must be quoted, as [DELETE])",
    ),
    (
        "postgres",
        "SELECT t.update FROM t",
        f"the query contains UPDATE (line 1, column 10), which is not allowed: {ONLY_READING} "
        '(a column named update must be quoted, as "update")',
    ),
    (
        "tsql",
        "SELECT 1 SET NOCOUNT ON",
        "the query contains SET (line 1, column 10), which is not allowed: SET changes the "
        "session (a column named SET must be quoted, as [SET])",
    ),
    (
        "tsql",
        "SELECT 1\nGO\nDROP TABLE t",
        "the query contains GO (line 2, column 1), which is not allowed: GO separates batches, "
        "so what follows would run as another batch (a column named GO must be quoted, as [GO])",
    ),
    (
        "tsql",
        "SELECT * INTO dbo.Copy FROM dbo.Orders",
        "the query contains INTO (line 1, column 10), which is not allowed: SELECT ... INTO "
        "creates a table (a column named INTO must be quoted, as [INTO])",
    ),
    # FOR locks only with the lock word right after it; otherwise the verb speaks.
    (
        "tsql",
        "SELECT 1 FOR (UPDATE)",
        f"the query contains UPDATE (line 1, column 15), which is not allowed: {ONLY_READING} "
        "(a column named UPDATE must be quoted, as [UPDATE])",
    ),
    *[
        (
            "postgres",
            f"SELECT * FROM t {clause}",
            "the query locks rows with FOR UPDATE or FOR SHARE (line 1, column 17), which is "
            f"not allowed: {ONLY_READING}, without locking rows",
        )
        for clause in ["FOR SHARE", "FOR KEY SHARE", "FOR NO KEY UPDATE", "FOR UPDATE"]
    ],
    (
        "tsql",
        "SELECT * FROM t WITH (TABLOCKX)",
        "the query asks for TABLOCKX locks (line 1, column 23), which is not allowed: they "
        "block other users of the database (NOLOCK, READUNCOMMITTED and READPAST are allowed)",
    ),
    (
        "tsql",
        "SELECT NEXT VALUE FOR dbo.OrderNumbers",
        "the query takes NEXT VALUE FOR a sequence (line 1, column 8), which is not allowed: it "
        f"advances the sequence, and {NO_SIDE_EFFECTS}",
    ),
    (
        "tsql",
        "SELECT 1 sp_executesql N'x'",
        "the query names the stored procedure sp_executesql (line 1, column 10), which is not "
        f"allowed: {ONLY_READING}, and stored procedures cannot be run from it",
    ),
    (
        "tsql",
        "SELECT * FROM OPENQUERY(remote, 'SELECT 1')",
        "the query calls OPENQUERY (line 1, column 15), which is not allowed: a synced query "
        "may only read the database it connects to",
    ),
    # Calls, bare or quoted, wherever they stand.
    *[
        (
            "postgres",
            query,
            f"the query calls pg_sleep (line 1, column {column}), which is not allowed: {NO_SIDE_EFFECTS}",
        )
        for query, column in [
            ("SELECT pg_sleep(10)", 8),
            ('SELECT "pg_sleep"(10)', 8),
            ('SELECT "PG_SLEEP"(10)', 8),
            ("SELECT 'x'pg_sleep(1)", 11),  # right after a string
            ("SELECT 1 FROM pg_sleep(", 15),  # before any parsing
        ]
    ],
    # The parsed statement.
    (
        "tsql",
        "(1)",
        f"the query is an expression, not a SELECT: {ONLY_READING} (or WITH ... SELECT)",
    ),
    (
        "postgres",
        "(SELECT 1) + 1",
        f"the query is an expression, not a SELECT: {ONLY_READING} (or WITH ... SELECT)",
    ),
    # A type name sqlglot tokenizes again on its own: its errors carry no description.
    (
        "tsql",
        'SELECT CAST(x AS "INT \'") FROM t',
        "the query could not be parsed as T-SQL: Error tokenizing 'INT '",
    ),
    *[
        (
            dialect,
            'SELECT CAST(x AS "INT (") FROM t',
            f"the query could not be parsed as {name}: No expression was parsed from 'INT ('",
        )
        for dialect, name in [("tsql", "T-SQL"), ("postgres", "PostgreSQL SQL")]
    ],
    (
        "tsql",
        "SELECT * FROM t LOCK IN SHARE MODE",
        "the query locks rows (FOR UPDATE or FOR SHARE), which is not allowed: "
        f"{ONLY_READING}, without locking rows",
    ),
    # Where sqlglot puts a statement inside the query, only a reading one may stand.
    (
        "tsql",
        "WITH a AS (PRINT 'x') SELECT 1",
        f"the query contains a PRINT, which is not allowed: {ONLY_READING}",
    ),
    *[
        (
            dialect,
            "WITH a AS (COMMENT ON TABLE t IS 'x') SELECT 1",
            f"the query contains a COMMENT, which is not allowed: {ONLY_READING}",
        )
        for dialect in ["tsql", "postgres"]
    ],
    *[
        (
            dialect,
            "SELECT * FROM (SHOW x) t",
            "the query has the name SHOW alone in parentheses, where a SELECT or a join "
            f"belongs, which is not allowed: {ONLY_READING}",
        )
        for dialect in ["tsql", "postgres"]
    ],
    (
        "postgres",
        "SELECT 1 UNION DESCRIBE t",
        f"the query contains a DESCRIBE, which is not allowed: {ONLY_READING}",
    ),
    (
        "tsql",
        "SELECT 1 +",
        "the query could not be parsed as T-SQL: Required keyword: 'expression' missing for "
        "<class 'sqlglot.expressions.core.Add'>",
    ),
    (
        "postgres",
        "SELECT 1 +",
        "the query could not be parsed as PostgreSQL SQL: Required keyword: 'expression' "
        "missing for <class 'sqlglot.expressions.core.Add'>",
    ),
    (
        "postgres",
        "WITH a AS (SELECT 1) VALUES (1)",
        "the query could not be parsed as PostgreSQL SQL: values does not support CTE",
    ),
    (
        "tsql",
        "SELECT x FROM [remote].[Sales].dbo.t",
        "the query reads [remote].[Sales].dbo.t through a linked server (a four-part name), "
        "which is not allowed: a synced query may only read the server it connects to",
    ),
    # Positions count lines and columns from 1, whatever follows.
    (
        "tsql",
        "SELECT 1 SHUTDOWN\nFROM t\nWHERE 1 = 1",
        f"the query contains SHUTDOWN (line 1, column 10), which is not allowed: {ONLY_READING} "
        "(a column named SHUTDOWN must be quoted, as [SHUTDOWN])",
    ),
    (
        "tsql",
        "SELECT a,\n  b\nFROM t\nWHERE 1 = 1 SHUTDOWN\n\n-- end",
        f"the query contains SHUTDOWN (line 4, column 13), which is not allowed: {ONLY_READING} "
        "(a column named SHUTDOWN must be quoted, as [SHUTDOWN])",
    ),
]


@pytest.mark.parametrize(
    ("dialect", "query", "reason"),
    [pytest.param(*case, id=f"{case[0]}-{i}") for i, case in enumerate(REFUSALS)],
)
def test_each_refusal_reads_in_full(dialect: str, query: str, reason: str) -> None:
    assert read_only_problem(query, dialect) == reason


ACCEPTED = [
    # Comments at their boundaries.
    ("tsql", "/* a */ SELECT 1 /* b */"),
    ("postgres", "/* a */ SELECT 1 /* b */"),
    ("tsql", "/**/SELECT 1"),
    ("tsql", "/* c */SELECT 1"),
    ("tsql", "/*/ DELETE */ SELECT 1"),  # the opener's * does not close it
    ("tsql", "SELECT 1\n-- note\nFROM t"),
    # Unusual spaces are only refused in code.
    ("postgres", "SELECT 1 -- note\u00a0here\nFROM t"),
    ("tsql", "SELECT 1 /* note\u00a0here */"),
    ("tsql", "SELECT 'a\u00a0b' AS x, Zoë FROM t"),
    # A string holding one quote, written as a doubled quote right before the closing one.
    ("tsql", "SELECT '''' AS quote"),
    ("postgres", "SELECT '''' AS quote"),
    # Names that begin like a denied function are not calls.
    ("postgres", "SELECT dblink_id, pg_sleep_total FROM t"),
    # FOR in PIVOT, with a quoted name after it.
    ("tsql", "SELECT * FROM t PIVOT (SUM(v) FOR [k] IN ([a], [b])) p"),
    # Depth counts nesting, not how many parentheses there are.
    ("tsql", "SELECT " + ", ".join(["(1)"] * 40)),
    ("postgres", "SELECT " + ", ".join(["(1)"] * 40)),
    # Exactly 200 brackets in all.
    ("postgres", "SELECT a" + "[1]" * 200),
    ("postgres", "SELECT a" + "[1]" * 100 + ", b" + "[1]" * 100),
    # Parentheses that hold a join, not a query; VALUES where a query belongs.
    *[
        (dialect, query)
        for dialect in ["tsql", "postgres"]
        for query in [
            "SELECT * FROM (a JOIN b ON a.x = b.x) LEFT JOIN c ON c.x = a.x",
            "SELECT * FROM ((SELECT 1 AS x) s JOIN b ON b.x = s.x)",
        ]
    ],
    ("postgres", "SELECT (VALUES (1))"),
]


@pytest.mark.parametrize(
    ("dialect", "query"),
    [pytest.param(*case, id=f"{case[0]}-{i}") for i, case in enumerate(ACCEPTED)],
)
def test_queries_at_the_edges_of_the_rule_are_accepted_unchanged(dialect: str, query: str) -> None:
    assert checked_query(query, dialect) == query


@pytest.mark.parametrize("dialect", ["tsql", "postgres"])
def test_a_query_of_exactly_the_size_limit_is_checked(dialect: str) -> None:
    query = "SELECT 1" + " " * (MAX_QUERY_CHARS - len("SELECT 1"))

    assert checked_query(query, dialect) == "SELECT 1"


@pytest.mark.parametrize("dialect", ["tsql", "postgres"])
def test_the_text_after_a_leading_semicolon_starts_at_its_first_word(dialect: str) -> None:
    query = ";  \n WITH c AS (SELECT 1 AS a) SELECT a FROM c"

    assert checked_query(query, dialect) == "WITH c AS (SELECT 1 AS a) SELECT a FROM c"


def test_a_dialect_without_a_rule_is_a_programming_error() -> None:
    with pytest.raises(ValueError) as error:
        checked_query("SELECT 1", "mysql")

    assert str(error.value) == "no read-only rule for dialect 'mysql'"
