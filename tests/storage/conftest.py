"""The S3 server the object-storage tests run against, once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.object_store_server import S3Server, running_s3_server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    # The obstore client reads its endpoint and credentials from the environment, as it
    # does in a deployment; they stay set for the session (nothing else reads them).
    with running_s3_server() as server, pytest.MonkeyPatch.context() as patch:
        for name, value in server.environment.items():
            patch.setenv(name, value)
        yield server
