"""Lex in languages other than English: a Spanish bot built and spoken to through boto3, its built-in
slot types (number, date, time) read in Spanish, the types and speech Nimbus cannot serve in Spanish
refused."""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta
from typing import Any

import lex_support
import pytest
from botocore.exceptions import ClientError
from conftest import error_code, http_status
from lex_support import message, prompt

models, runtime = lex_support.models, lex_support.runtime  # the Lex modules' shared fixtures

LOCALE = "es_ES"
ROLE = "arn:aws:iam::123456789012:role/lex"


def add_intent(models: Any, bot_id: str, name: str, utterances: list[str]) -> str:
    intent = models.create_intent(
        botId=bot_id,
        botVersion="DRAFT",
        localeId=LOCALE,
        intentName=name,
        sampleUtterances=[{"utterance": u} for u in utterances],
        intentClosingSetting={"closingResponse": message("Hecho."), "active": True},
    )
    return str(intent["intentId"])


def add_slot(models: Any, bot_id: str, intent_id: str, name: str, type_id: str, text: str) -> str:
    slot = models.create_slot(
        botId=bot_id,
        botVersion="DRAFT",
        localeId=LOCALE,
        intentId=intent_id,
        slotName=name,
        slotTypeId=type_id,
        valueElicitationSetting={
            "slotConstraint": "Required",
            "promptSpecification": prompt(text, allow_interrupt=True),
        },
    )
    return str(slot["slotId"])


@pytest.fixture(scope="module")
def spanish_bot(models: Any) -> str:
    """FloresBot: order flowers (how many, the day and time to pick them up) or ask for opening
    hours, in Spanish."""
    bot_id = models.create_bot(
        botName=f"FloresBot{uuid.uuid4().hex[:6]}",
        roleArn=ROLE,
        dataPrivacy={"childDirected": False},
        idleSessionTTLInSeconds=300,
    )["botId"]
    models.create_bot_locale(
        botId=bot_id, botVersion="DRAFT", localeId=LOCALE, nluIntentConfidenceThreshold=0.4
    )
    order = add_intent(
        models,
        bot_id,
        "PedirFlores",
        [
            "quiero pedir flores",
            "me gustaría encargar un ramo",
            "quiero comprar {Cantidad} rosas",
            "necesito {Cantidad} flores para el {Fecha}",
            "quisiera enviar flores a mi madre",
        ],
    )
    slots = [
        add_slot(models, bot_id, order, "Cantidad", "AMAZON.Number", "¿Cuántas flores quiere?"),
        add_slot(models, bot_id, order, "Fecha", "AMAZON.Date", "¿Para qué día las quiere?"),
        add_slot(models, bot_id, order, "Hora", "AMAZON.Time", "¿A qué hora pasará a recogerlas?"),
    ]
    described = models.describe_intent(botId=bot_id, botVersion="DRAFT", localeId=LOCALE, intentId=order)
    models.update_intent(
        botId=bot_id,
        botVersion="DRAFT",
        localeId=LOCALE,
        intentId=order,
        intentName="PedirFlores",
        sampleUtterances=described["sampleUtterances"],
        slotPriorities=[{"priority": i + 1, "slotId": slot} for i, slot in enumerate(slots)],
        intentClosingSetting=described["intentClosingSetting"],
    )
    add_intent(
        models,
        bot_id,
        "Horario",
        [
            "¿a qué hora abren?",
            "¿cuál es el horario de la tienda?",
            "¿están abiertos el domingo?",
            "¿hasta qué hora cierran hoy?",
        ],
    )
    models.build_bot_locale(botId=bot_id, botVersion="DRAFT", localeId=LOCALE)
    for _ in range(600):
        locale = models.describe_bot_locale(botId=bot_id, botVersion="DRAFT", localeId=LOCALE)
        if locale["botLocaleStatus"] == "Built":
            return str(bot_id)
        assert locale["botLocaleStatus"] not in ("Failed", "NotBuilt"), locale.get("failureReasons")
        time.sleep(0.5)
    raise AssertionError("the Spanish locale did not build")


