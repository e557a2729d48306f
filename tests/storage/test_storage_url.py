"""STORAGE_URL at start-up: what it accepts, and the one clear line for what it refuses."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from app.settings import SettingsError, load_settings
from app.storage.location import StorageLocation, parse_storage_url

DATA = Path("/srv/datasync")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", StorageLocation(folder=DATA / "files")),
        ("/mnt/files", StorageLocation(folder=Path("/mnt/files"))),
        ("relative/files", StorageLocation(folder=Path("relative/files"))),
        ("file:///mnt/files", StorageLocation(folder=Path("/mnt/files"))),
        ("s3://bucket", StorageLocation(url="s3://bucket")),
        ("s3://bucket/some/prefix/", StorageLocation(url="s3://bucket/some/prefix")),
        ("gs://bucket/prefix", StorageLocation(url="gs://bucket/prefix")),
        ("az://container/prefix", StorageLocation(url="az://container/prefix")),
    ],
)
def test_storage_url_names_a_local_folder_or_an_object_store(
    value: str, expected: StorageLocation
) -> None:
    assert parse_storage_url(value, DATA) == expected


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("ftp://host/files", "unsupported scheme 'ftp'"),
        ("https://example.com/files", "unsupported scheme 'https'"),
        ("s3:///prefix", "names no bucket"),
        ("s3://key:hunter2@bucket/prefix", "must not carry credentials"),
        ("s3://bucket/prefix?secret=hunter2", "must not carry credentials"),
        ("file://otherhost/files", "not a local folder"),
    ],
)
def test_a_bad_storage_url_stops_start_up_with_the_setting_and_the_fix(
    value: str, complaint: str
) -> None:
    environ = {"SECRET_KEY": secrets.token_urlsafe(48), "STORAGE_URL": value}
    with pytest.raises(SettingsError) as refused:
        load_settings(environ)
    message = str(refused.value)
    assert message.startswith("STORAGE_URL")
    assert complaint in message
    assert "hunter2" not in message


@pytest.mark.parametrize("seconds", ["0", "3601", "soon"])
def test_the_presigned_url_lifetime_must_be_a_short_positive_time(seconds: str) -> None:
    environ = {"SECRET_KEY": secrets.token_urlsafe(48), "STORAGE_PRESIGN_SECONDS": seconds}
    with pytest.raises(SettingsError, match="STORAGE_PRESIGN_SECONDS"):
        load_settings(environ)
