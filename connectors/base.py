"""The contract between the sync engine and a source type.

A connector turns a data source (decrypted credentials + settings) and a schedule's
selection (`config`) into a table: column names, then rows in Arrow record batches. It knows
nothing of HTTP requests to this service, the database or the job queue; the engine calls it
from a worker thread because every client library it wraps (gspread, msal, pyodbc) blocks.

Values: a batch column may be any Arrow type. The engine renders every value canonically for
the CSV (ISO dates, exact decimals, shortest float repr, null -> empty), so a connector hands
over the most faithful type it has: `decimal128` for exact numbers, `timestamp`/`date32`
for temporal values, `string` for text. Sources that only have text (spreadsheets) yield
strings already rendered the way the user sees them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import pyarrow as pa

from connectors.network_policy import NetworkPolicy

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Problem:
    """One invalid input, addressed the way the API reports it (`config.range`)."""

    field: str
    message: str


class ConnectorError(Exception):
    """Base of the errors the engine understands. `str(err)` is shown to users: it must name
    what went wrong and how to fix it, and never contain a secret."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(ConnectorError):
    """The selection or settings cannot work (unknown sheet, bad query). Not retried."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AuthError(ConnectorError):
    """The source rejected the credentials or denied access. Not retried."""


class NotFoundError(ConnectorError):
    """The spreadsheet, workbook, database or table does not exist. Not retried."""


class ChangeDetectionUnavailable(ConnectorError):
    """The source refused the metadata request that tells whether data changed (a scope not
    granted, a permission missing). Not a failure: the run fetches as before and its record
    says why change detection was skipped."""


class TransientError(ConnectorError):
    """Throttling, timeouts, dropped connections: worth trying again later.

    `retry_after` is the source's hint in seconds (e.g. from a `Retry-After` header), or
    None when the source gave none and the engine's backoff decides.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Environment:
    """What the operator decides for every connector, injected (never read from os.environ).

    `allowed_hosts`: host names the operator lets endpoint overrides point at, beyond each
    connector's own vendor's hosts (and the only ones that may be reached over plain http).
    `database_network`: which addresses database hosts may resolve to.
    `odbc_drivers`: ODBC driver names the operator lets data sources name, beyond the ones
    the connectors detect themselves.
    `max_query_timeout_seconds`: the largest query timeout a selection may ask for.
    `save_credentials`: persists rotated credentials (e.g. a Microsoft refresh token) back to
    the data source, encrypted; a no-op where nothing can be saved.
    """

    allowed_hosts: frozenset[str] = frozenset()
    database_network: NetworkPolicy = field(default_factory=NetworkPolicy)
    odbc_drivers: tuple[str, ...] = ()
    max_query_timeout_seconds: int = 3600
    http_timeout_seconds: float = 60.0
    save_credentials: Callable[[JSON], None] = field(default=lambda _credentials: None)


@dataclass(slots=True)
class Table:
    """A fetched table. `columns` are the source's header names as they are (blank or
    repeated names included: the engine de-duplicates them). Each batch has exactly
    `len(columns)` columns in that order; batch field names are ignored. Batches are
    produced lazily so that a large result never sits in memory whole."""

    columns: list[str]
    batches: Iterator[pa.RecordBatch]


ProgressCallback = Callable[[int], None]
"""Called with the number of rows fetched so far, after each batch or block."""


@runtime_checkable
class Connector(Protocol):
    """One source type. Instances are cheap; the engine makes one per run or test."""

    type_name: ClassVar[str]
    """The data source `type` this connector serves, e.g. "google-sheets"."""

    selection_keys: ClassVar[frozenset[str]]
    """The `config` keys that select data in this source (e.g. spreadsheetId, sheetName,
    range). The API uses them to refuse a config written for another source type. Methods
    below receive the whole merged config (data source settings overridden key by key by
    the schedule's config), sync options such as `headerRow` included."""

    required_selection_keys: ClassVar[frozenset[str]]

    # Optional: `declaration: ClassVar[SourceTypeDeclaration]` (connectors/declaration.py),
    # what the type asks for as data, from which the API and the dashboard's forms are
    # built; `registry.declaration_of` describes a connector without one from its
    # selection keys alone, so that plugins written before declarations keep working.

    # Optional: `escapes_formulas_by_default = True` on a connector whose cells people type
    # (spreadsheets), so that its files escape text that would run as a formula unless the
    # target file says otherwise. Absent means False.

    def __init__(self, credentials: JSON, settings: JSON, env: Environment) -> None: ...

    @classmethod
    def validate_credentials(
        cls, credentials: JSON, settings: JSON, env: Environment
    ) -> list[Problem]:
        """Shape checks only, no network: fields present and well formed, endpoint
        overrides on allowed hosts. Fields are named `credentials.x` / `settings.x`."""
        ...

    @classmethod
    def validate_selection(cls, selection: JSON, env: Environment) -> list[Problem]:
        """Checks a merged selection (data source settings + schedule config) without
        network, e.g. A1 range syntax, a read-only query or a timeout within the operator's
        bound. Fields are `config.x`."""
        ...

    def test(self, selection: JSON) -> JSON:
        """Connects and proves access; returns details to show the user (server version,
        spreadsheet title and sheet names…). Raises ConnectorError subclasses."""
        ...

    # Optional: `change_marker(self, selection: JSON) -> str | None`, for change detection
    # before fetch. One cheap metadata request (Drive's file version, a driveItem's cTag,
    # the one row of `config.changeQuery`, connectors/toolkit/change_query.py), no data: a
    # short text (at most 200 characters is stored as is, a longer one as its digest) that
    # differs whenever the selected data may have changed, and holds nothing secret. None
    # when this selection offers nothing to compare (a SQL source without a changeQuery).
    # Raises ChangeDetectionUnavailable when the source refuses the request or cannot
    # answer it (a scope not granted, the item's metadata not found: the fetch then says
    # what is wrong in its own words), other ConnectorErrors as `fetch` does (a
    # TransientError is retried like a failed fetch). The engine compares it with the
    # marker read before the last full fetch and skips the fetch when equal
    # (app/sync/change_detection.py). Absent means every run fetches.

    # Optional: `credential_health(self) -> CredentialHealth` (connectors/credential_health.py),
    # for the daily credentials check: proves the credentials without reading data (mints a
    # token, logs in) and says `ok`, `expiring` (a known expiry is near) or `failed` (the
    # source rejected them) with how to fix it, naming the credential field to replace.
    # Raises TransientError when the source could not answer; the previous status stands.
    # Absent means sources of this type are not checked.

    def fetch(self, selection: JSON, progress: ProgressCallback) -> Table:
        """Reads the selected table. Raises ConnectorError subclasses; retries transient
        failures inside its own bounded budget before raising TransientError."""
        ...
