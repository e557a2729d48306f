"""The `microsoft-excel` source type: one worksheet of a workbook in OneDrive/SharePoint,
read through Microsoft Graph with msal tokens."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import ClassVar, TypeVar
from urllib.parse import quote, urlsplit

import pyarrow as pa

from connectors.base import (
    JSON,
    AuthError,
    ChangeDetectionUnavailable,
    ConfigError,
    Environment,
    NotFoundError,
    Problem,
    ProgressCallback,
    Table,
    TransientError,
)
from connectors.credential_health import CredentialHealth, proved
from connectors.declaration import SourceTypeDeclaration
from connectors.excel.addresses import (
    Bounds,
    CellBlock,
    clip_to_used,
    row_blocks,
    rows_per_block,
    used_block,
    worksheet_segment,
)
from connectors.excel.cells import render_rows
from connectors.excel.declaration import DECLARATION
from connectors.excel.endpoints import (
    DEFAULT_AUTHORITY_HOST,
    DEFAULT_GRAPH_BASE_URL,
    MICROSOFT_AUTHORITY_HOSTS,
)
from connectors.excel.graph_client import GRAPH_RETRY_POLICY, GraphClient, GraphError
from connectors.excel.http_session import new_http_session
from connectors.excel.selection import (
    DRIVE_SETTINGS,
    Selection,
    credentials_problems,
    selection_problems,
)
from connectors.excel.sign_in import (
    AppOnlyTokens,
    DelegatedTokens,
    MsalApplications,
    SignIn,
    TokenSource,
)
from connectors.toolkit.allowed_hosts import host_is_listed
from connectors.toolkit.problems import raise_first_problem
from connectors.toolkit.record_batches import text_batch
from connectors.toolkit.retry import Retrier, RetryBudget, RetryPolicy

T = TypeVar("T")

# Graph fails a single range request whose answer is too large
# (ResponsePayloadSizeLimitExceeded, or a 504 while it tries), so rows are read in blocks.
MAX_ROWS_PER_REQUEST = 5_000
MAX_CELLS_PER_REQUEST = 50_000

_NOT_A_WORKBOOK_CODES = ("unsupportedWorkbook", "invalidSessionUnsupportedWorkbook", "notSupported")
_PAYLOAD_TOO_LARGE_CODES = ("ResponsePayloadSizeLimitExceeded", "payloadTooLarge")


class ExcelConnector:
    """Reads a worksheet's used range (or `range`) in row blocks through Microsoft Graph.

    `headerRow` counts from the range's top (1 to 1,048,576, Excel's row limit). Data
    source settings: `driveId`/`userId`/`siteId` for app-only access; `authorityHost` and
    `graphBaseUrl` override Microsoft's endpoints (Microsoft's own hosts for each over https,
    or hosts on ENDPOINT_ALLOWLIST), checked again before every run and connection test.
    """

    type_name: ClassVar[str] = "microsoft-excel"
    declaration: ClassVar[SourceTypeDeclaration] = DECLARATION
    escapes_formulas_by_default: ClassVar[bool] = True  # cells typed by people
    selection_keys: ClassVar[frozenset[str]] = frozenset({"workbookId", "worksheetName", "range"})
    required_selection_keys: ClassVar[frozenset[str]] = frozenset({"workbookId", "worksheetName"})
    retry_policy: ClassVar[RetryPolicy] = GRAPH_RETRY_POLICY
    # msal wants one application per credential per process (its token cache lives in it,
    # and building one asks the authority for its configuration), while the engine makes a
    # connector per run: the process's applications are held here and handed to each run.
    process_applications: ClassVar[MsalApplications] = MsalApplications()

    def __init__(
        self,
        credentials: JSON,
        settings: JSON,
        env: Environment,
        *,
        applications: MsalApplications | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._credentials = credentials
        self._settings = settings
        self._env = env
        self._applications = applications or self.process_applications
        # One budget of waiting for the whole run, whatever it calls.
        self._retrier = Retrier(
            self.retry_policy, RetryBudget(self.retry_policy.budget_seconds), sleep=sleep
        )
        self._client: GraphClient | None = None

    # --- validation (no network) ---------------------------------------------------------

    @classmethod
    def validate_credentials(
        cls, credentials: JSON, settings: JSON, env: Environment
    ) -> list[Problem]:
        return credentials_problems(credentials, settings, env.allowed_hosts)

    @classmethod
    def validate_selection(cls, selection: JSON, env: Environment) -> list[Problem]:
        return selection_problems(selection)

    # --- network -------------------------------------------------------------------------

    def test(self, selection: JSON) -> JSON:
        """Proves the credentials get a token; with a workbook named, lists its worksheets."""
        client = self._graph()
        details: JSON = {"access": "delegated" if self._delegated else "app-only"}
        if selection.get("workbookId"):
            workbook_id = str(selection["workbookId"])
            details["workbookId"] = workbook_id
            details["worksheets"] = self._worksheet_names(client, workbook_id)
        else:
            # Without a workbook, a token is the proof; reading the drive root checks the
            # drive setting too.
            self._translate_call(lambda: client.get(""), workbook_id=None)
        return details

    def credential_health(self) -> CredentialHealth:
        """Redeems the refresh token (or the client secret) for an access token, nothing
        more. A redeemed refresh token starts a new 90 days of validity, so a daily check
        keeps a delegated source's token alive: there is no expiry to warn about."""
        fix = (
            "Sign in to Microsoft again and PATCH /api/data-sources/{id} with the new "
            "credentials.refreshToken"
            if self._delegated
            else "Create a new client secret in the app registration and PATCH "
            "/api/data-sources/{id} with it as credentials.clientSecret"
        )

        def attempt() -> CredentialHealth:
            raise_first_problem(
                self.validate_credentials(self._credentials, self._settings, self._env)
            )
            tokens = self._tokens()
            # A token still in the process's cache proves nothing about the grant today.
            tokens.discard_access_token()
            tokens.access_token()
            return CredentialHealth("ok", "The credentials work")

        return proved(attempt, fix)

    def change_marker(self, selection: JSON) -> str | None:
        """The workbook's cTag, Graph's tag for the item's content (the eTag also moves on
        with a rename or a move): one request, the token from msal's cache when fresh.
        Graph refusing the item's metadata (403), or not finding it, leaves the fetch to
        tell the user why in its own words."""
        chosen = Selection.from_config(selection)
        client = self._graph()
        item = f"items/{quote(chosen.workbook_id, safe='')}"
        try:
            answer = client.get(item, {"$select": "cTag,eTag"})
        except GraphError as error:
            if error.status == 403:
                raise ChangeDetectionUnavailable(
                    "Microsoft Graph refused the workbook's metadata "
                    f"({error.code or 'accessDenied'}): the app may read the workbook but not "
                    "its drive item"
                ) from None
            if error.status == 404:
                raise ChangeDetectionUnavailable(
                    "Microsoft Graph did not find the workbook's drive item"
                ) from None
            raise self._translate(error, chosen.workbook_id) from None
        tag = answer.get("cTag")
        if not isinstance(tag, str) or not tag:
            raise ChangeDetectionUnavailable("Microsoft Graph returned no cTag for the workbook")
        return f"ctag:{tag}"

    def fetch(self, selection: JSON, progress: ProgressCallback) -> Table:
        chosen = Selection.from_config(selection)
        client = self._graph()
        worksheet = f"items/{quote(chosen.workbook_id, safe='')}/workbook/" + worksheet_segment(
            chosen.worksheet_name
        )
        # Ask only for the used range's address first: its values for a 100k-row sheet
        # would exceed Graph's response limit.
        used = self._worksheet_call(
            chosen,
            lambda: client.get(f"{worksheet}/usedRange(valuesOnly=true)", {"$select": "address"}),
        )
        block = clip_to_used(
            chosen.bounds or Bounds(None, None, None, None), used_block(used["address"])
        )
        if block is None:
            return Table(columns=[], batches=iter(()))
        header_row = block.first_row + chosen.header_row - 1
        if header_row > block.last_row:
            raise ConfigError(
                f"headerRow {chosen.header_row} is below the last used row of the range "
                f"({block.address})",
                field="config.headerRow",
            )
        table = CellBlock(header_row, block.first_column, block.last_row, block.last_column)
        rows = rows_per_block(table.width, MAX_ROWS_PER_REQUEST, MAX_CELLS_PER_REQUEST)
        blocks = row_blocks(table, rows)
        # The first block (with the header) is read now, so that access and selection
        # errors surface from fetch() itself; the rest are read as the engine consumes.
        first = self._read_rows(client, chosen, worksheet, blocks[0])
        columns = first[0]
        return Table(
            columns=columns,
            batches=self._batches(
                client, chosen, worksheet, first[1:], blocks[1:], len(columns), progress
            ),
        )

    def _batches(
        self,
        client: GraphClient,
        chosen: Selection,
        worksheet: str,
        first_rows: list[list[str]],
        rest: list[CellBlock],
        width: int,
        progress: ProgressCallback,
    ) -> Iterator[pa.RecordBatch]:
        fetched = len(first_rows)
        progress(fetched)
        if first_rows:
            yield text_batch(first_rows, width)
        for block in rest:
            rows = self._read_rows(client, chosen, worksheet, block)
            fetched += len(rows)
            progress(fetched)
            yield text_batch(rows, width)

    def _read_rows(
        self, client: GraphClient, chosen: Selection, worksheet: str, block: CellBlock
    ) -> list[list[str]]:
        """Rendered rows of `block`; halves the block when Graph says the answer is too
        large (wide rows or long texts), down to single rows."""
        path = f"{worksheet}/range(address='{block.address}')"
        try:
            answer = self._worksheet_call(
                chosen,
                lambda: client.get(path, {"$select": "address,values,text,numberFormat"}),
                reraise_payload_limit=True,
            )
        except GraphError:  # only the payload limit is re-raised to here
            if block.height == 1:
                raise ConfigError(
                    f"row {block.first_row} of worksheet '{chosen.worksheet_name}' is too large "
                    "for one Microsoft Graph request",
                    field="config.range",
                ) from None
            half = block.height // 2
            upper = CellBlock(
                block.first_row, block.first_column, block.first_row + half - 1, block.last_column
            )
            lower = CellBlock(
                block.first_row + half, block.first_column, block.last_row, block.last_column
            )
            return self._read_rows(client, chosen, worksheet, upper) + self._read_rows(
                client, chosen, worksheet, lower
            )
        values = answer.get("values") or []
        return render_rows(values, answer.get("numberFormat"), answer.get("text"), block.width)

    # --- errors in context -----------------------------------------------------------------

    def _worksheet_call(
        self, chosen: Selection, call: Callable[[], JSON], reraise_payload_limit: bool = False
    ) -> JSON:
        try:
            return call()
        except GraphError as error:
            if reraise_payload_limit and error.has_code(*_PAYLOAD_TOO_LARGE_CODES):
                raise
            if error.status == 404:
                # Graph says itemNotFound for a missing worksheet and for a missing file
                # alike; listing the worksheets tells which, and what exists instead.
                names = self._worksheet_names(self._graph(), chosen.workbook_id)
                if chosen.worksheet_name in names:
                    raise NotFoundError(
                        f"worksheet '{chosen.worksheet_name}' could not be read: {error.message}"
                    ) from None
                raise ConfigError(
                    f"worksheet '{chosen.worksheet_name}' not found in the workbook; it has: "
                    + ", ".join(f"'{n}'" for n in names),
                    field="config.worksheetName",
                ) from None
            if error.status == 400 and not error.has_code(*_NOT_A_WORKBOOK_CODES):
                raise ConfigError(
                    f"Microsoft Graph refused the request: {error.message}", field="config.range"
                ) from None
            raise self._translate(error, chosen.workbook_id) from None

    def _worksheet_names(self, client: GraphClient, workbook_id: str) -> list[str]:
        answer = self._translate_call(
            lambda: client.get(
                f"items/{quote(workbook_id, safe='')}/workbook/worksheets",
                {"$select": "name,position"},
            ),
            workbook_id=workbook_id,
        )
        sheets = sorted(answer.get("value", []), key=lambda s: s.get("position", 0))
        return [str(s.get("name", "")) for s in sheets]

    def _translate_call(self, call: Callable[[], T], workbook_id: str | None) -> T:
        try:
            return call()
        except GraphError as error:
            raise self._translate(error, workbook_id) from None

    def _translate(self, error: GraphError, workbook_id: str | None) -> Exception:
        where = self._drive_description()
        if error.status == 401:
            return AuthError(
                f"Microsoft Graph rejected the access token ({error.code or 'unauthorized'}: "
                f"{error.message}); check the app registration and its permissions"
            )
        if error.status == 403:
            target = f"workbook {workbook_id!r}" if workbook_id else where
            return AuthError(
                f"no permission to read {target} ({error.code or 'accessDenied'}); grant the "
                "app Files.Read.All (or Sites.Selected with read access to the site) and admin "
                "consent"
            )
        if error.status == 404:
            if workbook_id is None:
                return NotFoundError(f"{where} not found; check the drive settings")
            return NotFoundError(
                f"workbook {workbook_id!r} not found in {where}; check config.workbookId (the "
                "drive item id) and the drive settings"
            )
        if error.has_code(*_NOT_A_WORKBOOK_CODES):
            return ConfigError(
                f"drive item {workbook_id!r} is not an Excel workbook (.xlsx) that Graph can open",
                field="config.workbookId",
            )
        if error.status >= 500:
            return TransientError(f"Microsoft Graph failed (HTTP {error.status}: {error.message})")
        return ConfigError(f"Microsoft Graph refused the request ({error.code}: {error.message})")

    # --- wiring ----------------------------------------------------------------------------

    @property
    def _delegated(self) -> bool:
        return bool(self._credentials.get("refreshToken")) and not self._credentials.get(
            "clientSecret"
        )

    def _graph(self) -> GraphClient:
        if self._client is None:
            raise_first_problem(
                self.validate_credentials(self._credentials, self._settings, self._env)
            )
            self._client = GraphClient(
                self._drive_url(),
                self._tokens(),
                new_http_session(self._env.http_timeout_seconds),
                self._retrier,
            )
        return self._client

    def _tokens(self) -> TokenSource:
        authority_host = str(self._settings.get("authorityHost") or DEFAULT_AUTHORITY_HOST)
        authority = (
            f"{authority_host.rstrip('/')}/{quote(str(self._credentials['tenantId']), safe='')}"
        )
        graph = urlsplit(self._graph_base_url())
        scopes = [f"{graph.scheme}://{graph.netloc}/.default"]
        sign_in = SignIn(
            self._applications,
            authority,
            scopes,
            self._env.http_timeout_seconds,
            # Microsoft knows its own authorities only.
            instance_discovery=host_is_listed(
                urlsplit(authority_host).hostname or "", MICROSOFT_AUTHORITY_HOSTS
            ),
        )
        if self._delegated:
            return DelegatedTokens(sign_in, self._credentials, self._env.save_credentials)
        return AppOnlyTokens(sign_in, self._credentials)

    def _graph_base_url(self) -> str:
        return str(self._settings.get("graphBaseUrl") or DEFAULT_GRAPH_BASE_URL).rstrip("/")

    def _drive_url(self) -> str:
        base = self._graph_base_url()
        if self._delegated:
            return f"{base}/me/drive"
        if self._settings.get("driveId"):
            return f"{base}/drives/{quote(str(self._settings['driveId']), safe='!')}"
        if self._settings.get("userId"):
            return f"{base}/users/{quote(str(self._settings['userId']), safe='@')}/drive"
        return f"{base}/sites/{quote(str(self._settings['siteId']), safe=',')}/drive"

    def _drive_description(self) -> str:
        if self._delegated:
            return "the signed-in user's drive"
        for name in DRIVE_SETTINGS:
            if self._settings.get(name):
                return f"the drive of settings.{name} {self._settings[name]!r}"
        return "the drive"
