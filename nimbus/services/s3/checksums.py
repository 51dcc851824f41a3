"""Integrity: the ETag's MD5, Content-MD5, and S3's additional checksums (CRC32, CRC32C, CRC64NVME,
SHA1, SHA256), computed while an upload streams to disk and checked before it is published."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from nimbus.errors import AwsError
from nimbus.storage.checksums import ALGORITHMS, DIGEST_SIZES, BackgroundHasher, combined_crc
from nimbus.storage.objects import Hasher, StagedFile

# the multipart checksum types each algorithm allows, AWS's default first
CHECKSUM_TYPES = {
    "CRC64NVME": ("FULL_OBJECT",),
    "CRC32": ("COMPOSITE", "FULL_OBJECT"),
    "CRC32C": ("COMPOSITE", "FULL_OBJECT"),
    "SHA1": ("COMPOSITE",),
    "SHA256": ("COMPOSITE",),
}


def member(algorithm: str) -> str:
    return f"Checksum{algorithm}"


def trailer(algorithm: str) -> str:
    return f"x-amz-checksum-{algorithm.lower()}"


def requested_algorithms(request: Mapping[str, Any], *also: str | None) -> list[str]:
    """The algorithms to compute while writing: those named or given in the request, plus ``also``."""
    named = [request.get("ChecksumAlgorithm"), *also]
    named += [algorithm for algorithm in ALGORITHMS if member(algorithm) in request]
    chosen = [name.upper() for name in named if name]
    unknown = [name for name in chosen if name not in ALGORITHMS]
    if unknown:
        raise AwsError("InvalidRequest", f"Checksum algorithm {unknown[0]} is not supported.", 400)
    return list(dict.fromkeys(chosen))


def checksum_members(checksums: Mapping[str, str]) -> dict[str, str]:
    return {member(algorithm): value for algorithm, value in checksums.items()}


def encode(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def upload_checksum_type(algorithm: str | None, requested: str | None) -> str | None:
    """A multipart upload's checksum type: the one asked for if its algorithm allows it, else AWS's
    default (the first type its algorithm allows)."""
    if algorithm is None:
        if requested is not None:
            raise AwsError(
                "InvalidRequest",
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
            )
        return None
    allowed = CHECKSUM_TYPES[algorithm]
    if requested is not None and requested not in allowed:
        raise AwsError(
            "InvalidRequest",
            f"The {requested} checksum type cannot be used with the {algorithm.lower()} checksum algorithm.",
        )
    return requested or allowed[0]


def multipart_checksum(algorithm: str, checksum_type: str, parts: Iterable[tuple[str, int]]) -> str:
    """A multipart object's checksum from its parts' (checksum, size): FULL_OBJECT is the CRC of the
    whole object, combined from the parts' CRCs; COMPOSITE the checksum of the parts' checksums, "-N"."""
    if checksum_type == "FULL_OBJECT":
        return encode(combined_crc(algorithm, ((base64.b64decode(value), size) for value, size in parts)))
    combined = ALGORITHMS[algorithm]()
    count = 0
    for value, _ in parts:
        combined.update(base64.b64decode(value))
        count += 1
    return f"{encode(combined.digest())}-{count}"


def check_claimed_checksum(request: Mapping[str, Any], computed: Mapping[str, str]) -> None:
    """CompleteMultipartUpload's x-amz-checksum-*: each must be what the parts give (a composite
    checksum may be sent with or without its "-N")."""
    for algorithm in ALGORITHMS:
        claimed = request.get(member(algorithm))
        if claimed is None:
            continue
        expected = computed.get(algorithm)
        value, dash, count = claimed.partition("-")
        if expected is None or (value, count if dash else "") not in _forms(expected):
            raise AwsError(
                "BadDigest",
                f"The {algorithm} you specified did not match the calculated checksum.",
                400,
            )


def _forms(expected: str) -> set[tuple[str, str]]:
    value, _, count = expected.partition("-")
    return {(value, count), (value, "")}


class UploadDigests:
    """The hashers one write feeds, and the checks on what they computed."""

    def __init__(self, algorithms: Iterable[str], *, with_md5: bool = True) -> None:
        # each on its own core while the bytes stream in: one pass over them, the digests side by side
        self.md5 = BackgroundHasher(hashlib.md5()) if with_md5 else None
        self.checksums = {algorithm: BackgroundHasher(ALGORITHMS[algorithm]()) for algorithm in algorithms}

    @property
    def hashers(self) -> list[Hasher]:
        return [*([self.md5] if self.md5 else []), *self.checksums.values()]

    @property
    def etag(self) -> str:
        assert self.md5 is not None
        return f'"{self.md5.hexdigest()}"'

    def verified(self, request: Mapping[str, Any], staged: StagedFile) -> dict[str, str]:
        """Checks Content-MD5 and every checksum the request carried (as members or, after an
        aws-chunked body ended, as trailers); returns the computed checksums to store."""
        if "ContentMD5" in request and self.md5 is not None:
            check_content_md5(request["ContentMD5"], self.md5.digest())
        expected = expected_checksums(request)
        for algorithm in expected:
            if algorithm not in self.checksums:  # named only by a trailer: digest the staged file
                self.checksums[algorithm] = BackgroundHasher(ALGORITHMS[algorithm]())
                for chunk in staged.chunks():
                    self.checksums[algorithm].update(chunk)
        computed = {algorithm: encode(value.digest()) for algorithm, value in self.checksums.items()}
        for algorithm, value in expected.items():
            if computed[algorithm] != value:
                raise AwsError(
                    "BadDigest",
                    f"The {algorithm} you specified did not match the calculated checksum.",
                    400,
                )
        return computed


def expected_checksums(request: Mapping[str, Any]) -> dict[str, str]:
    trailers: Mapping[str, str] = getattr(request.get("Body"), "trailers", None) or {}
    expected: dict[str, str] = {}
    for algorithm in ALGORITHMS:
        value = request.get(member(algorithm)) or trailers.get(trailer(algorithm))
        if value is not None:
            check_encoding(algorithm, value)
            expected[algorithm] = value
    return expected


def check_encoding(algorithm: str, value: str) -> None:
    try:
        valid = len(base64.b64decode(value, validate=True)) == DIGEST_SIZES[algorithm]
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise AwsError("InvalidRequest", f"Value for {trailer(algorithm)} header is invalid.", 400)


def check_content_md5(content_md5: str, digest: bytes) -> None:
    try:
        claimed = base64.b64decode(content_md5, validate=True)
    except (binascii.Error, ValueError):
        claimed = b""
    if len(claimed) != 16:
        raise AwsError("InvalidDigest", "The Content-MD5 you specified was invalid.", 400)
    if claimed != digest:
        raise AwsError(
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
            400,
            fields={"ExpectedDigest": content_md5, "CalculatedDigest": encode(digest)},
        )
