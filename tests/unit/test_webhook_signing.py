"""Webhook signatures as a receiver checks them: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<body>">` under the webhook's secret. The expected values were computed with
`openssl dgst -sha256 -hmac`, not with the code under test."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from app.webhooks.signing import SECRET_PREFIX, SIGNATURE_HEADER, new_secret, signature

SECRET = "whsec_test-secret"
TIMESTAMP = 1_767_225_600  # 2026-01-01T00:00:00Z
BODY = b'{"event":"sync.completed","runId":"r_1"}'


def test_the_signature_matches_an_independently_computed_vector() -> None:
    assert signature(SECRET, TIMESTAMP, BODY) == (
        "t=1767225600,v1=4b9147efab2fd62b1d0e3cd5f4a123db4ef577bef0091a23aa27feae532dd5ab"
    )


def test_an_empty_body_signs_the_timestamp_and_its_dot() -> None:
    assert signature(SECRET, TIMESTAMP, b"") == (
        "t=1767225600,v1=ae7abec6845403cc54d452b3fce6875829810a3d3a8b0d697fde55895177b5f7"
    )


def test_a_receiver_recomputes_the_header_from_the_timestamp_it_carries() -> None:
    header = signature(SECRET, TIMESTAMP, BODY)
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(
        SECRET.encode(), fields["t"].encode() + b"." + BODY, hashlib.sha256
    ).hexdigest()

    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    assert hmac.compare_digest(fields["v1"], expected)


@pytest.mark.parametrize(
    ("secret", "timestamp", "body"),
    [
        pytest.param("whsec_other", TIMESTAMP, BODY, id="another-secret"),
        pytest.param(SECRET, TIMESTAMP + 1, BODY, id="a-replayed-body-with-a-new-timestamp"),
        pytest.param(SECRET, TIMESTAMP, BODY.replace(b"r_1", b"r_2"), id="a-tampered-body"),
        pytest.param(SECRET, TIMESTAMP, BODY + b" ", id="one-byte-more"),
    ],
)
def test_any_change_to_secret_timestamp_or_body_changes_the_mac(
    secret: str, timestamp: int, body: bytes
) -> None:
    original = signature(SECRET, TIMESTAMP, BODY).partition(",v1=")[2]

    assert signature(secret, timestamp, body).partition(",v1=")[2] != original


def test_the_header_name_is_the_documented_one() -> None:
    assert SIGNATURE_HEADER == "X-DataSync-Signature"


def test_a_new_secret_carries_the_prefix_and_256_random_bits() -> None:
    secrets = {new_secret() for _ in range(20)}

    assert len(secrets) == 20
    for secret in secrets:
        assert secret.startswith(SECRET_PREFIX) and SECRET_PREFIX == "whsec_"
        # token_urlsafe(32): 32 random bytes, 43 base64url characters without padding.
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret.removeprefix(SECRET_PREFIX))
