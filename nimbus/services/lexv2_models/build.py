"""BuildBotLocale: validate the DRAFT locale's definitions, then train its intent classifier.

The build runs in a thread of the node that took the request, which holds the build's lease (see
nimbus/services/leases.py) until it ends; its status lives in the database (NotBuilt, Building, then
Built or Failed with failureReasons), so every node reads it. A Building locale whose node died (its
lease expired) reads as Failed, so no build is left Building forever."""

from __future__ import annotations

import logging
import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from nimbus.engines.nlu import IntentClassifier, IntentExample, encoder_for
from nimbus.services.leases import lease_node
from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.builtins import BUILT_IN_INTENTS, BUILT_IN_SLOT_TYPES
from nimbus.services.lexv2_models.errors import conflict
from nimbus.services.lexv2_models.records import (
    add_locale_event,
    build_lease,
    find_locale,
    intent_rows,
    models_dir,
    now,
    slot_rows,
    slot_type_rows,
    transaction,
)
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_schema import LexLocaleRecord

log = logging.getLogger("nimbus.lex.build")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
MODEL_FILE = "intents.model"


@dataclass
class BuildPlan:
    """What a build reads, taken in the transaction that starts it so that the thread sees one state."""

    bot_id: str
    locale_id: str
    build_id: str = field(default_factory=lambda: str(uuid.uuid4()))  # the locale's ``builder``
    examples: list[IntentExample] = field(default_factory=list)
    slot_values: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@lexv2_models.operation
