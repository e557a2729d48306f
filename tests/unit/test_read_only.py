"""The read-only query rule, as tables of queries a tenant might send.

Each refused query names the reason fragment it must be refused for, so a query refused
for the wrong reason (a parse error where the deny rule should speak) fails its case.
"""

from __future__ import annotations

import pytest

from connectors.odbc.read_only import (
    MAX_NESTING,
    MAX_QUERY_CHARS,
    QueryRefused,
    checked_query,
    read_only_problem,
)


def refused(query: str, reason: str, case: str) -> tuple[str, str, str]:
    return (case, query, reason)


def accepted(query: str, case: str) -> tuple[str, str]:
    return (case, query)


def by_case(rows: list[tuple[str, str, str]] | list[tuple[str, str]]) -> list[object]:
    return [pytest.param(*values, id=case) for case, *values in rows]


TSQL_REFUSED = [
    # T-SQL needs no `;` between statements: whatever follows a SELECT runs.
    refused("SELECT 1 DELETE FROM dbo.Orders", "contains DELETE", "delete_after_select"),
    refused("SELECT 1 INSERT INTO t VALUES (1)", "contains INSERT", "insert_after_select"),
    refused("SELECT 1 UPDATE t SET a = 1", "contains UPDATE", "update_after_select"),
    refused(
        "SELECT 1 MERGE t USING u ON 1 = 1 WHEN MATCHED THEN DELETE",
        "contains MERGE",
        "merge_after_select",
    ),
    refused("SELECT 1 TRUNCATE TABLE t", "contains TRUNCATE", "truncate_after_select"),
    refused("SELECT 1 DROP TABLE t", "contains DROP", "drop_after_select"),
    refused("SELECT 1 CREATE LOGIN x WITH PASSWORD = 'p'", "contains CREATE", "create_login"),
    refused("SELECT 1 ALTER LOGIN sa ENABLE", "contains ALTER", "alter_login"),
    refused("SELECT 1 SHUTDOWN", "contains SHUTDOWN", "shutdown"),
    refused("SELECT 1 SHUTDOWN WITH NOWAIT", "contains SHUTDOWN", "shutdown_nowait"),
    refused("SELECT 1 RECONFIGURE", "contains RECONFIGURE", "reconfigure"),
    refused("SELECT 1 CHECKPOINT", "contains CHECKPOINT", "checkpoint"),
    refused("SELECT 1 DBCC FREEPROCCACHE", "contains DBCC", "dbcc"),
    refused("SELECT 1 KILL 52", "contains KILL", "kill_session"),
    refused("SELECT 1 BACKUP DATABASE Sales TO DISK = 'x.bak'", "contains BACKUP", "backup"),
    refused("SELECT 1 RESTORE DATABASE Sales FROM DISK = 'x'", "contains RESTORE", "restore"),
    refused("SELECT 1 WAITFOR DELAY '00:10:00'", "WAITFOR holds the connection", "waitfor"),
    refused("SELECT 1 EXEC sp_who", "contains EXEC", "exec"),
    refused("SELECT 1 EXECUTE ('DROP TABLE t')", "contains EXECUTE", "execute_string"),
    refused(
        "SELECT 1 sp_executesql N'DELETE FROM t'",
        "stored procedure sp_executesql",
        "sp_executesql_without_exec",
    ),
    refused(
        "SELECT 1 WHERE 1 = 1 xp_cmdshell 'dir'", "stored procedure xp_cmdshell", "xp_cmdshell"
    ),
    refused("SELECT 1 GRANT CONTROL ON t TO public", "contains GRANT", "grant"),
    refused("SELECT 1 DENY SELECT ON t TO u", "contains DENY", "deny"),
    refused("SELECT 1 REVOKE SELECT ON t FROM u", "contains REVOKE", "revoke"),
    refused("SELECT 1 BULK INSERT t FROM 'c:\\x.csv'", "contains BULK", "bulk_insert"),
    refused("SELECT 1 USE master", "USE switches the database", "use"),
    refused("SELECT 1\nGO\nDROP TABLE t", "GO separates batches", "go_batch_separator"),
    refused("SELECT 1 DECLARE @x int", "contains DECLARE", "declare"),
    refused("SELECT 1 SET NOCOUNT ON", "SET changes the session", "set"),
    refused("SELECT 1 BEGIN TRAN", "contains BEGIN", "begin_transaction"),
    refused("SELECT 1 WHILE 1 = 1 SELECT 2", "contains WHILE", "endless_loop"),
    refused("SELECT 1 SEND ON CONVERSATION 'x' ('m')", "contains SEND", "service_broker_send"),
    refused("SELECT 1 RECEIVE TOP (1) * FROM q", "contains RECEIVE", "service_broker_receive"),
    refused("SELECT 1 RAISERROR('x', 16, 1) WITH LOG", "contains RAISERROR", "raiserror_log"),
    refused("SELECT 1 SETUSER 'dbo'", "contains SETUSER", "setuser"),
    refused("SELECT 1 ADD SIGNATURE TO dbo.p BY CERTIFICATE c", "contains ADD", "add_signature"),
    refused("SELECT 1 END CONVERSATION 'x'", "END that closes no CASE", "end_conversation"),
    refused("SELECT * INTO dbo.Copy FROM dbo.Orders", "SELECT ... INTO creates a table", "into"),
    refused(
        "WITH x AS (SELECT 1 AS a) DELETE FROM dbo.Orders", "contains DELETE", "cte_then_delete"
    ),
    refused("SELECT 1DELETE FROM t", "contains DELETE", "verb_glued_to_a_number"),
    refused("SELECT 1e5DELETE FROM t", "contains DELETE", "verb_glued_to_a_float"),
    refused("SELECT 1 -- note\rDELETE FROM t", "contains DELETE", "carriage_return_ends_comment"),
    refused("SELECT t.update FROM t", "must be quoted, as [update]", "verb_as_column_unquoted"),
    # Reaching other servers and files.
    refused(
        "SELECT * FROM OPENROWSET('SQLNCLI', 'Server=x;Trusted_Connection=yes', 'SELECT 1')",
        "calls OPENROWSET",
        "openrowset",
    ),
    refused(
        "SELECT * FROM OPENROWSET(BULK 'c:\\secret.txt', SINGLE_CLOB) AS f",
        "calls OPENROWSET",
        "openrowset_bulk_file",
    ),
    refused("SELECT * FROM OPENQUERY(remote, 'SELECT 1')", "calls OPENQUERY", "openquery"),
    refused(
        "SELECT * FROM OPENDATASOURCE('SQLNCLI', 'Data Source=x').db.dbo.t",
        "calls OPENDATASOURCE",
        "opendatasource",
    ),
    refused("SELECT * FROM OPENXML(@h, '/r')", "calls OPENXML", "openxml"),
    refused(
        "SELECT * FROM sys.fn_xe_file_target_read_file('c:\\*.xel', NULL, NULL, NULL)",
        "calls fn_xe_file_target_read_file",
        "server_file_reader",
    ),
    refused("SELECT * FROM remote.Sales.dbo.Orders", "linked server", "four_part_name"),
    refused("SELECT * FROM remote.Sales..Orders", "linked server", "four_part_name_default_schema"),
    # Locks beyond shared ones, and sequences.
    refused("SELECT * FROM t WITH (TABLOCKX)", "TABLOCKX locks", "tablockx"),
    refused("SELECT * FROM t WITH (TABLOCK)", "TABLOCK locks", "tablock"),
    refused("SELECT * FROM t WITH (NOLOCK, UPDLOCK)", "UPDLOCK locks", "updlock"),
    refused("SELECT * FROM t WITH (XLOCK)", "XLOCK locks", "xlock"),
    refused("SELECT * FROM t WITH (HOLDLOCK)", "HOLDLOCK locks", "holdlock"),
    refused("SELECT * FROM t WITH (PAGLOCK)", "PAGLOCK locks", "paglock"),
    refused("SELECT * FROM t WITH (SERIALIZABLE)", "SERIALIZABLE locks", "serializable"),
    refused("SELECT * FROM t WITH (REPEATABLEREAD)", "REPEATABLEREAD locks", "repeatableread"),
    refused("SELECT * FROM t (TABLOCKX)", "TABLOCKX locks", "old_style_hint"),
    refused("SELECT * FROM t OPTION (TABLE HINT(t, UPDLOCK))", "UPDLOCK locks", "query_hint"),
    refused("SELECT * FROM dbo.t FOR UPDATE", "locks rows", "for_update"),
    refused("SELECT NEXT VALUE FOR dbo.OrderNumbers", "NEXT VALUE FOR", "next_value_for"),
    # What drivers rewrite or bind before the server sees the text.
    refused("SELECT {fn NOW()}", "escape sequences", "odbc_fn_escape"),
    refused("{call dbo.cleanup}", "escape sequences", "odbc_call_escape"),
    refused("{?= call dbo.cleanup}", "escape sequences", "odbc_call_with_result"),
    refused("SELECT 1 /* {call dbo.cleanup} */", "escape sequences", "odbc_escape_in_comment"),
    refused(
        "SELECT 1 --(*vendor(Microsoft),product(ODBC) fn NOW()*)--",
        "starting with --(*",
        "odbc_vendor_escape",
    ),
    refused("SELECT * FROM t WHERE id = ?", "parameter marker", "parameter_marker"),
    # Where the parser and the server could disagree.
    refused(
        "/* /* */ DELETE FROM dbo.Orders */ SELECT 1",
        "inside another comment",
        "nested_comment",
    ),
    refused("SELECT 1 /* open", "never closed", "open_comment"),
    refused("SELECT 'open", "string that is never closed", "open_string"),
    refused("SELECT [open", "quoted name that is never closed", "open_bracket_name"),
    refused('SELECT N"DELETE" FROM t', "could not be read unambiguously", "national_double_quote"),
    refused("SELECT 1\u00a0DELETE FROM t", "unusual space character U+00A0", "no_break_space"),
    refused("SELECT 1 \x00 DELETE", "control character U+0000", "nul"),
    refused("\ufeffSELECT 1", "U+FEFF", "byte_order_mark"),
    # One statement that starts as a query.
    refused("SELECT 1; DELETE FROM t", "; before its end", "two_statements"),
    refused("SELECT 1;;", "; before its end", "two_trailing_semicolons"),
    refused("DELETE FROM t", "starts with DELETE", "delete"),
    refused("EXEC sp_who", "starts with EXEC", "exec_alone"),
    refused("dbo.cleanup", "starts with dbo", "bare_procedure_name"),
    refused("x UNION SELECT 1", "starts with x", "procedure_name_then_union"),
    refused("SELEC * FROM t", "starts with SELEC", "typo"),
    refused("", "the query is empty", "empty"),
    refused("-- only a comment", "only comments", "only_comments"),
    # Where sqlglot puts a statement inside the query, only a reading one may stand.
    refused("WITH a AS (PRINT 'x') SELECT 1", "contains a PRINT", "print_in_cte"),
    refused(
        "WITH a AS (COMMENT ON TABLE t IS 'x') SELECT 1", "contains a COMMENT", "comment_in_cte"
    ),
    refused("SELECT * FROM (SHOW x) t", "name SHOW alone in parentheses", "show_in_subquery"),
    refused("SELECT * FROM (DESCRIBE t) d", "contains a DESCRIBE", "describe_in_subquery"),
    refused("SELECT 1 UNION (DESCRIBE t)", "contains a DESCRIBE", "describe_in_union"),
    refused("(SELECT 1) + 1", "is an expression, not a SELECT", "expression"),
]

