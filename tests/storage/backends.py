"""Both storage backends, built as the service builds them from STORAGE_URL."""

from __future__ import annotations

from pathlib import Path

from app.storage.location import open_object_store, parse_storage_url
from app.storage.objects import ObjectStore
from tests.object_store_server import S3Server

BACKENDS = ["local", "s3"]


def object_store(backend: str, s3_server: S3Server, tmp_path: Path) -> ObjectStore:
    url = str(tmp_path / "files") if backend == "local" else s3_server.new_url()
    return open_object_store(parse_storage_url(url, tmp_path), tmp_path / "cache")
