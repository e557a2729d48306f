"""Where a database connection goes, and what the network says about it when the driver
could not connect.

The drivers do not tell a closed port from a server that never answers, each in its own
way (measured on these machines):
- Microsoft's ODBC Driver 18 retries a refused port itself until the login timeout and then
  reports only HYT00 "Login timeout expired" (pyodbc sees the same single record).
- FreeTDS reports a refused port as 08S01 native 20009 "Unable to connect: Adaptive Server
  is unavailable or does not exist", and a server that accepts but never answers as HYT00.
- psqlODBC reports every libpq failure as 08001 native 101; only libpq's sentence, in the
  client's language, says "Connection refused" or "timeout expired".

So after a connection failed at the network level, the service asks the network itself:
one TCP connection to the checked address and port, closed again without a byte sent. It
runs only on that failure path, after the last attempt, and waits at most PROBE_SECONDS.
"""

from __future__ import annotations

import enum
import errno
import socket
from dataclasses import dataclass

PROBE_SECONDS = 1.0

# connect() errors that mean the network, not the server, gave up on the address.
_NO_ROUTE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


class Reach(enum.Enum):
    REFUSED = "refused"  # the host answered: nothing listens on the port
    SILENT = "silent"  # nothing answered in time, or the network has no route to it
    LISTENING = "listening"  # something accepted a TCP connection on the port


@dataclass(frozen=True, slots=True)
class Destination:
    """`host` as typed, `address` the checked address the driver is given, `port` the TCP
    port the driver connects to: None when the driver learns it itself (a SQL Server named
    instance, from the SQL Server Browser), and then `instance` names the instance."""

    host: str
    address: str
    port: int | None
    instance: str | None = None

    def __str__(self) -> str:
        """`db.example.com:5432 (10.0.0.5)`, `[::1]:1433`, `db\\SALES (10.0.0.5)`."""
        name = f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            shown = f"{name}:{self.port}"
        elif self.instance:
            shown = f"{name}\\{self.instance}"
        else:
            shown = name
        return shown if self.address == self.host else f"{shown} ({self.address})"


def probe(destination: Destination, timeout: float = PROBE_SECONDS) -> Reach | None:
    """What one TCP connection to the destination meets; None when the port is not known
    (the named instance's port is the driver's business). Blocking, at most `timeout`."""
    if destination.port is None:
        return None
    try:
        with socket.create_connection((destination.address, destination.port), timeout):
            return Reach.LISTENING
    except ConnectionRefusedError:
        return Reach.REFUSED
    except TimeoutError:
        return Reach.SILENT
    except OSError as failure:
        return Reach.SILENT if failure.errno in _NO_ROUTE else None
