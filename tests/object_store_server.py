"""A real S3 protocol server for the suite and the benchmark: moto's server mode, in a
process of its own on a free loopback port. The service reaches it as it would reach MinIO
or R2: `STORAGE_URL=s3://bucket/prefix` plus the standard AWS environment variables."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from tests.services import free_port, wait_for_port


@dataclass(frozen=True, slots=True)
class S3Server:
    endpoint: str
    bucket: str

    @property
    def environment(self) -> dict[str, str]:
        """What a process of the service needs besides STORAGE_URL to reach this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ALLOW_HTTP": "true",  # the server speaks plain http on loopback
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "datasync-test",
            "AWS_SECRET_ACCESS_KEY": "datasync-test-secret",
        }

    def new_url(self) -> str:
        """A storage URL under a prefix no other test uses."""
        return f"s3://{self.bucket}/{uuid.uuid4().hex}"


@contextmanager
def running_s3_server(bucket: str = "datasync-test") -> Iterator[S3Server]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=60)
        endpoint = f"http://127.0.0.1:{port}"
        # moto accepts an unsigned CreateBucket; the service itself never creates buckets.
        httpx.put(f"{endpoint}/{bucket}", timeout=30).raise_for_status()
        yield S3Server(endpoint, bucket)
    finally:
        process.terminate()
        process.wait(timeout=30)