TSQL_ACCEPTED = [
    accepted(
        "SELECT OrderID, CustomerName, TotalAmount, OrderDate FROM Orders "
        "WHERE OrderDate >= DATEADD(day, -7, GETDATE())",
        "last_week_with_dateadd",
    ),
    accepted("SELECT TOP (10) * FROM dbo.Orders ORDER BY OrderDate DESC", "top"),
    accepted("SELECT TOP 10 PERCENT OrderID FROM dbo.Orders", "top_percent"),
    accepted(
        "SELECT OrderID FROM dbo.Orders ORDER BY OrderID OFFSET 20 ROWS FETCH NEXT 10 ROWS ONLY",
        "offset_fetch",
    ),
    accepted(
        "WITH recent AS (SELECT * FROM dbo.Orders WHERE OrderDate > '2024-01-01') "
        "SELECT CustomerID, COUNT(*) FROM recent GROUP BY CustomerID",
        "cte",
    ),
    accepted(";WITH recent AS (SELECT 1 AS a) SELECT a FROM recent", "cte_with_leading_semicolon"),
    accepted(
        "SELECT ROW_NUMBER() OVER (PARTITION BY CustomerID ORDER BY OrderDate) AS rn, "
        "SUM(TotalAmount) OVER (PARTITION BY CustomerID) AS total FROM dbo.Orders",
        "window_functions",
    ),
    accepted("SELECT [Order ID], [Unit Price] FROM [Order Details]", "bracketed_names"),
    accepted('SELECT "Order ID" FROM "Order Details"', "double_quoted_names"),
    accepted("SELECT [Update], [Delete], [x]]y] FROM dbo.[Audit]", "verbs_as_bracketed_names"),
    accepted("SELECT * FROM dbo.Orders WITH (NOLOCK)", "nolock"),
    accepted(
        "SELECT * FROM dbo.Orders WITH (READUNCOMMITTED, INDEX(IX_Orders_Date))",
        "readuncommitted_and_index_hint",
    ),
    accepted("SELECT * FROM dbo.Orders WITH (READPAST)", "readpast"),
    accepted(
        "SELECT * FROM dbo.Orders WHERE Note = 'please delete me; DROP TABLE x {call y} ?'",
        "verbs_and_driver_characters_in_a_string",
    ),
    accepted("SELECT N'Ünïcödé', N'it''s' AS quote, 'C:\\temp\\' AS path", "strings"),
    accepted("-- DELETE old rows? no; read them\nSELECT 1", "verbs_in_a_line_comment"),
    accepted("/* EXEC sp_who; SHUTDOWN */ SELECT 1", "verbs_in_a_block_comment"),
    accepted(
        "SELECT CASE WHEN TotalAmount > 100 THEN 'big' ELSE 'small' END AS size FROM dbo.Orders",
        "case",
    ),
    accepted("SELECT a FROM t UNION ALL SELECT b FROM u", "union"),
    accepted(
        "SELECT * FROM dbo.Orders o "
        "WHERE EXISTS (SELECT 1 FROM dbo.Customers c WHERE c.ID = o.CustomerID)",
        "subquery",
    ),
    accepted(
        "SELECT CAST(TotalAmount AS decimal(10, 2)), CONVERT(varchar(10), OrderDate, 120), "
        "TRY_CAST('1' AS int), IIF(TotalAmount > 1, 'y', 'n') FROM dbo.Orders",
        "casts",
    ),
    accepted("SELECT * FROM #recent_orders", "temporary_table"),
    accepted("SELECT @@VERSION, @@SERVERNAME", "system_functions"),
    accepted("SELECT * FROM Sales.dbo.Orders", "three_part_name"),
    accepted("SELECT * FROM dbo.Orders FOR SYSTEM_TIME AS OF '2024-01-01'", "temporal_table"),
    accepted("SELECT OrderID FROM dbo.Orders FOR JSON AUTO", "for_json"),
    accepted("SELECT t.last_update, t.updated_by, t.is_deleted FROM dbo.t", "words_holding_verbs"),
    accepted("SELECT * FROM dbo.Orders CROSS APPLY OPENJSON(Payload) j", "openjson"),
    accepted("SELECT $1.50 AS price, 0x1F AS flags", "money_and_binary_literals"),
    accepted("SELECT * FROM t PIVOT (SUM(v) FOR k IN ([a], [b])) p", "pivot"),
    accepted("(SELECT 1) UNION (SELECT 2)", "parenthesised_union"),
    accepted("SELECT 1;", "trailing_semicolon"),
]

