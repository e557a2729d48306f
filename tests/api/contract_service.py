"""The service the contract fuzzer talks to, and the real objects it aims at.

`live_contract_service` runs the API and a worker as processes of their own on a store, a
queue and a data directory of their own (the fuzzer registers accounts and creates objects
by the hundred; no other test should see them), and an admin account (the fuzzer creates
accounts through `POST /api/auth/users` too).

`seed` gives that admin real objects, so that generated requests reach the success paths
and not only 404s: a `test-table` data source, a target file and a schedule with one
successful run (so a file version and a change set exist), a webhook to a receiver on
loopback and a spare API key. `SeededObjects.aim` puts their ids into the path parameters,
and ids and other values the service accepts into the bodies, of three in four cases.

Ids are pooled by what the request does to the object: reads and actions (GET, a manual
sync, a connection test, a webhook ping) get the pristine objects, updates (PATCH, PUT) a
scratch set of their own (a schedule whose table moved would fail its manual syncs), and
deletes get every object, because they run after every other operation.
"""

from __future__ import annotations

import asyncio
import secrets
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from schemathesis import APIOperation, Case
from schemathesis.core.parameters import ParameterLocation

from app.auth import accounts
from app.db.engine import create_engine, session_factory
from app.settings import Settings
from tests.conftest import isolated_stack, start_process, stop_process
from tests.services import free_port, wait_for_port
from tests.sync.tables import write_table

# The fuzzer sends thousands of requests a minute from one caller; 429 stays documented.
CONTRACT_RATE_LIMIT = "1000000"
# A webhook ping to an address a generated body chose must not hold its request for 30 s.
WEBHOOK_TIMEOUT_SECONDS = "2"

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class ContractService:
    url: str
    settings: Settings
    directory: Path
    admin_email: str


def _create_admin(settings: Settings, email: str) -> None:
    """What `datasync create-user --admin` does, without starting a Python process for it."""

    async def create() -> None:
        engine = create_engine(settings)
        try:
            async with session_factory(engine)() as db:
                await accounts.create_account(db, email, PASSWORD, "Admin", is_admin=True)
                await db.commit()
        finally:
            await engine.dispose()

    asyncio.run(create())


@contextmanager
def live_contract_service(
    database_url: str, service_env: dict[str, str], directory: Path
) -> Iterator[ContractService]:
    """An API process and a worker on a store of their own (of the session's kind)."""
    with isolated_stack(
        database_url,
        service_env,
        directory,
        RATE_LIMIT_PER_MINUTE=CONTRACT_RATE_LIMIT,
        WEBHOOK_TIMEOUT_SECONDS=WEBHOOK_TIMEOUT_SECONDS,
        REGISTRATION="open",
        # Manual syncs are enqueued at once; the worker need not tick every second.
        SCHEDULER_INTERVAL_SECONDS="60",
    ) as (settings, env):
        port = free_port()
        api_log, worker_log = directory / "api.log", directory / "worker.log"
        worker = start_process(["worker"], env, worker_log)
        api = start_process(["serve"], {**env, "PORT": str(port)}, api_log)
        try:
            admin_email = f"admin-{secrets.token_hex(4)}@example.com"
            _create_admin(settings, admin_email)
            try:
                wait_for_port(port, timeout=60)
            except TimeoutError:
                raise AssertionError(api_log.read_text()) from None
            assert worker.poll() is None, worker_log.read_text()
            yield ContractService(f"http://127.0.0.1:{port}", settings, directory, admin_email)
        finally:
            stop_process(api)
            stop_process(worker)


@dataclass
class Account:
    """A second account for the operations that end sessions or change the password."""

    user_id: str
    api_key: str
    password: str


Pool = dict[str, list[Any]]
OperationCase = Case[APIOperation[Any, Any, Any, Any]]


@dataclass
class SeededObjects:
    api_key: str  # the admin's, for every operation but the two below
    session_account: Account  # logout: its session tokens are minted per request
    password_account: Account  # changePassword: its password is tracked as it changes
    pristine: Pool
    scratch: Pool
    doomed: Pool
    # Values the service accepts for body fields the document leaves free (ids of other
    # objects, a source type's credentials, a webhook's receiver): a body the fuzzer made
    # with them gets past the service's own judgement to the success path.
    accepted: Pool = field(default_factory=dict)

    def pool_for(self, method: str) -> Pool:
        if method == "DELETE":
            return self.doomed
        if method in {"PATCH", "PUT"}:
            return self.scratch
        return self.pristine

    def aim(self, case: OperationCase) -> None:
        """Point three in four cases at real objects and accepted values.

        Only locations the case keeps valid are aimed: an invalid body still reaches a real
        object, and a violation stays where it was put. Only fields the generated body has
        are replaced. The choice hashes the generated case: the same seed aims the same
        cases."""
        if case.meta is None:
            return
        draw = zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode())
        if draw % 4 == 0:
            return
        pool = self.pool_for(case.method.upper())
        if not _negated(case, ParameterLocation.PATH):
            for name in case.path_parameters or {}:
                if name in pool:
                    case.path_parameters[name] = pool[name][draw % len(pool[name])]
        if isinstance(case.body, dict) and not _negated(case, ParameterLocation.BODY):
            for name in case.body:
                values = self.accepted.get(name)
                if values:
                    case.body[name] = values[draw % len(values)]
            if "currentPassword" in case.body:
                case.body["currentPassword"] = self.password_account.password

    def observe(self, case: OperationCase, status_code: int) -> None:
        """Follow a password change the fuzzer made."""
        if operation_id(case) == "changePassword" and status_code == 200:
            assert isinstance(case.body, dict)
            self.password_account.password = str(case.body["newPassword"])


