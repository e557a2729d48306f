"""Whether a host name is on a list of allowed hosts (the operator's ENDPOINT_ALLOWLIST, a
connector's vendor hosts).

The rule, for every connector:
- an entry is a host name, matched exactly, or `*.` and a name, which admits every name
  below it (`*.example.com` admits a.example.com and a.b.example.com, not example.com
  itself, nor badexample.com);
- case, surrounding spaces and a trailing dot do not matter;
- names are compared in the ASCII form the HTTP client sends to DNS: an internationalised
  name is IDNA-encoded (UTS 46, as requests encodes it), so `bücher.example` and
  `xn--bcher-kva.example` are one host, and a look-alike spelling that maps to a listed
  name (full-width letters) is that name, as it would be when connecting;
- an IP address matches only an entry for the same address (`[::1]` and `::1` alike),
  never a wildcard;
- a name that cannot be encoded matches nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import idna

WILDCARD = "*."


def canonical_host(host: str) -> str | None:
    """`host` in the form hosts are compared in, or None when it is no valid host."""
    text = host.strip().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if not text:
        return None
    if text.isascii():
        # What requests sends as is; IDNA would refuse names such as `my_host.corp` that
        # DNS serves happily.
        name = text.lower()
        return name if all(name.split(".")) else None
    try:
        return idna.encode(text, uts46=True).decode()  # A-labels are ASCII
    except idna.IDNAError:
        return None


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_is_listed(host: str, entries: Iterable[str]) -> bool:
    """Whether `host` is one of `entries` under the rule above."""
    name = canonical_host(host)
    if name is None:
        return False
    for entry in entries:
        entry = entry.strip()
        if entry.startswith(WILDCARD):
            parent = canonical_host(entry[len(WILDCARD) :])
            if (
                parent is not None
                and not _is_address(name)
                and not _is_address(parent)
                and name.endswith("." + parent)
            ):
                return True
        elif canonical_host(entry) == name:
            return True
    return False
