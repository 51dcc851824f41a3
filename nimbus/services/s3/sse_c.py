"""SSE-C: objects encrypted at rest with a key the customer sends with every request (AES-256).

Nimbus keeps a salted HMAC of the key, to recognise it, and never the key. Such an object's file is
ciphertext kept aside (not at the key's path), so nothing reads it in place: Spark, training channels
and Rekognition see it as unreadable, as AWS's services do. Its ETag is the MD5 of the bytes at rest,
which says nothing about the plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.s3.checksums import UploadDigests
from nimbus.services.s3.keys import storage_errors
from nimbus.storage.encryption import KEY_BYTES, DecryptedRange, EncryptingStream, new_nonce
from nimbus.storage.objects import FileRange, Hasher
from nimbus.storage.schema import ObjectRow
from nimbus.storage.streams import BodyStream

ALGORITHM = "AES256"
_SALT_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class CustomerKey:
    key: bytes
    md5: str  # base64, as the client sent it

    def members(self, prefix: str = "") -> dict[str, str]:
        """What answers about an SSE-C object say (no key, only its MD5)."""
        return {f"{prefix}SSECustomerAlgorithm": ALGORITHM, f"{prefix}SSECustomerKeyMD5": self.md5}

    def record(self, nonces: Iterable[str] = ()) -> dict[str, Any]:
        """The ``sse_customer`` column: a fresh salt, the key's HMAC under it, the segments' nonces."""
        salt = os.urandom(_SALT_BYTES)
        return {"salt": _b64(salt), "key_hmac": _b64(self._hmac(salt)), "nonces": list(nonces)}

    def matches(self, recorded: Mapping[str, Any]) -> bool:
        expected = base64.b64decode(recorded["key_hmac"])
        return hmac.compare_digest(self._hmac(base64.b64decode(recorded["salt"])), expected)

    def _hmac(self, salt: bytes) -> bytes:
        return hmac.new(salt, self.key, hashlib.sha256).digest()


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidArgument", message, 400)


def customer_key(request: Mapping[str, Any], prefix: str = "") -> CustomerKey | None:
    """The request's customer key (``prefix`` "CopySource" for a copy's source), checked as S3 does."""
    algorithm = request.get(f"{prefix}SSECustomerAlgorithm")
    encoded = request.get(f"{prefix}SSECustomerKey")
    md5 = request.get(f"{prefix}SSECustomerKeyMD5")
    if algorithm is None and encoded is None and md5 is None:
        return None
    what = "Requests specifying Server Side Encryption with Customer provided keys must provide"
    if algorithm is None:
        raise _invalid(f"{what} a valid encryption algorithm.")
    if algorithm != ALGORITHM:
        raise AwsError(
            "InvalidEncryptionAlgorithmError",
            f"The encryption request you specified is not valid. The valid value is {ALGORITHM}.",
            400,
        )
    if encoded is None:
        raise _invalid(f"{what} an appropriate secret key.")
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise _invalid("The secret key was invalid for the specified algorithm.")
    if md5 is None:
        raise _invalid(f"{what} the client calculated MD5 of the secret key.")
    if md5 != _b64(hashlib.md5(key).digest()):
        raise _invalid("The calculated MD5 hash of the key did not match the hash that was provided.")
    return CustomerKey(key, md5)


def key_for(recorded: Mapping[str, Any] | None, given: CustomerKey | None) -> CustomerKey | None:
    """The key to read a stored version (or add to an upload) with, checked against the one it was
    written with: none for bytes stored in the clear."""
    if recorded is None:
        if given is not None:
            raise AwsError("InvalidRequest", "The encryption parameters are not applicable to this object.")
        return None
    if given is None:
        raise AwsError(
            "InvalidRequest",
            "The object was stored using a form of Server Side Encryption. The correct parameters must be "
            "provided to retrieve the object.",
        )
    if not given.matches(recorded):
        raise AwsError(
            "AccessDenied",
            "The customer-provided key does not match the key the object was encrypted with.",
            403,
        )
    return given


class Sealed:
    """A body as it is written: encrypted when a customer key is given (the plaintext still feeds the
    request's digests), with the hashers that see the bytes at rest and the ETag they give."""

    def __init__(self, body: BodyStream, key: CustomerKey | None, digests: UploadDigests) -> None:
        self.key = key
        self._digests = digests
        self._stored_md5 = hashlib.md5()
        self.nonce: str | None = None
        self.stream: BodyStream = body
        self.hashers: list[Hasher] = digests.hashers
        if key is not None:
            nonce = new_nonce()
            self.nonce = _b64(nonce)
            self.stream = EncryptingStream(body, key.key, nonce, digests.hashers)
            self.hashers = [self._stored_md5]

    @property
    def etag(self) -> str:
        return self._digests.etag if self.key is None else f'"{self._stored_md5.hexdigest()}"'

    def record(self) -> dict[str, Any] | None:
        return None if self.key is None else self.key.record([self.nonce or ""])


def stored_bytes(
    ctx: RequestContext, record: ObjectRow, key: CustomerKey | None, start: int, length: int
) -> FileRange | DecryptedRange:
    """``length`` bytes of a stored version from ``start``, decrypted with ``key`` when it is SSE-C
    (``key_for`` has checked it)."""
    with storage_errors(record.key):
        handle = ctx.storage.objects.open_stored(record.bucket, record.key, record.blob)
    if key is None:
        return FileRange(handle, start, length)
    sizes = record.part_sizes or [record.size]
    nonces = [base64.b64decode(nonce) for nonce in record.sse_customer["nonces"]]
    return DecryptedRange(handle, key.key, list(zip(sizes, nonces, strict=True)), start, length)
