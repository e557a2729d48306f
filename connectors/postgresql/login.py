"""What a postgresql data source's credentials say, read under one set of rules, and the
connection string the service writes from them.

Credentials are fields, `{server, port?, username, password, database?, sslmode?}`, or
`{connectionString}`; both become one PostgresLogin, at save time and again before every
connection (connectors/sqlserver/login.py explains why).

Connection-string keywords (any case): SERVER (or Servername), PORT, DATABASE, UID (or
Username), PWD (or Password), SSLmode (disable, allow, prefer, require, verify-ca,
verify-full). Every other keyword is refused by name, among them: DRIVER, DSN, FILEDSN,
SAVEFILE; pqopt (raw libpq options: sslrootcert, sslcert, sslkey, passfile and service read
files, host and hostaddr pick another host), ConnSettings (SQL run at connect: it could undo
the read-only session), CommLog, Debug (write logs), and psqlODBC's two-letter abbreviations
of all of these (A6 is ConnSettings).

With `sslmode=verify-full` libpq checks the certificate against SERVER while it connects to
`hostaddr`, the checked address (libpq's documented rule for host + hostaddr); the root
certificate is the service's (~/.postgresql/root.crt of the service's user), never a path a
tenant names.

psqlODBC keeps braces as part of a database or user name (measured: `DATABASE={a;b}` asks
for the database "{a;b}"), so names that would need braces are refused rather than changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.base import JSON, Problem
from connectors.odbc import connection_string, hosts

APPLICATION_NAME = "DataSync"
DEFAULT_PORT = 5432
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

KEYWORDS = {
    "server": "SERVER",
    "servername": "SERVER",
    "port": "PORT",
    "database": "DATABASE",
    "uid": "UID",
    "username": "UID",
    "pwd": "PWD",
    "password": "PWD",
    "sslmode": "SSLmode",
}
_BRACED_NAME = "cannot contain ';', '{', '}', '=' or start or end with a space (psqlODBC)"


@dataclass(frozen=True, slots=True)
class PostgresLogin:
    """`host` as typed (an IPv6 address without brackets)."""

    host: str
    port: int
    username: str
    password: str
    database: str | None
    sslmode: str
    from_connection_string: bool = False

    def field(self, name: str) -> str:
        return (
            "credentials.connectionString" if self.from_connection_string else f"credentials.{name}"
        )


def name_problem(name: str) -> str | None:
    """Why psqlODBC cannot be given `name` as a database or user name, or None."""
    return _BRACED_NAME if connection_string.needs_braces(name) else None


def read_login(credentials: JSON) -> tuple[PostgresLogin | None, list[Problem]]:
    """The login the credentials describe, or None and what is wrong."""
    given = credentials.get("connectionString")
    if given is not None:
        return _from_connection_string(given)
    return _from_fields(credentials)


def _from_fields(credentials: JSON) -> tuple[PostgresLogin | None, list[Problem]]:
    problems: list[Problem] = []
    for key in ("server", "username", "password"):
        value = credentials.get(key)
        if not isinstance(value, str) or not value:
            problems.append(Problem(f"credentials.{key}", "is required (a non-empty string)"))
    server = credentials.get("server")
    if isinstance(server, str) and server:
        problem = hosts.host_problem(server.strip())
        if problem:
            problems.append(Problem("credentials.server", problem))
    port = credentials.get("port")
    if port is not None and not (
        isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535
    ):
        problems.append(Problem("credentials.port", "must be an integer from 1 to 65535"))
    database = credentials.get("database")
    if database is not None and (not isinstance(database, str) or not database):
        problems.append(Problem("credentials.database", "must be a database name"))
    for key in ("username", "database"):
        value = credentials.get(key)
        problem = name_problem(value) if isinstance(value, str) and value else None
        if problem:
            problems.append(Problem(f"credentials.{key}", problem))
    sslmode = credentials.get("sslmode")
    if sslmode is not None and sslmode not in SSL_MODES:
        problems.append(Problem("credentials.sslmode", f"must be one of: {', '.join(SSL_MODES)}"))
    if problems:
        return None, problems
    return PostgresLogin(
        host=hosts.unbracketed(str(server).strip()),
        port=port or DEFAULT_PORT,
        username=credentials["username"],
        password=credentials["password"],
        database=database,
        sslmode=sslmode or "prefer",
    ), []


def _from_connection_string(given: Any) -> tuple[PostgresLogin | None, list[Problem]]:
    def refused(message: str) -> tuple[None, list[Problem]]:
        return None, [Problem("credentials.connectionString", message)]

    pairs, problem = connection_string.tenant_pairs(given, KEYWORDS)
    if problem or pairs is None:
        return refused(problem or "must be a non-empty string")
    problem = hosts.host_problem(pairs["SERVER"].strip())
    if problem:
        return refused(f"SERVER {problem}")
    for keyword in ("UID", "DATABASE"):
        problem = name_problem(pairs[keyword]) if pairs.get(keyword) else None
        if problem:
            return refused(f"{keyword} {problem}")
    sslmode = pairs.get("SSLmode", "prefer").strip().lower()
    if sslmode not in SSL_MODES:
        return refused(f"SSLmode must be one of: {', '.join(SSL_MODES)}")
    port_text = pairs.get("PORT", str(DEFAULT_PORT)).strip()
    if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
        return refused("PORT must be a number from 1 to 65535")
    return PostgresLogin(
        host=hosts.unbracketed(pairs["SERVER"].strip()),
        port=int(port_text),
        username=pairs["UID"],
        password=pairs["PWD"],
        database=pairs.get("DATABASE") or None,
        sslmode=sslmode,
        from_connection_string=True,
    ), []


def connection_pairs(
    login: PostgresLogin,
    driver_target: str,
    database: str,
    address: str | None,
    session_sql: str,
) -> dict[str, str | None]:
    """The pairs psqlODBC gets. SERVER stays the typed host (libpq checks certificates
    against it); `address`, the checked address, goes to libpq as hostaddr through pqopt,
    which psqlODBC hands to libpq (measured: with an unresolvable SERVER and hostaddr set,
    it connects to hostaddr). None only to show or test the string, never to connect.

    No connect_timeout here: psqlODBC passes each connection's ODBC login timeout to libpq
    as connect_timeout, and refuses to connect when pqopt names a different one
    ("connect_timeout parameter in pqopt option conflicts with other ordinary option",
    measured with psqlODBC 13.02). A retry gets what is left of the budget as its login
    timeout, so a fixed value here failed every retry; the login timeout is the one
    number. (libpq waits at least 2 s: a 1 s login timeout waits 2 s.)"""
    libpq_options = [
        *([f"hostaddr={address}"] if address else []),
        f"application_name={APPLICATION_NAME}",
    ]
    return {
        "DRIVER": driver_target,
        "SERVER": login.host,
        "PORT": str(login.port),
        "DATABASE": database,
        "UID": login.username,
        "PWD": login.password,
        "SSLmode": login.sslmode,
        "pqopt": " ".join(libpq_options),
        "ConnSettings": session_sql,
    }
