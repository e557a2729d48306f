"""`datasync migrate-storage --to s3://…`: a local store's files and versions, made by real
syncs, are copied to the S3 server; a service switched to it serves every version with the
same bytes and ETag, and its next sync diffs against the migrated snapshot. Re-running copies
nothing; the command refuses to run beside live workers and names what to fix when the
destination is unusable."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app import cli
from app.main import create_app
from app.settings import Settings, get_settings, load_settings
from app.sync.csv_store import csv_store_for
from app.sync.queue import queue_client
from app.sync.worker_liveness import WorkerLiveness, count_live_workers
from tests.conftest import ROOT, ApiUser, IsolatedService, start_process, stop_process
from tests.object_store_server import S3Server
from tests.services import free_port
from tests.sync.tables import write_table
from tests.sync.test_user_fairness import follow, wait_for

HEADER = ["id", "name", "amount"]
FILES = 3
VERSIONS = 3


def table_rows(file: int, version: int) -> list[list[str]]:
    """Each version changes one row and adds one: a diff that is not "everything added"."""
    rows = [[str(i), f"file {file} row {i}", str(i * 10)] for i in range(20 + version)]
    rows[version][2] = f"changed in version {version}"
    return rows


def datasync(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@contextmanager
def worker_of(env: dict[str, str], log: Path) -> Iterator[None]:
    process = start_process(["worker"], env, log)
    try:
        wait_for(lambda: "Starting worker" in log.read_text(), "the worker to start", 60)
        yield
    finally:
        stop_process(process)
    # The command counts live workers: wait until the stopped one no longer counts (it
    # withdraws its entry as it exits; were it killed, the entry would expire in LIVE_FOR).
    settings = load_settings(env)
    wait_for(lambda: asyncio.run(live_workers(settings)) == 0, "the worker to stop counting", 30)


async def live_workers(settings: Settings) -> int:
    redis = queue_client(settings)
    try:
        return await count_live_workers(redis, settings.queue_name)
    finally:
        await redis.aclose()


def started_run(user: ApiUser, schedule_id: str) -> str:
    """A manual sync's run id: answered at once (202), or done already (200) when the worker
    was quicker than the answer."""
    answer = user.post(f"/api/sync/schedules/{schedule_id}/sync?wait=0")
    assert answer.status_code in (200, 202), answer.text
    body = answer.json()
    return str(body["syncResult"]["runId"] if answer.status_code == 200 else body["runId"])


def sync_all(user: ApiUser, schedules: list[str], log: Path) -> list[dict[str, Any]]:
    runs = follow(user, [started_run(user, schedule) for schedule in schedules], timeout=60).runs
    assert all(run["status"] == "success" for run in runs), (runs, log.read_text())
    return runs


def downloads(user: ApiUser, files: list[str]) -> dict[tuple[str, int], tuple[bytes, str]]:
    """Every kept version of every file (0: the current content), as bytes and ETag."""
    found = {}
    for file_id in files:
        current = user.get(f"/api/files/{file_id}/content")
        assert current.status_code == 200, current.text
        found[file_id, 0] = (current.content, current.headers["ETag"])
        for version in user.ok("GET", f"/api/files/{file_id}/versions")["versions"]:
            number = version["version"]
            answer = user.get(f"/api/files/{file_id}/versions/{number}/content")
            assert answer.status_code == 200, answer.text
            found[file_id, number] = (answer.content, answer.headers["ETag"])
    return found


def test_a_migrated_store_serves_every_version_alike_and_the_next_sync_diffs_against_it(
    isolated_service: Callable[..., IsolatedService], s3_server: S3Server, tmp_path: Path
) -> None:
    service = isolated_service()
    user = service.user
    tables = [tmp_path / f"table{i}.csv" for i in range(FILES)]
    files = [user.target_file(f"file{i}.csv") for i in range(FILES)]
    schedules = [
        user.schedule(user.data_source(), file_id, enabled=False, path=str(table))
        for file_id, table in zip(files, tables, strict=True)
    ]
    destination = s3_server.new_url()
    log = tmp_path / "local-worker.log"
    with worker_of(service.env, log):
        for version in range(1, VERSIONS + 1):
            for i, table in enumerate(tables):
                write_table(table, HEADER, table_rows(i, version))
            sync_all(user, schedules, log)
            if version == VERSIONS - 1:
                refused = datasync(["migrate-storage", "--to", destination], service.env)
                # The bulk, copied while the service runs.
                forced = datasync(["migrate-storage", "--to", destination, "--force"], service.env)
    before = downloads(user, files)
    assert len(before) == FILES * (VERSIONS + 1)
    local_keys = {found.key for found in csv_store_for(service.settings).objects.list("")}
    # Three objects a version, a change set a run.
    assert len(local_keys) == FILES * VERSIONS * 4

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "1 worker(s) of queue" in refused.stderr and "stop every worker" in refused.stderr
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert f"copied {FILES * (VERSIONS - 1) * 4} objects" in forced.stdout, forced.stdout
    assert "Stop every worker, run this command again" in forced.stdout
    assert "set STORAGE_URL" not in forced.stdout
    # With the workers stopped: what was published after the forced copy, and only that.
    migrated = datasync(["migrate-storage", "--to", destination], service.env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert f"copied {FILES * 4} objects" in migrated.stdout, migrated.stdout
    assert f"{FILES * (VERSIONS - 1) * 4} were already there and verified" in migrated.stdout
    assert f"set STORAGE_URL={destination}" in migrated.stdout
    assert "restart the API and the workers" in migrated.stdout
    again = datasync(["migrate-storage", "--to", destination], service.env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"copied 0 objects (0 bytes) from {service.settings.data_dir / 'files'}" in again.stdout
    assert f"{len(local_keys)} were already there and verified" in again.stdout

    # The old folder moved away: whatever the switched service serves comes from S3.
    (service.settings.data_dir / "files").rename(service.settings.data_dir / "files-old")
    s3_env = {**service.env, "STORAGE_URL": destination}
    s3_settings = load_settings(s3_env)
    assert {found.key for found in csv_store_for(s3_settings).objects.list("")} == local_keys
    with TestClient(create_app(s3_settings)) as s3_client:
        switched = ApiUser(s3_client, user.email, user.password, "")
        switched.headers = user.headers
        assert downloads(switched, files) == before
        write_table(tables[0], HEADER, table_rows(0, VERSIONS + 1))
        with worker_of(s3_env, tmp_path / "s3-worker.log"):
            (run,) = sync_all(switched, schedules[:1], tmp_path / "s3-worker.log")
        assert (run["changes"]["added"], run["changes"]["updated"]) == (1, 2), run
        assert run["changes"]["deleted"] == 0 and run["fileVersion"] == VERSIONS + 1
        content = switched.get(f"/api/files/{files[0]}/content").text
        assert f"changed in version {VERSIONS + 1}" in content


@pytest.mark.parametrize(
    ("destination", "says"),
    [
        ("ftp://bucket/prefix", "--to has the unsupported scheme 'ftp'"),
        ("s3://key:secret@bucket/prefix", "must not carry credentials"),
        ("SOURCE", "which is (or is inside, or holds) the current store"),
        ("SOURCE/inside", "which is (or is inside, or holds) the current store"),
        (
            "s3://datasync-test/unreachable",
            "the destination s3://datasync-test/unreachable could not be written",
        ),
    ],
)
def test_migrate_storage_names_what_to_fix_with_exit_code_2(
    isolated_service: Callable[..., IsolatedService], destination: str, says: str
) -> None:
    service = isolated_service()
    source = str(service.settings.data_dir / "files")
    # An S3 endpoint nothing listens on: the "unreachable" case.
    nowhere = S3Server(f"http://127.0.0.1:{free_port()}", "datasync-test")
    env = {**service.env, **nowhere.environment}
    refused = datasync(["migrate-storage", "--to", destination.replace("SOURCE", source)], env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert says in refused.stderr, refused.stderr
    assert "secret" not in refused.stderr and "Traceback" not in refused.stderr


def test_a_copy_unlike_what_the_database_records_fails_verification_with_exit_code_1(
    isolated_service: Callable[..., IsolatedService], s3_server: S3Server, tmp_path: Path
) -> None:
    service = isolated_service()
    file_id = synced_file(service, tmp_path)
    store = csv_store_for(service.settings)
    (csv,) = [f.key for f in store.objects.list(file_id) if f.key.endswith(".csv")]
    # Damaged in the source, with its size kept: only the SHA-256 can tell.
    damaged = store.objects.local_copy(csv)
    damaged.write_bytes(damaged.read_bytes().replace(b"row", b"ROW"))

    failed = datasync(["migrate-storage", "--to", s3_server.new_url()], service.env)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert (
        f"copy failed verification: {csv}: its SHA-256 is not the one the database records"
    ) in failed.stderr
    assert "do not switch STORAGE_URL until it reports none" in failed.stderr
    assert "set STORAGE_URL" not in failed.stdout


def synced_file(service: IsolatedService, tmp_path: Path) -> str:
    """A file with one version, synced by a worker that is stopped again."""
    user = service.user
    table = write_table(tmp_path / "table.csv", HEADER, table_rows(0, 1))
    file_id = user.target_file("file.csv")
    schedule = user.schedule(user.data_source(), file_id, enabled=False, path=str(table))
    log = tmp_path / "worker.log"
    with worker_of(service.env, log):
        sync_all(user, [schedule], log)
    return file_id


def test_objects_the_database_names_but_the_source_lacks_are_named_with_exit_code_1(
    isolated_service: Callable[..., IsolatedService], s3_server: S3Server, tmp_path: Path
) -> None:
    service = isolated_service()
    file_id = synced_file(service, tmp_path)
    store = csv_store_for(service.settings)
    (parquet,) = [f.key for f in store.objects.list(file_id) if f.key.endswith(".parquet")]
    store.objects.delete([parquet])

    failed = datasync(["migrate-storage", "--to", s3_server.new_url()], service.env)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"missing in the source: the database names {parquet}" in failed.stderr
    assert "1 objects the database names are missing" in failed.stderr
    assert "do not switch STORAGE_URL" in failed.stderr
    assert "set STORAGE_URL" not in failed.stdout


def test_a_worker_that_starts_during_the_copy_withholds_the_switch_over_with_exit_code_1(
    isolated_service: Callable[..., IsolatedService],
    s3_server: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service = isolated_service()
    synced_file(service, tmp_path)
    settings = service.settings

    worker = "a worker that started during the copy"

    async def refresh_its_entry() -> None:
        redis = queue_client(settings)
        try:
            liveness = WorkerLiveness(redis, settings.queue_name)
            liveness.name = worker  # one worker, however often its entry is refreshed
            await liveness.refresh()
        finally:
            await redis.aclose()

    said = cli._print
    copies: list[str] = []

    def say(line: str) -> None:
        # From the first object copied (the check before the copy has passed), a worker is
        # live: its entry in Redis, made as a real worker makes it, and refreshed again at
        # the summary the command prints after its last pass, so that it has not expired
        # however slow the copy. The command runs its own event loop in this thread, so the
        # entry is made from another.
        if line.startswith("copied "):
            thread = threading.Thread(target=asyncio.run, args=(refresh_its_entry(),))
            thread.start()
            thread.join()
        copies.append(line)
        said(line)

    for name, value in service.env.items():
        monkeypatch.setenv(name, value)
    # The command reads its settings once per process: this test's, not an earlier test's.
    get_settings.cache_clear()
    monkeypatch.setattr(cli, "_print", say)
    with pytest.raises(SystemExit) as exited:
        cli.main(["migrate-storage", "--to", s3_server.new_url()])

    get_settings.cache_clear()
    out, err = capsys.readouterr()
    assert exited.value.code == 1, out + err
    assert copies and "copied 4 objects" in out
    assert f"1 worker(s) of queue {settings.queue_name} started during the copy" in err
    assert "Stop every worker and run this command again" in err
    assert "set STORAGE_URL" not in out