POSTGRES_REFUSED = [
    # Functions with side effects or that reach outside, whatever the spelling.
    refused("SELECT pg_sleep(10)", "calls pg_sleep", "pg_sleep"),
    refused("SELECT PG_SLEEP(10)", "calls pg_sleep", "pg_sleep_upper_case"),
    refused("SELECT pg_catalog.pg_sleep(10)", "calls pg_sleep", "pg_sleep_schema_qualified"),
    refused('SELECT "pg_sleep"(10)', "calls pg_sleep", "pg_sleep_quoted"),
    refused('SELECT "pg_catalog"."pg_sleep"(10)', "calls pg_sleep", "pg_sleep_all_quoted"),
    refused('SELECT "PG_SLEEP"(10)', "calls pg_sleep", "pg_sleep_quoted_upper_case"),
    refused("SELECT pg_sleep /* hidden */ (10)", "calls pg_sleep", "pg_sleep_comment_before_call"),
    refused("SELECT pg_sleep_for('5 minutes')", "calls pg_sleep_for", "pg_sleep_for"),
    refused("WITH s AS (SELECT pg_sleep(10)) SELECT * FROM s", "calls pg_sleep", "pg_sleep_in_cte"),
    refused(
        "SELECT * FROM t, LATERAL (SELECT pg_sleep(1)) s", "calls pg_sleep", "pg_sleep_lateral"
    ),
    refused("SELECT (SELECT pg_sleep(1))", "calls pg_sleep", "pg_sleep_in_subquery"),
    refused("SELECT 1 UNION SELECT pg_sleep(1)", "calls pg_sleep", "pg_sleep_in_union"),
    refused("SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(a int)", "calls dblink", "dblink"),
    refused("SELECT dblink_exec('host=x', 'DROP TABLE t')", "calls dblink_exec", "dblink_exec"),
    refused("SELECT lo_import('/etc/passwd')", "calls lo_import", "lo_import"),
    refused("SELECT lo_export(1, '/tmp/x')", "calls lo_export", "lo_export"),
    refused("SELECT lo_open(1, 131072)", "calls lo_open", "lo_open"),
    refused(
        "SELECT * FROM t WHERE x IN (SELECT lo_unlink(oid) FROM pg_largeobject_metadata)",
        "calls lo_unlink",
        "lo_unlink_in_subquery",
    ),
    refused("SELECT pg_read_file('/etc/passwd')", "calls pg_read_file", "pg_read_file"),
    refused("SELECT pg_read_binary_file('x')", "calls pg_read_binary_file", "pg_read_binary"),
    refused("SELECT * FROM pg_ls_dir('.')", "calls pg_ls_dir", "pg_ls_dir"),
    refused("SELECT pg_stat_file('postgresql.conf')", "calls pg_stat_file", "pg_stat_file"),
    refused(
        "SELECT set_config('default_transaction_read_only', 'off', false)",
        "calls set_config",
        "set_config",
    ),
    refused("SELECT pg_terminate_backend(123)", "calls pg_terminate_backend", "terminate"),
    refused("SELECT pg_cancel_backend(123)", "calls pg_cancel_backend", "cancel"),
    refused("SELECT pg_reload_conf()", "calls pg_reload_conf", "reload_conf"),
    refused("SELECT pg_rotate_logfile()", "calls pg_rotate_logfile", "rotate_logfile"),
    refused("SELECT pg_advisory_lock(1)", "calls pg_advisory_lock", "advisory_lock"),
    refused("SELECT pg_try_advisory_xact_lock(1)", "calls pg_try_advisory_xact_lock", "try_lock"),
    refused("SELECT nextval('orders_id_seq')", "calls nextval", "nextval"),
    refused("SELECT setval('orders_id_seq', 1)", "calls setval", "setval"),
    refused(
        "SELECT query_to_xml('DELETE FROM t RETURNING 1', true, true, '')",
        "calls query_to_xml",
        "query_to_xml_runs_sql_text",
    ),
    refused(
        "SELECT query_to_xml_and_xmlschema('SELECT 1', true, true, '')",
        "calls query_to_xml_and_xmlschema",
        "query_to_xml_and_xmlschema",
    ),
    refused("SELECT cursor_to_xml('c', 1, true, true, '')", "calls cursor_to_xml", "cursor_xml"),
    refused("SELECT ts_stat('SELECT pg_sleep(10)::tsvector')", "calls ts_stat", "ts_stat_runs_sql"),
    refused("SELECT * FROM crosstab('SELECT pg_sleep(10)')", "calls crosstab", "crosstab"),
    refused(
        "SELECT pg_create_logical_replication_slot('s', 'pgoutput')",
        "calls pg_create_logical_replication_slot",
        "create_slot",
    ),
    refused("SELECT pg_drop_replication_slot('s')", "calls pg_drop_replication_slot", "drop_slot"),
    refused(
        "SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL)",
        "calls pg_logical_slot_get_changes",
        "consume_slot",
    ),
    refused(
        "SELECT pg_replication_origin_create('o')",
        "calls pg_replication_origin_create",
        "replication_origin",
    ),
    refused("SELECT pg_switch_wal()", "calls pg_switch_wal", "switch_wal"),
    refused("SELECT pg_notify('c', 'x')", "calls pg_notify", "notify_function"),
    refused("SELECT pg_catalog.pg_stat_reset()", "calls pg_stat_reset", "stat_reset"),
    refused("SELECT http_get('http://169.254.169.254/')", "calls http_get", "http_extension"),
    refused(
        "SELECT cron.schedule('* * * * *', 'DELETE FROM t')", "calls schedule", "pg_cron_schedule"
    ),
    # Writes and locks.
    refused("SELECT * FROM t FOR UPDATE", "locks rows", "for_update"),
    refused("SELECT * FROM t FOR SHARE", "locks rows", "for_share"),
    refused("SELECT * FROM t FOR NO KEY UPDATE", "locks rows", "for_no_key_update"),
    refused("SELECT * FROM t FOR KEY SHARE", "locks rows", "for_key_share"),
    refused(
        "WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone",
        "contains DELETE",
        "delete_in_cte",
    ),
    refused(
        "WITH n AS (INSERT INTO log VALUES (1) RETURNING *) SELECT * FROM n",
        "contains INSERT",
        "insert_in_cte",
    ),
    refused("SELECT * INTO copy FROM orders", "SELECT ... INTO creates a table", "into"),
    refused("SELECT * FROM t WHERE update = 1", 'must be quoted, as "update"', "verb_as_column"),
    refused("COPY orders TO STDOUT", "starts with COPY", "copy"),
    refused("EXPLAIN ANALYZE DELETE FROM t", "starts with EXPLAIN", "explain_analyze"),
    refused("VALUES (1)", "starts with VALUES", "values"),
    refused("SELECT 1; SELECT 2", "; before its end", "two_statements"),
    # Where the parser and the server could disagree.
    refused("SELECT $$x$$", "$ outside a string", "dollar_quoted_string"),
    refused("SELECT $tag$ ' $tag$, pg_sleep(1)", "$ outside a string", "tagged_dollar_quote"),
    refused("SELECT $1", "$ outside a string", "positional_parameter"),
    refused(
        "SELECT 'a\\' , pg_sleep(1) --'",
        "backslash right before a quote",
        "backslash_quote_if_escapes_apply",
    ),
    refused("SELECT E'it\\'s'", "backslash right before a quote", "escape_string_quote"),
    refused('SELECT U&"pg\\005fsleep"(1)', 'Unicode-escaped name U&"..."', "unicode_name"),
    refused("SELECT /* /* */ pg_sleep(1) */ 1", "inside another comment", "nested_comment"),
    refused("SELECT 1 /* open", "never closed", "open_comment"),
    refused("SELECT a #-- x\nFROM t", "could not be read unambiguously", "operator_before_dashes"),
    refused("SELECT 1 /* {call x} */", "escape sequences", "odbc_escape_in_comment"),
    refused("SELECT {fn now()}", "escape sequences", "odbc_fn_escape"),
    refused("SELECT data ? 'key' FROM events", "jsonb_exists", "jsonb_question_mark"),
    refused("SELECT 1\u2028FROM t", "unusual space character U+2028", "line_separator"),
    # Work sqlglot cannot do in time.
    refused("SELECT ARRAY[ARRAY[ARRAY[1]]]", "brackets more than 2 deep", "deep_arrays"),
    refused("SELECT a" + "[1]" * 201, "more than 200", "many_subscripts"),
    # Where sqlglot puts a statement inside the query, only a reading one may stand.
    refused(
        "WITH a AS (COMMENT ON TABLE t IS 'x') SELECT 1", "contains a COMMENT", "comment_in_cte"
    ),
    refused("SELECT * FROM (SHOW x) t", "name SHOW alone in parentheses", "show_in_subquery"),
    refused("WITH a AS (DESCRIBE t) SELECT 1", "contains a DESCRIBE", "describe_in_cte"),
    refused("SELECT 1 UNION DESCRIBE t", "contains a DESCRIBE", "describe_after_union"),
    refused("(SELECT 1) + 1", "is an expression, not a SELECT", "expression"),
]

