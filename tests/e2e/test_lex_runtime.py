"""Lex V2 runtime through boto3 against a real server: bots built with lexv2-models, versioned and
aliased, then conversations: slot elicitation over several turns, confirmation declined and
accepted, fallback, a code hook server that changes the dialog, a hook that times out, sessions,
RecognizeUtterance with text and with espeak-ng speech, aggregated utterances, and bad input."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import lex_support
import pytest
import requests
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from lex_support import (
    LOCALE,
    TEST_SET_CSV,
    HookServer,
    add_slot,
    flower_types,
    import_test_set,
    make_bot,
    message,
    new_bot,
    order_flowers,
    prompt,
    speak,
)

models, runtime = lex_support.models, lex_support.runtime  # the Lex modules' shared fixtures


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
            intentClosingSetting={"closingResponse": message(f"{name} done.")},
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
    bot_id = new_bot(models, "Unbuilt")
    with pytest.raises(ClientError) as raised:
        runtime.recognize_text(
            botId=bot_id, botAliasId="TSTALIASID", localeId=LOCALE, sessionId="s-1", text="hello"
        )
    assert error_code(raised) == "ValidationException"


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


def aws_order_flowers(models: Any, bot_id: str) -> None:
    """AWS's OrderFlowers example bot, as its documentation defines it (without the Lambda)."""
    flowers = flower_types(models, bot_id, "OriginalValue")
    intent = models.create_intent(
        botId=bot_id,
        botVersion="DRAFT",
        localeId=LOCALE,
        intentName="OrderFlowers",
        sampleUtterances=[
            {"utterance": "I would like to pick up flowers"},
            {"utterance": "I would like to order some flowers"},
        ],
    )
    slots = [
        add_slot(models, bot_id, intent["intentId"], name, type_id, text)
        for name, type_id, text in (
            ("FlowerType", flowers, "What type of flowers would you like to order?"),
            ("PickupDate", "AMAZON.Date", "What day do you want the {FlowerType} to be picked up?"),
            ("PickupTime", "AMAZON.Time", "At what time do you want the {FlowerType} to be picked up?"),
        )
    ]
    models.update_intent(
        botId=bot_id,
        botVersion="DRAFT",
        localeId=LOCALE,
        intentId=intent["intentId"],
        intentName="OrderFlowers",
        sampleUtterances=intent["sampleUtterances"],
        slotPriorities=[{"priority": i + 1, "slotId": slot_id} for i, slot_id in enumerate(slots)],
        intentConfirmationSetting={
            "promptSpecification": prompt(
                "Okay, your {FlowerType} will be ready for pickup by {PickupTime} on {PickupDate}. "
                "Does this sound okay?"
            ),
            "declinationResponse": message("Okay, I will not place your order."),
        },
    )


def garden(models: Any, bot_id: str) -> None:
    """A bot with a multi-value slot, a composite slot and a conditional branch on slot capture."""
    plants = models.create_slot_type(
        botId=bot_id,
        botVersion="DRAFT",
        localeId=LOCALE,
        slotTypeName="PlantTypes",
        slotTypeValues=[{"sampleValue": {"value": v}} for v in ("ferns", "cacti", "orchids")],
        valueSelectionSetting={"resolutionStrategy": "TopResolution"},
    )["slotTypeId"]
    window = models.create_slot_type(
        botId=bot_id,
        botVersion="DRAFT",
        localeId=LOCALE,
        slotTypeName="DeliveryWindow",
        compositeSlotTypeSetting={
            "subSlots": [
                {"name": "Day", "slotTypeId": "AMAZON.Date"},
                {"name": "Time", "slotTypeId": "AMAZON.Time"},
            ]
        },
    )["slotTypeId"]
    intent_id = models.create_intent(
        botId=bot_id,
        botVersion="DRAFT",
        localeId=LOCALE,
        intentName="OrderPlants",
        sampleUtterances=[
            {"utterance": "I want to buy plants"},
            {"utterance": "order some plants for my garden"},
        ],
        intentClosingSetting={"closingResponse": message("Delivering {Plants}.")},
    )["intentId"]
    capture = {
        "captureConditional": {
            "active": True,
            "conditionalBranches": [
                {
                    "name": "Several",
                    "condition": {"expressionString": "COUNT({Plants}) > 1"},
                    "response": message("A fine selection."),
                    "nextStep": {"dialogAction": {"type": "ElicitSlot", "slotToElicit": "Delivery"}},
                }
            ],
            "defaultBranch": {
                "nextStep": {"dialogAction": {"type": "ElicitSlot", "slotToElicit": "Delivery"}}
            },
        }
    }
    plants_slot = models.create_slot(
        botId=bot_id,
        botVersion="DRAFT",
        localeId=LOCALE,
        intentId=intent_id,
        slotName="Plants",
        slotTypeId=plants,
        multipleValuesSetting={"allowMultipleValues": True},
        valueElicitationSetting={
            "slotConstraint": "Required",
            "promptSpecification": prompt("Which plants?"),
            "slotCaptureSetting": capture,
        },
    )["slotId"]
    delivery_slot = models.create_slot(
        botId=bot_id,
        botVersion="DRAFT",
        localeId=LOCALE,
        intentId=intent_id,
        slotName="Delivery",
        slotTypeId=window,
        valueElicitationSetting={
            "slotConstraint": "Required",
            "promptSpecification": prompt("When should we deliver?"),
        },
        subSlotSetting={
            "expression": "Day AND Time",
            "slotSpecifications": {
                "Day": {
                    "slotTypeId": "AMAZON.Date",
                    "valueElicitationSetting": {"promptSpecification": prompt("Which day?")},
                },
                "Time": {
                    "slotTypeId": "AMAZON.Time",
                    "valueElicitationSetting": {"promptSpecification": prompt("At what time?")},
                },
            },
        },
    )["slotId"]
    models.update_intent(
        botId=bot_id,
        botVersion="DRAFT",
        localeId=LOCALE,
        intentId=intent_id,
        intentName="OrderPlants",
        sampleUtterances=[
            {"utterance": "I want to buy plants"},
            {"utterance": "order some plants for my garden"},
        ],
        intentClosingSetting={"closingResponse": message("Delivering {Plants}.")},
        slotPriorities=[{"priority": 1, "slotId": plants_slot}, {"priority": 2, "slotId": delivery_slot}],
    )


