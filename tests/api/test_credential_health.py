"""Credential health end to end: the API, a real worker process and the Sheets stand-in
over HTTP, through google-auth as in production. A source reports `credentialStatus`; a
check run on the worker (POST /api/data-sources/{id}/check-credentials, or the daily claim)
marks a revoked grant `failed` and emits `source.credentials_failed` once; transient
trouble keeps the status; new credentials clear it; two workers claiming due checks at once
claim each source once."""

# The stand-in's pytest fixtures are imported below and then named as test arguments.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from app.db.engine import create_engine, session_factory
from app.db.models import DataSource, utcnow
from app.settings import Settings
from app.sources.credential_health import claim_due_sources
from tests.conftest import ApiUser
from tests.standins.sheets.control import InThreadStandIn
from tests.standins.sheets.fixtures import (  # noqa: F401  (pytest fixtures)
    GOOD_REFRESH_TOKEN,
    OAUTH_CLIENT_ID,
    oauth_credentials,
    service_account_key,
    sheets_standin,
)
from tests.sync.tables import write_table
from tests.webhooks.receiver import Receiver, start_receiver

pytestmark = pytest.mark.usefixtures("live_worker")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()


def oauth_source(user: ApiUser, standin: InThreadStandIn) -> str:
    return user.data_source(
        "google-sheets",
        credentials=oauth_credentials(),
        sheetsBaseUrl=standin.url,
        tokenUri=standin.token_uri,
        retryBudgetSeconds=1,
    )


def check(user: ApiUser, source_id: str) -> dict[str, Any]:
    body = user.ok("POST", f"/api/data-sources/{source_id}/check-credentials")
    status: dict[str, Any] = body["credentialStatus"]
    return status


def reported(user: ApiUser, source_id: str) -> dict[str, Any]:
    status: dict[str, Any] = user.ok("GET", f"/api/data-sources/{source_id}")["dataSource"][
        "credentialStatus"
    ]
    return status


def test_a_new_source_is_never_checked_and_working_credentials_are_ok(
    user: ApiUser, sheets_standin: InThreadStandIn
) -> None:
    source_id = oauth_source(user, sheets_standin)
    assert reported(user, source_id) == {"status": None, "checkedAt": None, "message": None}
    status = check(user, source_id)
    assert status["status"] == "ok" and status["checkedAt"]
    assert reported(user, source_id) == status
    # A token was minted; no spreadsheet was read.
    counts = sheets_standin.request_counts()
    assert counts.get("POST /token") == 1
    assert not [k for k in counts if "spreadsheets" in k]


def test_a_revoked_google_grant_fails_once_with_one_event_and_the_fix(
    user: ApiUser, sheets_standin: InThreadStandIn, receiver: Receiver
) -> None:
    source_id = oauth_source(user, sheets_standin)
    user.ok(
        "POST",
        "/api/webhooks",
        json={"url": receiver.url, "events": ["source.credentials_failed"]},
    )
    assert check(user, source_id)["status"] == "ok"
    sheets_standin.put_refresh_token(GOOD_REFRESH_TOKEN, OAUTH_CLIENT_ID, revoked=True)

    status = check(user, source_id)
    assert status["status"] == "failed"
    assert f"PATCH /api/data-sources/{source_id}" in status["message"]
    assert "credentials.refreshToken" in status["message"]
    assert check(user, source_id)["status"] == "failed"  # still failed the next day

    events = receiver.wait_for(1)
    time.sleep(2)  # a second event would be on its way by now
    assert len(receiver.received) == 1
    event = events[0].event
    assert event["type"] == "source.credentials_failed"
    assert event["data"]["dataSourceId"] == source_id
    assert event["data"]["status"] == "failed"
    assert "credentials.refreshToken" in event["data"]["message"]
    # What the dashboard's banner lists: the sources whose credentials need attention.
    listed = user.ok("GET", "/api/data-sources")["dataSources"]
    needing = [s["id"] for s in listed if s["credentialStatus"]["status"] in ("failed", "expiring")]
    assert needing == [source_id]


