"""Data source credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key derived
from SECRET_KEY. Plain credentials exist only in memory, on their way to a connector."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from app.auth.secrets import derive_key


class CredentialsUnreadable(Exception):
    """Stored credentials cannot be decrypted: SECRET_KEY changed since they were saved."""


class CredentialVault:
    def __init__(self, secret_key: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret_key, "credentials")))

    def seal(self, credentials: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(credentials).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        try:
            value = json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken:
            raise CredentialsUnreadable(
                "the stored credentials cannot be decrypted (was SECRET_KEY changed?); "
                "update the data source with its credentials again"
            ) from None
        return value if isinstance(value, dict) else {}
