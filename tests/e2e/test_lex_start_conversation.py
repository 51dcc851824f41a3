"""Lex V2's StartConversation driven by a client nobody here wrote: the AWS SDK for JavaScript v3
(``@aws-sdk/client-lex-runtime-v2``, run by Node), which opens an HTTP/2 bidirectional event stream
to the same port boto3 reaches over HTTP/1.1. One conversation speaks (8 kHz PCM from espeak-ng,
ended by the silence after it), types, keys DTMF and goes quiet long enough for a heartbeat; another
asks for spoken answers and breaks the TEXT mode's rule; an unknown bot and events not signed one by
one are refused before any stream."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import NimbusServer, signed_request
from lex_support import LOCALE, make_bot, order_flowers, speak

CLIENT = Path(__file__).parent / "lex_stream_client"
pytestmark = pytest.mark.skipif(
    not (CLIENT / "node_modules" / "@aws-sdk" / "client-lex-runtime-v2").is_dir() or not shutil.which("node"),
    reason="make install-test installs the JavaScript SDK (npm ci --prefix tests/e2e/lex_stream_client)",
)


@pytest.fixture(scope="module")
def flowers(nimbus: NimbusServer) -> dict[str, str]:
    models = nimbus.client("lexv2-models")
    bot_id, alias_id = make_bot(models, "StreamFlowers", lambda bot: order_flowers(models, bot), None)
    return {"botId": bot_id, "botAliasId": alias_id, "localeId": LOCALE}


def run_client(nimbus: NimbusServer, plan: dict[str, Any]) -> list[dict[str, Any]]:
    env = nimbus.env()
    plan = {
        "endpoint": nimbus.endpoint_url,
        "region": env.get("AWS_DEFAULT_REGION", "us-east-1"),
        "credentials": {
            "accessKeyId": env["AWS_ACCESS_KEY_ID"],
            "secretAccessKey": env["AWS_SECRET_ACCESS_KEY"],
        },
        **plan,
    }
    done = subprocess.run(
        ["node", str(CLIENT / "converse.js")],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def names(events: list[dict[str, Any]]) -> list[str]:
    return [next(iter(event)) for event in events]


def of(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [event[name] for event in events if name in event]


def spoken_8khz(text: str, folder: Path) -> Path:
    """espeak-ng speech at 8 kHz (telephone audio, as StartConversation's docs ask for) between
    stretches of silence: the silence after it is how the bot knows the speaker has finished."""
    pcm16k = np.frombuffer(speak(text), dtype="<i2")
    samples = pcm16k[::2]  # espeak's output has nothing above 4 kHz worth keeping for recognition
    silence = np.zeros(8000, dtype="<i2")  # one second
    path = folder / "utterance.pcm"
    path.write_bytes(np.concatenate([silence // 2, samples, silence]).astype("<i2").tobytes())
    return path


def test_a_spoken_typed_and_keyed_conversation_over_http2(
    nimbus: NimbusServer, flowers: dict[str, str], tmp_path: Path
) -> None:
    session = f"stream-{uuid.uuid4().hex[:8]}"
    audio = spoken_8khz("I would like to order some roses", tmp_path)
    lpcm = "audio/lpcm; sample-rate=8000; sample-size-bits=16; channel-count=1; is-big-endian=false"
    spoken = {"path": str(audio), "contentType": lpcm, "chunkBytes": 3200}  # 200 ms per event
    events = run_client(
        nimbus,
        {
            "bot": flowers,
            "recognizeText": {"sessionId": f"{session}-rt", "text": "I would like to order some flowers"},
            "conversations": [
                {
                    "sessionId": session,
                    "mode": "AUDIO",
                    "configuration": {"responseContentType": "text/plain; charset=utf-8"},
                    "turns": [
                        {"events": [{"audioFile": spoken}], "awaitResult": True},
                        {"events": [{"TextInputEvent": {"text": "next tuesday", "eventId": "typed-1"}}],
                         "awaitResult": True},
                        {"events": [{"DTMFInputEvent": {"inputCharacter": key}} for key in "4*2#"],
                         "awaitResult": True},
                        {"events": [], "pauseMs": 5600},
                        {"events": [{"TextInputEvent": {"text": "yes"}}], "awaitResult": True},
                        {"events": [{"DisconnectionEvent": {}}]},
                    ],
                }
            ],
        },
    )  # fmt: skip
    # RecognizeText over HTTP/2 answers as it does over HTTP/1.1
    typed = events[0]["RecognizeText"]
    assert typed["sessionState"]["dialogAction"] == {"type": "ElicitSlot", "slotToElicit": "FlowerType"}
    stream = events[1:]
    assert stream[-1] == {"end": True}, stream
    # speech: what was heard, then the dialog's turn, then its prompt
    assert names(stream)[:3] == ["TranscriptEvent", "IntentResultEvent", "TextResponseEvent"]
    transcript = of(stream, "TranscriptEvent")[0]["transcript"]
    assert "roses" in transcript.split()
    results = of(stream, "IntentResultEvent")
    spoken = results[0]
    assert spoken["inputMode"] == "Speech" and spoken["sessionId"] == session
    assert spoken["sessionState"]["intent"]["slots"]["FlowerType"]["value"]["interpretedValue"] == "roses"
    assert spoken["sessionState"]["dialogAction"] == {"type": "ElicitSlot", "slotToElicit": "PickupDate"}
    prompts = [event["messages"][0]["content"] for event in of(stream, "TextResponseEvent")]
    assert prompts[0] == "What day do you want the roses to be picked up?"
    # typed: the date fills the slot and the bot asks for confirmation
    assert results[1]["inputMode"] == "Text"
    assert results[1]["sessionState"]["dialogAction"]["type"] == "ConfirmIntent"
    # keyed: 4 deleted by *, then 2 ended by #; not an answer to a confirmation, so asked again
    assert of(stream, "TranscriptEvent")[1]["transcript"] == "2"
    assert results[2]["inputMode"] == "DTMF"
    assert results[2]["sessionState"]["dialogAction"]["type"] == "ConfirmIntent"
    # the quiet stretch brought a heartbeat; then "yes" closes the order
    assert "HeartbeatEvent" in names(stream)
    assert results[3]["sessionState"]["intent"]["confirmationState"] == "Confirmed"
    assert prompts[-1] == "Thanks, your roses are ordered."
    # the session the stream kept is the one boto3 (HTTP/1.1, same port) reads
    session_state = nimbus.client("lexv2-runtime").get_session(
        botId=flowers["botId"], botAliasId=flowers["botAliasId"], localeId=LOCALE, sessionId=session
    )["sessionState"]
    assert session_state["intent"]["state"] == "ReadyForFulfillment"


def test_spoken_answers_mode_rules_and_unknown_bots(nimbus: NimbusServer, flowers: dict[str, str]) -> None:
    welcome_message = {"contentType": "PlainText", "content": "Welcome to the flower shop."}
    events = run_client(
        nimbus,
        {
            "bot": flowers,
            "conversations": [
                {
                    "sessionId": f"voice-{uuid.uuid4().hex[:8]}",
                    "mode": "TEXT",
                    "configuration": {
                        "responseContentType": "audio/pcm; sample-rate=8000",
                        "welcomeMessages": [welcome_message],
                    },
                    "turns": [
                        {"events": [{"TextInputEvent": {"text": "I would like to order some flowers"}}],
                         "awaitResult": True},
                        {"events": [{"AudioInputEvent": {"audioChunk": [0, 0], "contentType": "audio/l16"}}]},
                    ],
                },
                {
                    "sessionId": "nobody",
                    "bot": {"botId": "NOSUCHBOT1"},
                    "configuration": {"responseContentType": "text/plain; charset=utf-8"},
                    "turns": [],
                },
            ],
        },
    )  # fmt: skip
    welcome, *rest = events
    assert welcome == {
        "TextResponseEvent": {
            "messages": [welcome_message],
            "eventId": welcome["TextResponseEvent"]["eventId"],
        }
    }
    # the welcome is spoken; typing while it plays interrupts it; the answer is text and speech
    sent = names(rest)
    kinds = [
        name for index, name in enumerate(sent) if name != "AudioResponseEvent" or sent[index - 1] != name
    ]
    assert kinds == [
        "AudioResponseEvent",
        "PlaybackInterruptionEvent",
        "IntentResultEvent",
        "TextResponseEvent",
        "AudioResponseEvent",
        "error",  # the audio sent in TEXT mode
        "error",  # the unknown bot, refused before its stream began
    ]
    assert of(rest, "PlaybackInterruptionEvent")[0]["eventReason"] == "TEXT_DETECTED"
    prompt = of(rest, "TextResponseEvent")[0]["messages"][0]["content"]
    assert prompt == "What type of flowers would you like to order?"
    answer = of(rest, "AudioResponseEvent")
    assert {event["contentType"] for event in answer} == {"audio/pcm; sample-rate=8000"}
    assert sum(event["audioChunk"] for event in answer) > 2 * 8000  # both spoken, over a second at 8 kHz
    refused, unknown = of(rest, "error")
    assert refused["name"] == "ValidationException" and "TEXT mode" in refused["message"]
    assert unknown["name"] == "ResourceNotFoundException" and unknown["status"] == 404
    # events that are not signed one by one (the body signed as a whole) are refused before any stream
    path = "/bots/{botId}/botAliases/{botAliasId}/botLocales/{localeId}/sessions/plain/conversation"
    plain = signed_request(nimbus, "POST", path.format(**flowers), service="lex", body=b"\x00" * 16)
    assert plain.status == 400 and plain.headers["x-amzn-errortype"].startswith("ValidationException")
    assert "STREAMING-AWS4-HMAC-SHA256-EVENTS" in plain.text
