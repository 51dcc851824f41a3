"""Lex V2's dialog: one user turn in, the next session state and messages out.

A turn either answers what the bot last asked (a slot value, a yes or no to a confirmation) or
starts an intent: the intents the utterance may mean are ranked by NLU confidence among those whose
input contexts are active, and FallbackIntent wins when the best is below the locale's threshold.
The intent then advances: required slots are elicited in priority order with their prompts, the
intent is confirmed when it asks for confirmation (a "no" gives the declination response and the
intent Failed), and a complete intent is fulfilled: by the fulfillment code hook when enabled (its
answer decides Fulfilled or Failed), else it is left ReadyForFulfillment for the client. The
closing response ends it and its output contexts become active. A dialog code hook, when enabled,
sees each step Lex proposes and may replace it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nimbus.services.lexv2_runtime.bot_locale import BotLocale
from nimbus.services.lexv2_runtime.code_hooks import MESSAGE_VERSION, CodeHookCaller
from nimbus.services.lexv2_runtime.conditions import Resolver, evaluate
from nimbus.services.lexv2_runtime.confirmation import confirmation_state
from nimbus.services.lexv2_runtime.contexts import (
    ActiveContext,
    activate,
    alive,
    attribute,
    from_shape,
    one_turn_spent,
    satisfies,
)
from nimbus.services.lexv2_runtime.errors import dependency_failed, validation
from nimbus.services.lexv2_runtime.messages import response_messages
from nimbus.services.lexv2_runtime.steps import chosen_branch, overridden_slots, resolver, scalar_slot
from nimbus.services.lexv2_runtime.understanding import IntentScores, Understanding

MAX_INTERPRETATIONS = 5
MAX_STEPS = 20
DEFAULT_MAX_RETRIES = 2
TEXT_RESPONSE = "text/plain; charset=utf-8"


@dataclass
class Conversation:
    """What a session keeps between turns."""

    state: dict[str, Any] = field(default_factory=dict)  # SessionState without activeContexts
    contexts: list[ActiveContext] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    interpretations: list[dict[str, Any]] = field(default_factory=list)
    prompt_attempts: int = 0

    def session_state(self, now: datetime) -> dict[str, Any]:
        """The SessionState shape, with the contexts still alive at ``now``."""
        live = alive(self.contexts, now)
        return {**self.state, "activeContexts": [context.to_shape(now) for context in live]}


@dataclass(frozen=True)
class Utterance:
    text: str
    session_id: str
    now: datetime
    request_attributes: dict[str, str] = field(default_factory=dict)
    input_mode: str = "Text"
    response_content_type: str = TEXT_RESPONSE
    audio: bytes = b""  # the speech as WAV, for audio logs


@dataclass
class Reply:
    conversation: Conversation
    missed: bool  # the utterance activated no intent and filled no slot


@dataclass
class _Outcome:
    action: dict[str, Any]
    intent: dict[str, Any] | None
    messages: list[dict[str, Any]]
    missed: bool = False


@dataclass
class _Turn:
    """One turn in progress: what the code hooks may change as it goes."""

    utterance: Utterance
    scores: IntentScores
    contexts: list[ActiveContext]
    carried: list[ActiveContext]  # the contexts alive when the turn began: they spend one turn
    attributes: dict[str, str]
    attempts: int
    hints: dict[str, Any] = field(default_factory=dict)  # runtimeHints.slotHints
    fulfilled_by_hook: bool = False
    after_fulfillment_done: bool = False
    closed: bool = False
    steps: int = 0  # next steps taken without waiting for the user


class Dialog:
    def __init__(self, bot: BotLocale, understanding: Understanding, call_code_hook: CodeHookCaller) -> None:
        self.bot = bot
        self.understanding = understanding
        self.call_code_hook = call_code_hook

    # ---- the turn ----------------------------------------------------------------------------

    def respond(self, conversation: Conversation, utterance: Utterance) -> Reply:
        carried = alive(conversation.contexts, utterance.now)
        turn = _Turn(
            utterance=utterance,
            scores=self.understanding.classify(utterance.text),
            contexts=list(carried),
            carried=carried,
            attributes=dict(conversation.state.get("sessionAttributes") or {}),
            attempts=conversation.prompt_attempts,
            hints=(conversation.state.get("runtimeHints") or {}).get("slotHints") or {},
        )
        state = copy.deepcopy(conversation.state)
        intent = state.get("intent")
        action = state.get("dialogAction") or {}
        if intent and action.get("type") == "ElicitSlot" and action.get("slotToElicit"):
            sub_slot = (action.get("subSlotToElicit") or {}).get("name")
            outcome = self._slot_answer(turn, intent, action["slotToElicit"], sub_slot)
        elif intent and action.get("type") == "ConfirmIntent":
            outcome = self._confirmation_answer(turn, intent)
        else:
            outcome = self._new_intent(turn)
        return self._reply(conversation, turn, outcome)

    def _reply(self, conversation: Conversation, turn: _Turn, outcome: _Outcome) -> Reply:
        state: dict[str, Any] = {"dialogAction": outcome.action, "sessionAttributes": turn.attributes}
        if outcome.intent is not None:
            state["intent"] = outcome.intent
        for kept in ("originatingRequestId", "runtimeHints"):
            if kept in conversation.state:
                state[kept] = conversation.state[kept]
        contexts = [
            one_turn_spent(context) if any(context is old for old in turn.carried) else context
            for context in turn.contexts
        ]
        return Reply(
            Conversation(
                state=state,
                contexts=contexts,
                messages=outcome.messages,
                interpretations=self._interpretations(turn, outcome.intent),
                prompt_attempts=turn.attempts,
            ),
            missed=outcome.missed,
        )

    # ---- what the utterance means ---------------------------------------------------------------

    def _ranked(self, turn: _Turn) -> IntentScores:
        """The bot's intents the utterance may mean, best first, among those whose contexts are active."""
        eligible = [
            (name, score)
            for name, score in turn.scores
            if name in self.bot.intents
            and not self.bot.is_fallback(name)
            and satisfies(self.bot.intents[name], turn.contexts)
        ]
        return sorted(eligible, key=lambda item: item[1], reverse=True)

    def _recognized(self, turn: _Turn) -> str | None:
        ranked = self._ranked(turn)
        if ranked and ranked[0][1] >= self.bot.confidence_threshold:
            return ranked[0][0]
        return None

    def _interpretations(self, turn: _Turn, intent: dict[str, Any] | None) -> list[dict[str, Any]]:
        scores = dict(self._ranked(turn))
        fallback = self.bot.fallback_intent["intentName"]
        found: list[dict[str, Any]] = []
        if intent is not None:
            found.append(_interpretation(intent, scores.get(intent["name"])))
        for name, score in scores.items():
            if intent is None or name != intent["name"]:
                found.append(_interpretation(_fresh_intent(name), score))
        if intent is None or intent["name"] != fallback:
            found.append(_interpretation(_fresh_intent(fallback), None))
        return found[:MAX_INTERPRETATIONS]

    def _slot_values(self, turn: _Turn, intent_name: str, only: str | None) -> dict[str, Any]:
        return self.understanding.slot_values(
            intent_name, turn.utterance.text, only, hint_phrases(turn.hints, intent_name)
        )

    # ---- the three kinds of turn ---------------------------------------------------------------

    def _new_intent(self, turn: _Turn) -> _Outcome:
        name = self._recognized(turn)
        turn.attempts = 0
        if name is None:
            return self._advance(turn, _fresh_intent(self.bot.fallback_intent["intentName"]), missed=True)
        intent = _fresh_intent(name)
        intent["slots"] = self._slot_values(turn, name, None)
        return self._start(turn, intent)

    def _slot_answer(
        self, turn: _Turn, intent: dict[str, Any], slot_name: str, sub_slot: str | None
    ) -> _Outcome:
        asked = f"{slot_name}.{sub_slot}" if sub_slot else slot_name
        found = self._slot_values(turn, intent["name"], asked)
        if slot_name in found:
            slots = dict(intent.get("slots") or {})
            slots[slot_name] = _merged(slots.get(slot_name), found[slot_name])
            intent["slots"] = slots
            turn.attempts = 0
            capture = self._elicitation(intent["name"], slot_name).get("slotCaptureSetting") or {}
            return self._then(
                turn,
                intent,
                [capture.get("captureResponse")],
                capture.get("captureNextStep"),
                capture.get("captureConditional"),
            )
        switched = self._recognized(turn)
        if switched is not None and switched != intent["name"]:
            return self._new_intent(turn)
        setting = self._elicitation(intent["name"], slot_name, sub_slot)
        action = _elicit_action(slot_name, sub_slot)
        capture = self._elicitation(intent["name"], slot_name).get("slotCaptureSetting") or {}
        return self._retry(turn, intent, action, setting.get("promptSpecification"), capture)

    def _confirmation_answer(self, turn: _Turn, intent: dict[str, Any]) -> _Outcome:
        answer = confirmation_state(turn.utterance.text)
        setting = self.bot.intent(intent["name"]).get("intentConfirmationSetting") or {}
        if answer is None:
            return self._retry(
                turn, intent, {"type": "ConfirmIntent"}, setting.get("promptSpecification"), setting
            )
        intent["confirmationState"] = answer
        turn.attempts = 0
        if answer == "Confirmed":
            return self._then(
                turn,
                intent,
                [setting.get("confirmationResponse")],
                setting.get("confirmationNextStep"),
                setting.get("confirmationConditional"),
            )
        if setting.get("declinationNextStep") or setting.get("declinationConditional"):
            return self._then(
                turn,
                intent,
                [setting.get("declinationResponse")],
                setting.get("declinationNextStep"),
                setting.get("declinationConditional"),
            )
        return self._advance(turn, intent)

    def _retry(
        self,
        turn: _Turn,
        intent: dict[str, Any],
        action: dict[str, Any],
        prompt: dict[str, Any] | None,
        failure: dict[str, Any],
    ) -> _Outcome:
        """Asks again, until the prompt's retries run out: then the step's failure path, or the
        intent fails."""
        turn.attempts += 1
        max_retries = (prompt or {}).get("maxRetries", DEFAULT_MAX_RETRIES)
        if turn.attempts > max_retries:
            turn.attempts = 0
            if failure.get("failureNextStep") or failure.get("failureConditional"):
                outcome = self._then(
                    turn,
                    intent,
                    [failure.get("failureResponse")],
                    failure.get("failureNextStep"),
                    failure.get("failureConditional"),
                )
            else:
                messages = response_messages(failure.get("failureResponse"), intent.get("slots") or {})
                outcome = _Outcome({"type": "Close"}, {**intent, "state": "Failed"}, messages)
            outcome.missed = True
            return outcome
        return _Outcome(action, intent, response_messages(prompt, intent.get("slots") or {}), missed=True)

    # ---- conversation paths: responses, next steps, conditional branches -------------------------

    def _start(self, turn: _Turn, intent: dict[str, Any]) -> _Outcome:
        """An intent begins: its initial response, then its next step (Lex's default when none)."""
        setting = self.bot.intent(intent["name"]).get("initialResponseSetting") or {}
        return self._then(
            turn,
            intent,
            [setting.get("initialResponse")],
            setting.get("nextStep"),
            setting.get("conditional"),
        )

    def _then(
        self,
        turn: _Turn,
        intent: dict[str, Any],
        responses: list[dict[str, Any] | None],
        next_step: dict[str, Any] | None,
        conditional: dict[str, Any] | None,
    ) -> _Outcome:
        """Says ``responses``, then takes the branch the conditional chooses, the next step, or the
        step Lex takes by default; every message of the way is kept, in order."""
        branch = chosen_branch(conditional, self._resolver(turn, intent))
        if branch is not None:
            responses = [*responses, branch[0]]
            next_step = branch[1]
        said = [
            message
            for response in responses
            for message in response_messages(response, intent.get("slots") or {})
        ]
        if next_step and next_step.get("dialogAction"):
            outcome = self._step(turn, intent, next_step, conditional)
        else:
            if next_step:
                intent = self._overridden(turn, intent, next_step)
            outcome = self._advance(turn, intent)
        outcome.messages = said + outcome.messages
        return outcome

    def _step(
        self,
        turn: _Turn,
        intent: dict[str, Any],
        step: dict[str, Any],
        conditional: dict[str, Any] | None,
    ) -> _Outcome:
        """Carries out a DialogState: its session attributes and slot values, then its dialog action."""
        turn.steps += 1
        if turn.steps > MAX_STEPS:
            raise validation(
                "The bot's next steps go round without waiting for the user; check its conversation paths."
            )
        action = step["dialogAction"]
        kind = action["type"]
        named = (step.get("intent") or {}).get("name")
        if kind == "StartIntent" or (named and named != intent["name"]):
            target = named or intent["name"]
            if target not in self.bot.intents and not self.bot.is_fallback(target):
                raise validation(f"A next step starts the intent {target}, which the bot does not have.")
            fresh = self._overridden(turn, _fresh_intent(target), step)
            return self._start(turn, fresh) if kind == "StartIntent" else self._step(turn, fresh, step, None)
        intent = self._overridden(turn, intent, step)
        if kind == "ElicitSlot":
            outcome = self._take(turn, intent, {"type": "ElicitSlot", "slotToElicit": action["slotToElicit"]})
        elif kind == "ConfirmIntent":
            outcome = self._take(turn, intent, {"type": "ConfirmIntent"})
        elif kind == "FulfillIntent":
            outcome = self._fulfill(turn, intent)
        elif kind == "CloseIntent":
            outcome = self._close(turn, intent, None)
        elif kind == "EndConversation":
            outcome = _Outcome({"type": "Close"}, intent, [])
        elif kind == "ElicitIntent":
            outcome = _Outcome({"type": "ElicitIntent"}, None, [])
        elif kind == "EvaluateConditional":
            outcome = self._then(turn, intent, [], None, conditional)
        else:  # InvokeDialogCodeHook: the dialog code hook when enabled, Lex's default otherwise
            outcome = self._advance(turn, intent)
        if action.get("suppressNextMessage"):
            outcome.messages = []
        return outcome

    def _overridden(self, turn: _Turn, intent: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
        turn.attributes.update(step.get("sessionAttributes") or {})
        overrides = (step.get("intent") or {}).get("slots") or {}
        if not overrides:
            return intent
        return {**intent, "slots": overridden_slots(intent.get("slots") or {}, overrides, turn.attributes)}

    def _resolver(self, turn: _Turn, intent: dict[str, Any]) -> Resolver:
        utterance = turn.utterance
        return resolver(
            intent.get("slots") or {},
            turn.attributes,
            utterance.request_attributes,
            {"inputMode": utterance.input_mode, "inputTranscript": utterance.text},
        )

    # ---- moving an intent on -------------------------------------------------------------------

    def _advance(self, turn: _Turn, intent: dict[str, Any], *, missed: bool = False) -> _Outcome:
        self._fill_defaults(turn, intent)
        action = self._next_action(intent)
        if self.bot.dialog_hook_enabled(intent["name"]):
            proposed = {**intent, "state": _proposed_state(intent, action)}
            event = self._event(turn, "DialogCodeHook", proposed)
            event["proposedNextState"] = {
                "dialogAction": action,
                "intent": proposed,
                "prompt": {"attempt": _attempt_label(turn.attempts)},
            }
            outcome = self._hook_answer(turn, self.call_code_hook(self._hook_url(), event))
        else:
            outcome = self._take(turn, intent, action)
        outcome.missed = missed
        return outcome

    def _next_action(self, intent: dict[str, Any]) -> dict[str, Any]:
        """What Lex does next for the intent: elicit the first missing required slot (or the first
        missing sub-slot of a composite one), confirm, close."""
        filled = intent.get("slots") or {}
        for slot in self.bot.slots(intent["name"]):
            setting = slot.get("valueElicitationSetting") or {}
            if setting.get("slotConstraint") != "Required":
                continue
            name = slot["slotName"]
            if slot.get("subSlotSetting"):
                missing = self._missing_sub_slot(intent["name"], name, filled.get(name))
                if missing is not None:
                    return _elicit_action(name, missing or None)
            elif not filled.get(name):
                return _elicit_action(name, None)
        confirmation = self.bot.intent(intent["name"]).get("intentConfirmationSetting") or {}
        asks = confirmation.get("active", True) and confirmation.get("promptSpecification")
        if asks and intent.get("confirmationState", "None") == "None":
            return {"type": "ConfirmIntent"}
        return {"type": "Close"}

    def _missing_sub_slot(self, intent_name: str, slot_name: str, slot: dict[str, Any] | None) -> str | None:
        """None when the composite slot's expression holds; "" when none of its sub-slots is filled
        (the composite slot's own prompt asks); else the first sub-slot the expression still needs."""
        sub_slots = (slot or {}).get("subSlots") or {}
        have = {name for name, value in sub_slots.items() if value}
        expression = self.bot.sub_slot_expression(intent_name, slot_name)
        if evaluate(expression, lambda name: ["set"] if name in have else []):
            return None
        unfilled = [name for name in self.bot.sub_slots(intent_name, slot_name) if name not in have]
        return unfilled[0] if have and unfilled else ""

    def _elicitation(self, intent_name: str, slot_name: str, sub_slot: str | None = None) -> dict[str, Any]:
        """The valueElicitationSetting of a slot, or of one sub-slot of a composite slot."""
        if sub_slot:
            spec = self.bot.sub_slots(intent_name, slot_name).get(sub_slot) or {}
            return dict(spec.get("valueElicitationSetting") or {})
        return dict((self.bot.slot(intent_name, slot_name) or {}).get("valueElicitationSetting") or {})

    def _fill_defaults(self, turn: _Turn, intent: dict[str, Any]) -> None:
        """Fills empty slots from their default values (literal, or ``#context.attribute``)."""
        slots = intent.setdefault("slots", {})
        for slot in self.bot.slots(intent["name"]):
            if slots.get(slot["slotName"]):
                continue
            defaults = (slot.get("valueElicitationSetting") or {}).get("defaultValueSpecification") or {}
            for default in defaults.get("defaultValueList") or []:
                written = default["defaultValue"]
                value = attribute(turn.contexts, written) if written.startswith("#") else written
                if value:
                    slots[slot["slotName"]] = scalar_slot(value)
                    break

    def _take(self, turn: _Turn, intent: dict[str, Any], action: dict[str, Any]) -> _Outcome:
        """Carries out a dialog action with the bot's own prompts and responses."""
        slots = intent.get("slots") or {}
        definition = self.bot.intent(intent["name"])
        if action["type"] == "ElicitSlot":
            sub_slot = (action.get("subSlotToElicit") or {}).get("name")
            prompt = self._elicitation(intent["name"], action["slotToElicit"], sub_slot).get(
                "promptSpecification"
            )
            return _Outcome(action, {**intent, "state": "InProgress"}, response_messages(prompt, slots))
        confirmation = definition.get("intentConfirmationSetting") or {}
        if action["type"] == "ConfirmIntent":
            messages = response_messages(confirmation.get("promptSpecification"), slots)
            return _Outcome(action, {**intent, "state": "InProgress"}, messages)
        if intent.get("confirmationState") == "Denied":
            messages = response_messages(confirmation.get("declinationResponse"), slots)
            return _Outcome({"type": "Close"}, {**intent, "state": "Failed"}, messages)
        return self._fulfill(turn, intent)

    def _fulfill(self, turn: _Turn, intent: dict[str, Any]) -> _Outcome:
        if self.bot.fulfillment_hook_enabled(intent["name"]) and not turn.fulfilled_by_hook:
            turn.fulfilled_by_hook = True
            event = self._event(turn, "FulfillmentCodeHook", {**intent, "state": "ReadyForFulfillment"})
            return self._hook_answer(turn, self.call_code_hook(self._hook_url(), event))
        return self._close(turn, {**intent, "state": intent.get("state") or "ReadyForFulfillment"}, None)

    def _close(self, turn: _Turn, intent: dict[str, Any], messages: list[dict[str, Any]] | None) -> _Outcome:
        """Ends the intent: a complete one activates its output contexts and says its closing words;
        then the next step after fulfillment or closing, when the bot names one."""
        definition = self.bot.intent(intent["name"])
        if intent.get("state") in (None, "InProgress", "Waiting"):
            intent = {**intent, "state": "ReadyForFulfillment"}
        slots = intent.get("slots") or {}
        complete = intent["state"] in ("Fulfilled", "ReadyForFulfillment")
        if complete:
            turn.contexts = activate(
                turn.contexts, definition.get("outputContexts") or [], turn.utterance.now
            )
        after_fulfillment = self._after_fulfillment(turn, definition, intent["state"])
        if after_fulfillment is not None:
            response, next_step, conditional = after_fulfillment
            outcome = self._then(turn, intent, [], next_step, conditional)
            outcome.messages = (messages or response_messages(response, slots)) + outcome.messages
            return outcome
        if messages is None:
            messages = self._post_fulfillment_messages(definition, intent["state"], slots)
            closing = definition.get("intentClosingSetting") or {}
            if complete and closing.get("active", True):
                messages += response_messages(closing.get("closingResponse"), slots)
                if (closing.get("nextStep") or closing.get("conditional")) and not turn.closed:
                    turn.closed = True
                    outcome = self._then(
                        turn, {**intent}, [], closing.get("nextStep"), closing.get("conditional")
                    )
                    if outcome.action["type"] in ("ElicitIntent", "Close") and outcome.intent is None:
                        outcome.intent = intent
                    outcome.messages = messages + outcome.messages
                    return outcome
        return _Outcome({"type": "Close"}, intent, messages)

    def _after_fulfillment(
        self, turn: _Turn, definition: dict[str, Any], state: str
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None] | None:
        """(response, nextStep, conditional) after a fulfillment code hook, when the bot names a next
        step for the hook's outcome; None to close as usual."""
        if not turn.fulfilled_by_hook or turn.after_fulfillment_done:
            return None
        status = (definition.get("fulfillmentCodeHook") or {}).get("postFulfillmentStatusSpecification") or {}
        outcome = "success" if state == "Fulfilled" else "failure"
        next_step, conditional = status.get(f"{outcome}NextStep"), status.get(f"{outcome}Conditional")
        if not next_step and not conditional:
            return None
        turn.after_fulfillment_done = True
        return status.get(f"{outcome}Response"), next_step, conditional

    def _post_fulfillment_messages(
        self, definition: dict[str, Any], state: str, slots: dict[str, Any]
    ) -> list[dict[str, Any]]:
        hook = definition.get("fulfillmentCodeHook") or {}
        if not self.bot.fulfillment_hook_enabled(definition["intentName"]):
            return []
        status = hook.get("postFulfillmentStatusSpecification") or {}
        response = status.get("successResponse") if state == "Fulfilled" else status.get("failureResponse")
        return response_messages(response, slots)

    # ---- code hooks ----------------------------------------------------------------------------

    def _hook_url(self) -> str:
        url = self.bot.code_hook_url
        if url is None:
            raise dependency_failed("No code hook is configured for the bot alias and locale.")
        return url

    def _event(self, turn: _Turn, source: str, intent: dict[str, Any]) -> dict[str, Any]:
        """The Lex V2 Lambda input event."""
        utterance = turn.utterance
        return {
            "messageVersion": MESSAGE_VERSION,
            "invocationSource": source,
            "inputMode": utterance.input_mode,
            "responseContentType": utterance.response_content_type,
            "sessionId": utterance.session_id,
            "inputTranscript": utterance.text,
            "bot": self.bot.bot_description(),
            "interpretations": self._interpretations(turn, intent),
            "requestAttributes": utterance.request_attributes,
            "sessionState": {
                "sessionAttributes": turn.attributes,
                "activeContexts": [context.to_shape(utterance.now) for context in turn.contexts],
                "intent": intent,
            },
        }

    def _hook_answer(self, turn: _Turn, response: dict[str, Any]) -> _Outcome:
        """Carries out what a code hook answered (already checked against Lex's shapes)."""
        state = response["sessionState"]
        if "sessionAttributes" in state:
            turn.attributes = dict(state["sessionAttributes"])
        if "activeContexts" in state:
            turn.contexts = [from_shape(context, turn.utterance.now) for context in state["activeContexts"]]
        action = state["dialogAction"]
        intent = self._known_intent(state.get("intent"))
        messages = response.get("messages")
        kind = action["type"]
        if kind == "ElicitIntent":
            return _Outcome({"type": "ElicitIntent"}, None, messages or [])
        assert intent is not None  # the response check requires an intent for every other action
        if kind == "Delegate":
            self._fill_defaults(turn, intent)
            return self._take(turn, intent, self._next_action(intent))
        if kind == "Close":
            return self._close(turn, intent, messages)
        if kind == "ElicitSlot" and self.bot.slot(intent["name"], action["slotToElicit"]) is None:
            raise dependency_failed(
                f"Invalid Lambda Response: slot {action['slotToElicit']} is not a slot of {intent['name']}."
            )
        outcome = self._take(
            turn, intent, {key: action[key] for key in ("type", "slotToElicit") if key in action}
        )
        if messages:
            outcome.messages = messages
        return outcome

    def _known_intent(self, intent: dict[str, Any] | None) -> dict[str, Any] | None:
        if intent is None:
            return None
        name = intent["name"]
        if name not in self.bot.intents and not self.bot.is_fallback(name):
            raise dependency_failed(f"Invalid Lambda Response: the bot has no intent named {name}.")
        return {"confirmationState": "None", **intent, "slots": _filled(intent.get("slots"))}

    # ---- prompts without a turn (PutSession) ---------------------------------------------------

    def prompt(self, state: dict[str, Any]) -> list[dict[str, Any]]:
        """The bot's prompt for a session state's dialog action (what PutSession answers with)."""
        intent = state.get("intent")
        action = state.get("dialogAction") or {}
        if intent is None or (
            intent["name"] not in self.bot.intents and not self.bot.is_fallback(intent["name"])
        ):
            return []
        slots = intent.get("slots") or {}
        if action.get("type") == "ElicitSlot":
            slot = self.bot.slot(intent["name"], action.get("slotToElicit", "")) or {}
            return response_messages(
                (slot.get("valueElicitationSetting") or {}).get("promptSpecification"), slots
            )
        if action.get("type") == "ConfirmIntent":
            confirmation = self.bot.intent(intent["name"]).get("intentConfirmationSetting") or {}
            return response_messages(confirmation.get("promptSpecification"), slots)
        return []


def _fresh_intent(name: str) -> dict[str, Any]:
    return {"name": name, "slots": {}, "state": "InProgress", "confirmationState": "None"}


def _interpretation(intent: dict[str, Any], score: float | None) -> dict[str, Any]:
    found: dict[str, Any] = {"intent": intent, "interpretationSource": "Lex"}
    if score is not None:
        found["nluConfidence"] = {"score": round(score, 2)}
    return found


def _filled(slots: dict[str, Any] | None) -> dict[str, Any]:
    """Slots that hold a value (a code hook may send the empty ones as null)."""
    return {name: slot for name, slot in (slots or {}).items() if slot}


def hint_phrases(slot_hints: dict[str, Any], intent_name: str) -> dict[str, list[str]]:
    """An intent's runtime hints as phrases by slot name (``Slot.SubSlot`` for a sub-slot)."""
    phrases: dict[str, list[str]] = {}
    for name, hint in (slot_hints.get(intent_name) or {}).items():
        phrases[name] = [value["phrase"] for value in hint.get("runtimeHintValues") or []]
        for sub, sub_hint in (hint.get("subSlotHints") or {}).items():
            phrases[f"{name}.{sub}"] = [value["phrase"] for value in sub_hint.get("runtimeHintValues") or []]
    return phrases


def _elicit_action(slot_name: str, sub_slot: str | None) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "ElicitSlot", "slotToElicit": slot_name}
    if sub_slot:
        action["subSlotToElicit"] = {"name": sub_slot}
    return action


def _merged(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """A slot answer: a composite slot keeps the sub-slots it had and takes the new ones."""
    if new.get("shape") != "Composite" or not old:
        return new
    return {**new, "subSlots": {**(old.get("subSlots") or {}), **(new.get("subSlots") or {})}}


def _proposed_state(intent: dict[str, Any], action: dict[str, Any]) -> str:
    if action["type"] == "Close" and intent.get("confirmationState") != "Denied":
        return "ReadyForFulfillment"
    return "InProgress"


def _attempt_label(attempts: int) -> str:
    return "Initial" if attempts == 0 else f"Retry{attempts}"
