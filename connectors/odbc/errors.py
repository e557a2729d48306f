"""Driver errors turned into the typed errors the engine understands.

ODBC diagnostics carry a SQLSTATE and the server's native error number; both pyodbc
(`('28000', '[28000] [...] Login failed ... (18456)')`) and arrow-odbc
(`State: 28000, Native error: 18456, Message: ...`) put them in the message text, so
classification reads them from there. SQL Server native numbers are more precise than
SQLSTATE (4060 "cannot open database" arrives as 42000 like a syntax error, and FreeTDS
reports a login failure as 42000), so they win where known.

What reaches the user is what they can act on: wrong user or password, database unknown or
not accessible, host unreachable or refusing, timeout, TLS or certificate trouble, or the
server's own sentence about the query. Never the service's file paths or library names:
the driver manager's answers ("[unixODBC][Driver Manager]Can't open lib '/path' : file not
found") are replaced whole, and paths or `*.so` names left in any other text are blanked.

A connection that could not be made is told apart by what happened, each naming the
destination (`could not connect to db.example.com:5432 (10.0.0.5): ...`) and what to check:
refused, the name not in DNS (hosts.py, before any driver runs), nothing answering, a
server that accepted but never finished the login, and TLS. The drivers' own words for
these differ and are partly missing (reachability.py), so `connect_failure` asks the
network once after the last attempt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from connectors.base import AuthError, ConfigError, ConnectorError, TransientError
from connectors.odbc.connection_string import scrub
from connectors.odbc.reachability import Destination, Reach

# SQL Server native error numbers.
_AUTH_NATIVE = {
    18456,  # login failed
    18452,  # login from an untrusted domain
    18470,  # account disabled
    18486,  # account locked out
    18487,  # password expired
    18488,  # password must be changed
    229,  # permission denied on object
    230,  # permission denied on column
    262,  # permission denied in database
    300,  # VIEW SERVER STATE etc. denied
    916,  # principal cannot access the database under the current security context
}
_DATABASE_NATIVE = {
    4060,  # cannot open database requested by the login
    911,  # database does not exist
}
_CONFIG_NATIVE = {
    208,  # invalid object name
    207,  # invalid column name
    102,  # incorrect syntax
    156,  # incorrect syntax near keyword
    195,  # not a recognized built-in function
    2812,  # could not find stored procedure
    8114,
    245,  # conversion failed
    8115,  # arithmetic overflow
    241,  # date conversion failed
}
_TRANSIENT_NATIVE = {
    1205,  # chosen as deadlock victim
    -2,  # timeout expired
    233,  # no process on the other end of the pipe
    10053,  # connection aborted
    10054,  # connection reset
    10060,  # connection timed out
    40197,  # Azure: service error processing the request
    40501,  # Azure: service busy
    40613,  # Azure: database unavailable
    49918,
    49919,
    49920,  # Azure: too many requests
    1222,  # lock request timeout
}

_POSTGRES_AUTH_MESSAGES = (
    "password authentication failed",
    "no pg_hba.conf entry",
    "permission denied",
)

_STATE = re.compile(r"State: ([0-9A-Z]{5})|\('([0-9A-Z]{5})',|\[([0-9A-Z]{5})\]")
_NATIVE = re.compile(r"Native error: (-?\d+)|\((-?\d+)\) \(SQL\w+\)")
# Vendor prefixes like "[Microsoft][ODBC Driver 18 for SQL Server][SQL Server]" say
# nothing to a user; the server's sentence after them is what helps.
_VENDOR_PREFIX = re.compile(r"^(\s*\[[^\]]*\])+\s*")
# An absolute path where a word could start (not the `/` of `a/b`), and shared libraries.
_PATH = re.compile(r"(?<![^\s'\"(\[=:,])/[\w.+~-]+(?:/[\w.+~-]*)*")
_LIBRARY = re.compile(r"\b[\w.+-]*\.so(?:\.\d+)*\b")
_TLS_WORDS = ("ssl", "tls", "certificate")


def sqlstate(message: str) -> str | None:
    match = _STATE.search(message)
    return next((g for g in match.groups() if g), None) if match else None


def native_error(message: str) -> int | None:
    match = _NATIVE.search(message)
    if not match:
        return None
    return int(next(g for g in match.groups() if g))


def server_message(message: str) -> str:
    """The human part of a diagnostic: the server's sentence without vendor prefixes,
    SQLSTATE or the ODBC function name."""
    text = message.split("Message: ", 1)[1] if "Message: " in message else message
    text = _VENDOR_PREFIX.sub("", text.strip())
    text = re.sub(r"\s*(\(-?\d+\)\s*)?\(SQL\w+\)\s*$", "", text)
    return text.splitlines()[0].rstrip(";").strip() if text else message.strip()


def without_paths(text: str) -> str:
    """`text` with file paths and library names blanked."""
    return _LIBRARY.sub("[library]", _PATH.sub("[path]", text))


def _from_driver_manager(raw: str, state: str) -> bool:
    return "[Driver Manager]" in raw or state.startswith("IM")


def _read(exc: BaseException, secrets: Iterable[str | None]) -> tuple[str, str, int | None, str]:
    """(raw diagnostic, SQLSTATE or "", native error, the human part), all scrubbed."""
    raw = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else str(exc)
    raw = scrub(raw if raw else repr(exc), secrets)
    text = without_paths(scrub(server_message(raw), secrets))
    return raw, sqlstate(raw) or "", native_error(raw), text


def _is_tls_failure(state: str, lowered: str) -> bool:
    """08001 is "client unable to establish connection"; the drivers put OpenSSL's or
    libpq's words about it in the message (measured: "SSL Provider: [...certificate verify
    failed...]" from Microsoft's driver, "server does not support SSL, but SSL was
    required" and "server certificate ... does not match host name" from libpq)."""
    return state == "08001" and any(w in lowered for w in _TLS_WORDS)