POSTGRES_ACCEPTED = [
    accepted(
        "SELECT id, name FROM customers WHERE created_at >= now() - interval '7 days'",
        "last_week",
    ),
    accepted(
        "WITH recent AS (SELECT * FROM orders WHERE ordered_at > current_date - 7) "
        "SELECT customer_id, count(*) FROM recent GROUP BY customer_id",
        "cte",
    ),
    accepted(
        "SELECT id, row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at DESC) AS rn "
        "FROM orders",
        "window_function",
    ),
    accepted("SELECT amount::numeric(12, 2), amount::text FROM orders", "casts"),
    accepted(
        "SELECT payload->>'status', payload->'items'->0, payload #>> '{a,b}' FROM events",
        "jsonb_operators",
    ),
    accepted("SELECT * FROM customers WHERE name ILIKE '%smith%'", "ilike"),
    accepted("SELECT n FROM generate_series(1, 10) AS g(n)", "generate_series"),
    accepted(
        "SELECT now(), current_date, current_timestamp, date_trunc('month', ordered_at) "
        "FROM orders",
        "dates",
    ),
    accepted("SELECT COALESCE(discount, 0) FROM orders LIMIT 100 OFFSET 200", "limit_offset"),
    accepted(
        "SELECT 'please delete me' AS note, 'DROP TABLE x; -- ?' AS s, '{\"a\": 1}'::jsonb",
        "verbs_and_driver_characters_in_strings",
    ),
    accepted("SELECT 1 -- delete everything? no; just a comment\n", "line_comment"),
    accepted("/* UPDATE: reviewed */ SELECT 1", "block_comment"),
    accepted('SELECT "update", "Order"."delete" FROM "Order"', "verbs_as_quoted_names"),
    accepted(
        "SELECT CASE WHEN amount > 100 THEN 'big' ELSE 'small' END FROM orders",
        "case",
    ),
    accepted("SELECT a FROM t UNION ALL SELECT b FROM u", "union"),
    accepted(
        "SELECT * FROM orders o WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id)",
        "subquery",
    ),
    accepted(
        "SELECT tags[1], ARRAY['a', 'b'], ARRAY[ARRAY[1, 2], ARRAY[3, 4]] FROM posts "
        "WHERE 'x' = ANY(tags)",
        "arrays",
    ),
    accepted(
        "SELECT DISTINCT ON (customer_id) customer_id, ordered_at FROM orders "
        "ORDER BY customer_id, ordered_at DESC",
        "distinct_on",
    ),
    accepted("SELECT count(*) FILTER (WHERE status = 'paid') FROM orders", "filter"),
    accepted(
        "SELECT txid_current(), currval('orders_id_seq'), current_setting('TimeZone')",
        "harmless_session_functions",
    ),
    accepted("SELECT E'tab\\there', 'C:\\temp', U&'d\\0061t'", "backslashes_not_before_quotes"),
    accepted(
        "SELECT * FROM t1 JOIN LATERAL (SELECT * FROM t2 WHERE t2.id = t1.id LIMIT 1) x ON true",
        "lateral",
    ),
    accepted("SELECT to_char(ordered_at, 'YYYY-MM-DD') FROM orders", "to_char"),
    accepted("SELECT jsonb_exists(payload, 'k') FROM events", "jsonb_exists"),
    accepted("(SELECT 1) UNION (SELECT 2)", "parenthesised_union"),
    accepted("SELECT sum(amount) FROM orders GROUP BY ROLLUP (region)", "rollup"),
    accepted("SELECT u.last_update, u.updated_at FROM users u", "words_holding_verbs"),
    accepted("SELECT interval '1 day', '2024-01-01'::date + 1", "intervals"),
    accepted("SELECT * FROM orders;", "trailing_semicolon"),
]


