"""A platform user's turn: one Lex session per user of a channel, taken through the same runtime code
RecognizeText runs, and the bot's messages back as the text and cards a platform can show."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nimbus.services.lex_channels.records import Channel
from nimbus.services.lexv2_runtime.dialog import Utterance
from nimbus.services.lexv2_runtime.recognize import MAX_TEXT
from nimbus.services.lexv2_runtime.targets import open_bot_locale
from nimbus.services.lexv2_runtime.turns import take_turn
from nimbus.storage import Storage

# the conversation log's name for each platform (Lex's own names for its channels)
LOGGED_AS = {"slack": "Slack", "twilio-sms": "Twilio-SMS", "facebook": "Facebook"}
_KEPT = re.compile(r"[A-Za-z0-9-]")
_SSML_TAG = re.compile(r"<[^>]+>")


@dataclass
class Button:
    text: str
    value: str


@dataclass
class Reply:
    """One message of the bot's: its text, and the buttons of a response card (if it is one)."""

    text: str
    buttons: list[Button] = field(default_factory=list)
    image_url: str = ""


def session_id(channel: Channel, user_id: str) -> str:
    """``<platform>:<channel id>:<user>``, the user's characters that a Lex session id cannot hold
    written as their hex code between dots, so two users never share a session."""
    user = "".join(char if _KEPT.fullmatch(char) else f".{ord(char):x}." for char in user_id)
    return f"{channel.platform}:{channel.channel_id}:{user}"


def converse(storage: Storage, channel: Channel, user_id: str, text: str, host: str = "") -> list[Reply]:
    """The bot's answer to what the user said (cut to the runtime's limit on a turn's text)."""
    ctx = channel.context(storage, host)
    request = {**channel.target(), "sessionId": session_id(channel, user_id)}
    utterance = Utterance(text=text[:MAX_TEXT], session_id=request["sessionId"], now=ctx.received_at)
    bot = open_bot_locale(ctx, request)
    conversation = take_turn(ctx, request, bot, utterance, None, LOGGED_AS[channel.platform])
    return [_reply(message) for message in conversation.messages]


def _reply(message: dict[str, Any]) -> Reply:
    if message["contentType"] == "ImageResponseCard":
        card = message["imageResponseCard"]
        text = "\n".join(part for part in (card["title"], card.get("subtitle")) if part)
        buttons = [Button(button["text"], button["value"]) for button in card.get("buttons") or []]
        return Reply(text, buttons, card.get("imageUrl") or "")
    if message["contentType"] == "SSML":  # what the voice would say, as text
        return Reply(_SSML_TAG.sub("", message["content"]).strip())
    return Reply(message["content"])
