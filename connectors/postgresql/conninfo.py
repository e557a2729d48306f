"""The libpq connection string the ADBC path connects with, written by the service from a
checked PostgresLogin (login.py), never passed on as a tenant typed it.

libpq's keyword=value form with every value single-quoted (a backslash escapes `'` and
`\\` inside), so a password or database name holding spaces, quotes or `=` stays one value.
Only these keywords are written; a tenant's connection string names the same few fields
(login.py refuses every other keyword), so nothing a tenant types can add `options`
(session settings that could undo the read-only transaction), `sslrootcert`, `passfile`,
`service` (files of the service) or a second host.

`host` stays the name as typed, which libpq checks the server's certificate against with
sslmode=verify-full, while `hostaddr`, the address the network policy checked, is where it
connects (libpq's documented rule for host + hostaddr). The root certificate is the
service's (~/.postgresql/root.crt of the service's user, or PGSSLROOTCERT), as with psqlODBC.
"""

from __future__ import annotations

from connectors.postgresql.login import APPLICATION_NAME, PostgresLogin


def quoted(value: str) -> str:
    """`value` as one libpq conninfo value."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def conninfo(login: PostgresLogin, database: str, address: str, connect_timeout: int) -> str:
    """Connects to `address` (the checked address of `login.host`) within `connect_timeout`
    whole seconds (libpq's unit)."""
    pairs = {
        "host": login.host,
        "hostaddr": address,
        "port": str(login.port),
        "dbname": database,
        "user": login.username,
        "password": login.password,
        "sslmode": login.sslmode,
        "connect_timeout": str(connect_timeout),
        "application_name": APPLICATION_NAME,
    }
    return " ".join(f"{keyword}={quoted(value)}" for keyword, value in pairs.items())
