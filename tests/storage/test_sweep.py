"""The sweep of unreferenced objects: a worker killed mid-upload leaves the file serving its
previous version and only objects no row names, which the sweep removes once they are older
than the grace period, keeping every referenced one. On S3 and on the local backend."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest

from app.db.engine import create_engine, session_factory
from app.settings import Settings
from app.storage.sweep import SweepReport, grace_for, sweep_storage, sweep_unreferenced
from app.sync.csv_store import CsvStore, csv_store_for
from app.sync.queue import queue_client
from app.sync.run_context import EngineContext
from tests.conftest import ROOT, ApiUser, IsolatedService, start_process, stop_process
from tests.object_store_server import S3Server
from tests.services import free_port
from tests.storage.backends import BACKENDS
from tests.storage.part_holding_proxy import part_holding_proxy
from tests.sync.tables import write_table
from tests.sync.test_user_fairness import follow, sync_now, wait_for

HEADER = ["id", "name", "note"]
# Rows whose CSV is larger than one part of a multipart upload (8 MiB), so that the CSV is
# uploaded in parts, while the Parquet (the same text, dictionary-encoded) and the hashes
# stay under it and are put whole before it.
LARGE_ROWS = 300_000


def large_rows() -> list[list[str]]:
    return [
        [str(i), f"name {i % 100}", "the same note on every row, " * 2] for i in range(LARGE_ROWS)
    ]


def datasync(args: list[str], env: dict[str, str]) -> str:
    """Runs the command as an operator would; its output, once it exited 0."""
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def sweep(settings: Settings, *, now: datetime | None = None) -> SweepReport:
    store = csv_store_for(settings)

    async def run() -> SweepReport:
        engine = create_engine(settings)
        try:
            return await sweep_unreferenced(
                session_factory(engine), store, grace_for(settings), now=now
            )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def stored_keys(store: CsvStore) -> set[str]:
    return {found.key for found in store.objects.list("")}


def referenced_by_rows(user: ApiUser, store: CsvStore, file_id: str, runs: list[str]) -> set[str]:
    """The keys the file's kept versions and its runs' change sets are under, as the API
    names them."""
    keys: set[str] = set()
    for version in user.ok("GET", f"/api/files/{file_id}/versions")["versions"]:
        stem = f"v{version['version']}-{uuid.UUID(version['runId']).hex}"
        keys.update(store.version_keys(uuid.UUID(file_id), stem).all())
    keys.update(f"{file_id}/changes/{run}.npz" for run in runs)
    return keys


@contextmanager
def service_on(
    backend: str, isolated_service: Callable[..., IsolatedService], s3_server: S3Server
) -> Iterator[tuple[IsolatedService, dict[str, str], Callable[[str], bool]]]:
    """The service on `backend`, the environment of a worker to kill, and a test of whether
    that worker is caught mid-upload of the file (given its id)."""
    if backend == "local":
        service = isolated_service()
        files = service.settings.data_dir / "files"

        def staging_csv(file_id: str) -> bool:
            # The local backend's "upload" is staging in the store's folder, then a rename.
            for staged in (files / file_id).glob(".tmp-*.csv"):
                try:
                    if staged.stat().st_size > 0:
                        return True
                except FileNotFoundError:
                    continue
            return False

        yield service, service.env, staging_csv
        return
    upstream = urlsplit(s3_server.endpoint).port
    assert upstream is not None
    with part_holding_proxy(upstream) as proxy:
        service = isolated_service(STORAGE_URL=s3_server.new_url())
        yield (
            service,
            {**service.env, "AWS_ENDPOINT_URL": proxy.endpoint},
            lambda _file_id: proxy.part_held.is_set(),
        )


def incomplete_uploads(s3_server: S3Server, settings: Settings) -> list[str]:
    prefix = urlsplit(settings.storage_url).path.lstrip("/")
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="datasync-test",
        aws_secret_access_key="datasync-test-secret",
    )
    found = client.list_multipart_uploads(Bucket=s3_server.bucket, Prefix=prefix)
    return [upload["Key"] for upload in found.get("Uploads", [])]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_worker_killed_mid_upload_leaves_the_previous_version_and_orphans_the_sweep_removes(
    backend: str,
    isolated_service: Callable[..., IsolatedService],
    s3_server: S3Server,
    tmp_path: Path,
) -> None:
    with ExitStack() as stack:
        service, worker_env, mid_upload = stack.enter_context(
            service_on(backend, isolated_service, s3_server)
        )
        user, store = service.user, csv_store_for(service.settings)
        table = write_table(tmp_path / "table.csv", HEADER, [["1", "one", "first"]])
        file_id = user.target_file("large.csv")
        schedule = user.schedule(user.data_source(), file_id, enabled=False, path=str(table))
        log = tmp_path / "worker.log"
        worker = start_process(["worker"], worker_env, log)
        stack.callback(stop_process, worker)
        wait_for(lambda: "Starting worker" in log.read_text(), "the worker to start", 60)
        first = sync_now(user, schedule)
        assert follow(user, [first]).runs[0]["status"] == "success", log.read_text()
        served = user.get(f"/api/files/{file_id}/content")
        referenced = stored_keys(store)

        write_table(table, HEADER, large_rows())
        killed_run = sync_now(user, schedule)
        wait_for(lambda: mid_upload(file_id), "the worker to be mid-upload", 120)
        worker.kill()
        worker.wait(timeout=30)
        assert worker.returncode == -9

    after = user.get(f"/api/files/{file_id}/content")
    assert after.status_code == 200
    assert after.content == served.content
    assert after.headers["ETag"] == served.headers["ETag"]
    assert user.ok("GET", f"/api/sync/runs/{killed_run}")["run"]["status"] == "running"
    # What the first run published is what its rows name: its version and its change set.
    assert referenced == referenced_by_rows(user, store, file_id, [first])
    left = stored_keys(store) - referenced
    assert left, "the kill left nothing behind: it did not land mid-upload"
    staged = set((service.settings.data_dir / "staging").glob(f"{file_id}/.tmp-*"))
    if backend == "s3":
        # The CSV's upload began (the server lists it) and never completed; its staged
        # file is still on the killed worker's machine.
        csv_uploads = incomplete_uploads(s3_server, service.settings)
        assert any(key.endswith(".csv") for key in csv_uploads), csv_uploads
        assert any(path.name.endswith(".csv") for path in staged), staged

    young = sweep(service.settings)
    assert young.removed == [] and young.removed_staged == []
    assert young.too_recent == len(left) and young.referenced == len(referenced)
    assert stored_keys(store) == referenced | left

    later = datetime.now(UTC) + grace_for(service.settings) + timedelta(seconds=1)
    swept = sweep(service.settings, now=later)
    assert {found.key for found in swept.removed} == left
    assert set(swept.removed_staged) == staged
    assert not list((service.settings.data_dir / "staging").glob(f"{file_id}/.tmp-*"))
    assert swept.referenced == len(referenced) and swept.too_recent == 0
    assert stored_keys(store) == referenced
    again = user.get(f"/api/files/{file_id}/content")
    assert again.content == served.content
    assert sweep(service.settings, now=later).removed == []


def test_sweep_storage_command_prints_what_it_removed_and_keeps_what_rows_name(
    isolated_service: Callable[..., IsolatedService], tmp_path: Path
) -> None:
    service = isolated_service()
    user, store = service.user, csv_store_for(service.settings)
    table = write_table(tmp_path / "table.csv", HEADER, [["1", "one", "first"]])
    file_id = user.target_file("small.csv")
    schedule = user.schedule(user.data_source(), file_id, enabled=False, path=str(table))
    log = tmp_path / "worker.log"
    worker = start_process(["worker"], service.env, log)
    try:
        wait_for(lambda: "Starting worker" in log.read_text(), "the worker to start", 60)
        run = sync_now(user, schedule)
        assert follow(user, [run]).runs[0]["status"] == "success", log.read_text()
    finally:
        stop_process(worker)
    referenced = stored_keys(store)
    files = service.settings.data_dir / "files"
    day_ago = (datetime.now(UTC) - timedelta(days=1)).timestamp()
    orphans = {
        f"{file_id}/v7-{'ab' * 16}.csv": b"a crashed run's upload\n",
        f"{file_id}/.tmp-{'cd' * 16}.parquet": b"a killed run's staged file",
        f"{file_id}/changes/{'12345678-1234-5678-1234-567812345678'}.npz": b"no run's",
    }
    for key, content in orphans.items():
        path = files / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (day_ago, day_ago))
    (files / file_id / "v8-fresh.csv").write_bytes(b"being uploaded now\n")
    (files / "not-a-file-folder.txt").write_bytes(b"someone else's")
    os.utime(files / "not-a-file-folder.txt", (day_ago, day_ago))

    dry_run = datasync(["sweep-storage", "--dry-run"], service.env)
    assert stored_keys(store) >= set(orphans)
    printed = dry_run + datasync(["sweep-storage"], service.env)

    for key, content in orphans.items():
        assert f"removed {key} ({len(content)} bytes" in printed, printed
        assert f"would remove {key}" in printed
    assert (
        f"removed 3 unreferenced objects ({sum(map(len, orphans.values()))} bytes) and 0 "
        f"staged files from {files}; kept {len(referenced)} referenced objects and 1 "
        "unreferenced ones younger than 120 minutes"
    ) in printed, printed
    assert "left 1 objects outside file folders alone" in printed
    assert stored_keys(store) == referenced | {
        f"{file_id}/v8-fresh.csv",
        "not-a-file-folder.txt",
    }


def test_of_workers_sweeping_together_one_sweeps_the_store_per_interval(
    isolated_service: Callable[..., IsolatedService],
) -> None:
    service = isolated_service()
    settings = service.settings
    orphan = settings.data_dir / "files" / str(uuid.uuid4()) / f"v1-{'ef' * 16}.csv"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left by a killed run\n")
    day_ago = (datetime.now(UTC) - timedelta(days=1)).timestamp()
    os.utime(orphan, (day_ago, day_ago))

    async def two_workers() -> list[SweepReport | None]:
        engine = create_engine(settings)
        queue = queue_client(settings)
        try:
            contexts = [
                EngineContext(settings, session_factory(engine), queue, csv_store_for(settings))
                for _ in range(2)
            ]
            return list(await asyncio.gather(*(sweep_storage(c) for c in contexts)))
        finally:
            await queue.aclose()
            await engine.dispose()

    reports = [report for report in asyncio.run(two_workers()) if report is not None]
    swept = [report for report in reports if report.store_swept]
    assert len(reports) == 2 and len(swept) == 1, reports
    assert [found.key for found in swept[0].removed] == [
        orphan.relative_to(settings.data_dir / "files").as_posix()
    ]
    assert not orphan.exists()
    # The interval stays claimed: the next tick of either worker leaves the store alone.
    assert [r is not None and r.store_swept for r in asyncio.run(two_workers())] == [False] * 2


def test_sweep_storage_with_an_unreachable_store_exits_2_naming_the_store(
    isolated_service: Callable[..., IsolatedService],
) -> None:
    nowhere = S3Server(f"http://127.0.0.1:{free_port()}", "datasync-test")
    service = isolated_service(STORAGE_URL="s3://datasync-test/files")
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "sweep-storage"],
        cwd=ROOT,
        env={**os.environ, **service.env, **nowhere.environment},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(
        "datasync: the store STORAGE_URL=s3://datasync-test/files could not be reached"
    ), done.stderr
    assert "check STORAGE_URL and the provider's environment variables" in done.stderr
    assert "Traceback" not in done.stderr


async def tick_of_a_worker_that_did_not_claim_the_store(settings: Settings) -> SweepReport | None:
    """A worker's periodic sweep while another worker holds this interval's sweep of the
    store: only what is on this machine is swept."""
    engine = create_engine(settings)
    queue = queue_client(settings)
    try:
        await queue.set(f"{settings.queue_name}:storage-sweep", b"1", ex=60)  # another's
        context = EngineContext(settings, session_factory(engine), queue, csv_store_for(settings))
        return await sweep_storage(context)
    finally:
        await queue.aclose()
        await engine.dispose()


def test_every_worker_sweeps_its_machines_staging_folder_though_another_swept_the_store(
    isolated_service: Callable[..., IsolatedService], s3_server: S3Server
) -> None:
    service = isolated_service(STORAGE_URL=s3_server.new_url())
    settings = service.settings
    staging = settings.data_dir / "staging" / str(uuid.uuid4())
    staging.mkdir(parents=True)
    stale, fresh = staging / f".tmp-{'0' * 32}.csv", staging / f".tmp-{'1' * 32}.csv"
    stale.write_bytes(b"staged by a run killed yesterday")
    fresh.write_bytes(b"being staged now")
    day_ago = (datetime.now(UTC) - timedelta(days=1)).timestamp()
    os.utime(stale, (day_ago, day_ago))

    report = asyncio.run(tick_of_a_worker_that_did_not_claim_the_store(settings))
    assert report is not None and not report.store_swept
    assert report.removed_staged == [stale]
    assert not stale.exists() and fresh.exists()


def test_objects_of_other_tools_under_folders_that_only_parse_as_uuids_survive_a_sweep(
    isolated_service: Callable[..., IsolatedService],
) -> None:
    service = isolated_service()
    settings = service.settings
    files = settings.data_dir / "files"
    one = uuid.uuid4()
    # A store shared with other tools (STORAGE_URL=s3://bucket) may hold folders named by
    # UUIDs spelled otherwise than the service spells them: not the service's to sweep.
    foreign = {
        f"{one.hex}/report.csv",
        f"{str(one).upper()}/report.csv",
        f"{{{one}}}/report.csv",
        f"urn:uuid:{one}/report.csv",
        f"{one.hex}/changes/{uuid.uuid4()}.npz",
    }
    ours = f"{uuid.uuid4()}/v1-{'ab' * 16}.csv"  # a deleted file's leftover
    for key in {*foreign, ours}:
        path = files / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x\n")
    later = datetime.now(UTC) + grace_for(settings) + timedelta(seconds=1)

    report = sweep(settings, now=later)

    assert [found.key for found in report.removed] == [ours]
    assert report.not_ours == len(foreign)
    assert stored_keys(csv_store_for(settings)) == foreign


def test_every_worker_ages_out_its_machines_cache_by_when_each_copy_was_last_read(
    isolated_service: Callable[..., IsolatedService], s3_server: S3Server, tmp_path: Path
) -> None:
    service = isolated_service(STORAGE_URL=s3_server.new_url())
    settings = service.settings
    store = csv_store_for(settings)
    kept_file, gone_file = uuid.uuid4(), uuid.uuid4()
    for key in (f"{kept_file}/v1.parquet", f"{gone_file}/v1.parquet", f"{gone_file}/v2.parquet"):
        source = tmp_path / "staged"
        source.write_bytes(key.encode())
        store.objects.put_file(key, source)
    read_again = store.objects.local_copy(f"{kept_file}/v1.parquet")
    unread = [store.objects.local_copy(f"{gone_file}/v{n}.parquet") for n in (1, 2)]
    day_ago = (datetime.now(UTC) - timedelta(days=1)).timestamp()
    for copy in (read_again, *unread):
        os.utime(copy, (day_ago, day_ago))
    # A run reads the copy again: it is kept for another grace period from now.
    assert store.objects.local_copy(f"{kept_file}/v1.parquet") == read_again

    report = asyncio.run(tick_of_a_worker_that_did_not_claim_the_store(settings))

    assert report is not None and not report.store_swept
    assert sorted(report.removed_cached) == sorted(unread)
    cache = settings.data_dir / "cache"
    assert list(cache.rglob("*")) == [read_again.parent, read_again]
    # Once gone, a copy is downloaded again when read, into a folder made anew.
    assert store.objects.local_copy(f"{gone_file}/v2.parquet").read_bytes() == (
        f"{gone_file}/v2.parquet".encode()
    )