def build_bot_locale(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        locale = find_locale(session, ctx, request["botId"], request["botVersion"], request["localeId"])
        if locale.locale_status == "Building":
            raise conflict(f"The bot locale {locale.locale_id} is already building.")
        plan = _plan(session, locale)
        locale.locale_status = "Building"
        locale.failure_reasons = []
        locale.builder = plan.build_id
        locale.build_submitted_at = now()
        add_locale_event(locale, "Building")
        submitted = locale.build_submitted_at
    # until the lease exists, other nodes count the build live for a lease from its submission
    lease_node(ctx.storage).take(build_lease(plan.bot_id, plan.locale_id))
    threading.Thread(
        target=_run_build, args=(ctx, plan), name=f"lex-build-{plan.bot_id}", daemon=True
    ).start()
    return {
        "botId": request["botId"],
        "botVersion": request["botVersion"],
        "localeId": request["localeId"],
        "botLocaleStatus": "Building",
        "lastBuildSubmittedDateTime": submitted,
    }


def _plan(session: Any, locale: LexLocaleRecord) -> BuildPlan:
    plan = BuildPlan(locale.bot_id, locale.locale_id)
    custom_types = {row.slot_type_id: row for row in slot_type_rows(session, locale)}
    for slot_type in custom_types.values():
        plan.problems.extend(_slot_type_problems(slot_type.slot_type_name, slot_type.definition))
    intents = intent_rows(session, locale)
    if not any("parentIntentSignature" not in intent.definition for intent in intents):
        plan.problems.append("The locale needs at least one intent besides the built-in ones.")
    owners: dict[str, str] = {}
    for intent in intents:
        slots = slot_rows(session, intent)
        slot_names = {slot.slot_name for slot in slots}
        plan.problems.extend(_intent_problems(intent.intent_name, intent.definition, slot_names))
        for slot in slots:
            plan.problems.extend(
                _slot_problems(intent.intent_name, slot.slot_name, slot.definition, custom_types)
            )
            custom = custom_types.get(slot.definition.get("slotTypeId", ""))
            if custom is not None:
                plan.slot_values.setdefault(slot.slot_name, []).extend(_type_values(custom.definition))
        for sample in intent.definition.get("sampleUtterances", []):
            text = sample["utterance"]
            other = owners.setdefault(text.strip().lower(), intent.intent_name)
            if other != intent.intent_name:
                plan.problems.append(
                    f"The sample utterance '{text}' is in both {other} and {intent.intent_name}."
                )
            plan.examples.append(IntentExample(intent.intent_name, text))
    return plan


def _slot_type_problems(name: str, definition: dict[str, Any]) -> list[str]:
    parent = definition.get("parentSlotTypeSignature")
    if parent is not None and parent not in BUILT_IN_SLOT_TYPES:
        return [f"The slot type {name} extends {parent}, which is not a built-in slot type."]
    if (
        parent is None
        and not definition.get("slotTypeValues")
        and not definition.get("compositeSlotTypeSetting")
    ):
        return [f"The slot type {name} has no values."]
    return []


def _intent_problems(name: str, definition: dict[str, Any], slot_names: set[str]) -> list[str]:
    parent = definition.get("parentIntentSignature")
    if parent is not None:
        known = parent in BUILT_IN_INTENTS
        return [] if known else [f"The intent {name} extends {parent}, which is not a built-in intent."]
    utterances = [sample["utterance"] for sample in definition.get("sampleUtterances", [])]
    if not utterances:
        return [f"The intent {name} has no sample utterances."]
    return [
        f"The sample utterance '{text}' of intent {name} names a slot {{{slot}}} the intent lacks."
        for text in utterances
        for slot in PLACEHOLDER.findall(text)
        if slot not in slot_names
    ]


def _slot_problems(
    intent: str, slot: str, definition: dict[str, Any], custom_types: dict[str, Any]
) -> list[str]:
    problems = []
    slot_type = definition.get("slotTypeId")
    if slot_type is None and not definition.get("subSlotSetting"):
        problems.append(f"The slot {slot} of intent {intent} has no slot type.")
    elif slot_type is not None and slot_type not in custom_types and slot_type not in BUILT_IN_SLOT_TYPES:
        problems.append(
            f"The slot {slot} of intent {intent} uses the slot type {slot_type}, which does not exist."
        )
    elicitation = definition.get("valueElicitationSetting", {})
    if elicitation.get("slotConstraint") == "Required" and not elicitation.get("promptSpecification"):
        problems.append(f"The required slot {slot} of intent {intent} has no prompt.")
    multiple = (definition.get("multipleValuesSetting") or {}).get("allowMultipleValues")
    if multiple and slot_type not in custom_types:
        problems.append(
            f"The slot {slot} of intent {intent} allows multiple values, which only custom slot types take."
        )
    for sub_slot, spec in ((definition.get("subSlotSetting") or {}).get("slotSpecifications") or {}).items():
        sub_type = spec.get("slotTypeId")
        if sub_type not in custom_types and sub_type not in BUILT_IN_SLOT_TYPES:
            problems.append(
                f"The sub-slot {sub_slot} of slot {slot} of intent {intent} uses the slot type {sub_type}, "
                "which does not exist."
            )
    return problems


def _type_values(definition: dict[str, Any]) -> list[str]:
    values = []
    for entry in definition.get("slotTypeValues", []):
        values.append(entry["sampleValue"]["value"])
        values.extend(synonym["value"] for synonym in entry.get("synonyms", []))
    return values


def _run_build(ctx: RequestContext, plan: BuildPlan) -> None:
    try:
        _build(ctx, plan)
    finally:
        lease_node(ctx.storage).release(build_lease(plan.bot_id, plan.locale_id))


def _build(ctx: RequestContext, plan: BuildPlan) -> None:
    if plan.problems:
        _finish(ctx, plan, "Failed", plan.problems, None)
        return
    try:
        classifier = IntentClassifier.train(
            plan.examples, slot_values=plan.slot_values, encoder=encoder_for(plan.locale_id)
        )
        folder = models_dir(ctx, plan.bot_id) / "DRAFT" / plan.locale_id
        folder.mkdir(parents=True, exist_ok=True)
        staged = folder / f".{MODEL_FILE}.{threading.get_ident()}"
        classifier.save(staged)
        os.replace(staged, folder / MODEL_FILE)  # readers see the old model or the new one, never half
    except Exception as error:  # reported as the build's failure reason
        log.exception("training the intent classifier of %s/%s failed", plan.bot_id, plan.locale_id)
        _finish(ctx, plan, "Failed", [f"Training the intent classifier failed: {error}"], None)
        return
    _finish(ctx, plan, "Built", [], str(folder / MODEL_FILE))


def _finish(
    ctx: RequestContext, plan: BuildPlan, status: str, reasons: list[str], model_path: str | None
) -> None:
    with transaction(ctx) as session:
        locale = session.get(LexLocaleRecord, (plan.bot_id, "DRAFT", plan.locale_id))
        if locale is None or locale.builder != plan.build_id:  # deleted, or settled as its lease expired
            return
        locale.locale_status = status
        locale.failure_reasons = reasons
        locale.builder = None
        locale.model_path = model_path or locale.model_path
        locale.updated_at = now()
        add_locale_event(locale, status)
