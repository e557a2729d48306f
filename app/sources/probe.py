"""Connection tests in a child process with a hard deadline.

`POST /api/data-sources/{id}/test` runs a tenant's connector with what the tenant typed.
Drivers block in C (ODBC logins, TLS handshakes) and cannot be cancelled from Python: a
thread given up on keeps its socket and keeps running after the API has answered, and ten
tests against a host that never answers left ten threads and sockets behind. A child process
can always be ended. So the test runs in `python -m app.sources.probe`, which reads one JSON
request on stdin and writes one JSON answer on stdout; at the deadline the API kills it, and
the kernel closes whatever it had open. The web process also never loads a driver library.

The child gets the connector environment as data (never the service's own secrets: the
variables below are removed from its environment) and hands back rotated credentials (a
Microsoft refresh token redeemed during the test) for the API to seal and store.
Starting the child costs about a second (importing the connector's libraries).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.base import JSON, ConnectorError, Environment, TransientError
from connectors.credential_health import CredentialHealth
from connectors.network_policy import NetworkPolicy

log = logging.getLogger("datasync.sources")

# The service's own secrets: a connector has no business seeing them.
_WITHHELD_VARIABLES = frozenset({"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "JWT_SECRET"})
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEST_CONNECTION = "test"
CHECK_CREDENTIALS = "check-credentials"


class ProbeTimeout(Exception):
    """The test did not finish within its deadline; the child was killed."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    details: JSON | None = None
    error: ConnectorError | None = None
    rotated_credentials: list[JSON] = field(default_factory=list)


def environment_to_json(env: Environment) -> JSON:
    policy = env.database_network
    return {
        "allowedHosts": sorted(env.allowed_hosts),
        "databaseNetwork": {
            "allowedNetworks": [str(n) for n in policy.allowed_networks],
            "allowPrivate": policy.allow_private,
            "operatorHint": policy.operator_hint,
        },
        "odbcDrivers": list(env.odbc_drivers),
        "maxQueryTimeoutSeconds": env.max_query_timeout_seconds,
        "httpTimeoutSeconds": env.http_timeout_seconds,
    }


def environment_from_json(data: JSON, rotated: list[JSON]) -> Environment:
    policy = data["databaseNetwork"]
    return Environment(
        allowed_hosts=frozenset(data["allowedHosts"]),
        database_network=NetworkPolicy(
            allowed_networks=tuple(ipaddress.ip_network(n) for n in policy["allowedNetworks"]),
            allow_private=policy["allowPrivate"],
            operator_hint=policy["operatorHint"],
        ),
        odbc_drivers=tuple(data["odbcDrivers"]),
        max_query_timeout_seconds=data["maxQueryTimeoutSeconds"],
        http_timeout_seconds=data["httpTimeoutSeconds"],
        save_credentials=rotated.append,
    )


async def run_connection_test(
    source_type: str,
    credentials: JSON,
    source_settings: JSON,
    env: Environment,
    deadline_seconds: float,
    action: str = TEST_CONNECTION,
) -> ProbeResult:
    """Runs `connector.test(source_settings)` (or with `action=CHECK_CREDENTIALS`, its
    `credential_health()`: details are `{status, message, expiresAt}`, a null status for a
    connector without the check) in a child process; raises ProbeTimeout when it takes
    longer than `deadline_seconds` (the child is killed before this returns)."""
    request = json.dumps(
        {
            "type": source_type,
            "credentials": credentials,
            "settings": source_settings,
            "environment": environment_to_json(env),
            "action": action,
        }
    ).encode()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.sources.probe",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=_PROJECT_ROOT,
        env={k: v for k, v in os.environ.items() if k not in _WITHHELD_VARIABLES},
    )
    try:
        async with asyncio.timeout(deadline_seconds):
            stdout, stderr = await child.communicate(request)
    except TimeoutError:
        raise ProbeTimeout(f"The source did not answer within {deadline_seconds:g} s") from None
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    return _parse_answer(stdout, stderr, child.returncode)


def _parse_answer(stdout: bytes, stderr: bytes, returncode: int | None) -> ProbeResult:
    try:
        answer: JSON = json.loads(stdout)
    except ValueError:
        log.error(
            "connection test process failed",
            extra={"exit_code": returncode, "stderr": stderr.decode(errors="replace")[-2000:]},
        )
        raise RuntimeError("the connection test process failed") from None
    rotated = list(answer.get("rotatedCredentials") or [])
    if "error" in answer:
        error = answer["error"]
        kind = TransientError if error.get("transient") else ConnectorError
        return ProbeResult(error=kind(str(error["message"])), rotated_credentials=rotated)
    return ProbeResult(details=answer["details"], rotated_credentials=rotated)


def _answer(request: JSON) -> JSON:
    from connectors.registry import connector_class

    rotated: list[JSON] = []
    env = environment_from_json(request["environment"], rotated)
    connector = connector_class(request["type"])(request["credentials"], request["settings"], env)
    try:
        if request.get("action") == CHECK_CREDENTIALS:
            details = _health(connector)
        else:
            details = connector.test(dict(request["settings"]))
    except ConnectorError as exc:
        error = {"message": exc.message, "transient": isinstance(exc, TransientError)}
        return {"error": error, "rotatedCredentials": rotated}
    return {"details": details, "rotatedCredentials": rotated}


def _health(connector: Any) -> JSON:
    check = getattr(connector, "credential_health", None)
    if check is None:
        return {"status": None, "message": None, "expiresAt": None}
    health: CredentialHealth = check()
    expires_at = health.expires_at
    return {
        "status": health.status,
        "message": health.message,
        "expiresAt": expires_at.isoformat() if expires_at else None,
    }


def main() -> None:
    request: Any = json.loads(sys.stdin.buffer.read())
    answer = _answer(request)
    sys.stdout.write(json.dumps(answer, default=str))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