@pytest.mark.parametrize(("query", "reason"), by_case(TSQL_REFUSED))
def test_tsql_query_that_is_not_one_side_effect_free_select_is_refused_for_its_reason(
    query: str, reason: str
) -> None:
    with pytest.raises(QueryRefused) as refusal:
        checked_query(query, "tsql")
    assert reason in refusal.value.reason
    assert read_only_problem(query, "tsql") == refusal.value.reason


@pytest.mark.parametrize("query", by_case(TSQL_ACCEPTED))
def test_tsql_reading_query_is_accepted(query: str) -> None:
    assert read_only_problem(query, "tsql") is None


@pytest.mark.parametrize(("query", "reason"), by_case(POSTGRES_REFUSED))
def test_postgres_query_that_is_not_one_side_effect_free_select_is_refused_for_its_reason(
    query: str, reason: str
) -> None:
    with pytest.raises(QueryRefused) as refusal:
        checked_query(query, "postgres")
    assert reason in refusal.value.reason
    assert read_only_problem(query, "postgres") == refusal.value.reason


@pytest.mark.parametrize("query", by_case(POSTGRES_ACCEPTED))
def test_postgres_reading_query_is_accepted(query: str) -> None:
    assert read_only_problem(query, "postgres") is None


@pytest.mark.parametrize(
    ("query", "executed"),
    [
        ("  SELECT 1 ;  \n", "SELECT 1"),
        ("SELECT 1;", "SELECT 1"),
        (
            ";WITH c AS (SELECT 1 AS a) SELECT a FROM c;",
            "WITH c AS (SELECT 1 AS a) SELECT a FROM c",
        ),
        ("SELECT 1 -- note;", "SELECT 1 -- note"),
        ("\tSELECT 'a;'\n", "SELECT 'a;'"),
        ("SELECT 1 /* kept */", "SELECT 1 /* kept */"),
        ("SELECT  a,\n  b\nFROM t", "SELECT  a,\n  b\nFROM t"),
    ],
)
def test_checked_query_returns_exactly_the_text_to_execute(query: str, executed: str) -> None:
    for dialect in ("tsql", "postgres"):
        assert checked_query(query, dialect) == executed


