"""Database hosts as a tenant types them: checked in form, then resolved and checked as
addresses before any connection.

A host is a DNS name or an IP address (IPv6 with or without brackets), nothing else: not a
Unix socket directory (libpq reads `/var/run/postgresql` as one and would log in as the
service's own OS user), not a list (libpq tries each host of `a,b`), not a protocol prefix
the driver would act on.

At connect time the host is resolved once and every address it resolves to is checked
against the operator's network policy (connectors.network_policy: loopback, link-local,
metadata... refused unless listed in SQL_ALLOWED_NETWORKS). The driver is then given the
checked address, so a DNS answer cannot change between the check and the connection, and a
refused host is refused before anything is sent to it: the answer is the same whatever
listens there.
"""

from __future__ import annotations

import ipaddress
import re

from connectors.base import ConfigError, TransientError
from connectors.network_policy import (
    AddressRefused,
    IPAddress,
    LookupUnavailable,
    NameNotFound,
    NetworkPolicy,
    resolve_checked,
)

_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")

FORM = "a host name or an IP address"


def unbracketed(host: str) -> str:
    """`[::1]` -> `::1`: brackets only delimit an IPv6 address."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(unbracketed(host))
    except ValueError:
        return None


def host_problem(host: str) -> str | None:
    """Why `host` is not a single host name or IP address, or None."""
    if ip_literal(host) is not None:
        return None
    if host.startswith("[") and host.endswith("]"):
        return "has brackets, which only an IPv6 address may have"
    name = host[:-1] if host.endswith(".") else host
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        return f"must be {FORM} (letters, digits, '-', '_' and dots)"
    return None


def checked_address(host: str, port: int, policy: NetworkPolicy, shown: str) -> str:
    """The address to connect to for `host`, after the network policy allowed every address
    it resolves to; ConfigError (credentials.server) otherwise, naming the destination as
    `shown` when the name does not resolve. Blocking (DNS)."""
    try:
        return resolve_checked(unbracketed(host), port, policy)
    except NameNotFound:
        raise ConfigError(
            f"could not connect to {shown}: the host name {unbracketed(host)!r} was not "
            "found in DNS (it does not resolve). Check the server name for a typo, or "
            "give the server's IP address.",
            field="credentials.server",
        ) from None
    except AddressRefused as refused:
        raise ConfigError(str(refused), field="credentials.server") from None
    except LookupUnavailable as unavailable:
        raise TransientError(
            f"could not connect to {shown}: {unavailable}. This is usually brief; if it "
            "lasts, the operator should check the DNS servers this service uses."
        ) from None