@pytest.fixture(scope="module")
def aws_flowers_bot(models: Any) -> tuple[str, str]:
    return make_bot(models, "AwsOrderFlowers", lambda bot_id: aws_order_flowers(models, bot_id), None)


def test_aws_order_flowers_with_relative_dates_and_part_of_day_times(
    runtime: Any, aws_flowers_bot: tuple[str, str]
) -> None:
    say = talk(runtime, aws_flowers_bot, f"aws-flowers-{uuid.uuid4().hex[:6]}")
    assert said(say("I would like to order some flowers")) == [
        "What type of flowers would you like to order?"
    ]
    assert said(say("roses")) == ["What day do you want the roses to be picked up?"]
    reply = say("a week from Friday")
    assert said(reply) == ["At what time do you want the roses to be picked up?"]
    today = dt.date.today()
    friday = today + dt.timedelta(days=(4 - today.weekday()) % 7 or 7)  # a weekday: the next one
    expected_day = (friday + dt.timedelta(days=7)).isoformat()
    confirm = say("half past four in the afternoon")
    slots = confirm["sessionState"]["intent"]["slots"]
    assert slots["PickupTime"]["value"]["interpretedValue"] == "16:30"
    assert slots["PickupDate"]["value"]["interpretedValue"] == expected_day
    assert said(confirm) == [
        f"Okay, your roses will be ready for pickup by 16:30 on {expected_day}. Does this sound okay?"
    ]
    one_turn = talk(runtime, aws_flowers_bot, f"aws-flowers-{uuid.uuid4().hex[:6]}")(
        "I would like to pick up flowers, tulips, at noon tomorrow"
    )
    slots = one_turn["sessionState"]["intent"]["slots"]
    assert slots["PickupTime"]["value"]["interpretedValue"] == "12:00"
    assert slots["PickupDate"]["value"]["interpretedValue"] == (today + dt.timedelta(days=1)).isoformat()
    assert one_turn["sessionState"]["dialogAction"]["type"] == "ConfirmIntent"


def test_multi_value_composite_slots_and_a_conditional_branch(runtime: Any, models: Any) -> None:
    bot = make_bot(models, "Garden", lambda bot_id: garden(models, bot_id), None)
    say = talk(runtime, bot, "garden-1")
    assert said(say("I want to buy plants")) == ["Which plants?"]
    chosen = say("ferns and orchids")
    plants = chosen["sessionState"]["intent"]["slots"]["Plants"]
    assert plants["shape"] == "List"
    assert [item["value"]["interpretedValue"] for item in plants["values"]] == ["ferns", "orchids"]
    assert said(chosen) == ["A fine selection.", "When should we deliver?"]
    day = say("next friday")
    assert day["sessionState"]["dialogAction"] == {
        "type": "ElicitSlot",
        "slotToElicit": "Delivery",
        "subSlotToElicit": {"name": "Time"},
    }
    assert said(day) == ["At what time?"]
    done = say("half past four in the afternoon")
    delivery = done["sessionState"]["intent"]["slots"]["Delivery"]
    assert delivery["shape"] == "Composite"
    assert delivery["subSlots"]["Time"]["value"]["interpretedValue"] == "16:30"
    assert said(done) == ["Delivering ferns and orchids."]


