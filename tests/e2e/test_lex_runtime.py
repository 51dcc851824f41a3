"""Lex V2 runtime through boto3 against a real server: bots built with lexv2-models, versioned and
aliased, then conversations: slot elicitation over several turns, confirmation declined and
accepted, fallback, a code hook server that changes the dialog, a hook that times out, sessions,
RecognizeUtterance with text and with espeak-ng speech, aggregated utterances, and bad input."""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code

LOCALE = "en_US"


def plain(text: str) -> dict[str, Any]:
    return {"messageGroups": [{"message": {"plainTextMessage": {"value": text}}}]}


def prompt(text: str) -> dict[str, Any]:
    return {**plain(text), "maxRetries": 2}


class HookServer:
    """A code hook endpoint on a free loopback port; ``answer`` turns each event into a response."""

    def __init__(self, answer: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.events.append(event)
                body = json.dumps(hook.answer(event)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def reject_sunday(event: dict[str, Any]) -> dict[str, Any]:
    """The dialog hook: a pickup on Sunday is refused and asked again; otherwise Lex goes on."""
    intent = event["sessionState"]["intent"]
    if "slowly" in event["inputTranscript"]:
        time.sleep(12)
    day = ((intent["slots"].get("PickupDate") or {}).get("value") or {}).get("interpretedValue", "")
    if day and time.strptime(day, "%Y-%m-%d").tm_wday == 6:
        intent["slots"]["PickupDate"] = None
        return {
            "sessionState": {
                "dialogAction": {"type": "ElicitSlot", "slotToElicit": "PickupDate"},
                "intent": intent,
            },
            "messages": [
                {"contentType": "PlainText", "content": "We are closed on Sundays. Which other day?"}
            ],
        }
    return {"sessionState": {"dialogAction": {"type": "Delegate"}, "intent": intent}}


@pytest.fixture(scope="module")
def hook() -> Iterator[HookServer]:
    server = HookServer(reject_sunday)
    yield server
    server.close()


@pytest.fixture(scope="module")
def models(nimbus: NimbusServer) -> Any:
    return nimbus.client("lexv2-models")


@pytest.fixture(scope="module")
def runtime(nimbus: NimbusServer) -> Any:
    return nimbus.client("lexv2-runtime")


def wait_built(models: Any, bot_id: str) -> None:
    for _ in range(600):
        status = models.describe_bot_locale(botId=bot_id, botVersion="DRAFT", localeId=LOCALE)[
            "botLocaleStatus"
        ]
        if status == "Built":
            return
        assert status not in ("Failed", "NotBuilt"), status
        time.sleep(0.5)
    raise AssertionError("the locale did not build")


def make_bot(models: Any, name: str, build: Callable[[str], None], hook_url: str | None) -> tuple[str, str]:
    bot_id = models.create_bot(
        botName=f"{name}{uuid.uuid4().hex[:6]}",
        roleArn="arn:aws:iam::123456789012:role/lex",
        dataPrivacy={"childDirected": False},
        idleSessionTTLInSeconds=300,
    )["botId"]
    models.create_bot_locale(
        botId=bot_id, botVersion="DRAFT", localeId=LOCALE, nluIntentConfidenceThreshold=0.4
    )
    build(bot_id)
    models.build_bot_locale(botId=bot_id, botVersion="DRAFT", localeId=LOCALE)
    wait_built(models, bot_id)
    version = models.create_bot_version(
        botId=bot_id, botVersionLocaleSpecification={LOCALE: {"sourceBotVersion": "DRAFT"}}
    )["botVersion"]
    settings: dict[str, Any] = {"enabled": True}
    if hook_url:
        settings["codeHookSpecification"] = {
            "lambdaCodeHook": {"lambdaARN": hook_url, "codeHookInterfaceVersion": "1.0"}
        }
    for _ in range(120):
        try:
            alias_id = models.create_bot_alias(
                botAliasName="live",
                botId=bot_id,
                botVersion=version,
                botAliasLocaleSettings={LOCALE: settings},
            )["botAliasId"]
            return bot_id, alias_id
        except ClientError as error:  # the version may still be being created
            if error_code(error) not in ("PreconditionFailedException", "ConflictException"):
                raise
            time.sleep(0.5)
    raise AssertionError("the alias could not be created")


def add_slot(models: Any, bot_id: str, intent_id: str, name: str, type_id: str, text: str) -> str:
    return models.create_slot(
        botId=bot_id,
        botVersion="DRAFT",
        localeId=LOCALE,
        intentId=intent_id,
        slotName=name,
        slotTypeId=type_id,
        valueElicitationSetting={"slotConstraint": "Required", "promptSpecification": prompt(text)},
    )["slotId"]


def order_flowers(models: Any, bot_id: str) -> None:
    flowers = models.create_slot_type(
        botId=bot_id,
        botVersion="DRAFT",
        localeId=LOCALE,
        slotTypeName="FlowerTypes",
        slotTypeValues=[{"sampleValue": {"value": v}} for v in ("roses", "lilies", "tulips")],
        valueSelectionSetting={"resolutionStrategy": "TopResolution"},
    )["slotTypeId"]
    intent = models.create_intent(
        botId=bot_id,
        botVersion="DRAFT",
        localeId=LOCALE,
        intentName="OrderFlowers",
        sampleUtterances=[
            {"utterance": u}
            for u in (
                "I would like to pick up flowers",
                "I would like to order some flowers",
                "order {FlowerType}",
            )
        ],
    )
    intent_id = intent["intentId"]
    slots = [
        add_slot(
            models, bot_id, intent_id, "FlowerType", flowers, "What type of flowers would you like to order?"
        ),
        add_slot(
            models,
            bot_id,
            intent_id,
            "PickupDate",
            "AMAZON.Date",
            "What day do you want the {FlowerType} to be picked up?",
        ),
    ]
    models.update_intent(
        botId=bot_id,
        botVersion="DRAFT",
        localeId=LOCALE,
        intentId=intent_id,
        intentName="OrderFlowers",
        sampleUtterances=intent["sampleUtterances"],
        slotPriorities=[{"priority": i + 1, "slotId": slot_id} for i, slot_id in enumerate(slots)],
        dialogCodeHook={"enabled": True},
        intentConfirmationSetting={
            "promptSpecification": prompt(
                "Okay, your {FlowerType} will be ready on {PickupDate}. Does this sound okay?"
            ),
            "declinationResponse": plain("Okay, I will not place your order."),
        },
        intentClosingSetting={"closingResponse": plain("Thanks, your {FlowerType} are ordered.")},
    )


def banking(models: Any, bot_id: str) -> None:
    for name, utterances in (
        ("CheckBalance", ("what is my balance", "how much money do I have", "check my account balance")),
        ("TransferFunds", ("transfer money", "send money to my savings", "move funds between accounts")),
    ):
        models.create_intent(
            botId=bot_id,
            botVersion="DRAFT",
            localeId=LOCALE,
            intentName=name,
            sampleUtterances=[{"utterance": u} for u in utterances],
            intentClosingSetting={"closingResponse": plain(f"{name} done.")},
        )


@pytest.fixture(scope="module")
def flowers_bot(models: Any) -> tuple[str, str]:
    return make_bot(models, "OrderFlowers", lambda bot_id: order_flowers(models, bot_id), None)


@pytest.fixture(scope="module")
def hooked_flowers_bot(models: Any, hook: HookServer) -> tuple[str, str]:
    return make_bot(models, "HookedFlowers", lambda bot_id: order_flowers(models, bot_id), hook.url)


@pytest.fixture(scope="module")
def bank_bot(models: Any) -> tuple[str, str]:
    return make_bot(models, "Banking", lambda bot_id: banking(models, bot_id), None)


def talk(runtime: Any, bot: tuple[str, str], session: str) -> Callable[[str], dict[str, Any]]:
    def say(text: str) -> dict[str, Any]:
        return runtime.recognize_text(
            botId=bot[0], botAliasId=bot[1], localeId=LOCALE, sessionId=session, text=text
        )

    return say


def said(response: dict[str, Any]) -> list[str]:
    return [message["content"] for message in response.get("messages", [])]


def unpack(header: str) -> Any:
    return json.loads(gzip.decompress(base64.b64decode(header)))


def pack(value: Any) -> str:
    return base64.b64encode(gzip.compress(json.dumps(value).encode())).decode()


def test_order_flowers_over_several_turns_confirmed(runtime: Any, flowers_bot: tuple[str, str]) -> None:
    say = talk(runtime, flowers_bot, "accepts-1")
    first = say("I would like to order some flowers")
    assert first["sessionState"]["dialogAction"] == {"type": "ElicitSlot", "slotToElicit": "FlowerType"}
    assert first["sessionState"]["intent"]["name"] == "OrderFlowers"
    assert first["interpretations"][0]["intent"]["name"] == "OrderFlowers"
    assert said(first) == ["What type of flowers would you like to order?"]
    second = say("roses")
    assert second["sessionState"]["dialogAction"]["slotToElicit"] == "PickupDate"
    assert said(second) == ["What day do you want the roses to be picked up?"]
    third = say("next tuesday")
    assert third["sessionState"]["dialogAction"]["type"] == "ConfirmIntent"
    assert "Does this sound okay?" in said(third)[0]
    done = say("yes")
    assert done["sessionState"]["dialogAction"]["type"] == "Close"
    assert done["sessionState"]["intent"]["confirmationState"] == "Confirmed"
    assert done["sessionState"]["intent"]["state"] == "ReadyForFulfillment"
    assert said(done) == ["Thanks, your roses are ordered."]


def test_confirmation_declined_fails_the_intent(runtime: Any, flowers_bot: tuple[str, str]) -> None:
    say = talk(runtime, flowers_bot, "declines-1")
    say("order tulips")
    say("tomorrow")
    declined = say("no")
    assert declined["sessionState"]["intent"]["state"] == "Failed"
    assert said(declined) == ["Okay, I will not place your order."]


def test_code_hook_rejects_a_sunday_and_asks_again(
    runtime: Any, hooked_flowers_bot: tuple[str, str], hook: HookServer
) -> None:
    flowers_bot = hooked_flowers_bot
    say = talk(runtime, flowers_bot, "sunday-1")
    say("order lilies")
    rejected = say("next sunday")
    assert said(rejected) == ["We are closed on Sundays. Which other day?"]
    assert rejected["sessionState"]["dialogAction"] == {"type": "ElicitSlot", "slotToElicit": "PickupDate"}
    event = hook.events[-1]
    assert event["invocationSource"] == "DialogCodeHook" and event["bot"]["id"] == flowers_bot[0]
    assert event["proposedNextState"]["dialogAction"]["type"] == "ConfirmIntent"
    assert say("next monday")["sessionState"]["dialogAction"]["type"] == "ConfirmIntent"


def test_a_hook_that_times_out_fails_the_turn_and_the_session_goes_on(
    runtime: Any, hooked_flowers_bot: tuple[str, str]
) -> None:
    say = talk(runtime, hooked_flowers_bot, "slow-1")
    say("order roses")
    with pytest.raises(ClientError) as raised:
        say("tomorrow, slowly")
    assert error_code(raised) == "DependencyFailedException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert say("tomorrow")["sessionState"]["dialogAction"]["type"] == "ConfirmIntent"


def test_nonsense_falls_back_and_is_listed_as_missed(
    runtime: Any, models: Any, bank_bot: tuple[str, str]
) -> None:
    say = talk(runtime, bank_bot, "bank-1")
    fallback = say("purple elephants sing opera")
    assert fallback["sessionState"]["intent"]["name"] == "FallbackIntent"
    assert say("what is my balance")["sessionState"]["intent"]["name"] == "CheckBalance"
    stats = models.list_aggregated_utterances(
        botId=bank_bot[0],
        botAliasId=bank_bot[1],
        localeId=LOCALE,
        aggregationDuration={"relativeAggregationDuration": {"timeDimension": "Hours", "timeValue": 1}},
        sortBy={"attribute": "MissedCount", "order": "Descending"},
    )
    rows = {row["utterance"]: row for row in stats["aggregatedUtterancesSummaries"]}
    assert rows["purple elephants sing opera"]["missedCount"] == 1
    assert rows["what is my balance"]["hitCount"] == 1
    assert stats["aggregatedUtterancesSummaries"][0]["utterance"] == "purple elephants sing opera"


def test_put_get_delete_session(runtime: Any, bank_bot: tuple[str, str]) -> None:
    ids = {"botId": bank_bot[0], "botAliasId": bank_bot[1], "localeId": LOCALE, "sessionId": "sessions-1"}
    with pytest.raises(ClientError) as missing:
        runtime.get_session(**ids)
    assert error_code(missing) == "ResourceNotFoundException"
    put = runtime.put_session(
        **ids,
        sessionState={"sessionAttributes": {"customer": "ann"}, "dialogAction": {"type": "ElicitIntent"}},
    )
    assert unpack(put["sessionState"])["sessionAttributes"] == {"customer": "ann"}
    reply = runtime.recognize_text(**ids, text="transfer money")
    assert reply["sessionState"]["sessionAttributes"] == {"customer": "ann"}
    got = runtime.get_session(**ids)
    assert got["sessionState"]["intent"]["name"] == "TransferFunds"
    assert got["messages"] == reply["messages"]
    runtime.delete_session(**ids)
    with pytest.raises(ClientError):
        runtime.get_session(**ids)


def test_recognize_utterance_with_text(runtime: Any, bank_bot: tuple[str, str]) -> None:
    reply = runtime.recognize_utterance(
        botId=bank_bot[0],
        botAliasId=bank_bot[1],
        localeId=LOCALE,
        sessionId="utterance-1",
        requestContentType="text/plain; charset=utf-8",
        responseContentType="text/plain; charset=utf-8",
        sessionState=pack({"sessionAttributes": {"channel": "web"}}),
        inputStream=b"how much money do I have",
    )
    assert reply["inputMode"] == "Text"
    assert gzip.decompress(base64.b64decode(reply["inputTranscript"])).decode() == "how much money do I have"
    state = unpack(reply["sessionState"])
    assert state["intent"]["name"] == "CheckBalance" and state["sessionAttributes"] == {"channel": "web"}
    assert unpack(reply["messages"])[0]["content"] == "CheckBalance done."
    assert reply["audioStream"].read() == b""


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"botId": "NOSUCHBOT1"}, "ResourceNotFoundException"),
        ({"botAliasId": "NOSUCHALIA"}, "ResourceNotFoundException"),
        ({"text": "x" * 1025}, "ValidationException"),
    ],
)
def test_bad_input(runtime: Any, bank_bot: tuple[str, str], change: dict[str, str], code: str) -> None:
    request = {
        "botId": bank_bot[0],
        "botAliasId": bank_bot[1],
        "localeId": LOCALE,
        "sessionId": "bad-1",
        "text": "hi",
    }
    with pytest.raises(ClientError) as raised:
        runtime.recognize_text(**{**request, **change})
    assert error_code(raised) == code