def _negated(case: OperationCase, location: ParameterLocation) -> bool:
    assert case.meta is not None
    component = case.meta.components.get(location)
    return component is not None and component.mode.is_negative


def operation_id(case: OperationCase) -> str:
    return str(case.operation.definition.raw.get("operationId"))


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _session(client: httpx.Client, email: str) -> dict[str, str]:
    body = _ok(client.post("/api/auth/login", json={"email": email, "password": PASSWORD}))
    return {"Authorization": f"Bearer {body['token']}"}


def _api_key(client: httpx.Client, headers: dict[str, str], name: str) -> tuple[str, str]:
    key = _ok(client.post("/api/auth/api-keys", json={"name": name}, headers=headers))["apiKey"]
    return str(key["id"]), str(key["key"])


def _account(client: httpx.Client, purpose: str) -> Account:
    email = f"{purpose}-{secrets.token_hex(4)}@example.com"
    user = _ok(client.post("/api/auth/register", json={"email": email, "password": PASSWORD}))
    _, key = _api_key(client, _session(client, email), purpose)
    return Account(str(user["user"]["id"]), key, PASSWORD)


class _Admin:
    """The admin's calls that create the seeded objects."""

    def __init__(self, client: httpx.Client, api_key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {api_key}"}

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return _ok(self.client.post(path, json=body, headers=self.headers))

    def source(self, name: str) -> str:
        body = {"name": name, "type": "test-table", "credentials": {"token": "t"}}
        return str(self.post("/api/data-sources", body)["dataSource"]["id"])

    def file(self, name: str) -> str:
        return str(self.post("/api/files", {"name": name})["file"]["id"])

    def schedule(self, source_id: str, file_id: str, table: Path) -> str:
        body = {
            "name": "Contract schedule",
            "dataSourceId": source_id,
            "targetFileId": file_id,
            "frequency": "daily",
            "config": {"path": str(table), "primaryKey": "id"},
        }
        return str(self.post("/api/sync/schedules", body)["schedule"]["id"])

    def webhook(self, url: str) -> str:
        body = {"url": url, "events": ["sync.success", "sync.failure"]}
        return str(self.post("/api/webhooks", body)["webhook"]["id"])


def seed(service: ContractService, receiver_url: str) -> SeededObjects:
    header = ["id", "name", "amount"]
    tables = [
        write_table(service.directory / f"{name}.csv", header, [["1", "Ann", "10.50"]])
        for name in ("pristine", "scratch", "named")
    ]
    with httpx.Client(base_url=service.url, timeout=60) as client:
        key_id, api_key = _api_key(client, _session(client, service.admin_email), "contract")
        admin = _Admin(client, api_key)
        spare_key_id, _ = _api_key(client, admin.headers, "spare")
        # a: pristine, b: scratch, c: free to delete, d: named by generated bodies (a
        # schedule the fuzzer creates on them must not keep `c` from being deleted).
        source, scratch_source, free_source, named_source = map(admin.source, "abcd")
        file, scratch_file, free_file, named_file = (admin.file(f"{n}.csv") for n in "abcd")
        schedule = admin.schedule(source, file, tables[0])
        scratch_schedule = admin.schedule(scratch_source, scratch_file, tables[1])
        result = admin.post(f"/api/sync/schedules/{schedule}/sync")["syncResult"]
        webhook, scratch_webhook = admin.webhook(receiver_url), admin.webhook(receiver_url)
        accounts = _account(client, "session"), _account(client, "password")
    assert key_id != spare_key_id  # the fuzzer's own key is in no pool
    pristine: Pool = {
        "source_id": [source],
        "file_id": [file],
        "schedule_id": [schedule],
        "run_id": [result["runId"]],
        "webhook_id": [webhook],
        "version": [result["fileVersion"]],
    }
    return SeededObjects(
        api_key=api_key,
        session_account=accounts[0],
        password_account=accounts[1],
        pristine=pristine,
        scratch={
            **pristine,
            "source_id": [scratch_source],
            "file_id": [scratch_file],
            "schedule_id": [scratch_schedule],
            "webhook_id": [scratch_webhook],
        },
        doomed={
            **pristine,
            "key_id": [spare_key_id],
            "source_id": [free_source, scratch_source, source],
            "file_id": [free_file, scratch_file, file],
            "schedule_id": [scratch_schedule, schedule],
            "webhook_id": [scratch_webhook, webhook],
        },
        accepted={
            "dataSourceId": [named_source, source],
            "targetFileId": [named_file, file],
            "scheduleIds": [[schedule], [schedule, scratch_schedule]],
            "type": ["test-table"],
            "credentials": [{"token": "t"}],
            "config": [{"path": str(tables[2])}],
            "frequency": ["daily", "hourly", "weekly"],
            "url": [receiver_url],
            "events": [["sync.success"], ["sync.failure", "sync.changed"]],
            "email": ["new-user@example.com", "other-user@example.com"],
            "password": [PASSWORD],
            "newPassword": [PASSWORD, f"{PASSWORD} again"],
        },
    )
