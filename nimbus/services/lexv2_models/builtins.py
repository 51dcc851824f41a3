"""Built-in intents and slot types: the ones Nimbus's NLU engine understands, per Lex locale."""

from __future__ import annotations

from typing import Any

from nimbus.engines.nlu import builtin_types_for
from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.errors import invalid
from nimbus.services.lexv2_models.locale_names import LOCALE_NAMES
from nimbus.services.lexv2_models.paging import page, sorted_by
from nimbus.services.registry import RequestContext

BUILT_IN_INTENTS = {
    "AMAZON.CancelIntent": "Responds to words that mean the user wants to cancel the interaction.",
    "AMAZON.FallbackIntent": "Triggered when the user's input does not match any intent in the bot.",
    "AMAZON.HelpIntent": "Responds to words or phrases that mean the user needs help with the bot.",
    "AMAZON.NoIntent": "Responds to a negative answer from the user.",
    "AMAZON.RepeatIntent": "Responds to words or phrases that ask for the last message again.",
    "AMAZON.StartOverIntent": "Responds to words or phrases that mean the user wants to start over.",
    "AMAZON.StopIntent": "Responds to words or phrases that mean the user wants to stop the interaction.",
    "AMAZON.YesIntent": "Responds to an affirmative answer from the user.",
}

BUILT_IN_SLOT_TYPES = {
    "AMAZON.AlphaNumeric": "Recognizes words made up of letters and numbers.",
    "AMAZON.City": "Recognizes words that represent a city.",
    "AMAZON.Confirmation": "Recognizes yes, no, maybe or don't know, resolved to one of those four.",
    "AMAZON.Country": "Recognizes words that represent a country.",
    "AMAZON.Date": "Recognizes words that represent a date, resolved to YYYY-MM-DD.",
    "AMAZON.Duration": "Recognizes words that represent a duration, resolved to an ISO-8601 duration.",
    "AMAZON.EmailAddress": "Recognizes an email address, resolved to username@domain.",
    "AMAZON.FirstName": "Recognizes commonly used first names.",
    "AMAZON.FreeFormInput": "Recognizes any words or characters: the whole input is the value.",
    "AMAZON.Number": "Recognizes words or digits that represent a number, resolved to digits.",
    "AMAZON.PhoneNumber": "Recognizes a telephone number, resolved to its digits.",
    "AMAZON.State": "Recognizes words that represent a state, province or region.",
    "AMAZON.Time": "Recognizes words that represent a time, resolved to HH:MM.",
}


def _require_locale(locale_id: str) -> None:
    if locale_id not in LOCALE_NAMES:
        raise invalid(f"The locale '{locale_id}' is not supported.")


@lexv2_models.operation
def list_built_in_intents(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    _require_locale(request["localeId"])
    summaries = [{"intentSignature": name, "description": text} for name, text in BUILT_IN_INTENTS.items()]
    summaries = sorted_by(
        summaries, request.get("sortBy"), {"IntentSignature": "intentSignature"}, "intentSignature"
    )
    return {"localeId": request["localeId"], **page(summaries, request, "builtInIntentSummaries")}


@lexv2_models.operation
def list_built_in_slot_types(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Lists the built-in slot types Nimbus reads in the locale's language: fewer outside English."""
    _require_locale(request["localeId"])
    available = builtin_types_for(request["localeId"])
    summaries = [
        {"slotTypeSignature": name, "description": text}
        for name, text in BUILT_IN_SLOT_TYPES.items()
        if name in available
    ]
    members = {"SlotTypeSignature": "slotTypeSignature"}
    summaries = sorted_by(summaries, request.get("sortBy"), members, "slotTypeSignature")
    return {"localeId": request["localeId"], **page(summaries, request, "builtInSlotTypeSummaries")}
