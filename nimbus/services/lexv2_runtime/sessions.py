"""PutSession, GetSession and DeleteSession: a session's state read and set outside a turn."""

from __future__ import annotations

from typing import Any

from nimbus.services.lexv2_runtime import lexv2_runtime
from nimbus.services.lexv2_runtime.code_hooks import invoke_code_hook
from nimbus.services.lexv2_runtime.dialog import TEXT_RESPONSE, Conversation, Dialog
from nimbus.services.lexv2_runtime.errors import session_not_found
from nimbus.services.lexv2_runtime.header_codec import encode_json
from nimbus.services.lexv2_runtime.locale_understanding import understanding_for
from nimbus.services.lexv2_runtime.session_store import SessionKey, load_session, remove_session, save_session
from nimbus.services.lexv2_runtime.targets import open_bot_locale
from nimbus.services.lexv2_runtime.turns import with_caller_state
from nimbus.services.registry import RequestContext


@lexv2_runtime.operation
def put_session(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The response is text only: ``audioStream`` is empty whatever ``responseContentType`` asks for."""
    bot = open_bot_locale(ctx, request)
    key = SessionKey.of(ctx, request)
    now = ctx.received_at
    stored = load_session(ctx, key, now)
    conversation = with_caller_state(Conversation(), request["sessionState"], now)
    messages = request.get("messages")
    if messages is None:
        messages = Dialog(bot, understanding_for(bot, now), invoke_code_hook).prompt(conversation.state)
    conversation.messages = messages
    save_session(ctx, key, stored, conversation, now, bot.idle_session_ttl)
    output: dict[str, Any] = {
        "sessionId": request["sessionId"],
        "contentType": request.get("responseContentType") or TEXT_RESPONSE,
        "sessionState": encode_json(conversation.session_state(now)),
        "audioStream": b"",
    }
    if messages:
        output["messages"] = encode_json(messages)
    if request.get("requestAttributes"):
        output["requestAttributes"] = encode_json(request["requestAttributes"])
    return output


@lexv2_runtime.operation
def get_session(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    open_bot_locale(ctx, request)
    stored = load_session(ctx, SessionKey.of(ctx, request), ctx.received_at)
    if stored is None:
        raise session_not_found(request["sessionId"])
    conversation = stored.conversation
    return {
        "sessionId": request["sessionId"],
        "messages": conversation.messages,
        "interpretations": conversation.interpretations,
        "sessionState": conversation.session_state(ctx.received_at),
    }


@lexv2_runtime.operation
def delete_session(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    open_bot_locale(ctx, request)
    if not remove_session(ctx, SessionKey.of(ctx, request), ctx.received_at):
        raise session_not_found(request["sessionId"])
    return {name: request[name] for name in ("botId", "botAliasId", "localeId", "sessionId")}
