"""Reading a postgresql data source through the ADBC PostgreSQL driver.

The driver runs a query as `COPY (query) TO STDOUT (FORMAT binary)` and decodes libpq's
COPY stream straight into Arrow record batches of about BATCH_BYTES each, which are handed
on one at a time (never the whole result in memory), sliced to `batchRows` rows at most.

The same guarantees as the psqlODBC path, each kept here:
- Connecting: the credentials are checked again, the host resolved and every address
  checked against the operator's network policy before a packet goes out, then libpq is
  given the checked address as `hostaddr` with the typed name as `host` (conninfo.py).
  Connecting is retried within the login timeout (libpq's `connect_timeout` gets what is
  left of it), under the ODBC connectors' retry policy.
- The transaction: the driver opens one (autocommit off) and the service's first
  statement makes it read-only and sets `statement_timeout` and the UTC time zone for it
  (`set_config(..., is_local => true)`): the server refuses writes beneath the parser
  check and ends a query past its timeout even if no cancel arrives. Transaction-local
  settings also hold through a pooler in transaction mode, where session settings would
  land on another server connection.
- The query is the text the read-only check accepted, run as it is (a newline is added
  after it: the driver writes `) TO STDOUT` right behind it, which a trailing `--`
  comment would swallow), or as a subquery when some columns need the server's text
  (adbc_types.py).
- Errors are classified by connectors/odbc/errors.py in psqlODBC's form (adbc_errors.py),
  scrubbed of the password in every spelling.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import adbc_driver_manager
import adbc_driver_postgresql
import adbc_driver_postgresql.dbapi as adbc
import pyarrow as pa

from connectors.base import (
    JSON,
    ConnectorError,
    ProgressCallback,
    Table,
    TransientError,
)
from connectors.odbc.connector import (
    CONNECT_RETRY_POLICY,
    DEFAULT_QUERY_TIMEOUT_SECONDS,
    TEST_QUERY_TIMEOUT_SECONDS,
    TIMEOUT_SLACK_SECONDS,
)
from connectors.odbc.errors import classify, connect_failure
from connectors.odbc.hosts import checked_address
from connectors.odbc.limits import MIB
from connectors.odbc.reachability import probe
from connectors.odbc.read_only import checked_query
from connectors.postgresql.adbc_errors import as_diagnostic
from connectors.postgresql.adbc_types import (
    batch_converter,
    server_side_casts,
    with_server_side_casts,
)
from connectors.postgresql.conninfo import conninfo
from connectors.toolkit.change_query import checked_change_query, marker_of_batches
from connectors.toolkit.problems import raise_first_problem
from connectors.toolkit.retry import Retrier, RetriesExhausted, Retryable, RetryBudget

if TYPE_CHECKING:
    from connectors.postgresql.connector import PostgresConnector

# A quarter of the driver's default: every row of a batch stays in memory until the last
# slice of it is processed, and several batches are in flight at once (fetched, waiting,
# processed), so this bounds the run's peak; smaller batches cost no measurable time.
BATCH_BYTES = 4 * MIB
_BATCH_BYTES_OPTION = adbc_driver_postgresql.StatementOptions.BATCH_SIZE_HINT_BYTES.value
# pyarrow raises the stream's errors, OSError for the driver's IO status.
DRIVER_ERRORS = (adbc_driver_manager.Error, pa.ArrowException, OSError)


def session_settings(query_timeout: int) -> str:
    """The transaction's first statement: read-only, the query timeout, UTC."""
    return (
        "SELECT set_config('transaction_read_only', 'on', true), "
        f"set_config('statement_timeout', '{query_timeout * 1000}', true), "
        "set_config('TimeZone', 'UTC', true)"
    )


class _ConnectFailed(Exception):
    def __init__(self, driver_error: Exception, error: ConnectorError, timed_out: bool):
        super().__init__(error.message)
        self.driver_error = driver_error
        self.error = error
        self.timed_out = timed_out


@dataclass(slots=True)
class _Result:
    """An open result: its column names (as the query names them), the driver's batches
    and their conversion to the psqlODBC path's types. The cursor is held because
    closing it (as its last reference going does) closes the batches' stream."""

    columns: list[str]
    reader: pa.RecordBatchReader
    convert: Callable[[pa.RecordBatch], pa.RecordBatch]
    cursor: Any