@pytest.mark.parametrize(
    ("query", "dialect"),
    [pytest.param(query, "tsql", id=case) for case, query in TSQL_ACCEPTED]
    + [pytest.param(query, "postgres", id=case) for case, query in POSTGRES_ACCEPTED],
)
def test_the_text_to_execute_is_itself_accepted_unchanged(query: str, dialect: str) -> None:
    executed = checked_query(query, dialect)
    assert checked_query(executed, dialect) == executed
    assert executed in query


@pytest.mark.parametrize("dialect", ["tsql", "postgres"])
def test_thousands_of_nested_parentheses_are_refused_not_a_recursion_error(dialect: str) -> None:
    query = "SELECT " + "(" * 3000 + "1" + ")" * 3000
    with pytest.raises(QueryRefused, match=f"nests parentheses more than {MAX_NESTING} deep"):
        checked_query(query, dialect)


@pytest.mark.parametrize("dialect", ["tsql", "postgres"])
def test_nesting_up_to_the_limit_is_accepted(dialect: str) -> None:
    query = "SELECT " + "(" * MAX_NESTING + "1" + ")" * MAX_NESTING
    assert read_only_problem(query, dialect) is None


@pytest.mark.parametrize("dialect", ["tsql", "postgres"])
def test_deeply_nested_case_is_refused(dialect: str) -> None:
    query = "SELECT " + "CASE WHEN a = 1 THEN " * 40 + "1" + " END" * 40
    with pytest.raises(QueryRefused, match="nests CASE expressions"):
        checked_query(query, dialect)


