"""What the Lex test modules share: the boto3 clients of one module's server, the message and prompt
shapes of lexv2-models, a code hook endpoint, the OrderFlowers bot built, aliased and waited for, a
test set imported from S3, and espeak-ng speech."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from json_endpoint import Call, JsonEndpoint


@pytest.fixture(scope="module")
def models(nimbus: NimbusServer) -> Any:
    return nimbus.client("lexv2-models")


@pytest.fixture(scope="module")
def runtime(nimbus: NimbusServer) -> Any:
    return nimbus.client("lexv2-runtime")


def message(text: str) -> dict[str, Any]:
    """A response of one plain-text message."""
    return {"messageGroups": [{"message": {"plainTextMessage": {"value": text}}}]}


def prompt(text: str, *, allow_interrupt: bool = False) -> dict[str, Any]:
    """A prompt specification of one plain-text message, asked at most twice more; ``allow_interrupt``
    lets the user barge in on its speech."""
    specification = {**message(text), "maxRetries": 2}
    return {**specification, "allowInterrupt": True} if allow_interrupt else specification


LOCALE = "en_US"


class HookServer:
    """A code hook endpoint on a free loopback port; ``answer`` turns each event into a response."""

    def __init__(self, answer: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []
        self.endpoint = JsonEndpoint(self._answered)
        self.url = f"{self.endpoint.url}/hook"

    def _answered(self, call: Call) -> tuple[int, dict[str, Any]]:
        self.events.append(call.body)
        return 200, self.answer(call.body)

    def close(self) -> None:
        self.endpoint.close()


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


def new_bot(models: Any, name: str) -> str:
    """A bot named ``name`` and a unique suffix, with an empty DRAFT locale; its id."""
    bot_id = str(
        models.create_bot(
            botName=f"{name}{uuid.uuid4().hex[:6]}",
            roleArn="arn:aws:iam::123456789012:role/lex",
            dataPrivacy={"childDirected": False},
            idleSessionTTLInSeconds=300,
        )["botId"]
    )
    models.create_bot_locale(
        botId=bot_id, botVersion="DRAFT", localeId=LOCALE, nluIntentConfidenceThreshold=0.4
    )
    return bot_id


def make_bot(models: Any, name: str, build: Callable[[str], None], hook_url: str | None) -> tuple[str, str]:
    bot_id = new_bot(models, name)
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


def flower_types(models: Any, bot_id: str, strategy: str) -> str:
    return str(
        models.create_slot_type(
            botId=bot_id,
            botVersion="DRAFT",
            localeId=LOCALE,
            slotTypeName="FlowerTypes",
            slotTypeValues=[{"sampleValue": {"value": v}} for v in ("roses", "lilies", "tulips")],
            valueSelectionSetting={"resolutionStrategy": strategy},
        )["slotTypeId"]
    )


def order_flowers(models: Any, bot_id: str) -> None:
    flowers = flower_types(models, bot_id, "TopResolution")
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
            "declinationResponse": message("Okay, I will not place your order."),
        },
        intentClosingSetting={"closingResponse": message("Thanks, your {FlowerType} are ordered.")},
    )


def speak(text: str) -> bytes:
    """Speech made with espeak-ng (16 kHz mono little-endian PCM, as Lex's audio/l16 takes it)."""
    from nimbus.engines.speech import synthesize

    return synthesize(text, voice="en-us+f2", words_per_minute=140)


TEST_SET_CSV = """Line #,Conversation #,Source,Input,Expected Output Intent,Expected Output Slot 1
1,,User,I would like to order some flowers,OrderFlowers,
2,,User,what is my balance,CheckBalance,
3,1,User,I would like to pick up flowers,OrderFlowers,
4,1,Agent,What type of flowers would you like to order?,,
5,1,User,roses,OrderFlowers,FlowerType = roses
"""


def import_test_set(models: Any, s3: Any, bucket: str, name: str, body: str) -> dict[str, Any]:
    s3.put_object(Bucket=bucket, Key=f"{name}.csv", Body=body.encode())
    import_id = models.create_upload_url()["importId"]
    models.start_import(
        importId=import_id,
        mergeStrategy="FailOnConflict",
        resourceSpecification={
            "testSetImportResourceSpecification": {
                "testSetName": name,
                "roleArn": "arn:aws:iam::123456789012:role/lex",
                "storageLocation": {"s3BucketName": bucket, "s3Path": "test-sets/"},
                "importInputLocation": {"s3BucketName": bucket, "s3Path": f"{name}.csv"},
                "modality": "Text",
            }
        },
    )
    return models.describe_import(importId=import_id)
