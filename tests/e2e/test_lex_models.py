"""Lex V2 model building against a real server: the OrderFlowers bot from Lex's docs, built, versioned,
aliased, listed, updated, deleted, exported and imported again."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from lex_support import message, new_bot, prompt

ROLE = "arn:aws:iam::123456789012:role/aws-service-role/lexv2.amazonaws.com/AWSServiceRoleForLexV2Bots"
BUILD_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def lex(nimbus: NimbusServer) -> Any:
    return nimbus.client("lexv2-models")


def add_order_flowers(lex: Any, bot_id: str) -> dict[str, str]:
    """The FlowerTypes slot type and OrderFlowers intent with its three slots; returns their ids."""
    where = {"botId": bot_id, "botVersion": "DRAFT", "localeId": "en_US"}
    flower_types = lex.create_slot_type(
        **where,
        slotTypeName="FlowerTypes",
        slotTypeValues=[
            {"sampleValue": {"value": "roses"}, "synonyms": [{"value": "rose"}]},
            {"sampleValue": {"value": "lilies"}, "synonyms": [{"value": "lily"}]},
            {"sampleValue": {"value": "tulips"}, "synonyms": [{"value": "tulip"}]},
        ],
        valueSelectionSetting={"resolutionStrategy": "TopResolution"},
    )
    intent = lex.create_intent(
        **where,
        intentName="OrderFlowers",
        sampleUtterances=[
            {"utterance": "I would like to order some flowers"},
            {"utterance": "I want to buy flowers"},
            {"utterance": "order {FlowerType}"},
            {"utterance": "can I get {FlowerType} delivered on {PickupDate}"},
        ],
    )
    slots = {}
    for name, type_id, text in [
        ("FlowerType", flower_types["slotTypeId"], "What type of flowers would you like to order?"),
        ("PickupDate", "AMAZON.Date", "What day do you want the {FlowerType} to be picked up?"),
        ("PickupTime", "AMAZON.Time", "At what time do you want the {FlowerType} to be picked up?"),
    ]:
        slot = lex.create_slot(
            **where,
            intentId=intent["intentId"],
            slotName=name,
            slotTypeId=type_id,
            valueElicitationSetting={
                "slotConstraint": "Required",
                "promptSpecification": prompt(text, allow_interrupt=True),
            },
        )
        slots[name] = slot["slotId"]
    described = lex.describe_intent(**where, intentId=intent["intentId"])
    lex.update_intent(
        **where,
        intentId=intent["intentId"],
        intentName="OrderFlowers",
        sampleUtterances=described["sampleUtterances"],
        slotPriorities=[
            {"priority": 1, "slotId": slots["FlowerType"]},
            {"priority": 2, "slotId": slots["PickupDate"]},
            {"priority": 3, "slotId": slots["PickupTime"]},
        ],
        intentConfirmationSetting={
            "promptSpecification": prompt(
                "Okay, your {FlowerType} will be ready on {PickupDate}. Does this sound okay?",
                allow_interrupt=True,
            ),
            "declinationResponse": message("Okay, I will not place your order."),
        },
        intentClosingSetting={"closingResponse": message("Thanks, your order is placed."), "active": True},
    )
    return {"intentId": intent["intentId"], "slotTypeId": flower_types["slotTypeId"], **slots}


def wait_for_build(lex: Any, bot_id: str, version: str = "DRAFT") -> dict[str, Any]:
    deadline = time.monotonic() + BUILD_TIMEOUT_S
    while time.monotonic() < deadline:
        locale = lex.describe_bot_locale(botId=bot_id, botVersion=version, localeId="en_US")
        if locale["botLocaleStatus"] not in ("Building", "ReadyExpressTesting"):
            return dict(locale)
        time.sleep(0.3)
    raise AssertionError("the build did not end")


@pytest.fixture(scope="module")
def built_bot(lex: Any) -> dict[str, str]:
    bot_id = new_bot(lex, "OrderFlowers")
    ids = add_order_flowers(lex, bot_id)
    started = lex.build_bot_locale(botId=bot_id, botVersion="DRAFT", localeId="en_US")
    assert started["botLocaleStatus"] == "Building"
    locale = wait_for_build(lex, bot_id)
    assert locale["botLocaleStatus"] == "Built", locale.get("failureReasons")
    return {"botId": bot_id, **ids}


def test_order_flowers_definitions_read_back(lex: Any, built_bot: dict[str, str]) -> None:
    bot_id = built_bot["botId"]
    where = {"botId": bot_id, "botVersion": "DRAFT", "localeId": "en_US"}
    bot = lex.describe_bot(botId=bot_id)
    assert bot["botStatus"] == "Available" and bot["botName"].startswith("OrderFlowers")
    assert len(bot_id) == 10 and bot_id.isalnum() and bot_id.upper() == bot_id

    locale = lex.describe_bot_locale(**where)
    assert locale["localeName"] == "English (US)"
    assert locale["intentsCount"] == 2 and locale["slotTypesCount"] == 1  # OrderFlowers and FallbackIntent

    intent = lex.describe_intent(**where, intentId=built_bot["intentId"])
    assert [p["slotId"] for p in intent["slotPriorities"]] == [
        built_bot["FlowerType"],
        built_bot["PickupDate"],
        built_bot["PickupTime"],
    ]
    assert intent["intentClosingSetting"]["active"] is True
    assert "declinationResponse" in intent["intentConfirmationSetting"]

    slot = lex.describe_slot(**where, intentId=built_bot["intentId"], slotId=built_bot["PickupDate"])
    assert slot["slotTypeId"] == "AMAZON.Date"
    assert slot["valueElicitationSetting"]["slotConstraint"] == "Required"

    slot_type = lex.describe_slot_type(**where, slotTypeId=built_bot["slotTypeId"])
    values = {
        v["sampleValue"]["value"]: [s["value"] for s in v["synonyms"]] for v in slot_type["slotTypeValues"]
    }
    assert values == {"roses": ["rose"], "lilies": ["lily"], "tulips": ["tulip"]}

    intents = lex.list_intents(**where)["intentSummaries"]
    assert {i["intentName"] for i in intents} == {"OrderFlowers", "FallbackIntent"}
    fallback = next(i for i in intents if i["intentName"] == "FallbackIntent")
    assert fallback["parentIntentSignature"] == "AMAZON.FallbackIntent"
    slots = lex.list_slots(**where, intentId=built_bot["intentId"])["slotSummaries"]
    assert [s["slotName"] for s in slots] == ["FlowerType", "PickupDate", "PickupTime"]
    slot_types = lex.list_slot_types(**where)["slotTypeSummaries"]
    assert [(t["slotTypeName"], t["slotTypeCategory"]) for t in slot_types] == [("FlowerTypes", "Custom")]


def test_version_and_alias(lex: Any, built_bot: dict[str, str]) -> None:
    bot_id = built_bot["botId"]
    version = lex.create_bot_version(
        botId=bot_id, botVersionLocaleSpecification={"en_US": {"sourceBotVersion": "DRAFT"}}
    )
    number = version["botVersion"]
    assert number.isdigit()
    described = lex.describe_bot_version(botId=bot_id, botVersion=number)
    assert described["botStatus"] == "Available" and described["botName"].startswith("OrderFlowers")
    assert (
        lex.describe_bot_locale(botId=bot_id, botVersion=number, localeId="en_US")["botLocaleStatus"]
        == "Built"
    )
    copied = lex.list_intents(botId=bot_id, botVersion=number, localeId="en_US")["intentSummaries"]
    assert {i["intentName"] for i in copied} == {"OrderFlowers", "FallbackIntent"}
    versions = [v["botVersion"] for v in lex.list_bot_versions(botId=bot_id)["botVersionSummaries"]]
    assert versions == ["DRAFT", number]

    test_alias = lex.describe_bot_alias(botId=bot_id, botAliasId="TSTALIASID")
    assert test_alias["botAliasName"] == "TestBotAlias" and test_alias["botVersion"] == "DRAFT"

    alias = lex.create_bot_alias(
        botId=bot_id,
        botAliasName="prod",
        botVersion=number,
        botAliasLocaleSettings={"en_US": {"enabled": True}},
    )
    assert alias["botAliasStatus"] == "Available"
    described_alias = lex.describe_bot_alias(botId=bot_id, botAliasId=alias["botAliasId"])
    assert described_alias["botVersion"] == number
    assert described_alias["botAliasLocaleSettings"] == {"en_US": {"enabled": True}}
    names = {a["botAliasName"] for a in lex.list_bot_aliases(botId=bot_id)["botAliasSummaries"]}
    assert names == {"TestBotAlias", "prod"}

    with pytest.raises(ClientError) as in_use:
        lex.delete_bot_version(botId=bot_id, botVersion=number)
    assert error_code(in_use) == "PreconditionFailedException"
    updated = lex.update_bot_alias(
        botId=bot_id, botAliasId=alias["botAliasId"], botAliasName="prod", description="production"
    )
    assert updated["description"] == "production"
    lex.delete_bot_alias(botId=bot_id, botAliasId=alias["botAliasId"])
    lex.delete_bot_version(botId=bot_id, botVersion=number)
    with pytest.raises(ClientError) as gone:
        lex.describe_bot_version(botId=bot_id, botVersion=number)
    assert error_code(gone) == "ResourceNotFoundException"


def test_a_change_needs_a_new_build(lex: Any, built_bot: dict[str, str]) -> None:
    where = {"botId": built_bot["botId"], "botVersion": "DRAFT", "localeId": "en_US"}
    slot_type = lex.describe_slot_type(**where, slotTypeId=built_bot["slotTypeId"])
    lex.update_slot_type(
        **where,
        slotTypeId=built_bot["slotTypeId"],
        slotTypeName="FlowerTypes",
        slotTypeValues=[*slot_type["slotTypeValues"], {"sampleValue": {"value": "daisies"}}],
        valueSelectionSetting={"resolutionStrategy": "TopResolution"},
    )
    assert lex.describe_bot_locale(**where)["botLocaleStatus"] == "NotBuilt"
    lex.build_bot_locale(**where)
    assert wait_for_build(lex, built_bot["botId"])["botLocaleStatus"] == "Built"


def test_build_fails_with_reasons(lex: Any) -> None:
    bot_id = new_bot(lex, "Broken")
    where = {"botId": bot_id, "botVersion": "DRAFT", "localeId": "en_US"}
    intent = lex.create_intent(
        **where, intentName="BookTrip", sampleUtterances=[{"utterance": "book a trip to {City}"}]
    )
    lex.create_slot(
        **where,
        intentId=intent["intentId"],
        slotName="Town",
        slotTypeId="NOSUCHTYPE",
        valueElicitationSetting={"slotConstraint": "Optional"},
    )
    lex.create_intent(**where, intentName="Empty")
    lex.build_bot_locale(**where)
    locale = wait_for_build(lex, bot_id)
    assert locale["botLocaleStatus"] == "Failed"
    reasons = " ".join(locale["failureReasons"])
    assert "NOSUCHTYPE" in reasons and "{City}" in reasons and "Empty" in reasons
    with pytest.raises(ClientError) as unbuilt:
        lex.create_bot_version(
            botId=bot_id, botVersionLocaleSpecification={"en_US": {"sourceBotVersion": "DRAFT"}}
        )
    assert error_code(unbuilt) == "PreconditionFailedException"


def test_list_update_delete_round_trips(lex: Any) -> None:
    bot_id = new_bot(lex, "RoundTrip")
    where = {"botId": bot_id, "botVersion": "DRAFT", "localeId": "en_US"}
    name = lex.describe_bot(botId=bot_id)["botName"]
    listed = lex.list_bots(filters=[{"name": "BotName", "values": [name], "operator": "EQ"}])["botSummaries"]
    assert [b["botId"] for b in listed] == [bot_id] and listed[0]["latestBotVersion"] == "DRAFT"

    updated = lex.update_bot(
        botId=bot_id,
        botName=name,
        description="renamed",
        roleArn=ROLE,
        dataPrivacy={"childDirected": False},
        idleSessionTTLInSeconds=600,
    )
    assert updated["idleSessionTTLInSeconds"] == 600 and updated["description"] == "renamed"
    locale = lex.update_bot_locale(**where, nluIntentConfidenceThreshold=0.7, description="English")
    assert locale["nluIntentConfidenceThreshold"] == 0.7
    assert [
        s["localeId"] for s in lex.list_bot_locales(botId=bot_id, botVersion="DRAFT")["botLocaleSummaries"]
    ] == ["en_US"]

    intent = lex.create_intent(**where, intentName="Greet", sampleUtterances=[{"utterance": "hello"}])
    renamed = lex.update_intent(
        **where, intentId=intent["intentId"], intentName="SayHello", sampleUtterances=[{"utterance": "hi"}]
    )
    assert renamed["intentName"] == "SayHello"
    slot = lex.create_slot(
        **where,
        intentId=intent["intentId"],
        slotName="Name",
        slotTypeId="AMAZON.FirstName",
        valueElicitationSetting={"slotConstraint": "Optional"},
    )
    lex.delete_slot(**where, intentId=intent["intentId"], slotId=slot["slotId"])
    assert lex.describe_intent(**where, intentId=intent["intentId"])["slotPriorities"] == []
    lex.delete_intent(**where, intentId=intent["intentId"])
    with pytest.raises(ClientError) as gone:
        lex.describe_intent(**where, intentId=intent["intentId"])
    assert error_code(gone) == "ResourceNotFoundException"

    page = lex.list_bots(maxResults=1)
    assert len(page["botSummaries"]) == 1 and "nextToken" in page

    lex.delete_bot_locale(**where)
    assert lex.list_bot_locales(botId=bot_id, botVersion="DRAFT")["botLocaleSummaries"] == []
    assert lex.delete_bot(botId=bot_id)["botStatus"] == "Deleting"
    with pytest.raises(ClientError) as deleted:
        lex.describe_bot(botId=bot_id)
    assert error_code(deleted) == "ResourceNotFoundException"


def test_built_ins(lex: Any) -> None:
    intents = {
        i["intentSignature"]
        for i in lex.list_built_in_intents(localeId="en_US", maxResults=20)["builtInIntentSummaries"]
    }
    assert {
        "AMAZON.FallbackIntent",
        "AMAZON.HelpIntent",
        "AMAZON.CancelIntent",
        "AMAZON.YesIntent",
    } <= intents
    types = lex.list_built_in_slot_types(localeId="en_US", maxResults=20)["builtInSlotTypeSummaries"]
    assert {"AMAZON.Number", "AMAZON.Date", "AMAZON.EmailAddress"} <= {t["slotTypeSignature"] for t in types}


def test_errors(lex: Any) -> None:
    with pytest.raises(ClientError) as unknown:
        lex.describe_bot(botId="ABCDEFGHIJ")
    assert error_code(unknown) == "ResourceNotFoundException"
    assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    name = f"Dup-{uuid.uuid4().hex[:8]}"
    settings = {"roleArn": ROLE, "dataPrivacy": {"childDirected": False}, "idleSessionTTLInSeconds": 300}
    lex.create_bot(botName=name, **settings)
    with pytest.raises(ClientError) as duplicate:
        lex.create_bot(botName=name, **settings)
    assert error_code(duplicate) == "ConflictException"

    with pytest.raises(ClientError) as bad_id:
        lex.describe_bot(botId="not-an-id!")
    assert error_code(bad_id) == "ValidationException"
    with pytest.raises(ClientError) as bad_locale:
        lex.create_bot_locale(
            botId=lex.list_bots()["botSummaries"][0]["botId"],
            botVersion="DRAFT",
            localeId="xx_XX",
            nluIntentConfidenceThreshold=0.4,
        )
    assert error_code(bad_locale) == "ValidationException"


def test_export_then_import_round_trips(lex: Any, built_bot: dict[str, str]) -> None:
    bot_id = built_bot["botId"]
    export = lex.create_export(
        resourceSpecification={"botExportSpecification": {"botId": bot_id, "botVersion": "DRAFT"}},
        fileFormat="LexJson",
    )
    described = lex.describe_export(exportId=export["exportId"])
    assert described["exportStatus"] == "Completed"
    archive = requests.get(described["downloadUrl"], timeout=30)
    assert archive.status_code == 200, archive.text
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        names = zipped.namelist()
    assert any(name.endswith("/Manifest.json") for name in names)
    assert any(name.endswith("/BotLocales/en_US/Intents/OrderFlowers/Intent.json") for name in names)
    assert any(name.endswith("/BotLocales/en_US/SlotTypes/FlowerTypes/SlotType.json") for name in names)
    assert export["exportId"] in [e["exportId"] for e in lex.list_exports(botId=bot_id)["exportSummaries"]]

    upload = lex.create_upload_url()
    put = requests.put(upload["uploadUrl"], data=archive.content, timeout=30)
    assert put.status_code == 200, put.text
    copy_name = f"Copy-{uuid.uuid4().hex[:8]}"
    started = lex.start_import(
        importId=upload["importId"],
        resourceSpecification={
            "botImportSpecification": {
                "botName": copy_name,
                "roleArn": ROLE,
                "dataPrivacy": {"childDirected": False},
                "idleSessionTTLInSeconds": 300,
            }
        },
        mergeStrategy="FailOnConflict",
    )
    assert started["importStatus"] == "Completed"
    imported = lex.describe_import(importId=upload["importId"])
    copy_id = imported["importedResourceId"]
    assert imported["importedResourceName"] == copy_name and copy_id != bot_id

    where = {"botId": copy_id, "botVersion": "DRAFT", "localeId": "en_US"}
    intents = {i["intentName"]: i["intentId"] for i in lex.list_intents(**where)["intentSummaries"]}
    assert set(intents) == {"OrderFlowers", "FallbackIntent"}
    original = lex.describe_intent(
        botId=bot_id, botVersion="DRAFT", localeId="en_US", intentId=built_bot["intentId"]
    )
    copy = lex.describe_intent(**where, intentId=intents["OrderFlowers"])
    assert copy["sampleUtterances"] == original["sampleUtterances"]
    assert copy["intentConfirmationSetting"] == original["intentConfirmationSetting"]
    copied_slots = {
        s["slotName"]: s for s in lex.list_slots(**where, intentId=intents["OrderFlowers"])["slotSummaries"]
    }
    assert [p["slotId"] for p in copy["slotPriorities"]] == [
        copied_slots[name]["slotId"] for name in ("FlowerType", "PickupDate", "PickupTime")
    ]
    copied_type = lex.list_slot_types(**where)["slotTypeSummaries"][0]
    assert copied_slots["FlowerType"]["slotTypeId"] == copied_type["slotTypeId"] != built_bot["slotTypeId"]
    lex.build_bot_locale(**where)
    assert wait_for_build(lex, copy_id)["botLocaleStatus"] == "Built"

    again = lex.create_upload_url()
    requests.put(again["uploadUrl"], data=archive.content, timeout=30)
    conflict = lex.start_import(
        importId=again["importId"],
        resourceSpecification={
            "botImportSpecification": {
                "botName": copy_name,
                "roleArn": ROLE,
                "dataPrivacy": {"childDirected": False},
            }
        },
        mergeStrategy="FailOnConflict",
    )
    assert conflict["importStatus"] == "Failed"
    assert lex.describe_import(importId=again["importId"])["failureReasons"]
    lex.delete_export(exportId=export["exportId"])
    with pytest.raises(ClientError) as gone:
        lex.describe_export(exportId=export["exportId"])
    assert error_code(gone) == "ResourceNotFoundException"
