"""Where a webhook may point: never at this machine or a private network, unless the
operator allows it (WEBHOOK_ALLOW_PRIVATE), so users cannot aim the workers at internal
services. Checked when a webhook is saved and again before every delivery (DNS changes).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class AddressRefused(ValueError):
    """Why a webhook URL may not be called, phrased for the user."""


def check_url_shape(url: str) -> str:
    """The host of an absolute http(s) URL without credentials; raises AddressRefused."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise AddressRefused(
            "must be an absolute http:// or https:// URL, e.g. https://hooks.example.com/datasync"
        )
    if parts.username or parts.password:
        raise AddressRefused(
            "must not contain a user name or password; use the signing secret instead"
        )
    if len(url) > 2048:
        raise AddressRefused("must be at most 2048 characters")
    return parts.hostname


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_destination(url: str, allow_private: bool) -> str:
    """Resolves the URL's host and refuses loopback, private, link-local (cloud metadata)
    and reserved addresses; returns the vetted address to connect to, so that DNS cannot
    answer differently between the check and the connection. Blocking: call it from a
    thread."""
    host = check_url_shape(url)
    port = urlsplit(url).port or (443 if url.startswith("https") else 80)
    try:
        # In the resolver's order of preference (RFC 6724), without repeats.
        addresses = list(
            dict.fromkeys(
                str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            )
        )
    except socket.gaierror:
        raise AddressRefused(f"the host {host!r} does not resolve") from None
    refused = sorted(a for a in addresses if not _public(a))
    if refused and not allow_private:
        raise AddressRefused(
            f"resolves to a non-public address ({', '.join(refused)}); webhooks must reach a public host "
            "(an operator can allow private addresses with WEBHOOK_ALLOW_PRIVATE=true)"
        )
    return addresses[0]


def pinned_request(url: str, address: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The URL rewritten to connect to `address`, with the Host header and (for https) the
    TLS server name of the original host, whose certificate is still verified."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    headers = {"Host": parts.netloc}
    extensions = {"sni_hostname": parts.hostname or ""} if parts.scheme == "https" else {}
    return parts._replace(netloc=netloc).geturl(), headers, extensions