def test_new_credentials_clear_failed(user: ApiUser, sheets_standin: InThreadStandIn) -> None:
    source_id = oauth_source(user, sheets_standin)
    sheets_standin.put_refresh_token(GOOD_REFRESH_TOKEN, OAUTH_CLIENT_ID, revoked=True)
    assert check(user, source_id)["status"] == "failed"
    sheets_standin.put_refresh_token("1//standin-new-grant", OAUTH_CLIENT_ID)
    user.ok(
        "PATCH",
        f"/api/data-sources/{source_id}",
        json={"credentials": oauth_credentials("1//standin-new-grant")},
    )
    assert reported(user, source_id)["status"] is None
    assert check(user, source_id)["status"] == "ok"


def test_a_transient_error_keeps_the_previous_status(
    user: ApiUser, sheets_standin: InThreadStandIn
) -> None:
    source_id = oauth_source(user, sheets_standin)
    before = check(user, source_id)
    assert before["status"] == "ok"
    sheets_standin.add_fault(status=503, times=None, match="/token")
    try:
        assert check(user, source_id) == before
    finally:
        sheets_standin.clear_faults()


def test_an_expiring_grant_is_reported_without_an_event(
    user: ApiUser, sheets_standin: InThreadStandIn, receiver: Receiver
) -> None:
    user.ok(
        "POST",
        "/api/webhooks",
        json={"url": receiver.url, "events": ["source.credentials_failed"]},
    )
    sheets_standin.put_refresh_token(
        GOOD_REFRESH_TOKEN,
        OAUTH_CLIENT_ID,
        expires_in_seconds=int(timedelta(days=1).total_seconds()),
    )
    source_id = oauth_source(user, sheets_standin)
    status = check(user, source_id)
    assert status["status"] == "expiring"
    assert "credentials.refreshToken" in status["message"]
    time.sleep(1)
    assert receiver.received == []


def test_checking_needs_sources_write_and_an_own_source(
    user: ApiUser, other_user: ApiUser, sheets_standin: InThreadStandIn
) -> None:
    source_id = oauth_source(user, sheets_standin)
    answer = other_user.post(f"/api/data-sources/{source_id}/check-credentials")
    assert answer.status_code == 404


def test_two_workers_claiming_at_once_claim_each_due_source_once(
    user: ApiUser, settings: Settings
) -> None:
    ids = [uuid.UUID(user.data_source()) for _ in range(6)]

    async def claim_twice() -> tuple[list[uuid.UUID], list[uuid.UUID], list[uuid.UUID]]:
        engines = [create_engine(settings), create_engine(settings)]
        try:
            first, second = (session_factory(e) for e in engines)
            async with first() as db:
                await db.execute(
                    update(DataSource)
                    .where(DataSource.id.in_(ids))
                    .values(credential_check_due_at=utcnow() - timedelta(days=30))
                )
                await db.commit()
            now = utcnow()
            a, b = await asyncio.gather(
                claim_due_sources(first, timedelta(days=1), now, limit=100),
                claim_due_sources(second, timedelta(days=1), now, limit=100),
            )
            again = await claim_due_sources(first, timedelta(days=1), utcnow(), limit=100)
            return a, b, again
        finally:
            for engine in engines:
                await engine.dispose()

    a, b, again = asyncio.run(claim_twice())
    mine = set(ids)
    assert not (set(a) & set(b) & mine)
    assert not (set(again) & mine)  # claimed sources are due a day later, not now


def test_a_successful_sync_clears_failed(user: ApiUser, settings: Settings, tmp_path: Path) -> None:
    table = write_table(tmp_path / "t.csv", ["id", "name"], [["1", "Ann"]])
    source_id = user.data_source()
    schedule_id = user.schedule(source_id, user.target_file(), path=str(table))

    async def mark_failed() -> None:
        engine = create_engine(settings)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    update(DataSource)
                    .where(DataSource.id == uuid.UUID(source_id))
                    .values(credential_status="failed", credential_message="rejected")
                )
        finally:
            await engine.dispose()

    asyncio.run(mark_failed())
    assert reported(user, source_id)["status"] == "failed"
    result = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync?wait=120")["syncResult"]
    assert result["status"] == "success", result
    status = reported(user, source_id)
    assert status["status"] == "ok" and status["checkedAt"]