class AdbcReads:
    """test, fetch and change_marker of one postgresql data source, through ADBC."""

    def __init__(self, connector: PostgresConnector) -> None:
        self.connector = connector

    # --- the connector protocol ---------------------------------------------------

    def test(self, selection: JSON) -> JSON:
        database = self.connector.database_for(selection)
        connection = self._connect(database, TEST_QUERY_TIMEOUT_SECONDS)
        try:
            result = self._execute(connection, "SELECT version()")
            version = next((str(b.column(0)[0]) for b in result.reader if b.num_rows), "")
        except DRIVER_ERRORS as exc:
            self._raise(exc)
        finally:
            _close(connection)
        return {
            "serverVersion": version.splitlines()[0].strip() if version else "",
            "serverVersionFull": version.strip(),
            "database": database,
        }

    def fetch(self, selection: JSON, progress: ProgressCallback) -> Table:
        connector = self.connector
        raise_first_problem(connector.validate_selection(selection, connector.env))
        query = checked_query(selection["query"], connector.dialect)
        batch_rows = connector.limits.batch_rows
        connection = self._connect(connector.database_for(selection), _timeout(selection))
        try:
            result = self._execute(connection, query)
        except DRIVER_ERRORS as exc:
            _close(connection)
            self._raise(exc)
        except BaseException:
            _close(connection)
            raise
        batches = self._stream(connection, result, batch_rows, progress)
        return Table(columns=result.columns, batches=batches)

    def change_marker(self, selection: JSON) -> str | None:
        connector = self.connector
        raise_first_problem(connector.validate_selection(selection, connector.env))
        query = checked_change_query(selection, connector.dialect)
        if query is None:
            return None
        connection = self._connect(connector.database_for(selection), _timeout(selection))
        try:
            result = self._execute(connection, query)
            return marker_of_batches(result.convert(batch) for batch in result.reader)
        except DRIVER_ERRORS as exc:
            self._raise(exc)
        finally:
            _close(connection)

    # --- internals ----------------------------------------------------------------

    def _raise(self, exc: BaseException, streaming: bool = False) -> NoReturn:
        raise classify(
            as_diagnostic(exc), secrets=self.connector.secrets(), streaming=streaming
        ) from None

    def _execute(self, connection: Any, query: str) -> _Result:
        """Runs `query` (checked) on `connection`, whose transaction is set up already."""
        cursor = connection.cursor()
        cursor.adbc_statement.set_options(**{_BATCH_BYTES_OPTION: str(BATCH_BYTES)})
        described = cursor.adbc_execute_schema(query)
        casts = server_side_casts(described)
        text = with_server_side_casts(query, len(described), casts) if casts else query
        cursor.execute(text + "\n")
        reader = cursor.fetch_record_batch()
        return _Result(described.names, reader, batch_converter(described, reader.schema), cursor)

    def _connect(self, database: str | None, query_timeout: int) -> Any:
        """An open connection in a read-only transaction with the query timeout set."""
        connector = self.connector
        connector.check_credentials()
        login = connector.login()
        chosen = connector.database_for_connection(database)
        host, port = connector.endpoint()
        address = checked_address(
            host,
            port,
            connector.env.database_network,
            shown=str(connector.destination(host)),
        )
        secrets = connector.secrets()
        budget = RetryBudget(connector.login_timeout)
        retrier = Retrier(CONNECT_RETRY_POLICY, budget)

        def attempt() -> Any:
            left = max(1, math.ceil(budget.remaining))  # libpq counts whole seconds
            started = time.monotonic()
            try:
                return adbc.connect(conninfo(login, chosen, address, left), autocommit=False)
            except DRIVER_ERRORS as exc:
                took = time.monotonic() - started
                budget.spend(took)
                diagnostic = as_diagnostic(exc, connecting=True)
                error = classify(diagnostic, secrets=secrets)
                failed = _ConnectFailed(
                    diagnostic, error, timed_out=took >= left - TIMEOUT_SLACK_SECONDS
                )
                if isinstance(error, TransientError):
                    raise Retryable(failed) from None
                raise failed from None

        try:
            connection = retrier.call(attempt)
        except RetriesExhausted as exhausted:
            last = exhausted.cause
        except _ConnectFailed as failed:
            last = failed
        else:
            self._begin(connection, query_timeout)
            return connection
        assert isinstance(last, _ConnectFailed)
        destination = connector.destination(address)
        raise connect_failure(
            last.driver_error,
            last.error,
            secrets=secrets,
            destination=destination,
            probe=lambda: probe(destination),
            timed_out=last.timed_out,
            login_timeout=connector.login_timeout,
            server_kind=connector.server_kind,
            tls_settings=connector.tls_settings,
        ) from None

    def _begin(self, connection: Any, query_timeout: int) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute(session_settings(query_timeout))
                cursor.fetch_arrow_table()
        except DRIVER_ERRORS as exc:
            _close(connection)
            self._raise(exc)

    def _stream(
        self, connection: Any, result: _Result, batch_rows: int, progress: ProgressCallback
    ) -> Iterator[pa.RecordBatch]:
        # The connection lives exactly as long as the stream.
        rows = 0
        try:
            for batch in result.reader:
                converted = result.convert(batch)
                for start in range(0, converted.num_rows, batch_rows):
                    piece = converted.slice(start, batch_rows)
                    rows += piece.num_rows
                    yield piece
                    progress(rows)
        except DRIVER_ERRORS as exc:
            self._raise(exc, streaming=True)
        finally:
            _close(connection, result.reader, result.cursor)


def _timeout(selection: JSON) -> int:
    return int(selection.get("queryTimeoutSeconds") or DEFAULT_QUERY_TIMEOUT_SECONDS)


def _close(connection: Any, *results: Any) -> None:
    """Closes a result's reader and cursor, then the connection; a connection that broke
    cannot fail the run a second time. Closing the connection ends a COPY still
    streaming."""
    for closing in (*results, connection):
        if closing is not None:
            with contextlib.suppress(*DRIVER_ERRORS):
                closing.close()
