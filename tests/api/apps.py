"""Apps built with settings of a test's own (host JWTs, low rate limits, a dead Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar.testing import TestClient

from app.db.migrate import upgrade_to_head
from app.main import create_app
from app.settings import load_settings


@contextmanager
def app_with(service_env: dict[str, str], **overrides: str) -> Iterator[TestClient[Any]]:
    """A test client for the app configured like the suite's, plus `overrides`.

    The store is the suite's. It is migrated here too: the `settings` fixture migrates it
    only for the tests that ask for it, and a test run alone may not."""
    settings = load_settings({**service_env, **overrides})
    upgrade_to_head(settings)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client
