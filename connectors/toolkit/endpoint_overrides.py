"""Whether a URL a data source typed may replace one of its vendor's endpoints.

Users can aim a connector at sovereign clouds or private endpoints (Sheets' `sheetsBaseUrl`
and `tokenUri`, Graph's `graphBaseUrl` and `authorityHost`). Each is a URL a worker sends
credentials or tokens to, so it must be an absolute https URL on one of the vendor's hosts
for that endpoint, or on a host the operator listed in ENDPOINT_ALLOWLIST (the only hosts
plain http may name): users must not turn the workers against internal addresses. Hosts are
matched by `allowed_hosts.host_is_listed`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from connectors.base import Problem
from connectors.toolkit.allowed_hosts import host_is_listed


def endpoint_problem(
    url: object, vendor_hosts: frozenset[str], operator_hosts: frozenset[str], example: str
) -> str | None:
    """Why `url` cannot be an endpoint override, or None when it can."""
    if not isinstance(url, str) or not url.strip():
        return f"must be an https URL such as {example}"
    parts = urlsplit(url.strip())
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return f"must be an absolute https URL such as {example}"
    if parts.scheme not in ("https", "http") or not host:
        return f"must be an absolute https URL such as {example}"
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        return "must not contain credentials, a query or a fragment"
    operator_listed = host_is_listed(host, operator_hosts)
    if not operator_listed and not host_is_listed(host, vendor_hosts):
        return (
            f"host {host!r} is not allowed; the operator must add it to ENDPOINT_ALLOWLIST "
            f"(the vendor's own hosts are always allowed: {', '.join(sorted(vendor_hosts))})"
        )
    if parts.scheme == "http" and not operator_listed:
        return "must use https"
    return None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One overridable endpoint: the field that overrides it, the vendor's hosts for it,
    and an example shown when the URL is malformed."""

    field: str
    vendor_hosts: frozenset[str]
    example: str


def override_problems(
    overrides: Iterable[tuple[Endpoint, object]], operator_hosts: frozenset[str]
) -> list[Problem]:
    """A Problem for each given override (endpoint, URL) that may not be used; a URL of
    None means "not overridden"."""
    problems = []
    for endpoint, url in overrides:
        if url is None:
            continue
        problem = endpoint_problem(url, endpoint.vendor_hosts, operator_hosts, endpoint.example)
        if problem:
            problems.append(Problem(endpoint.field, problem))
    return problems
