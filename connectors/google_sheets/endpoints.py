"""Which Google endpoints a data source may aim the workers at.

Users can override the Sheets API root and the token endpoint (sovereign or private
endpoints), and a service-account key carries its own `token_uri`. Each of those is a URL a
worker will send credentials to, so each must name a Google public host or a host the
operator put in ENDPOINT_ALLOWLIST: users must not turn the workers against internal
addresses.
"""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_SHEETS_API_ROOT = "https://sheets.googleapis.com"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"

# Hosts Google's own keys and libraries use; older service-account keys name the two last.
GOOGLE_PUBLIC_HOSTS = frozenset(
    {"sheets.googleapis.com", "oauth2.googleapis.com", "www.googleapis.com", "accounts.google.com"}
)


def host_is_allowed(host: str, allowed_hosts: frozenset[str]) -> bool:
    """Exact host names; an allowlist entry `*.example.com` admits its subdomains."""
    host = host.lower().rstrip(".")
    for entry in allowed_hosts | GOOGLE_PUBLIC_HOSTS:
        entry = entry.strip().lower()
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if host == entry:
            return True
    return False


def endpoint_problem(url: object, allowed_hosts: frozenset[str]) -> str | None:
    """Why `url` cannot be used as an endpoint, or None when it can.

    Google's hosts must be reached over https. Plain http is accepted only for hosts the
    operator listed explicitly (a private endpoint or a local stand-in is their call)."""
    if not isinstance(url, str) or not url.strip():
        return "must be an https URL"
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an absolute https URL such as https://sheets.googleapis.com"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "must not contain credentials, a query or a fragment"
    host = parts.hostname
    if not host_is_allowed(host, allowed_hosts):
        return (
            f"host {host!r} is not allowed; the operator must add it to ENDPOINT_ALLOWLIST "
            "(Google's public hosts are always allowed)"
        )
    if parts.scheme == "http" and host.lower() not in {h.lower() for h in allowed_hosts}:
        return "must use https"
    return None
