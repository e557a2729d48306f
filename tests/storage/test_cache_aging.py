"""An API process ages its machine's cache of downloaded objects as the workers do: it reads
snapshots into it to build change sets, and a machine may run the API alone."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from obstore.store import LocalStore

from app.settings import load_settings
from app.storage.remote import RemoteObjectStore
from app.storage.sweep import keep_cache_aged
from app.sync.csv_store import CsvStore


def test_the_api_removes_cached_copies_unread_for_the_grace_period(tmp_path: Path) -> None:
    settings = load_settings(
        {"DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": "x" * 48, "JOB_TIMEOUT_SECONDS": "60"}
    )
    objects = RemoteObjectStore(LocalStore(tmp_path / "bucket", mkdir=True), tmp_path / "cache")
    store = CsvStore(objects, tmp_path / "staging")
    for name in ("old", "recent"):
        staged = tmp_path / "staged"
        staged.write_bytes(name.encode())
        objects.put_file(f"file/{name}.parquet", staged)
    old, recent = (objects.local_copy(f"file/{n}.parquet") for n in ("old", "recent"))
    # Unread for longer than the job timeout plus the hour's margin, and read a minute ago.
    for copy, age in ((old, timedelta(hours=2, minutes=1)), (recent, timedelta(minutes=1))):
        then = (datetime.now(UTC) - age).timestamp()
        os.utime(copy, (then, then))

    async def age_until_the_old_copy_is_gone() -> None:
        aging = asyncio.create_task(keep_cache_aged(store, settings, tick=0.01))
        deadline = time.monotonic() + 10
        while old.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        aging.cancel()

    asyncio.run(age_until_the_old_copy_is_gone())

    assert not old.exists()
    assert recent.read_bytes() == b"recent"
