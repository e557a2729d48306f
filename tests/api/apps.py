"""Apps built with settings of a test's own (host JWTs, low rate limits, a dead Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar.testing import TestClient

from app.main import create_app
from app.settings import load_settings


@contextmanager
def app_with(service_env: dict[str, str], **overrides: str) -> Iterator[TestClient[Any]]:
    """A test client for the app configured like the suite's, plus `overrides`.

    The store is the suite's (already migrated by the `settings` fixture)."""
    settings = load_settings({**service_env, **overrides})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client
