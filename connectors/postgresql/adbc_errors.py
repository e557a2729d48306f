"""ADBC driver errors told the way psqlODBC's are, so that one classification
(connectors/odbc/errors.py) decides auth, not found, configuration, TLS and transient
failures for both paths, and one `connect_failure` words what the user is told.

The ADBC driver raises `adbc_driver_manager.Error` whose text wraps libpq's or the
server's sentence in its own words, and often the whole query:
- `IO: [libpq] Failed to connect: connection to server at "10.0.0.5", port 5432 failed:
  FATAL:  password authentication failed for user "u"` (no SQLSTATE: libpq has none for a
  failed connection, and psqlODBC reports the same sentence as 08001);
- `INVALID_ARGUMENT: Failed to prepare query: ERROR:  relation "x" does not exist\\nLINE 1:
  ...\\n\\nQuery was: ... SQLSTATE: 42P01` (the SQLSTATE is also `error.sqlstate`).
What is kept is the sentence, first line only (never the query text), under the SQLSTATE
the server gave. Errors from reading the stream arrive as pyarrow errors (OSError for the driver's IO
status) with the same text and no SQLSTATE; a trailing `SQLSTATE: xxxxx` in the text is
read then, and a statement timeout is recognised by its sentence.
"""

from __future__ import annotations

import re

_CONNECT_PREFIX = "Failed to connect: "
_SERVER_SENTENCE = re.compile(r"\b(?:ERROR|FATAL|PANIC):\s+")
_DRIVER_PREFIX = re.compile(r"^\s*[A-Z_]+: (?:\[libpq\] )?")
_TRAILING_SQLSTATE = re.compile(r"SQLSTATE: ([0-9A-Z]{5})\s*$")
# Without a SQLSTATE: a failed connect is 08001, as psqlODBC reports it; the driver's IO
# status after that means the connection broke (08006).
_CONNECT_FAILED = "08001"
_CONNECTION_LOST = "08006"
_IO_STATUS = "IO: "
# The one server sentence a stream's error is recognised by, having lost its SQLSTATE.
_CANCELED = ("canceling statement due to", "57014")


def sentence(text: str) -> str:
    """The server's or libpq's sentence in an ADBC error's text, first line only."""
    if _CONNECT_PREFIX in text:
        text = text.split(_CONNECT_PREFIX, 1)[1]
    else:
        found = _SERVER_SENTENCE.search(text)
        text = text[found.start() :] if found else _DRIVER_PREFIX.sub("", text)
        text = text.split("\nQuery was:", 1)[0]
    first = text.strip().splitlines()[0] if text.strip() else ""
    return _TRAILING_SQLSTATE.sub("", first).rstrip(" .")


def as_diagnostic(error: BaseException, *, connecting: bool = False) -> Exception:
    """`error` in the ODBC diagnostic form (`State: ..., Message: ...`) errors.py reads."""
    text = str(error)
    state = getattr(error, "sqlstate", None)
    if not state:
        trailing = _TRAILING_SQLSTATE.search(text)
        state = trailing.group(1) if trailing else None
    if not state and connecting:
        state = _CONNECT_FAILED
    elif not state and _CANCELED[0] in text:
        state = _CANCELED[1]
    elif not state and (isinstance(error, OSError) or text.lstrip().startswith(_IO_STATUS)):
        state = _CONNECTION_LOST
    return Exception(f"State: {state or ''}, Native error: 0, Message: {sentence(text)}")
