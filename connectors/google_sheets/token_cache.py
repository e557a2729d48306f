"""Access tokens kept for the life of the worker process, one per credential.

The engine makes a connector per run, and google-auth's credentials keep their token only
as long as the object: without this, every run would spend a token request before its
first API call, which for an unchanged spreadsheet (one Drive metadata request, see
connector.change_marker) would double its cost. Tokens are held in memory only, keyed by
a digest of the credentials and the token endpoint, never by the secret itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading

from google.auth.credentials import Credentials

from connectors.base import JSON

# A token this close to its expiry is not handed out: a run may take minutes, and
# google-auth would refresh it on first use anyway (its own threshold is under 4 minutes).
_MARGIN = dt.timedelta(minutes=5)


def _utcnow() -> dt.datetime:
    # google-auth keeps expiries as naive UTC datetimes.
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class TokenCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, dt.datetime]] = {}

    @staticmethod
    def key(credentials: JSON, token_uri: str, scopes: list[str] | None) -> str:
        text = json.dumps([credentials, token_uri, scopes], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def lend(self, key: str, credentials: Credentials) -> None:
        """Gives `credentials` the cached token for `key` when one is fresh enough."""
        with self._lock:
            cached = self._tokens.get(key)
        if cached is None or cached[1] - _MARGIN <= _utcnow():
            return
        credentials.token, credentials.expiry = cached

    def keep(self, key: str, credentials: Credentials) -> None:
        """Keeps the token `credentials` hold now (after a refresh, or the one lent)."""
        token, expiry = credentials.token, credentials.expiry
        if not token or expiry is None:
            return
        with self._lock:
            self._tokens[key] = (str(token), expiry)

    def forget(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)
