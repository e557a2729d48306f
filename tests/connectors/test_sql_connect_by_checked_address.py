# ruff: noqa: F811 - pytest fixtures imported from the stand-in are parameters here
"""The real drivers connect to the address the network policy checked, never to what a name
resolves to later, and still check TLS certificates against the name the tenant typed:
Microsoft's driver through HostNameInCertificate, libpq through host + hostaddr.

DNS is played by the test: names under `.example.test` resolve (for the service's own
lookup, socket.getaddrinfo) to 127.0.0.1, while the system resolver the drivers would use
knows nothing of them. A connection that works therefore went to the checked address.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from connectors.base import ConfigError, Environment
from connectors.network_policy import NetworkPolicy
from connectors.odbc import drivers
from connectors.postgresql import PostgresConnector
from connectors.sqlserver import SqlServerConnector
from tests.standins.tds.fixtures import (  # noqa: F401 - pytest fixtures
    PASSWORD,
    REPO_ROOT,
    SEED_DIR,
    USERNAME,
    TdsStandIn,
    sql_server_driver,
    tds_standin,
)

LOOPBACK_ALLOWED = Environment(
    database_network=NetworkPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
)
MICROSOFT = "ODBC Driver 18 for SQL Server"
CERTIFIED_NAME = "db.example.test"

_real_getaddrinfo = socket.getaddrinfo


@pytest.fixture
def test_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """`*.example.test` resolves to 127.0.0.1 for the service's lookup only."""

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".example.test"):
            host = "127.0.0.1"
        return _real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(socket.gaierror):  # the drivers' resolver does not know the name
        _real_getaddrinfo(CERTIFIED_NAME, 1433)


@dataclass(frozen=True)
class Certificates:
    ca: Path
    certificate: Path
    key: Path


def issue_certificate(directory: Path, name: str) -> Certificates:
    """A CA and a server certificate for `name` only (no IP address in it)."""

    def make(subject: str, issuer_key: Any, issuer: str, key: Any, ca: bool) -> x509.Certificate:
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = make("DataSync test CA", ca_key, "DataSync test CA", ca_key, ca=True)
    server = make(name, ca_key, "DataSync test CA", server_key, ca=False)
    paths = Certificates(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.certificate.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    paths.key.chmod(0o600)
    return paths


# --- SQL Server ------------------------------------------------------------------------------

# The TDS stand-in, presenting a certificate of the test's own instead of its self-signed one.
_TLS_STANDIN = """
import sys
from pathlib import Path
from pysqlbridge.certificate import load
from tests.standins.tds import server
certificate, key, seed, data, login = sys.argv[1:6]
user, _, password = login.partition(":")
standin = server.StandInServer(
    0, server.load_databases(Path(seed), Path(data)), "master", server.Logins({user: password})
)
standin.certificate = load(certificate, key)
print(f"listening on {standin.server_address[1]}", flush=True)
standin.serve_forever()
"""


@contextmanager
def tls_standin(certificates: Certificates, data_dir: Path) -> Iterator[int]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _TLS_STANDIN,
            str(certificates.certificate),
            str(certificates.key),
            str(SEED_DIR),
            str(data_dir),
            f"{USERNAME}:{PASSWORD}",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert process.stdout is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline().decode() if ready else ""
        assert line.startswith("listening on "), line
        yield int(line.split()[-1])
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_microsoft_driver_checks_the_certificate_for_the_typed_name_at_the_checked_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_dns: None
) -> None:
    if not (drivers.bundled_microsoft_driver() or MICROSOFT in drivers.registered()):
        pytest.skip("Microsoft's driver is not installed")
    certificates = issue_certificate(tmp_path, CERTIFIED_NAME)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))  # OpenSSL's trust store

    def connector(server: str, port: int) -> SqlServerConnector:
        credentials = {
            "server": server,
            "port": port,
            "username": USERNAME,
            "password": PASSWORD,
            "encrypt": True,
            "trustServerCertificate": False,
        }
        return SqlServerConnector(credentials, {"driver": MICROSOFT}, LOOPBACK_ALLOWED)

    with tls_standin(certificates, tmp_path / "data") as port:
        details = connector(CERTIFIED_NAME, port).test({"databaseName": "SalesDB"})
        assert details["serverVersion"].startswith("Microsoft SQL Server")
        for wrong in ("other.example.test", "127.0.0.1"):
            with pytest.raises(ConfigError) as raised:
                connector(wrong, port).test({"databaseName": "SalesDB"})
            assert "certificate" in raised.value.message
            assert raised.value.message.startswith(f"could not connect to {wrong}:{port}")
            assert "credentials.trustServerCertificate" in raised.value.message