def test_a_test_set_runs_with_per_intent_and_per_slot_results_and_is_logged(
    runtime: Any, models: Any, s3: Any, bucket: str, aws_flowers_bot: tuple[str, str], nimbus: NimbusServer
) -> None:
    bot_id, alias_id = aws_flowers_bot
    alias = models.describe_bot_alias(botId=bot_id, botAliasId=alias_id)
    group = "/lex/order-flowers"
    models.update_bot_alias(
        botId=bot_id,
        botAliasId=alias_id,
        botAliasName=alias["botAliasName"],
        botVersion=alias["botVersion"],
        botAliasLocaleSettings=alias["botAliasLocaleSettings"],
        conversationLogSettings={
            "textLogSettings": [
                {
                    "enabled": True,
                    "destination": {
                        "cloudWatch": {
                            "cloudWatchLogGroupArn": f"arn:aws:logs:us-east-1:123456789012:log-group:{group}",
                            "logPrefix": "flowers/",
                        }
                    },
                }
            ]
        },
    )
    imported = import_test_set(models, s3, bucket, "flowers-tests", TEST_SET_CSV)
    assert imported["importStatus"] == "Completed"
    test_set_id = imported["importedResourceId"]
    described = models.describe_test_set(testSetId=test_set_id)
    assert described["status"] == "Ready" and described["numTurns"] == 5
    records = models.list_test_set_records(testSetId=test_set_id)["testSetRecords"]
    assert records[4]["turnSpecification"]["userTurn"]["expected"]["intent"]["slots"] == {
        "FlowerType": {"value": "roses"}
    }
    target = {"botAliasTarget": {"botId": bot_id, "botAliasId": alias_id, "localeId": LOCALE}}
    execution_id = models.start_test_execution(testSetId=test_set_id, target=target, apiMode="NonStreaming")[
        "testExecutionId"
    ]
    for _ in range(240):
        status = models.describe_test_execution(testExecutionId=execution_id)["testExecutionStatus"]
        if status not in ("Pending", "InProgress"):
            break
        time.sleep(0.5)
    assert status == "Completed"

    def results(kind: str) -> dict[str, Any]:
        return models.list_test_execution_result_items(
            testExecutionId=execution_id, resultFilterBy={"resultTypeFilter": kind}
        )["testExecutionResults"]

    by_intent = {
        (item["intentName"], item["multiTurnConversation"]): item["resultCounts"]["intentMatchResultCounts"]
        for item in results("IntentClassificationTestResults")["intentClassificationTestResults"]["items"]
    }
    assert by_intent == {
        ("CheckBalance", False): {"Mismatched": 1},
        ("OrderFlowers", False): {"Matched": 1},
        ("OrderFlowers", True): {"Matched": 2},
    }
    slots = results("SlotResolutionTestResults")["intentLevelSlotResolutionTestResults"]["items"]
    assert slots[0]["slotResolutionResults"][0]["resultCounts"]["slotMatchResultCounts"] == {"Matched": 1}
    agent = results("UtteranceLevelResults")["utteranceLevelTestResults"]["items"][3]["turnResult"]["agent"]
    assert agent["actualAgentPrompt"] == agent["expectedAgentPrompt"]
    url = models.get_test_execution_artifacts_url(testExecutionId=execution_id)["downloadArtifactsUrl"]
    assert "CheckBalance" in requests.get(url, timeout=30).text
    report_id = models.create_test_set_discrepancy_report(testSetId=test_set_id, target=target)[
        "testSetDiscrepancyReportId"
    ]
    report = models.describe_test_set_discrepancy_report(testSetDiscrepancyReportId=report_id)
    assert [item["intentName"] for item in report["testSetDiscrepancyTopErrors"]["intentDiscrepancies"]] == [
        "CheckBalance"
    ]
    window = {
        "startDateTime": dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
        "endDateTime": dt.datetime.now(dt.UTC),
    }
    heard = models.list_utterance_analytics_data(
        botId=bot_id, **window, filters=[{"name": "Channel", "operator": "EQ", "values": ["TestWorkbench"]}]
    )["utterances"]
    assert {item["utterance"] for item in heard} == {
        "I would like to order some flowers",
        "what is my balance",
        "I would like to pick up flowers",
        "roses",
    }
    metrics = models.list_intent_metrics(
        botId=bot_id,
        **window,
        metrics=[{"name": "Count", "statistic": "Sum"}],
        groupBy=[{"name": "IntentName"}],
        filters=[{"name": "Channel", "operator": "EQ", "values": ["TestWorkbench"]}],
    )["results"]
    counts = {item["groupByKeys"][0]["value"]: item["metricsResults"][0]["value"] for item in metrics}
    assert counts == {"OrderFlowers": 2.0, "FallbackIntent": 1.0}
    events = nimbus.client("logs").filter_log_events(logGroupName=group)["events"]
    logged = [json.loads(event["message"]) for event in events]
    assert {entry["inputTranscript"] for entry in logged} >= {"roses", "what is my balance"}
    assert all(event["logStreamName"].startswith(f"flowers/{bot_id}/{alias_id}/") for event in events)


def test_a_bad_test_set_fails_its_import_and_unknown_ones_are_not_found(
    models: Any, s3: Any, bucket: str
) -> None:
    failed = import_test_set(models, s3, bucket, "bad-tests", "Input,Expected Output Intent\nhello,Greet\n")
    assert failed["importStatus"] == "Failed"
    assert "Source" in failed["failureReasons"][0]
    with pytest.raises(ClientError) as raised:
        models.describe_test_set(testSetId="NOSUCHTEST")
    assert error_code(raised) == "ResourceNotFoundException"
