"""Message signatures, as SNS signs what it delivers: this install's own RSA key pair (made once,
kept in ``<data dir>/sns/``), a self-signed certificate served at ``SigningCertURL``, and the
string to sign that AWS documents for each message type. SignatureVersion 1 signs with SHA1,
2 (the topic attribute) with SHA256."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from nimbus.storage import Storage

CERTIFICATE_PREFIX = "/SimpleNotificationService-"  # AWS's own certificates' file names
KEY_BITS = 2048
CERTIFICATE_DAYS = 3650
SIGNATURE_VERSIONS = {"1": hashes.SHA1, "2": hashes.SHA256}
# the fields each message type signs, in this order, each as "Name\nvalue\n" (Subject only if given)
_CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRMATION_FIELDS,
    "UnsubscribeConfirmation": _CONFIRMATION_FIELDS,
}
_making = threading.Lock()


def string_to_sign(message: dict[str, Any]) -> str:
    return "".join(f"{name}\n{message[name]}\n" for name in SIGNED_FIELDS[message["Type"]] if name in message)


@dataclass(frozen=True)
class MessageSigner:
    key: rsa.RSAPrivateKey
    certificate_pem: bytes

    @property
    def certificate_path(self) -> str:
        return f"{CERTIFICATE_PREFIX}{hashlib.sha256(self.certificate_pem).hexdigest()[:32]}.pem"

    def signed(self, message: dict[str, Any], version: str, base_url: str) -> dict[str, Any]:
        """``message`` with SignatureVersion, Signature and SigningCertURL."""
        signature = self.key.sign(
            string_to_sign(message).encode(), padding.PKCS1v15(), SIGNATURE_VERSIONS[version]()
        )
        return {
            **message,
            "SignatureVersion": version,
            "Signature": base64.b64encode(signature).decode(),
            "SigningCertURL": base_url + self.certificate_path,
        }


def signer(storage: Storage) -> MessageSigner:
    return _signer_in(storage.data_dir)


@cache
def _signer_in(data_dir: Path) -> MessageSigner:
    folder = data_dir / "sns"
    key_file, certificate_file = folder / "signing-key.pem", folder / "signing-certificate.pem"
    with _making:
        if not certificate_file.exists():
            folder.mkdir(parents=True, exist_ok=True)
            _make_key_pair(key_file, certificate_file)
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return MessageSigner(key, certificate_file.read_bytes())


def _make_key_pair(key_file: Path, certificate_file: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.nimbus.local")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=CERTIFICATE_DAYS))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as written:
        written.write(key_pem)
    # the certificate last: its presence says the pair is whole
    partial = certificate_file.with_suffix(".partial")
    partial.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    partial.replace(certificate_file)


def signing_certificate(storage: Storage, path: str) -> bytes | None:
    """The PEM served at ``path``, if it is this install's signing certificate."""
    found = signer(storage)
    return found.certificate_pem if path == found.certificate_path else None