@pytest.mark.parametrize("dialect", ["tsql", "postgres"])
def test_recursion_without_parentheses_is_refused_not_raised(dialect: str) -> None:
    query = "SELECT " + "NOT " * 5000 + "1"
    with pytest.raises(QueryRefused, match="nested too deeply to be checked"):
        checked_query(query, dialect)


@pytest.mark.parametrize("dialect", ["tsql", "postgres"])
def test_a_query_longer_than_the_limit_is_refused_before_any_parsing(dialect: str) -> None:
    query = "SELECT 1" + " " * MAX_QUERY_CHARS
    with pytest.raises(QueryRefused, match="more than the 100,000 that can be checked"):
        checked_query(query, dialect)


def test_a_refusal_is_a_value_error_carrying_its_reason() -> None:
    with pytest.raises(ValueError, match="contains DELETE") as refusal:
        checked_query("SELECT 1 DELETE FROM t", "tsql")
    assert isinstance(refusal.value, QueryRefused)
    assert str(refusal.value) == refusal.value.reason


def test_a_refusal_says_where_in_the_query_it_is() -> None:
    reason = read_only_problem("SELECT a,\n  b\nFROM t\nWHERE 1 = 1 SHUTDOWN", "tsql")
    assert reason is not None and "(line 4, column 13)" in reason