def _network_level(state: str) -> bool:
    """No session came about: the connection could not be made or set up (08xxx), or the
    driver gave up waiting (HYT00, HYT01)."""
    return state.startswith("08") or state in ("HYT00", "HYT01")


def classify(
    exc: BaseException, *, secrets: Iterable[str | None], streaming: bool = False
) -> ConnectorError:
    """The typed error for a driver exception, its message scrubbed of `secrets`.

    `streaming` says rows were already flowing: the query compiled and the login
    worked, so an unrecognised failure then is most likely the connection (FreeTDS
    reports a reset socket as `HY000 Unknown error`)."""
    raw, state, native, text = _read(exc, secrets)

    if _from_driver_manager(raw, state):
        return ConfigError(
            "the service could not load the ODBC driver for this data source; choose one of "
            "the service's drivers in settings.driver, or ask the operator",
            field="settings.driver",
        )
    if "not large enough to hold a single row" in raw:
        return ConfigError(
            "a row of this query can be longer than the connector's 64 MiB batch buffer; "
            "lower settings.maxTextSize / settings.maxBinarySize or select fewer long text "
            "or binary columns",
            field="settings.maxTextSize",
        )

    if "Timestamp is not representable in arrow" in raw:
        return ConfigError(
            "a datetime2/timestamp value lies outside 1677-09-21..2262-04-11, which "
            "nanosecond timestamps cannot hold; CAST that column to datetime2(6) or to "
            "varchar in the query",
            field="config.query",
        )
    if "too large to be written into the allocated buffer" in raw:
        return ConfigError(
            "a text or binary value is longer than the connector's buffer; raise "
            "settings.maxTextSize / settings.maxBinarySize for this data source",
            field="settings.maxTextSize",
        )
    lowered = text.lower()
    # psqlODBC reports libpq connection failures as 08001 with the server's FATAL text
    # and no PostgreSQL SQLSTATE, so these are recognised by their (stable) wording.
    if re.search(r'database ".*" does not exist', lowered):
        return ConfigError(text, field="config.databaseName")
    if re.search(r'role ".*" does not exist', lowered) or any(
        m in lowered for m in _POSTGRES_AUTH_MESSAGES
    ):
        return AuthError(f"the database refused the credentials or access: {text}")
    if "read-only transaction" in lowered:
        return ConfigError(
            f"the query tried to write, which is not allowed: {text}", field="config.query"
        )
    if native in _DATABASE_NATIVE or state == "3D000":  # 3D000: PostgreSQL unknown database
        return ConfigError(text, field="config.databaseName")
    if native in _CONFIG_NATIVE:
        return ConfigError(text, field="config.query")
    if native in _AUTH_NATIVE or state.startswith("28") or state in ("42501",):
        return AuthError(f"the database refused the credentials or access: {text}")
    if not streaming and _is_tls_failure(state, lowered):
        return ConfigError(
            f"the encrypted connection could not be set up (check the encryption and "
            f"certificate settings): {text}"
        )
    if (
        native in _TRANSIENT_NATIVE
        or state.startswith("08")
        or state in ("HYT00", "HYT01", "40001", "40P01", "57014", "57P01", "57P03", "53300")
    ):
        return TransientError(f"the database connection failed or timed out: {text}")
    if state.startswith(("42", "22", "21", "23", "3F", "0A")):
        return ConfigError(text, field="config.query")
    if streaming:
        return TransientError(f"the database connection failed while reading rows: {text}")
    return TransientError(f"the database reported an unexpected error: {text}")


