"""The storage interface, as both backends must keep it: the local folder and an S3 server
reached through the real obstore client."""

from __future__ import annotations

import hashlib
import os
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.storage.location import open_object_store, parse_storage_url
from app.storage.objects import ObjectStore, StorageUnavailable
from app.storage.remote import PART_BYTES
from tests.object_store_server import S3Server
from tests.services import free_port
from tests.storage.backends import STORE_BACKENDS, object_store


@pytest.fixture(params=STORE_BACKENDS)
def store(request: pytest.FixtureRequest, s3_server: S3Server, tmp_path: Path) -> ObjectStore:
    return object_store(request.param, s3_server, tmp_path)


def staged(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / f"staged-{hashlib.sha256(content).hexdigest()[:8]}"
    path.write_bytes(content)
    return path


def test_a_put_file_is_read_back_whole_and_its_source_is_consumed(
    store: ObjectStore, tmp_path: Path
) -> None:
    source = staged(tmp_path, b"id,name\n1,Ann\n")
    store.put_file("f/v1.csv", source)
    assert not source.exists()
    assert store.exists("f/v1.csv")
    assert store.local_copy("f/v1.csv").read_bytes() == b"id,name\n1,Ann\n"


def test_a_file_larger_than_an_upload_part_goes_up_in_parts_and_comes_back_identical(
    store: ObjectStore, tmp_path: Path
) -> None:
    content = os.urandom(2 * PART_BYTES + 12345)
    store.put_file("f/big.csv", staged(tmp_path, content))
    assert hashlib.sha256(store.local_copy("f/big.csv").read_bytes()).digest() == (
        hashlib.sha256(content).digest()
    )


@pytest.mark.parametrize("read", ["local_copy", "open"])
async def test_a_missing_key_is_file_not_found(store: ObjectStore, read: str) -> None:
    assert not store.exists("f/none.csv")
    with pytest.raises(FileNotFoundError):
        if read == "open":
            await store.open("f/none.csv")
        else:
            store.local_copy("f/none.csv")


async def test_open_gives_the_size_and_time_first_then_the_bytes_in_chunks(
    store: ObjectStore, tmp_path: Path
) -> None:
    content = os.urandom(3 * 1024 * 1024 + 7)
    before = datetime.now(UTC) - timedelta(seconds=2)
    store.put_file("f/v2.csv", staged(tmp_path, content))
    stream = await store.open("f/v2.csv")
    assert stream.size == len(content)
    assert before <= stream.last_modified <= datetime.now(UTC) + timedelta(seconds=2)
    chunks = [chunk async for chunk in stream.chunks]
    assert len(chunks) > 1
    assert b"".join(chunks) == content


def test_listing_a_prefix_names_every_object_below_that_folder_only(
    store: ObjectStore, tmp_path: Path
) -> None:
    for key in ("a/b/1.csv", "a/b/deep/2.csv", "a/bc/3.csv", "z.csv"):
        store.put_file(key, staged(tmp_path, key.encode()))
    listed = {found.key: found.size for found in store.list("a/b")}
    assert listed == {"a/b/1.csv": 9, "a/b/deep/2.csv": 14}
    assert {found.key for found in store.list("")} == {
        "a/b/1.csv",
        "a/b/deep/2.csv",
        "a/bc/3.csv",
        "z.csv",
    }
    assert all(found.last_modified.tzinfo is not None for found in store.list(""))
    assert store.list("nothing") == []


def test_delete_removes_the_keys_given_and_ignores_missing_ones(
    store: ObjectStore, tmp_path: Path
) -> None:
    for key in ("f/1.csv", "f/2.csv", "g/1.csv"):
        store.put_file(key, staged(tmp_path, key.encode()))
    store.delete(["f/never.csv", "f/1.csv", "g/never.csv"])
    assert {found.key for found in store.list("")} == {"f/2.csv", "g/1.csv"}
    store.delete(["f/never.csv"])
    store.delete_prefix("f")
    assert {found.key for found in store.list("")} == {"g/1.csv"}


def test_putting_a_key_again_replaces_the_object_whole(store: ObjectStore, tmp_path: Path) -> None:
    store.put_file("f/changes/r.csv", staged(tmp_path, b"old"))
    store.put_file("f/changes/r.csv", staged(tmp_path, b"newer"))
    assert [(found.key, found.size) for found in store.list("f")] == [("f/changes/r.csv", 5)]


async def test_a_presigned_url_lets_a_plain_http_client_download_the_object(
    s3_server: S3Server, tmp_path: Path
) -> None:
    store = object_store("s3", s3_server, tmp_path)
    store.put_file("f/v1.csv", staged(tmp_path, b"id\n1\n"))
    url = await store.presigned_url("f/v1.csv", timedelta(minutes=1))
    assert url is not None and url.startswith(s3_server.endpoint) and "X-Amz-Signature" in url
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == b"id\n1\n"


async def test_a_local_folder_signs_no_urls(tmp_path: Path) -> None:
    store = object_store("local", S3Server("", ""), tmp_path)
    store.put_file("f/v1.csv", staged(tmp_path, b"id\n"))
    assert await store.presigned_url("f/v1.csv", timedelta(minutes=1)) is None


def test_a_second_machine_reads_what_the_first_wrote_through_a_cache_of_its_own(
    s3_server: S3Server, tmp_path: Path
) -> None:
    location = parse_storage_url(s3_server.new_url(), tmp_path)
    first = open_object_store(location, tmp_path / "first-cache")
    second = open_object_store(location, tmp_path / "second-cache")
    first.put_file("f/v1.parquet", staged(tmp_path, b"PAR1"))
    copy = second.local_copy("f/v1.parquet")
    assert copy.is_relative_to(tmp_path / "second-cache")
    assert copy.read_bytes() == b"PAR1"
    first.delete(["f/v1.parquet"])
    # Objects never change under a key, so the cached copy stays good to read.
    assert second.local_copy("f/v1.parquet").read_bytes() == b"PAR1"


@pytest.mark.parametrize("action", ["put_file", "local_copy", "list", "delete", "open"])
async def test_an_unreachable_object_store_fails_as_unavailable_without_its_credentials(
    action: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = S3Server(f"http://127.0.0.1:{free_port()}", "nowhere")
    for name, value in {**closed.environment, "AWS_SECRET_ACCESS_KEY": "hunter2-secret"}.items():
        monkeypatch.setenv(name, value)
    store = object_store("s3", closed, tmp_path)
    with pytest.raises(StorageUnavailable) as failed:
        if action == "put_file":
            store.put_file("f/v1.csv", staged(tmp_path, b"id\n"))
        elif action == "local_copy":
            store.local_copy("f/v1.csv")
        elif action == "list":
            store.list("f")
        elif action == "delete":
            store.delete(["f/v1.csv"])
        else:
            await store.open("f/v1.csv")
    assert str(failed.value).startswith("the object store failed to")
    assert "hunter2" not in str(failed.value)
    # The client's own error, which can quote a signed request, is not in its traceback.
    logged = "".join(traceback.format_exception(failed.value))
    assert "Error performing" not in logged and "Debug source" not in logged
