"""The storage backends, built as the service builds them from STORAGE_URL; and, for the
store-level tests, the remote backend over obstore's own local folder store, which behaves
as GCS and Azure do where S3 is lenient (a batch delete naming a missing key fails)."""

from __future__ import annotations

from pathlib import Path

from obstore.store import LocalStore

from app.storage.location import open_object_store, parse_storage_url
from app.storage.objects import ObjectStore
from app.storage.remote import RemoteObjectStore
from tests.object_store_server import S3Server

BACKENDS = ["local", "s3"]
STORE_BACKENDS = [*BACKENDS, "obstore-local"]


def object_store(backend: str, s3_server: S3Server, tmp_path: Path) -> ObjectStore:
    if backend == "obstore-local":
        return RemoteObjectStore(LocalStore(tmp_path / "bucket", mkdir=True), tmp_path / "cache")
    url = str(tmp_path / "files") if backend == "local" else s3_server.new_url()
    return open_object_store(parse_storage_url(url, tmp_path), tmp_path / "cache")