def test_a_name_only_the_services_lookup_knows_is_reached_through_its_checked_address(
    tds_standin: TdsStandIn, sql_server_driver: str, test_dns: None
) -> None:
    connector = SqlServerConnector(
        tds_standin.credentials(server="rebinding.example.test"),
        {"driver": sql_server_driver},
        LOOPBACK_ALLOWED,
    )
    assert connector.test({"databaseName": "SalesDB"})["serverVersion"]


def test_a_stored_dumpfile_keyword_is_refused_and_freetds_writes_nothing(
    tds_standin: TdsStandIn, tmp_path: Path
) -> None:
    dump = tmp_path / "dump.log"
    stored = (
        f"SERVER={tds_standin.host},{tds_standin.port};UID={USERNAME};PWD={{{PASSWORD}}};"
        f"DUMPFILE={dump}"
    )
    connector = SqlServerConnector(
        {"connectionString": stored}, {"driver": "FreeTDS"}, LOOPBACK_ALLOWED
    )
    with pytest.raises(ConfigError) as raised:
        connector.test({"databaseName": "SalesDB"})
    assert raised.value.field == "credentials.connectionString"
    assert "DUMPFILE" in raised.value.message
    injected = SqlServerConnector(
        tds_standin.credentials(username=f"u}};DUMPFILE={dump};X={{"),
        {"driver": "FreeTDS"},
        LOOPBACK_ALLOWED,
    )
    with pytest.raises(ConfigError):
        injected.test({"databaseName": "SalesDB"})
    assert not dump.exists()


# --- PostgreSQL --------------------------------------------------------------------------------


def _postgres_binaries() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture
def tls_postgres() -> Iterator[tuple[int, Certificates]]:
    """A PostgreSQL of the test's own with TLS, its certificate for CERTIFIED_NAME only.
    PostgreSQL does not run as root; as root the server runs as the `postgres` user."""
    binaries = _postgres_binaries()
    runuser = shutil.which("runuser")
    if binaries is None or runuser is None or os.geteuid() != 0:
        pytest.skip("needs PostgreSQL's server binaries and root to run them as postgres")
    directory = Path(tempfile.mkdtemp(prefix="datasync-pg-tls-"))
    certificates = issue_certificate(directory, CERTIFIED_NAME)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def as_postgres(*args: str) -> None:
        subprocess.run([runuser, "-u", "postgres", "--", *args], check=True, capture_output=True)

    shutil.chown(directory, "postgres")
    for path in directory.iterdir():
        shutil.chown(path, "postgres")
    data = directory / "data"
    as_postgres(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    options = (
        f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c ssl=on "
        f"-c ssl_cert_file={certificates.certificate} -c ssl_key_file={certificates.key}"
    )
    pg_ctl = str(binaries / "pg_ctl")
    as_postgres(pg_ctl, "-D", str(data), "-l", str(directory / "log"), "-o", options, "-w", "start")
    try:
        yield port, certificates
    finally:
        as_postgres(pg_ctl, "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(directory, ignore_errors=True)


def test_libpq_checks_the_certificate_for_the_typed_name_while_connecting_to_hostaddr(
    tls_postgres: tuple[int, Certificates], monkeypatch: pytest.MonkeyPatch, test_dns: None
) -> None:
    port, certificates = tls_postgres
    monkeypatch.setenv("PGSSLROOTCERT", str(certificates.ca))  # the operator's root, not a tenant's

    def connector(server: str) -> PostgresConnector:
        credentials = {
            "server": server,
            "port": port,
            "username": "postgres",
            "password": "unused-fake",
            "database": "postgres",
            "sslmode": "verify-full",
        }
        return PostgresConnector(credentials, {}, LOOPBACK_ALLOWED)

    assert connector(CERTIFIED_NAME).test({})["serverVersion"].startswith("PostgreSQL")
    for wrong in ("other.example.test", "127.0.0.1"):
        with pytest.raises(ConfigError) as raised:
            connector(wrong).test({})
        assert "does not match host name" in raised.value.message
        assert raised.value.message.startswith(f"could not connect to {wrong}:{port}")
        assert "Check credentials.sslmode" in raised.value.message


def test_a_postgres_name_only_the_services_lookup_knows_is_reached_through_hostaddr(
    test_dns: None,
) -> None:
    connector = PostgresConnector(
        {
            "server": "rebinding.example.test",
            "username": "postgres",
            "password": "unused-fake",
            "database": "postgres",
        },
        {},
        LOOPBACK_ALLOWED,
    )
    assert connector.test({})["serverVersion"].startswith("PostgreSQL")
