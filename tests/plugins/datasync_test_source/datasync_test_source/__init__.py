"""`test-table`: a source type whose table is a local file the tests rewrite between syncs.

Selection: `path` (a .csv read as text, or a .parquet with real types), `batchRows`,
`batchDelaySeconds` (a slow source), and
behaviours for failure tests: `sleepSeconds` (slow fetch), `failTimes` with `failKind`
(`transient` | `auth` | `config`) counted in `<path>.failures`, so retries across worker
processes see the same count.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from connectors.base import (
    JSON,
    AuthError,
    ConfigError,
    Environment,
    NotFoundError,
    Problem,
    ProgressCallback,
    Table,
    TransientError,
)
from connectors.credential_health import CredentialHealth, proved
from connectors.declaration import (
    Choice,
    CredentialVariant,
    FieldSpec,
    SourceTypeDeclaration,
)

DECLARATION = SourceTypeDeclaration(
    display_name="Test table (file)",
    credential_variants=(
        CredentialVariant(
            key="token",
            label="Token",
            fields=(
                FieldSpec(
                    "token",
                    "Access token",
                    kind="secret",
                    required=True,
                    help='Any text; "revoked" fails as an expired token would.',
                ),
            ),
        ),
    ),
    selection=(
        FieldSpec(
            "path",
            "Table file",
            required=True,
            help="A .csv (read as text) or .parquet file on the worker.",
            placeholder="/data/sales.csv",
        ),
        FieldSpec("batchRows", "Rows per batch", kind="integer", minimum=1, default=10_000),
        FieldSpec(
            "batchDelaySeconds",
            "Delay per batch (seconds)",
            kind="number",
            minimum=0,
            advanced=True,
        ),
        FieldSpec(
            "sleepSeconds",
            "Delay before reading (seconds)",
            kind="number",
            minimum=0,
            advanced=True,
        ),
        FieldSpec(
            "failTimes", "Fail this many times first", kind="integer", minimum=0, advanced=True
        ),
        FieldSpec(
            "failKind",
            "Failure",
            kind="choice",
            choices=(
                Choice("transient", "Transient"),
                Choice("auth", "Expired token"),
                Choice("config", "Unknown sheet"),
            ),
            advanced=True,
        ),
        FieldSpec("retryAfter", "Retry after (seconds)", kind="number", minimum=0, advanced=True),
    ),
)


class TableFileConnector:
    type_name: ClassVar[str] = "test-table"
    declaration: ClassVar[SourceTypeDeclaration] = DECLARATION
    selection_keys: ClassVar[frozenset[str]] = frozenset(
        {
            "path",
            "batchRows",
            "batchDelaySeconds",
            "sleepSeconds",
            "failTimes",
            "failKind",
            "retryAfter",
        }
    )
    required_selection_keys: ClassVar[frozenset[str]] = frozenset({"path"})

    def __init__(self, credentials: JSON, settings: JSON, env: Environment) -> None:
        self.credentials = credentials
        self.settings = settings
        self.env = env

    @classmethod
    def validate_credentials(
        cls, credentials: JSON, settings: JSON, env: Environment
    ) -> list[Problem]:
        if not isinstance(credentials.get("token"), str) or not credentials["token"]:
            return [Problem("credentials.token", "required: any non-empty string")]
        return []

    @classmethod
    def validate_selection(cls, selection: JSON, env: Environment) -> list[Problem]:
        path = str(selection.get("path", ""))
        if not path.endswith((".csv", ".parquet")):
            return [Problem("config.path", "must name a .csv or .parquet file")]
        return []

    def _check_access(self) -> None:
        if self.credentials.get("token") == "revoked":
            raise AuthError("Token expired - re-authentication required")

    def credential_health(self) -> CredentialHealth:
        def attempt() -> CredentialHealth:
            self._check_access()
            return CredentialHealth("ok", "The token is accepted")

        return proved(attempt, "Enter a new access token in the data source's credentials")

    def test(self, selection: JSON) -> JSON:
        self._check_access()
        return {"source": "test-table", "path": selection.get("path")}

    def fetch(self, selection: JSON, progress: ProgressCallback) -> Table:
        self._check_access()
        path = Path(str(selection["path"]))
        self._maybe_fail(selection, path)
        time.sleep(float(selection.get("sleepSeconds", 0)))
        if not path.exists():
            raise NotFoundError(f"no table file at {path.name}")
        columns, table = self._read(path)
        batch_rows = int(selection.get("batchRows", 10_000))
        delay = float(selection.get("batchDelaySeconds", 0))
        return Table(columns=columns, batches=self._batches(table, batch_rows, delay, progress))

    @staticmethod
    def _read(path: Path) -> tuple[list[str], pa.Table]:
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            return list(table.column_names), table
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        header, body = (rows[0], rows[1:]) if rows else ([], [])
        arrays = [
            pa.array([r[i] if i < len(r) else "" for r in body], pa.string())
            for i in range(len(header))
        ]
        return header, pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(header))])

    @staticmethod
    def _batches(table: pa.Table, batch_rows: int, delay: float, progress: ProgressCallback) -> Any:
        done = 0
        for batch in table.to_batches(max_chunksize=batch_rows):
            time.sleep(delay)
            done += batch.num_rows
            progress(done)
            yield batch

    @staticmethod
    def _maybe_fail(selection: JSON, path: Path) -> None:
        fail_times = int(selection.get("failTimes", 0))
        if not fail_times:
            return
        counter = path.with_name(path.name + ".failures")
        failures = int(counter.read_text()) if counter.exists() else 0
        if failures >= fail_times:
            return
        counter.write_text(str(failures + 1))
        kind = selection.get("failKind", "transient")
        if kind == "auth":
            raise AuthError("Token expired - re-authentication required")
        if kind == "config":
            raise ConfigError("Sheet 'Nope' not found", field="config.sheetName")
        raise TransientError(
            "Google Sheets API quota exceeded", retry_after=selection.get("retryAfter")
        )
