"""Google's failures told as the connector errors the engine understands, each naming what
to do about it."""

from __future__ import annotations

from collections.abc import Mapping

import google.auth.exceptions
import requests
from gspread.exceptions import APIError

from connectors.base import (
    AuthError,
    ChangeDetectionUnavailable,
    ConfigError,
    ConnectorError,
    NotFoundError,
    TransientError,
)
from connectors.google_sheets.credentials import DRIVE_METADATA_SCOPE, READONLY_SCOPE
from connectors.toolkit.retry import RetriesExhausted

REAUTHORISE_HINT = (
    "Re-authorise DataSync with your Google account and save the new refresh token in this "
    "data source. Note that Google expires the refresh tokens of apps whose OAuth consent "
    'screen is in "Testing" publishing status after 7 days; publish the app ("In production") '
    "to keep them valid."
)


class SheetsFailures:
    """Tells failures for one data source: `account` is its service account's email, or
    None for OAuth user credentials (the advice differs)."""

    def __init__(self, account: str | None) -> None:
        self.account = account

    def translate(
        self, error: Exception, *, spreadsheet_id: str = "", a1_range: str = ""
    ) -> ConnectorError:
        if isinstance(error, ConnectorError):
            return error
        if isinstance(error, RetriesExhausted):
            return self.gave_up(error)
        if isinstance(error, google.auth.exceptions.RefreshError):
            return self.refused_credentials(error)
        if isinstance(error, APIError):
            return self._api_error(error, spreadsheet_id, a1_range)
        if isinstance(error, requests.RequestException | google.auth.exceptions.TransportError):
            return TransientError(f"Could not reach Google Sheets ({type(error).__name__}).")
        if isinstance(error, ValueError):  # a body that is not JSON: a proxy's error page?
            return TransientError("Google Sheets answered with a body that is not JSON.")
        raise error

    def gave_up(self, error: RetriesExhausted) -> TransientError:
        cause = error.cause
        if isinstance(cause, APIError) and cause.response.status_code == 429:
            what = (
                "Google Sheets kept answering 429 RESOURCE_EXHAUSTED (read quota: 60 requests "
                "per minute per user, 300 per project)"
            )
        elif isinstance(cause, APIError):
            what = f"Google Sheets kept failing with HTTP {cause.response.status_code}"
        elif isinstance(cause, google.auth.exceptions.RefreshError):
            what = "Google's token endpoint kept failing"
        else:
            what = f"Google Sheets could not be reached ({type(cause).__name__})"
        # Worded for both callers: a sync run (the engine adds when it will retry, or that it
        # will not) and a connection test (where "will be retried" would be untrue).
        when = (
            f"Google asked to wait {error.retry_after:g} s before trying again."
            if error.server_asked
            else "Try again in a few minutes."
        )
        return TransientError(
            f"{what}; gave up after {error.waited:.1f} s of retries. {when}",
            retry_after=error.retry_after,
        )

    def scope_not_granted(self) -> AuthError:
        return AuthError(
            "The OAuth refresh token was not granted read access to Google Sheets "
            f"(scope {READONLY_SCOPE}). Re-authorise DataSync and allow it to see "
            "your spreadsheets."
        )

    def drive_metadata_refused(self, error: APIError) -> ChangeDetectionUnavailable:
        """Why Drive would not tell whether the file changed, for the run's record."""
        details = str(error.error)
        if error.response.status_code == 404:
            why = "Google Drive did not find the spreadsheet's file"
        elif "SCOPE_INSUFFICIENT" in details or "insufficientPermissions" in details:
            who = "the service account" if self.account else "the OAuth refresh token"
            why = f"{who} lacks {DRIVE_METADATA_SCOPE.rsplit('/', 1)[-1]}"
        elif "SERVICE_DISABLED" in details or "has not been used" in details:
            why = "the Google Drive API is disabled in the credentials' Google Cloud project"
        else:
            google_says = str(error.error.get("message", "")).strip()
            why = f"Google Drive refused the metadata request ({google_says or 'HTTP 403'})"
        return ChangeDetectionUnavailable(why)

    def refused_credentials(self, error: google.auth.exceptions.RefreshError) -> AuthError:
        code, description = _oauth_error(error)
        if self.account is None:  # OAuth user credentials
            if code == "invalid_grant":
                return AuthError(
                    f"Google refused the OAuth refresh token ({description or code}): it has "
                    f"expired or been revoked. {REAUTHORISE_HINT}"
                )
            if code == "invalid_scope":
                return self.scope_not_granted()
            if code in ("invalid_client", "unauthorized_client"):
                return AuthError(
                    f"Google rejected the OAuth client ({code}): check "
                    "credentials.oauth.clientId and credentials.oauth.clientSecret."
                )
            return AuthError(f"Google refused the OAuth credentials ({code}: {description}).")
        return AuthError(
            f"Google refused the service account key of {self.account} ({code}: {description}). "
            "The key may have been deleted or disabled in Google Cloud, or the worker's clock "
            "is wrong; create a new JSON key for the service account and save it here."
        )

    def _api_error(self, error: APIError, spreadsheet_id: str, a1_range: str) -> ConnectorError:
        status = error.response.status_code
        google_says = str(error.error.get("message", "")).strip()
        if status == 404:
            return NotFoundError(
                f"Google Sheets has no spreadsheet with id {spreadsheet_id!r}: check "
                "config.spreadsheetId (the part of the sheet's URL between /d/ and /edit)."
            )
        if status == 403:
            if "has not been used" in google_says or "SERVICE_DISABLED" in str(error.error):
                return AuthError(
                    "The Google Sheets API is disabled in the Google Cloud project of these "
                    f"credentials: enable it there. Google said: {google_says}"
                )
            if "ACCESS_TOKEN_SCOPE_INSUFFICIENT" in str(error.error):
                return AuthError(
                    "The access token Google issued lacks the scope to read spreadsheets "
                    f"({READONLY_SCOPE}): re-authorise DataSync granting it."
                )
            if self.account:
                return AuthError(
                    f"The service account {self.account} may not open spreadsheet "
                    f"{spreadsheet_id!r}: in Google Sheets click Share and add "
                    f"{self.account} as a Viewer."
                )
            return AuthError(
                f"The Google account that authorised DataSync may not open spreadsheet "
                f"{spreadsheet_id!r}: ask the owner to share it with that account, or "
                "re-authorise with an account that has access."
            )
        if status == 401:
            return AuthError(
                "Google rejected the access token for these credentials. "
                + ("" if self.account else REAUTHORISE_HINT)
            )
        if status == 400 and a1_range:
            return ConfigError(
                f"Google could not read {a1_range}: {google_says}", field="config.range"
            )
        return ConnectorError(f"Google Sheets answered HTTP {status}: {google_says}")


def _oauth_error(error: google.auth.exceptions.RefreshError) -> tuple[str, str]:
    """(error, error_description) of a token endpoint refusal, as google-auth kept them."""
    body = error.args[1] if len(error.args) > 1 else None
    if isinstance(body, Mapping):
        return str(body.get("error", "")), str(body.get("error_description", "") or "")
    text = str(error.args[0]) if error.args else ""
    code, _, description = text.partition(":")
    return code.strip(), description.strip()
