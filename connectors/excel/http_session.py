"""The HTTP session msal and the Graph client share: a timeout on every request, the
operator's CA trust, and a TLS failure told as the configuration problem it is."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

import requests

from connectors.base import ConfigError


class _TimeoutSession(requests.Session):
    """A requests session with a default timeout: msal and requests have none, and a hung
    socket would hold a worker thread forever."""

    def __init__(self, timeout_seconds: float) -> None:
        super().__init__()
        self._timeout_seconds = timeout_seconds
        # Trust: REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (requests reads them per request and
        # they win), else SSL_CERT_FILE / the OS store as OpenSSL resolves them, else
        # certifi. Operators behind TLS-inspecting proxies rely on these variables.
        self.verify = ssl.get_default_verify_paths().cafile or True

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout_seconds)
        return super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]


def new_http_session(timeout_seconds: float) -> requests.Session:
    return _TimeoutSession(timeout_seconds)


def untrusted_certificate(exc: requests.exceptions.SSLError) -> ConfigError:
    """A TLS failure is no passing fault: retrying would not make the certificate trusted."""
    url = exc.request.url if exc.request is not None else None
    host = urlsplit(url).hostname if isinstance(url, str) else None
    return ConfigError(
        f"could not verify the TLS certificate of {host or 'the Microsoft endpoint'}; if an "
        "operator CA or a TLS-inspecting proxy is in the way, point REQUESTS_CA_BUNDLE or "
        "SSL_CERT_FILE at a bundle that includes its CA"
    )
