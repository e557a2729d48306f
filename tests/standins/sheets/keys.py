"""Service-account keys made at test time: the JSON key a user would paste into DataSync,
and the public half the stand-in's token endpoint verifies assertions with. Nothing secret
is ever committed."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True, slots=True)
class ServiceAccountKey:
    email: str
    key_id: str
    private_key_pem: str
    public_key_pem: str

    @classmethod
    def generate(
        cls, email: str = "datasync-reader@standin-project.iam.gserviceaccount.com"
    ) -> ServiceAccountKey:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public_pem = (
            private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        return cls(email, secrets.token_hex(20), private_pem, public_pem)

    def info(self, token_uri: str = "https://oauth2.googleapis.com/token") -> dict[str, Any]:
        """The JSON key file's content, shaped like the ones Google Cloud hands out."""
        return {
            "type": "service_account",
            "project_id": "standin-project",
            "private_key_id": self.key_id,
            "private_key": self.private_key_pem,
            "client_email": self.email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        }

    def registration(self) -> dict[str, str]:
        """What the stand-in needs to know of this key (`PUT /_standin/service-accounts/…`)."""
        return {"publicKeyPem": self.public_key_pem, "keyId": self.key_id}
