"""Which Google endpoints a data source may aim the workers at.

Users can override the Sheets API root (`sheetsBaseUrl`) and the token endpoint
(`tokenUri`) for sovereign or private endpoints, and a service-account key carries its own
`token_uri`. Each is a URL a worker sends credentials to, so each must name one of Google's
hosts for that endpoint, over https, or a host the operator put in ENDPOINT_ALLOWLIST
(`connectors.toolkit.endpoint_overrides`): users must not turn the workers against
internal addresses, nor send a token request to the Sheets host or the other way round.
"""

from __future__ import annotations

from connectors.base import JSON, Problem
from connectors.toolkit.endpoint_overrides import Endpoint, override_problems

DEFAULT_SHEETS_API_ROOT = "https://sheets.googleapis.com"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
# Drive API v3 (file metadata for change detection); an overridden `sheetsBaseUrl` is used
# for it instead, so tokens go to no host the data source did not already name.
DEFAULT_DRIVE_API_ROOT = "https://www.googleapis.com"

SHEETS_API_HOSTS = frozenset({"sheets.googleapis.com"})
# Older service-account keys and libraries name the two last.
TOKEN_HOSTS = frozenset({"oauth2.googleapis.com", "www.googleapis.com", "accounts.google.com"})

SHEETS_API = Endpoint("settings.sheetsBaseUrl", SHEETS_API_HOSTS, DEFAULT_SHEETS_API_ROOT)
TOKEN = Endpoint("settings.tokenUri", TOKEN_HOSTS, DEFAULT_TOKEN_URI)
KEY_TOKEN = Endpoint("credentials.serviceAccountInfo.token_uri", TOKEN_HOSTS, DEFAULT_TOKEN_URI)


def endpoint_problems(
    credentials: JSON, settings: JSON, operator_hosts: frozenset[str]
) -> list[Problem]:
    """What is wrong with the data source's endpoint overrides, each naming its field."""
    overrides = [(SHEETS_API, settings.get("sheetsBaseUrl")), (TOKEN, settings.get("tokenUri"))]
    info = credentials.get("serviceAccountInfo")
    if isinstance(info, dict) and "token_uri" in info and not settings.get("tokenUri"):
        # The key's own token_uri is where the signed assertion goes, unless tokenUri is set.
        overrides.append((KEY_TOKEN, info["token_uri"]))
    return override_problems(overrides, operator_hosts)
