"""Integrity of bodies read whole: Content-MD5 and the x-amz-checksum-* headers clients send
with them (boto3 adds a CRC32 to DeleteObjects, PutObjectTagging...). Streamed uploads are
checked by the service while it writes them, since only it reads their bytes."""

from __future__ import annotations

import base64
import binascii
import hashlib

from nimbus.errors import AwsError
from nimbus.protocol.http import HttpRequest
from nimbus.storage.checksums import ALGORITHMS


def verify_body_integrity(request: HttpRequest, checksum_required: bool, body_checksums: bool) -> None:
    """``checksum_required``: the model says the operation needs one (DeleteObjects, PutObjectTagging).
    ``body_checksums``: its x-amz-checksum-* headers are the body's (not, as for CompleteMultipartUpload,
    the object's)."""
    if checksum_required and not _carries_digest(request):
        raise AwsError("InvalidRequest", "Missing required header for this request: Content-MD5")
    content_md5 = request.headers.get("content-md5")
    if content_md5 is not None:
        _check("Content-MD5", content_md5, hashlib.md5(request.body).digest(), invalid_code="InvalidDigest")
    if not body_checksums:
        return
    for algorithm, new_hasher in ALGORITHMS.items():
        claimed = request.headers.get(f"x-amz-checksum-{algorithm.lower()}")
        if claimed is not None:
            hasher = new_hasher()
            hasher.update(request.body)
            _check(algorithm, claimed, hasher.digest(), invalid_code="InvalidRequest")


def _carries_digest(request: HttpRequest) -> bool:
    return "content-md5" in request.headers or any(
        f"x-amz-checksum-{algorithm.lower()}" in request.headers for algorithm in ALGORITHMS
    )


def _check(name: str, claimed: str, digest: bytes, invalid_code: str) -> None:
    try:
        decoded = base64.b64decode(claimed, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != len(digest):
        raise AwsError(invalid_code, f"The {name} you specified is not valid base64 of a {name} digest.")
    if decoded != digest:
        raise AwsError("BadDigest", f"The {name} you specified did not match the calculated checksum.")
