"""AWS event streams: the framing Nimbus writes, read back by botocore's parser (which nobody here
wrote), and the signed input chain refusing a changed, reordered or cut-short event."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from hashlib import sha256

import pytest
from botocore.eventstream import EventStreamBuffer
from botocore.loaders import Loader
from botocore.model import ServiceModel

from nimbus.errors import AwsError
from nimbus.gateway.auth.errors import AuthErrors
from nimbus.gateway.auth.payload import ChunkSigning
from nimbus.gateway.auth.signed_events import SignedEventStream
from nimbus.gateway.auth.signing import hmac_sha256, signing_key
from nimbus.protocol.eventstream import HeaderValue, encode_event, encode_headers, encode_message, read_events

LEX = ServiceModel(Loader().load_service_model("lexv2-runtime", "service-2"), "lexv2-runtime")
OPERATION = LEX.operation_model("StartConversation")
INPUT = OPERATION.input_shape.members["requestEventStream"]
OUTPUT = OPERATION.output_shape.members["responseEventStream"]
SIGNED_AT = datetime(2026, 12, 4, 10, 30, 5, 123000, tzinfo=UTC)
SCOPE = "20261204/us-east-1/lex/aws4_request"
KEY = signing_key("secret", "20261204", "us-east-1", "lex")


def test_output_events_parse_with_botocore() -> None:
    buffer = EventStreamBuffer()
    event = {"TranscriptEvent": {"transcript": "some roses", "eventId": "nimbus-1"}}
    buffer.add_data(
        encode_event(OUTPUT, event) + encode_event(OUTPUT, {"HeartbeatEvent": {"eventId": "n-2"}})
    )
    first, second = list(buffer)
    assert first.headers == {
        ":message-type": "event",
        ":event-type": "TranscriptEvent",
        ":content-type": "application/json",
    }
    assert json.loads(first.payload) == event["TranscriptEvent"]
    assert second.headers[":event-type"] == "HeartbeatEvent"


def signed(payloads: list[bytes], seed: str = "seed") -> list[bytes]:
    """Each payload wrapped and signed as the AWS SDKs sign event streams, then the empty end message."""
    messages, prior = [], seed
    for payload in [*payloads, b""]:
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                SIGNED_AT.strftime("%Y%m%dT%H%M%SZ"),
                SCOPE,
                prior,
                sha256(encode_headers({":date": SIGNED_AT})).hexdigest(),
                sha256(payload).hexdigest(),
            ]
        )
        prior = hmac_sha256(KEY, to_sign).hex()
        messages.append(
            encode_message({":date": SIGNED_AT, ":chunk-signature": bytes.fromhex(prior)}, payload)
        )
    return messages


def events_of(body: bytes) -> list[dict[str, object]]:
    signing = ChunkSigning("AKIDEXAMPLE", KEY, "20261204T103000Z", SCOPE, "seed")
    stream = SignedEventStream(io.BytesIO(body), signing, AuthErrors.for_protocol("rest-json"))
    return list(read_events(INPUT, stream.read, "ValidationException"))


def text_event(text: str) -> bytes:
    headers: dict[str, HeaderValue] = {
        ":message-type": "event",
        ":event-type": "TextInputEvent",
        ":content-type": "application/json",
    }
    return encode_message(headers, json.dumps({"text": text}).encode())


def test_a_signed_chain_is_read_and_tampering_is_refused() -> None:
    first, second, end = signed([text_event("order roses"), text_event("tomorrow")])
    assert events_of(first + second + end) == [
        {"TextInputEvent": {"text": "order roses"}},
        {"TextInputEvent": {"text": "tomorrow"}},
    ]
    buffer = EventStreamBuffer()
    buffer.add_data(second)
    signature = next(iter(buffer)).headers[":chunk-signature"]
    forged = encode_message({":date": SIGNED_AT, ":chunk-signature": signature}, text_event("never mind"))
    with pytest.raises(AwsError) as changed:
        events_of(first + forged + end)
    assert changed.value.code == "InvalidSignatureException"
    with pytest.raises(AwsError) as reordered:
        events_of(second + first + end)
    assert reordered.value.code == "InvalidSignatureException"
    with pytest.raises(AwsError) as cut:
        events_of(first + second)
    assert cut.value.code == "IncompleteBody"
    with pytest.raises(AwsError) as bad:
        events_of(signed([encode_message({":message-type": "event", ":event-type": "Nonsense"}, b"{}")])[0])
    assert bad.value.code == "ValidationException"
