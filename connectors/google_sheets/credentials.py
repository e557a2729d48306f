"""Google credentials for a Sheets data source: which token endpoint, the google-auth
credentials (read-only scopes), and the one transport google-auth may send them through."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import google.auth.exceptions
from google.auth.credentials import Credentials
from google.auth.transport.requests import Request as GoogleAuthRequest
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from connectors.base import JSON, AuthError
from connectors.google_sheets.endpoints import DEFAULT_TOKEN_URI

READONLY_SCOPE = "https://www.googleapis.com/auth/spreadsheets.readonly"
# Drive's file metadata (modifiedTime, version), for change detection before fetch.
DRIVE_METADATA_SCOPE = "https://www.googleapis.com/auth/drive.metadata.readonly"
SERVICE_ACCOUNT_SCOPES = [READONLY_SCOPE, DRIVE_METADATA_SCOPE]
# Any of these lets a token read spreadsheets' values.
SHEETS_READING_SCOPES = frozenset(
    {
        READONLY_SCOPE,
        "https://www.googleapis.com/auth/spreadsheets",
        "https://www.googleapis.com/auth/drive.readonly",
        "https://www.googleapis.com/auth/drive",
    }
)


def token_endpoint(credentials: JSON, token_uri: str | None) -> str:
    """Where tokens come from: the `tokenUri` setting, else the key's own `token_uri`,
    else Google's."""
    if token_uri:
        return token_uri
    key_uri = credentials.get("serviceAccountInfo", {}).get("token_uri")
    return key_uri if isinstance(key_uri, str) and key_uri else DEFAULT_TOKEN_URI


def oauth_scopes(credentials: JSON) -> list[str] | None:
    """The scopes a refresh asks for: none for OAuth user credentials, so the access token
    carries what the user consented to when issuing the refresh token (Google refuses a
    refresh asking for a scope that was not consented, so asking for the Drive metadata
    scope would lock out every token issued for Sheets alone; a token without it only
    loses change detection)."""
    return SERVICE_ACCOUNT_SCOPES if "serviceAccountInfo" in credentials else None


def build_credentials(credentials: JSON, token_uri: str | None) -> Credentials:
    """google-auth credentials for the data source, read-only scopes. Raises AuthError when
    the key cannot even be loaded (a mangled private key)."""
    if "serviceAccountInfo" in credentials:
        info = dict(credentials["serviceAccountInfo"])
        info.setdefault("type", "service_account")
        info["token_uri"] = token_endpoint(credentials, token_uri)
        try:
            return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call,no-any-return]
                info, scopes=SERVICE_ACCOUNT_SCOPES
            )
        except (ValueError, google.auth.exceptions.GoogleAuthError) as error:
            raise AuthError(
                "The service account key in this data source cannot be loaded "
                f"({type(error).__name__}): paste the whole JSON key file Google gave you."
            ) from None
    oauth = credentials["oauth"]
    return user_credentials.Credentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token=oauth["refreshToken"],
        token_uri=token_endpoint(credentials, token_uri),
        client_id=oauth["clientId"],
        client_secret=oauth["clientSecret"],
        scopes=oauth_scopes(credentials),
    )


def service_account_email(credentials: Credentials) -> str | None:
    """The service account's email (what users share sheets with); None for OAuth."""
    email_address = getattr(credentials, "service_account_email", None)
    return email_address if isinstance(email_address, str) else None


class TokenEndpointOnly(GoogleAuthRequest):
    """google-auth's transport with our timeout (its own default is 120 s) that sends
    nothing anywhere but the data source's token endpoint.

    Why the fence: since 2.55 google-auth's service-account credentials start a background
    "Regional Access Boundary" (formerly "trust boundary") lookup after a token refresh:
    `GET https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{email}/
    allowedLocations` carrying the access token, through this transport. The host is fixed
    whatever `token_uri` says, so a deployment using private endpoints (`sheetsBaseUrl`,
    `tokenUri`) would still send its tokens to a public Google host, and a worker without
    Internet access would wait on it. There is no public switch to turn the lookup off (as of
    google-auth 2.62): the opt-in variable GOOGLE_AUTH_TRUST_BOUNDARY_ENABLED is deprecated
    and ignored; only a non-default universe domain skips it, and that also replaces the
    token endpoint with self-signed JWTs. So the lookup is refused here, before any network
    I/O; google-auth treats that as a failed lookup (it logs at debug level, backs off for
    15 minutes, and sends requests without the optional `x-allowed-locations` header),
    which is what it does whenever the lookup endpoint is unreachable."""

    def __init__(self, token_uri: str, timeout: Any) -> None:
        super().__init__()
        self.token_uri = token_uri
        self._token_host = (urlsplit(token_uri).hostname or "").lower()
        self._timeout = timeout
        # The scopes of the last token answer (OAuth refreshes ask for none, see
        # oauth_scopes, and google-auth keeps them only for a refresh that asked).
        self.granted_scopes: frozenset[str] | None = None
        # Seconds the refresh token has left, when Google says (apps in testing mode: their
        # refresh tokens end 7 days after the grant).
        self.refresh_token_expires_in: float | None = None

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        host = (urlsplit(url).hostname or "").lower()
        if host != self._token_host:
            raise google.auth.exceptions.TransportError(  # type: ignore[no-untyped-call]
                f"DataSync sends Google credentials only to the token endpoint "
                f"{self.token_uri}; refused {method} {url.split('?', 1)[0]}"
            )
        response = super().__call__(  # type: ignore[no-untyped-call]
            url, method, body, headers, timeout=timeout or self._timeout, **kwargs
        )
        self.granted_scopes = _granted_scopes(response)
        self.refresh_token_expires_in = _refresh_token_expires_in(response)
        return response


def _granted_scopes(response: Any) -> frozenset[str] | None:
    try:
        scope = json.loads(response.data).get("scope")
    except (ValueError, AttributeError, TypeError):
        return None
    return frozenset(scope.split()) if isinstance(scope, str) else None


def _refresh_token_expires_in(response: Any) -> float | None:
    try:
        seconds = json.loads(response.data).get("refresh_token_expires_in")
    except (ValueError, AttributeError, TypeError):
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    return float(seconds)
