"""STORAGE_URL at start-up: what it accepts, and the one clear line for what it refuses."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import SettingsError, load_settings
from app.storage.location import FIX, StorageLocation, parse_storage_url

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


def test_an_object_store_whose_client_lacks_its_settings_stops_start_up_saying_which(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT", "AZURE_ACCOUNT_NAME"):
        monkeypatch.delenv(name, raising=False)
    environ = {"SECRET_KEY": secrets.token_urlsafe(48), "STORAGE_URL": "az://container/prefix"}
    with pytest.raises(SettingsError) as refused:
        load_settings(environ)
    assert str(refused.value).startswith("STORAGE_URL 'az://container/prefix' could not be opened")
    assert "Account must be specified" in str(refused.value)


def test_a_worker_with_a_bad_storage_url_exits_at_once_with_one_line_naming_it(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATA_DIR": str(tmp_path),
        "STORAGE_URL": "ftp://files.example.com/datasync",
    }
    finished = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        "datasync: configuration error: STORAGE_URL has the unsupported scheme 'ftp': " + FIX
    ]
