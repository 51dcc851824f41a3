"""Signed event streams (``x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-EVENTS``), as the AWS SDKs
send the input of bidirectional operations (Lex V2's StartConversation, Transcribe streaming).

Each event message travels inside an outer message whose headers are ``:date`` and
``:chunk-signature``; the signature chains from the previous one (the request's own first) over the
date, the hash of the ``:date`` header as framed and the hash of the inner message. An outer
message with an empty payload ends the stream. The wrapper hands on the inner messages' bytes once
their signature is checked, so a reader never sees an event nobody signed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from hashlib import sha256

from nimbus.gateway.auth.errors import AuthErrors, incomplete_body
from nimbus.gateway.auth.payload import ChunkSigning
from nimbus.gateway.auth.signing import hmac_sha256, same_signature
from nimbus.protocol.eventstream import encode_headers, read_message
from nimbus.protocol.http import BodyStream

_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"


class SignedEventStream:
    """``read(n)`` over the verified inner messages of a signed event stream."""

    def __init__(self, source: BodyStream, signing: ChunkSigning, errors: AuthErrors) -> None:
        self.trailers: dict[str, str] = {}  # none; the same attribute as the other payload checks
        self._source = source
        self._signing = signing
        self._errors = errors
        self._previous_signature = signing.seed_signature
        self._pending = b""
        self._done = False

    def read(self, size: int = -1) -> bytes:
        while not self._done and (not self._pending or size < 0):
            self._pending += self._next_payload()
        cut = len(self._pending) if size < 0 else size
        data, self._pending = self._pending[:cut], self._pending[cut:]
        return data

    def _next_payload(self) -> bytes:
        message = read_message(self._source.read)
        if message is None:
            raise incomplete_body("The event stream ended without its signed end message.")
        date = message.headers.get(":date")
        provided = message.headers.get(":chunk-signature")
        if not isinstance(date, int) or not isinstance(provided, bytes):
            raise self._errors.invalid_request("A signed event has no :date or :chunk-signature header.")
        signed_at = datetime.fromtimestamp(date / 1000, UTC)
        timestamp = signed_at.strftime("%Y%m%dT%H%M%SZ")
        if timestamp[:8] != self._signing.scope[:8]:
            raise self._errors.invalid_request("An event is signed on another day than its request.")
        string_to_sign = "\n".join(
            [
                _ALGORITHM,
                timestamp,
                self._signing.scope,
                self._previous_signature,
                sha256(encode_headers({":date": signed_at})).hexdigest(),
                sha256(message.payload).hexdigest(),
            ]
        )
        expected = hmac_sha256(self._signing.key, string_to_sign).hex()
        if not same_signature(expected, provided.hex()):
            raise self._errors.signature_mismatch(self._signing.access_key_id, string_to_sign, provided.hex())
        self._previous_signature = expected
        self._done = not message.payload
        return bytes(message.payload)