def test_spanish_bot_understands_intents_and_fills_slots_in_spanish(
    models: Any, runtime: Any, spanish_bot: str
) -> None:
    where = {"botId": spanish_bot, "botAliasId": "TSTALIASID", "localeId": LOCALE}
    locale = models.describe_bot_locale(botId=spanish_bot, botVersion="DRAFT", localeId=LOCALE)
    assert locale["localeName"] == "Spanish (Spain)"

    hours = runtime.recognize_text(**where, sessionId="s-hours", text="¿a qué hora cierran el sábado?")
    assert hours["sessionState"]["intent"]["name"] == "Horario"

    session = "s-order"
    first = runtime.recognize_text(**where, sessionId=session, text="quiero mandar veinte rosas a mi abuela")
    intent = first["sessionState"]["intent"]
    assert intent["name"] == "PedirFlores"
    assert intent["slots"]["Cantidad"]["value"]["interpretedValue"] == "20"
    assert first["sessionState"]["dialogAction"] == {"type": "ElicitSlot", "slotToElicit": "Fecha"}
    assert [m["content"] for m in first["messages"]] == ["¿Para qué día las quiere?"]

    second = runtime.recognize_text(**where, sessionId=session, text="para mañana, por favor")
    day = second["sessionState"]["intent"]["slots"]["Fecha"]["value"]
    today = date.today()  # the server resolves against its own clock: allow for a midnight between
    assert day["interpretedValue"] in {(today + timedelta(days=d)).isoformat() for d in (1, 2)}
    assert second["sessionState"]["dialogAction"] == {"type": "ElicitSlot", "slotToElicit": "Hora"}

    third = runtime.recognize_text(**where, sessionId=session, text="a las cinco y media de la tarde")
    assert third["sessionState"]["intent"]["slots"]["Hora"]["value"]["interpretedValue"] == "17:30"
    assert third["sessionState"]["intent"]["state"] == "ReadyForFulfillment"
    assert third["sessionState"]["dialogAction"]["type"] == "Close"

    nonsense = runtime.recognize_text(
        **where, sessionId="s-other", text="el gato azul baila tango en la luna"
    )
    assert nonsense["sessionState"]["intent"]["name"] == "FallbackIntent"


def test_spanish_locale_refuses_what_it_cannot_serve(models: Any, runtime: Any, spanish_bot: str) -> None:
    types = models.list_built_in_slot_types(localeId=LOCALE, maxResults=20)["builtInSlotTypeSummaries"]
    names = {t["slotTypeSignature"] for t in types}
    assert {"AMAZON.Number", "AMAZON.Date", "AMAZON.Time"} <= names and "AMAZON.Duration" not in names

    intents = models.list_intents(botId=spanish_bot, botVersion="DRAFT", localeId=LOCALE)["intentSummaries"]
    order = next(i["intentId"] for i in intents if i["intentName"] == "PedirFlores")
    with pytest.raises(ClientError) as refused:
        add_slot(models, spanish_bot, order, "Plazo", "AMAZON.Duration", "¿Cuánto tiempo?")
    assert error_code(refused) == "ValidationException" and http_status(refused) == 400
    assert "AMAZON.Duration" in str(refused.value) and LOCALE in str(refused.value)
    slots = models.list_slots(botId=spanish_bot, botVersion="DRAFT", localeId=LOCALE, intentId=order)
    assert "Plazo" not in {s["slotName"] for s in slots["slotSummaries"]}

    with pytest.raises(ClientError) as speech:
        runtime.recognize_utterance(
            botId=spanish_bot,
            botAliasId="TSTALIASID",
            localeId=LOCALE,
            sessionId="s-speech",
            requestContentType="audio/l16; rate=16000; channels=1",
            inputStream=b"\x00\x00" * 1600,
        )
    assert error_code(speech) == "ValidationException" and "text/plain" in str(speech.value)
