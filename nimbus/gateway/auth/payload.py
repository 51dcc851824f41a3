"""Checking the payload a SigV4 signature vouches for (the ``x-amz-content-sha256`` value).

A buffered body is checked at once. A streamed body (S3 PutObject, UploadPart) is replaced by a
wrapper that checks while it is read, so an upload of any size never sits in memory: a plain
sha256 is compared at EOF, and aws-chunked bodies are decoded chunk by chunk, each chunk's
signature chained from the request's seed signature. A wrapper returns b"" (EOF) only once
everything has been verified; a failure raises ``AwsError`` from ``read``, so the reader
discards what it has written.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from hashlib import sha256

from nimbus.errors import AwsError
from nimbus.gateway.auth.errors import AuthErrors, incomplete_body
from nimbus.gateway.auth.signing import hmac_sha256, same_signature
from nimbus.protocol.http import BodyStream, HttpRequest
from nimbus.storage.checksums import BackgroundHasher

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_SIGNED_EVENTS = "STREAMING-AWS4-HMAC-SHA256-EVENTS"
EMPTY_SHA256 = sha256(b"").hexdigest()
_CHUNKED = (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER)
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_READ_SIZE = 64 * 1024
_MAX_LINE = 4096  # a chunk header or trailer line; longer means a broken or hostile body


@dataclass(frozen=True)
class ChunkSigning:
    """What signed chunks are chained from: the request's signing key, time, scope and signature."""

    access_key_id: str
    key: bytes
    timestamp: str
    scope: str
    seed_signature: str


def check_payload_hash_value(value: str, errors: AuthErrors) -> None:
    if (
        value in (UNSIGNED_PAYLOAD, STREAMING_SIGNED_EVENTS)
        or value in _CHUNKED
        or _HEX_SHA256.fullmatch(value)
    ):
        return
    raise AwsError(
        "InvalidArgument" if errors.is_s3 else errors.malformed("").code,
        f"x-amz-content-sha256 must be {UNSIGNED_PAYLOAD}, {STREAMING_UNSIGNED_TRAILER}, {STREAMING_SIGNED}, "
        f"{STREAMING_SIGNED_TRAILER} or a valid sha256 value.",
        400,
    )


def install_payload_check(
    request: HttpRequest, payload_hash: str, signing: ChunkSigning | None, errors: AuthErrors
) -> None:
    """Makes the request's body (or stream) answer for ``payload_hash``, once the signature is good."""
    if payload_hash == UNSIGNED_PAYLOAD:
        return
    if _HEX_SHA256.fullmatch(payload_hash):
        _install_hash_check(request, payload_hash.lower(), errors)
        return
    if payload_hash != STREAMING_UNSIGNED_TRAILER and signing is None:
        raise errors.invalid_request(f"{payload_hash} requires the Authorization header.")
    if payload_hash == STREAMING_SIGNED_EVENTS:
        from nimbus.gateway.auth.signed_events import SignedEventStream  # it builds on ChunkSigning

        if request.stream is None or signing is None:
            raise errors.invalid_request(f"{payload_hash} is for event-stream operations.")
        request.stream = SignedEventStream(request.stream, signing, errors)
        return
    decoded = AwsChunkedStream(
        request.stream if request.stream is not None else io.BytesIO(request.body),
        errors,
        signing=None if payload_hash == STREAMING_UNSIGNED_TRAILER else signing,
        signed_trailer=payload_hash == STREAMING_SIGNED_TRAILER,
        decoded_length=_decoded_content_length(request, errors),
    )
    if request.stream is not None:
        request.stream = decoded
    else:
        request.body = decoded.read()


def _install_hash_check(request: HttpRequest, expected: str, errors: AuthErrors) -> None:
    if request.stream is not None:
        request.stream = HashCheckingStream(request.stream, expected, errors)
        return
    computed = sha256(request.body).hexdigest()
    if computed != expected:
        raise errors.payload_mismatch(expected, computed)


def _decoded_content_length(request: HttpRequest, errors: AuthErrors) -> int | None:
    text = request.headers.get("x-amz-decoded-content-length")
    if text is None:
        return None
    if not text.isdigit():
        raise errors.invalid_request("x-amz-decoded-content-length must be a non-negative integer.")
    return int(text)


class HashCheckingStream:
    """Passes the body through, hashing it; raises XAmzContentSHA256Mismatch at EOF if it differs."""

    def __init__(self, source: BodyStream, expected: str, errors: AuthErrors) -> None:
        self.trailers: dict[str, str] = {}  # none here; the same attribute as AwsChunkedStream
        self._source = source
        self._expected = expected
        self._errors = errors
        self._hash = BackgroundHasher(sha256())  # on another core while the body is stored

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self._hash.update(data)
        if not data or size < 0:  # read(-1) returned everything: this is EOF too
            self._check()
        return data

    def _check(self) -> None:
        computed = self._hash.hexdigest()
        if computed != self._expected:
            raise self._errors.payload_mismatch(self._expected, computed)


