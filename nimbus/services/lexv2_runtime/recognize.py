"""RecognizeText and RecognizeUtterance: a user's turn, typed or spoken."""

from __future__ import annotations

from typing import Any

from nimbus.services.lexv2_runtime import lexv2_runtime
from nimbus.services.lexv2_runtime.dialog import TEXT_RESPONSE, Utterance, hint_phrases
from nimbus.services.lexv2_runtime.errors import validation
from nimbus.services.lexv2_runtime.header_codec import decode_json, encode_json, encode_text
from nimbus.services.lexv2_runtime.speech_input import transcript_of
from nimbus.services.lexv2_runtime.targets import open_bot_locale
from nimbus.services.lexv2_runtime.turns import take_turn
from nimbus.services.registry import RequestContext

MAX_TEXT = 1024


@lexv2_runtime.operation
def recognize_text(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    utterance = Utterance(
        text=request["text"],
        session_id=request["sessionId"],
        now=ctx.received_at,
        request_attributes=request.get("requestAttributes") or {},
    )
    bot = open_bot_locale(ctx, request)
    conversation = take_turn(ctx, request, bot, utterance, request.get("sessionState"))
    output: dict[str, Any] = {
        "sessionId": request["sessionId"],
        "sessionState": conversation.session_state(ctx.received_at),
        "interpretations": conversation.interpretations,
        "messages": conversation.messages,
    }
    if request.get("requestAttributes"):
        output["requestAttributes"] = request["requestAttributes"]
    return output


@lexv2_runtime.operation
def recognize_utterance(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Audio input is read as 16-bit PCM (``audio/l16``, ``audio/x-l16``, ``audio/lpcm``) or WAV and
    transcribed by Nimbus's speech engine; Opus input is refused with ValidationException. Speech is
    English only: audio for another locale is refused with ValidationException (text works). Responses
    are text only: ``audioStream`` is empty whatever ``responseContentType`` asks for."""
    model = lexv2_runtime.model
    session_state = None
    if request.get("sessionState"):
        session_state = decode_json(request["sessionState"], "sessionState", model.shape_for("SessionState"))
    attributes: dict[str, str] = {}
    if request.get("requestAttributes"):
        attributes = decode_json(
            request["requestAttributes"], "requestAttributes", model.shape_for("StringMap")
        )
    bot = open_bot_locale(ctx, request)
    content_type = request.get("requestContentType") or ""
    stream = request.get("inputStream")
    body = stream.read() if stream is not None and hasattr(stream, "read") else bytes(stream or b"")
    hints = (session_state or {}).get("runtimeHints") or {}
    hinted = [
        phrase
        for intent_name in hints.get("slotHints") or {}
        for phrases in hint_phrases(hints["slotHints"], intent_name).values()
        for phrase in phrases
    ]
    heard = transcript_of(bot, content_type, body, hinted)
    text, input_mode = heard.text, heard.input_mode
    if not text.strip():
        raise validation("The input stream holds no text or speech to recognize.")
    if len(text) > MAX_TEXT:
        raise validation(f"Value at 'inputStream' failed to satisfy constraint: text longer than {MAX_TEXT}.")
    utterance = Utterance(
        text=text,
        session_id=request["sessionId"],
        now=ctx.received_at,
        request_attributes=attributes,
        input_mode=input_mode,
        response_content_type=request.get("responseContentType") or TEXT_RESPONSE,
        audio=heard.audio,
    )
    conversation = take_turn(ctx, request, bot, utterance, session_state)
    output: dict[str, Any] = {
        "inputMode": input_mode,
        "contentType": utterance.response_content_type,
        "sessionId": request["sessionId"],
        "sessionState": encode_json(conversation.session_state(ctx.received_at)),
        "interpretations": encode_json(conversation.interpretations),
        "inputTranscript": encode_text(text),
        "audioStream": b"",
    }
    if conversation.messages:
        output["messages"] = encode_json(conversation.messages)
    if attributes:
        output["requestAttributes"] = encode_json(attributes)
    return output
