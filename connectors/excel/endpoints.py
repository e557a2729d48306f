"""Which Microsoft endpoints a data source may aim the workers at.

Users can override the identity platform (`authorityHost`) and the Graph root
(`graphBaseUrl`) for national clouds or private endpoints. Each is a URL a worker sends
credentials or tokens to, so each must name one of Microsoft's hosts for that endpoint over
https (a Graph URL may not name a sign-in host, nor the other way round), or a host the
operator put in ENDPOINT_ALLOWLIST (`connectors.toolkit.endpoint_overrides`).
"""

from __future__ import annotations

from connectors.base import JSON, Problem
from connectors.toolkit.endpoint_overrides import Endpoint, override_problems

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"

# Microsoft's public and national clouds.
MICROSOFT_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
    }
)
MICROSOFT_GRAPH_HOSTS = frozenset(
    {
        "graph.microsoft.com",
        "graph.microsoft.us",
        "dod-graph.microsoft.us",
        "microsoftgraph.chinacloudapi.cn",
    }
)

AUTHORITY = Endpoint("settings.authorityHost", MICROSOFT_AUTHORITY_HOSTS, DEFAULT_AUTHORITY_HOST)
GRAPH = Endpoint("settings.graphBaseUrl", MICROSOFT_GRAPH_HOSTS, DEFAULT_GRAPH_BASE_URL)


def endpoint_problems(settings: JSON, operator_hosts: frozenset[str]) -> list[Problem]:
    """What is wrong with the data source's endpoint overrides, each naming its field."""
    overrides = [(AUTHORITY, settings.get("authorityHost")), (GRAPH, settings.get("graphBaseUrl"))]
    return override_problems(overrides, operator_hosts)
