"""Target files in an S3 bucket, end to end: the API in this process and real worker
processes with STORAGE_URL=s3://…, against the suite's S3 server through the real client.
Workers get data directories of their own: nothing on disk is shared but the SQL store."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from app.main import create_app
from app.storage.location import open_object_store, parse_storage_url
from app.storage.objects import ObjectStore
from tests.conftest import (
    ApiUser,
    IsolatedService,
    start_process,
    stop_process,
    wait_until_a_worker_is_live,
)
from tests.object_store_server import S3Server
from tests.services import free_port
from tests.sync.tables import read_csv, write_table

HEADER = ["id", "name", "amount"]


@dataclass
class S3Service:
    service: IsolatedService
    bucket: ObjectStore  # the test's own view of the service's objects
    directory: Path

    @property
    def user(self) -> ApiUser:
        return self.service.user

    @contextmanager
    def worker(self, name: str, **extra_env: str) -> Iterator[Path]:
        """A worker process with a data directory of its own, running until the block
        ends; yields that directory."""
        data_dir = self.directory / name
        env = {**self.service.env, "DATA_DIR": str(data_dir), **extra_env}
        log = self.directory / f"{name}.log"
        process = start_process(["worker"], env, log)
        try:
            wait_until_a_worker_is_live(self.service.settings, process, log)
            yield data_dir
        finally:
            stop_process(process)

    def keys(self, file_id: str) -> set[str]:
        return {found.key.removeprefix(f"{file_id}/") for found in self.bucket.list(file_id)}


def s3_service_with(
    isolated_service: Callable[..., IsolatedService],
    s3_server: S3Server,
    tmp_path: Path,
    **settings: str,
) -> S3Service:
    url = s3_server.new_url()
    service = isolated_service(STORAGE_URL=url, FILE_VERSIONS_KEPT="2", **settings)
    bucket = open_object_store(parse_storage_url(url, tmp_path), tmp_path / "test-cache")
    return S3Service(service, bucket, tmp_path)


@pytest.fixture
def s3_service(
    isolated_service: Callable[..., IsolatedService], s3_server: S3Server, tmp_path: Path
) -> S3Service:
    return s3_service_with(isolated_service, s3_server, tmp_path)


def version_keys(version: int, run_id: str) -> set[str]:
    stem = f"v{version}-{uuid.UUID(run_id).hex}"
    return {f"{stem}.csv", f"{stem}.parquet", f"{stem}.hashes.npy"}


def sync(user: ApiUser, schedule_id: str) -> dict[str, Any]:
    result: dict[str, Any] = user.ok("POST", f"/api/sync/schedules/{schedule_id}/sync")[
        "syncResult"
    ]
    assert result["status"] == "success", result
    return result


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


def test_a_synced_file_lives_in_the_bucket_and_downloads_through_the_api_with_its_etag(
    s3_service: S3Service, tmp_path: Path
) -> None:
    user = s3_service.user
    rows = [["1", "Ann", "10.50"], ["2", "Bob", ""]]
    table = write_table(tmp_path / "t.csv", HEADER, rows)
    file_id = user.target_file()
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table))

    with s3_service.worker("worker") as worker_dir:
        result = sync(user, schedule_id)

    positions = f"changes/{result['runId']}.npz"  # every row added
    assert s3_service.keys(file_id) == version_keys(1, result["runId"]) | {positions}
    # The CSV, its snapshot and its hashes left no file behind on either side's disk.
    api_dir = s3_service.service.settings.data_dir
    assert files_under(worker_dir / "files") == files_under(api_dir / "files") == []
    assert files_under(worker_dir / "staging") == []

    download = user.get(f"/api/files/{file_id}/content")
    assert download.status_code == 200
    assert read_csv(download.text) == [HEADER, *rows]
    checksum = user.ok("GET", f"/api/files/{file_id}")["file"]["checksum"]
    assert download.headers["etag"] == f'"{checksum}"'
    assert download.headers["content-length"] == str(len(download.content))
    assert download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"].startswith(
        'attachment; filename="sales-data.csv"'
    )
    assert download.headers["last-modified"].endswith("GMT")
    cached = user.get(f"/api/files/{file_id}/content", headers={"If-None-Match": f'"{checksum}"'})
    assert (cached.status_code, cached.content, cached.headers["etag"]) == (
        304,
        b"",
        f'"{checksum}"',
    )
    kept = user.get(f"/api/files/{file_id}/versions/1/content")
    assert (kept.status_code, kept.content) == (200, download.content)


def test_a_download_with_redirect_answers_307_to_a_presigned_url_a_client_can_follow(
    isolated_service: Callable[..., IsolatedService], s3_server: S3Server, tmp_path: Path
) -> None:
    s3_service = s3_service_with(
        isolated_service, s3_server, tmp_path, STORAGE_PRESIGN_SECONDS="123"
    )
    user = s3_service.user
    table = write_table(tmp_path / "t.csv", HEADER, [["1", "Ann", "1"]])
    file_id = user.target_file()
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table))
    with s3_service.worker("worker"):
        sync(user, schedule_id)
    proxied = user.get(f"/api/files/{file_id}/content")

    for path in (f"/api/files/{file_id}/content", f"/api/files/{file_id}/versions/1/content"):
        redirected = user.get(f"{path}?redirect=true", follow_redirects=False)
        assert redirected.status_code == 307, redirected.text
        location = redirected.headers["location"]
        assert location.startswith(f"{s3_server.endpoint}/{s3_server.bucket}/")
        assert "X-Amz-Expires=123&" in location  # STORAGE_PRESIGN_SECONDS
        assert redirected.headers["cache-control"] == "no-store"
        # Followed by a client that holds no credentials of the store or of the API.
        fetched = httpx.get(location)
        assert (fetched.status_code, fetched.content) == (200, proxied.content)
    current = proxied.headers["etag"]
    assert (
        user.get(
            f"/api/files/{file_id}/content?redirect=true", headers={"If-None-Match": current}
        ).status_code
        == 304
    )


def test_pruned_versions_and_deleted_files_take_their_objects_along_and_change_sets_work(
    s3_service: S3Service, tmp_path: Path
) -> None:
    user = s3_service.user
    table = write_table(tmp_path / "t.csv", HEADER, [["1", "Ann", "1"], ["2", "Bob", "2"]])
    file_id = user.target_file()
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table), primaryKey="id")
    with s3_service.worker("worker"):
        first = sync(user, schedule_id)
        write_table(table, HEADER, [["1", "Ann", "1"], ["2", "Bob", "2"], ["3", "Cid", "3"]])
        second = sync(user, schedule_id)
        write_table(table, HEADER, [["2", "Bobby", "2"], ["3", "Cid", "3"], ["4", "Dee", "4"]])
        third = sync(user, schedule_id)

    # FILE_VERSIONS_KEPT=2: the first version's objects went with its row.
    changes = {f"changes/{uuid.UUID(run['runId'])}.npz" for run in (first, second, third)}
    assert s3_service.keys(file_id) == (
        version_keys(2, second["runId"]) | version_keys(3, third["runId"]) | changes
    )
    assert user.get(f"/api/files/{file_id}/versions/1/content").status_code == 404

    response = user.get(f"/api/sync/runs/{third['runId']}/changes")
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == (
        f'attachment; filename="changes-{third["runId"]}.csv"'
    )
    assert sorted(read_csv(response.text)[1:]) == [
        ["added", "4", "Dee", "4"],
        ["deleted", "1", "Ann", "1"],
        ["updated", "2", "Bobby", "2"],
    ]
    # Built once, then kept beside the positions in the bucket.
    assert f"changes/{uuid.UUID(third['runId'])}.csv" in s3_service.keys(file_id)
    assert user.get(f"/api/sync/runs/{first['runId']}/changes").status_code == 404

    user.ok("DELETE", f"/api/sync/schedules/{schedule_id}")
    user.ok("DELETE", f"/api/files/{file_id}")
    assert s3_service.keys(file_id) == set()


def test_a_worker_on_another_machine_diffs_against_the_version_the_first_one_wrote(
    s3_service: S3Service, tmp_path: Path
) -> None:
    user = s3_service.user
    rows = [["1", "Ann", "1"], ["2", "Bob", "2"], ["3", "Cid", "3"]]
    table = write_table(tmp_path / "t.csv", HEADER, rows)
    file_id = user.target_file()
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table), primaryKey="id")
    with s3_service.worker("machine-a") as machine_a:
        first = sync(user, schedule_id)
    write_table(table, HEADER, [["2", "Bob", "2"], ["3", "Cyd", "3"], ["4", "Dee", "4"]])

    with s3_service.worker("machine-b") as machine_b:
        second = sync(user, schedule_id)

    assert second["fileVersion"] == 2
    assert second["changes"] == {"added": 1, "updated": 1, "deleted": 1}
    # Machine B read version 1 from the bucket into its own cache; A never saw version 2.
    v1 = f"v1-{uuid.UUID(first['runId']).hex}"
    cached = {path.name for path in files_under(machine_b / "cache" / file_id)}
    assert {f"{v1}.parquet", f"{v1}.hashes.npy"} <= cached
    assert not any("v2-" in path.name for path in files_under(machine_a))
    assert read_csv(user.get(f"/api/files/{file_id}/content").text) == [
        HEADER,
        ["2", "Bob", "2"],
        ["3", "Cyd", "3"],
        ["4", "Dee", "4"],
    ]


@pytest.mark.usefixtures("worker")
def test_where_files_are_on_the_services_own_disk_a_redirect_request_gets_the_csv_itself(
    user: ApiUser, tmp_path: Path
) -> None:
    table = write_table(tmp_path / "t.csv", HEADER, [["1", "Ann", "1"]])
    file_id = user.target_file()
    sync(user, user.schedule(user.data_source(), file_id, path=str(table)))

    answered = user.get(f"/api/files/{file_id}/content?redirect=true", follow_redirects=False)

    assert answered.status_code == 200
    assert read_csv(answered.text) == [HEADER, ["1", "Ann", "1"]]


def test_a_run_whose_worker_cannot_reach_the_object_store_fails_to_be_retried_saying_so(
    s3_service: S3Service, tmp_path: Path
) -> None:
    user = s3_service.user
    table = write_table(tmp_path / "t.csv", HEADER, [["1", "Ann", "1"]])
    file_id = user.target_file()
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table))
    unreachable = f"http://127.0.0.1:{free_port()}"

    with s3_service.worker("cut-off", AWS_ENDPOINT_URL=unreachable) as worker_dir:
        answered = user.post(f"/api/sync/schedules/{schedule_id}/sync")

    assert answered.status_code == 500, answered.text
    assert answered.json()["message"].startswith(
        "the service lost its file storage during the sync; will try again (attempt 1; retrying at"
    )
    assert user.ok("GET", f"/api/files/{file_id}")["file"]["version"] == 0
    assert s3_service.keys(file_id) == set()
    assert files_under(worker_dir / "staging") == []  # the staged files went with the run


def test_downloads_from_an_unreachable_object_store_answer_503_without_its_secrets(
    s3_service: S3Service,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = s3_service.user
    table = write_table(tmp_path / "t.csv", HEADER, [["1", "Ann", "1"]])
    file_id = user.target_file()
    schedule_id = user.schedule(user.data_source(), file_id, path=str(table), primaryKey="id")
    with s3_service.worker("worker"):
        run_id = sync(user, schedule_id)["runId"]
    # An API process started while the store is out of reach: nothing listens at its
    # endpoint. The client reads the endpoint and the secret from the environment.
    unreachable = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", unreachable)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2-secret")
    with TestClient(create_app(s3_service.service.settings)) as client:
        cut_off = ApiUser(client, user.email, user.password, user.headers["Authorization"][7:])
        for path in (
            f"/api/files/{file_id}/content",
            f"/api/files/{file_id}/versions/1/content",
            f"/api/sync/runs/{run_id}/changes",
        ):
            answered = cut_off.get(path)

            assert answered.status_code == 503, (path, answered.text)
            assert answered.headers["retry-after"] == "30"
            body = answered.json()
            assert body["success"] is False
            assert body["error"] == "Service unavailable"
            assert body["message"] == (
                "The object store holding the files is unavailable; try again shortly"
            )
            assert body["requestId"]

    logged = caplog.text
    assert "object store unavailable on GET" in logged
    for secret in ("hunter2", unreachable, "X-Amz", "Traceback"):
        assert secret not in logged
