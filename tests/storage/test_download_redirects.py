"""`?redirect=true` where the store holds the file but cannot sign a URL for it (GCS through
a token of the machine's has no key to sign with): the bytes go through the API instead."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.response import Stream

from app.files.downloads import csv_response
from app.storage.local import LocalObjectStore
from app.storage.objects import StorageUnavailable


class UnsignableStore(LocalObjectStore):
    """A store that serves its objects but fails to sign, as the object store client does
    for GCS without signing credentials."""

    async def presigned_url(self, key: str, expires_in: timedelta) -> str | None:
        raise StorageUnavailable(f"the object store failed to sign a URL for {key} (GenericError)")


async def test_a_redirect_the_store_cannot_sign_sends_the_csv_through_the_api(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = UnsignableStore(tmp_path / "files")
    staged = tmp_path / "staged.csv"
    staged.write_bytes(b"id\n1\n")
    store.put_file("f/v1.csv", staged)

    with caplog.at_level(logging.WARNING, "datasync.api"):
        answered = await csv_response(
            store, None, "f/v1.csv", "0" * 64, "sales.csv", timedelta(minutes=5)
        )

    assert isinstance(answered, Stream)
    assert answered.headers["Content-Length"] == "5"
    assert b"".join([chunk async for chunk in answered.iterator]) == b"id\n1\n"
    assert "sending a download through the API: the object store failed to sign" in caplog.text