class _BufferedSource:
    """Line and block reads over a BodyStream, holding at most one read's worth of bytes."""

    def __init__(self, stream: BodyStream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    def read_line(self) -> bytes | None:
        """The next CRLF-terminated line without its CRLF; None at a clean EOF."""
        while True:
            end = self._buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 2]
                return line
            if len(self._buffer) > _MAX_LINE:
                raise AwsError("InvalidRequest", "Malformed aws-chunked body: a line is too long.", 400)
            if not self._fill():
                if self._buffer:
                    raise incomplete_body()
                return None

    def read_some(self, limit: int) -> bytes:
        if not self._buffer and not self._fill():
            return b""
        data = bytes(self._buffer[:limit])
        del self._buffer[:limit]
        return data

    def _fill(self) -> bool:
        data = self._stream.read(_READ_SIZE)
        self._buffer += data
        return bool(data)


class AwsChunkedStream:
    """Decodes ``Content-Encoding: aws-chunked``: ``<hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n``
    chunks, a final zero-size chunk, then trailer lines (``name:value``) and an empty line.

    ``trailers`` (lower-case names, ``x-amz-trailer-signature`` excluded) is filled once EOF is read.
    """

    def __init__(
        self,
        source: BodyStream,
        errors: AuthErrors,
        *,
        signing: ChunkSigning | None,
        signed_trailer: bool,
        decoded_length: int | None,
    ) -> None:
        self.trailers: dict[str, str] = {}
        self._source = _BufferedSource(source)
        self._errors = errors
        self._signing = signing
        self._signed_trailer = signed_trailer
        self._decoded_length = decoded_length
        self._previous_signature = signing.seed_signature if signing else ""
        self._chunk_signature = ""
        self._chunk_hash = sha256()
        self._remaining = 0  # data bytes left in the current chunk
        self._decoded = 0
        self._done = False

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while not self._done and (size < 0 or len(out) < size):
            if self._remaining == 0:
                self._begin_chunk()
                continue
            wanted = self._remaining if size < 0 else min(self._remaining, size - len(out))
            data = self._source.read_some(wanted)
            if not data:
                raise incomplete_body()
            out += data
            self._take(data)
        return bytes(out)

    def _begin_chunk(self) -> None:
        line = self._source.read_line()
        if line is None:
            raise incomplete_body()
        self._remaining, self._chunk_signature = self._parse_chunk_header(line)
        self._chunk_hash = sha256()
        if self._remaining == 0:
            self._verify_chunk_signature()
            self._read_trailers()
            self._check_decoded_length()
            self._done = True

    def _take(self, data: bytes) -> None:
        self._remaining -= len(data)
        self._decoded += len(data)
        if self._decoded_length is not None and self._decoded > self._decoded_length:
            raise AwsError("InvalidRequest", "The body is longer than x-amz-decoded-content-length.", 400)
        self._chunk_hash.update(data)
        if self._remaining == 0:
            if self._source.read_line() != b"":
                raise _malformed("chunk data is not followed by CRLF")
            self._verify_chunk_signature()

    def _parse_chunk_header(self, line: bytes) -> tuple[int, str]:
        size_text, _, extensions = line.partition(b";")
        size_text = size_text.strip()
        if not size_text or len(size_text) > 16 or not all(c in b"0123456789abcdefABCDEF" for c in size_text):
            raise _malformed(f"bad chunk size {size_text[:32]!r}")
        signature = ""
        for extension in extensions.split(b";"):
            name, _, value = extension.partition(b"=")
            if name.strip() == b"chunk-signature":
                signature = value.strip().decode("ascii", "replace")
        if self._signing is not None and not signature:
            raise _malformed("a chunk has no chunk-signature")
        return int(size_text, 16), signature

    def _verify_chunk_signature(self) -> None:
        if self._signing is not None:
            hashes = [EMPTY_SHA256, self._chunk_hash.hexdigest()]
            self._previous_signature = self._check_signature(
                self._signing, "AWS4-HMAC-SHA256-PAYLOAD", hashes, self._chunk_signature
            )

    def _read_trailers(self) -> None:
        trailer_signature = ""
        # A missing final empty line is tolerated: the body has ended either way.
        while line := self._source.read_line():
            name, colon, value = line.decode("utf-8", "replace").partition(":")
            if not colon:
                raise _malformed("a trailer line has no ':'")
            if name.strip().lower() == "x-amz-trailer-signature":
                trailer_signature = value.strip()
            else:
                self.trailers[name.strip().lower()] = value.strip()
        if self._signed_trailer and self._signing is not None:
            canonical = "".join(f"{name}:{value}\n" for name, value in sorted(self.trailers.items()))
            trailer_hash = sha256(canonical.encode()).hexdigest()
            self._check_signature(
                self._signing, "AWS4-HMAC-SHA256-TRAILER", [trailer_hash], trailer_signature
            )

    def _check_signature(
        self, signing: ChunkSigning, algorithm: str, hashes: list[str], provided: str
    ) -> str:
        """Checks one link of the signature chain and returns it, the next link's predecessor."""
        string_to_sign = "\n".join(
            [algorithm, signing.timestamp, signing.scope, self._previous_signature, *hashes]
        )
        expected = hmac_sha256(signing.key, string_to_sign).hex()
        if not same_signature(expected, provided):
            raise self._errors.signature_mismatch(signing.access_key_id, string_to_sign, provided)
        return expected

    def _check_decoded_length(self) -> None:
        if self._decoded_length is not None and self._decoded < self._decoded_length:
            raise incomplete_body(
                f"You did not provide the number of bytes specified by the x-amz-decoded-content-length "
                f"header: {self._decoded} of {self._decoded_length}."
            )


def _malformed(detail: str) -> AwsError:
    return AwsError("InvalidRequest", f"Malformed aws-chunked body: {detail}.", 400)
