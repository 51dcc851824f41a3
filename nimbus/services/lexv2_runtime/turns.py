"""One user turn, end to end: the bot locale, the session as stored (or as the caller sets it), the
dialog, the session written back, and the utterance recorded. A turn that fails (a code hook that
times out, a conflict) writes nothing, so the session stays as it was."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nimbus.services.lexv2_runtime.bot_locale import BotLocale
from nimbus.services.lexv2_runtime.code_hooks import invoke_code_hook
from nimbus.services.lexv2_runtime.contexts import from_shape
from nimbus.services.lexv2_runtime.conversation_logs import log_turn
from nimbus.services.lexv2_runtime.dialog import Conversation, Dialog, Utterance
from nimbus.services.lexv2_runtime.locale_understanding import understanding_for
from nimbus.services.lexv2_runtime.missed_utterances import record_utterance
from nimbus.services.lexv2_runtime.session_store import SessionKey, load_session, save_session
from nimbus.services.registry import RequestContext


def take_turn(
    ctx: RequestContext,
    request: dict[str, Any],
    bot: BotLocale,
    utterance: Utterance,
    session_state: dict[str, Any] | None,
    channel: str = "API",
) -> Conversation:
    """``channel`` names where the user is (``API``, or a messaging platform) in the conversation log."""
    key = SessionKey.of(ctx, request)
    stored = load_session(ctx, key, utterance.now)
    conversation = stored.conversation if stored is not None else Conversation()
    if session_state is not None:
        conversation = with_caller_state(conversation, session_state, utterance.now)
    dialog = Dialog(bot, understanding_for(bot, utterance.now), invoke_code_hook)
    reply = dialog.respond(conversation, utterance)
    save_session(ctx, key, stored, reply.conversation, utterance.now, bot.idle_session_ttl)
    record_utterance(ctx, bot, utterance.text, reply.missed, utterance.now)
    log_turn(ctx, bot, utterance, reply.conversation, reply.missed, channel)
    return reply.conversation


def with_caller_state(conversation: Conversation, state: dict[str, Any], now: datetime) -> Conversation:
    """The conversation with the members of a caller's SessionState in place of the stored ones."""
    kept = {name: value for name, value in state.items() if name != "activeContexts"}
    if "intent" in kept:
        slots = kept["intent"].get("slots") or {}
        kept["intent"] = {
            "confirmationState": "None",
            **kept["intent"],
            "slots": {name: slot for name, slot in slots.items() if slot},
        }
    contexts = conversation.contexts
    if "activeContexts" in state:
        contexts = [from_shape(context, now) for context in state["activeContexts"]]
    return Conversation(
        state={**conversation.state, **kept},
        contexts=contexts,
        messages=conversation.messages,
        interpretations=conversation.interpretations,
        prompt_attempts=0 if "dialogAction" in kept else conversation.prompt_attempts,
    )