def test_an_unbuilt_locale_is_refused(runtime: Any, models: Any) -> None:
    bot_id = models.create_bot(
        botName=f"Unbuilt{uuid.uuid4().hex[:6]}",
        roleArn="arn:aws:iam::123456789012:role/lex",
        dataPrivacy={"childDirected": False},
        idleSessionTTLInSeconds=300,
    )["botId"]
    models.create_bot_locale(
        botId=bot_id, botVersion="DRAFT", localeId=LOCALE, nluIntentConfidenceThreshold=0.4
    )
    with pytest.raises(ClientError) as raised:
        runtime.recognize_text(
            botId=bot_id, botAliasId="TSTALIASID", localeId=LOCALE, sessionId="s-1", text="hello"
        )
    assert error_code(raised) == "ValidationException"


def speak(text: str) -> bytes:
    """Speech made with espeak-ng (16 kHz mono little-endian PCM, as Lex's audio/l16 takes it)."""
    from nimbus.engines.speech import synthesize

    return synthesize(text, voice="en-us+f2", words_per_minute=140)


def test_recognize_utterance_with_speech_fills_the_slot(runtime: Any, flowers_bot: tuple[str, str]) -> None:
    reply = runtime.recognize_utterance(
        botId=flowers_bot[0],
        botAliasId=flowers_bot[1],
        localeId=LOCALE,
        sessionId=f"speech-{uuid.uuid4().hex[:8]}",
        requestContentType="audio/l16; rate=16000; channels=1",
        responseContentType="text/plain; charset=utf-8",
        inputStream=speak("I would like to order some roses"),
    )
    assert reply["inputMode"] == "Speech"
    transcript = gzip.decompress(base64.b64decode(reply["inputTranscript"])).decode()
    assert "roses" in transcript.split()
    state = unpack(reply["sessionState"])
    assert state["intent"]["name"] == "OrderFlowers"
    assert state["intent"]["slots"]["FlowerType"]["value"]["interpretedValue"] == "roses"
    assert state["dialogAction"] == {"type": "ElicitSlot", "slotToElicit": "PickupDate"}


def test_malformed_audio_is_refused(runtime: Any, flowers_bot: tuple[str, str]) -> None:
    with pytest.raises(ClientError) as raised:
        runtime.recognize_utterance(
            botId=flowers_bot[0],
            botAliasId=flowers_bot[1],
            localeId=LOCALE,
            sessionId="speech-bad",
            requestContentType="audio/l16; rate=16000; channels=1",
            inputStream=b"\x01\x02\x03",  # an odd number of bytes is no 16-bit PCM
        )
    assert error_code(raised) == "ValidationException"
