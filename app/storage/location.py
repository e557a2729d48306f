"""`STORAGE_URL`: which backend holds the target files, and where.

A local path (the default is `DATA_DIR/files`, the layout of every release before object
storage) or `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`. An
object store's endpoint, region and credentials come from the provider's standard
environment variables (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`; `GOOGLE_SERVICE_ACCOUNT`;
`AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`, ...), read by obstore itself, so
MinIO and Cloudflare R2 work as S3 does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from obstore.exceptions import BaseError
from obstore.store import from_url

from app.storage.local import LocalObjectStore
from app.storage.objects import ObjectStore
from app.storage.remote import RemoteObjectStore

REMOTE_SCHEMES = frozenset({"s3", "s3a", "gs", "az", "azure", "abfs", "abfss"})
FIX = (
    "set STORAGE_URL to a local folder (e.g. /var/lib/datasync/files) or to "
    "s3://bucket/prefix, gs://bucket/prefix or az://container/prefix"
)


class StorageUrlError(ValueError):
    """STORAGE_URL names no backend the service can use; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class StorageLocation:
    """Exactly one of `folder` (local backend) and `url` (object store) is set."""

    folder: Path | None = None
    url: str | None = None

    def __str__(self) -> str:
        return self.url if self.url is not None else str(self.folder)


def parse_storage_url(value: str, data_dir: Path) -> StorageLocation:
    """Raises StorageUrlError. The message names the setting but never repeats a query
    string or user part of the URL, which could hold a credential."""
    value = value.strip()
    if not value:
        return StorageLocation(folder=data_dir / "files")
    if "://" not in value:
        return StorageLocation(folder=Path(value))
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    shown = f"{scheme}://{parts.hostname or ''}{parts.path}"
    if scheme == "file":
        if parts.netloc not in {"", "localhost"} or not parts.path:
            raise StorageUrlError(f"STORAGE_URL {shown!r} is not a local folder: {FIX}")
        return StorageLocation(folder=Path(parts.path))
    if scheme not in REMOTE_SCHEMES:
        raise StorageUrlError(f"STORAGE_URL has the unsupported scheme {scheme!r}: {FIX}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise StorageUrlError(
            f"STORAGE_URL {shown!r} must not carry credentials or options: give "
            "them in the provider's environment variables (e.g. AWS_ACCESS_KEY_ID)"
        )
    if not parts.hostname:
        raise StorageUrlError(f"STORAGE_URL {shown!r} names no bucket or container: {FIX}")
    return StorageLocation(url=f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}")


def open_object_store(location: StorageLocation, cache: Path) -> ObjectStore:
    """The backend for `location`; remote objects read as local files are cached in
    `cache`. Raises StorageUrlError when the object store's client refuses its settings."""
    if location.folder is not None:
        return LocalObjectStore(location.folder)
    assert location.url is not None
    try:
        store = from_url(location.url)
    except (BaseError, ValueError) as error:
        # The client's first line says what is missing ("Account must be specified"); what
        # follows it is a debug dump.
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        raise StorageUrlError(
            f"STORAGE_URL {location.url!r} could not be opened ({reason or type(error).__name__}): "
            "check it and the provider's environment variables (e.g. AWS_REGION, "
            "AWS_ENDPOINT_URL, AZURE_STORAGE_ACCOUNT_NAME, GOOGLE_SERVICE_ACCOUNT)"
        ) from None
    return RemoteObjectStore(store, cache)