def connect_failure(
    exc: BaseException,
    error: ConnectorError,
    *,
    secrets: Iterable[str | None],
    destination: Destination,
    probe: Callable[[], Reach | None],
    timed_out: bool,
    login_timeout: int,
    server_kind: str,
    tls_settings: str,
) -> ConnectorError:
    """`error`, the classified failure of the last connect attempt, told the way the user
    can act on it: what happened, at which destination, what to check. The type stays
    `error`'s (a retry decision was already made on it). `probe` asks the network and is
    called only for a network-level failure; `timed_out` says the attempt lasted its whole
    login timeout; `server_kind` ("SQL Server") and `tls_settings` (which settings decide
    encryption) word the advice."""
    _raw, state, _native, text = _read(exc, secrets)
    where = f"could not connect to {destination}"
    if isinstance(error, ConfigError) and _is_tls_failure(state, text.lower()):
        return ConfigError(
            f"{where}: the encrypted connection could not be set up ({text}). Check {tls_settings}."
        )
    if not isinstance(error, TransientError) or not _network_level(state):
        return error
    reach = probe()
    timed_out = timed_out or state in ("HYT00", "HYT01")
    budget = f"the {login_timeout} s login timeout"
    if reach is Reach.REFUSED:
        message = (
            f"{where}: the connection was refused (nothing is listening on that port). "
            f"Check the server name and port, and that {server_kind} is running there and "
            "accepts TCP/IP connections."
        )
    elif reach is Reach.SILENT:
        message = (
            f"{where}: nothing answered within {budget}. Check the server name and port, "
            "and that a firewall lets this service reach the server."
        )
    elif timed_out and reach is Reach.LISTENING:
        message = (
            f"{where}: the server accepted the connection but did not complete the "
            f"{server_kind} login within {budget}. Check that this port is {server_kind}'s, "
            "or raise settings.loginTimeoutSeconds if the server is slow to answer."
        )
    elif timed_out:
        message = (
            f"{where}: no answer within {budget} ({text}). Check the server name, and that "
            f"{server_kind} is running there and reachable from this service."
        )
    else:
        message = f"{where}: {text}"
    return TransientError(message, retry_after=error.retry_after)
