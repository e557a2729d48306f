"""Data source credentials at rest (`CredentialVault`): Fernet under a key derived from
SECRET_KEY for the purpose "credentials" only, readable back under the same SECRET_KEY and
by nothing else."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from cryptography.fernet import Fernet, InvalidToken

from app.auth.secrets import derive_key
from app.credential_vault import CredentialsUnreadable, CredentialVault

SECRET_KEY = "a-secret-key-of-the-service-0123456789"
CREDENTIALS = {"server": "db.example.com", "username": "reader", "password": 'pä$$ "w0rd"'}
UNREADABLE = (
    "the stored credentials cannot be decrypted (was SECRET_KEY changed?); "
    "update the data source with its credentials again"
)


def fernet_for(purpose: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(SECRET_KEY, purpose)))


def test_sealed_credentials_open_to_the_same_values() -> None:
    vault = CredentialVault(SECRET_KEY)

    assert vault.open(vault.seal(CREDENTIALS)) == CREDENTIALS
    # Another vault under the same SECRET_KEY (another process, a restart) reads them too.
    assert CredentialVault(SECRET_KEY).open(vault.seal(CREDENTIALS)) == CREDENTIALS


def test_the_sealed_text_holds_no_credential_in_clear() -> None:
    sealed = CredentialVault(SECRET_KEY).seal(CREDENTIALS)

    assert all(value not in sealed for value in CREDENTIALS.values())
    assert sealed != CredentialVault(SECRET_KEY).seal(CREDENTIALS)  # a fresh IV every time


def test_the_key_is_derived_for_credentials_and_no_other_purpose() -> None:
    sealed = CredentialVault(SECRET_KEY).seal(CREDENTIALS)

    assert json.loads(fernet_for("credentials").decrypt(sealed.encode())) == CREDENTIALS
    with pytest.raises(InvalidToken):
        fernet_for("sessions").decrypt(sealed.encode())


def test_another_secret_key_cannot_open_them_and_says_what_to_do() -> None:
    sealed = CredentialVault(SECRET_KEY).seal(CREDENTIALS)

    with pytest.raises(CredentialsUnreadable) as unreadable:
        CredentialVault(SECRET_KEY + "-rotated").open(sealed)
    assert str(unreadable.value) == UNREADABLE
    assert unreadable.value.__cause__ is None and unreadable.value.__suppress_context__


def flip_byte(token: str, at: int) -> str:
    """The token with one bit of its byte `at` flipped (Fernet: version, time, IV,
    ciphertext, then 32 bytes of HMAC)."""
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[at] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode()


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda token: flip_byte(token, -1), id="mac"),
        pytest.param(lambda token: flip_byte(token, 12), id="iv"),
        pytest.param(lambda token: flip_byte(token, 30), id="ciphertext"),
        pytest.param(lambda token: token[: len(token) // 2], id="truncated"),
        pytest.param(lambda token: "not a token", id="garbage"),
    ],
)
def test_a_tampered_token_is_unreadable_not_misread(tamper: Callable[[str], str]) -> None:
    sealed = CredentialVault(SECRET_KEY).seal(CREDENTIALS)

    with pytest.raises(CredentialsUnreadable, match="cannot be decrypted"):
        CredentialVault(SECRET_KEY).open(tamper(sealed))


@pytest.mark.parametrize("stored", [[1, 2], "text", 7, None])
def test_a_sealed_value_that_is_not_an_object_opens_as_no_credentials(stored: object) -> None:
    sealed = fernet_for("credentials").encrypt(json.dumps(stored).encode()).decode()

    assert CredentialVault(SECRET_KEY).open(sealed) == {}
