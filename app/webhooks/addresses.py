"""Where a webhook may point, so users cannot aim the workers at internal services.

A webhook URL is an absolute http(s) URL on an allowed port (80 and 443 unless
WEBHOOK_ALLOWED_PORTS says more) whose host resolves only to public addresses, judged by
`connectors.network_policy` (IPv6 forms that carry an IPv4 address count as that address).
WEBHOOK_ALLOW_PRIVATE=true admits private networks and this machine (loopback), for
receivers inside the company network or on the same host; link-local addresses (the cloud
metadata service) and the other special ranges stay refused whatever the setting.

Checked when a webhook is saved and again before every delivery (DNS answers change), and
the delivery connects to the address that was checked (`pinned_request`).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from app.settings import Settings
from connectors.network_policy import AddressRefused, NetworkPolicy, resolve_checked

MAX_URL_LENGTH = 2048
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MALFORMED = "is not a valid URL (check the host, and that a port is a number from 1 to 65535)"


def webhook_policy(settings: Settings) -> NetworkPolicy:
    if settings.webhook_allow_private:
        # Nothing to hint at: what stays refused, no setting allows.
        return NetworkPolicy(allowed_networks=_LOOPBACK, allow_private=True)
    return NetworkPolicy(
        allow_private=False,
        operator_hint="webhooks must reach a public host (an operator can allow private "
        "networks and this machine with WEBHOOK_ALLOW_PRIVATE=true)",
    )


def check_url(url: str, allowed_ports: frozenset[int] | None) -> tuple[str, int]:
    """The host and port of an acceptable webhook URL; raises AddressRefused. No network."""
    if len(url) > MAX_URL_LENGTH:
        raise AddressRefused(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bracketed host that is not an IPv6 address, a port out of range
        raise AddressRefused(_MALFORMED) from None
    if port == 0:
        raise AddressRefused(_MALFORMED)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise AddressRefused(
            "must be an absolute http:// or https:// URL, e.g. https://hooks.example.com/datasync"
        )
    if parts.username or parts.password:
        raise AddressRefused(
            "must not contain a user name or password; use the signing secret instead"
        )
    port = _DEFAULT_PORTS[parts.scheme] if port is None else port
    if allowed_ports is not None and port not in allowed_ports:
        ports = ", ".join(str(p) for p in sorted(allowed_ports))
        raise AddressRefused(
            f"uses port {port}, but webhooks may use only port(s) {ports} "
            "(an operator can allow more with WEBHOOK_ALLOWED_PORTS)"
        )
    return parts.hostname, port


def check_destination(url: str, settings: Settings) -> str:
    """Checks the URL and every address its host resolves to; returns the address to
    connect to, so that DNS cannot answer differently between the check and the connection.
    Raises AddressRefused. Blocking: call it from a thread."""
    host, port = check_url(url, settings.webhook_ports)
    return resolve_checked(host, port, webhook_policy(settings))


def pinned_request(url: str, address: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The URL rewritten to connect to `address`, with the Host header and (for https) the
    TLS server name of the original host, whose certificate is still verified."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    headers = {"Host": parts.netloc}
    extensions = {"sni_hostname": parts.hostname or ""} if parts.scheme == "https" else {}
    return parts._replace(netloc=netloc).geturl(), headers, extensions
