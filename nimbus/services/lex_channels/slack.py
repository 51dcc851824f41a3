"""Slack: the Events API and interactive payloads, signed with the app's signing secret (``v0``
HMAC-SHA256 over ``v0:<timestamp>:<body>``, refused when older than five minutes), replies through
``chat.postMessage`` with the bot token, response cards as Block Kit buttons whose clicks
(``block_actions``) come back as the user's next turn."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs

from nimbus.services.lex_channels.calls import WebhookAnswer, WebhookCall, refused, same
from nimbus.services.lex_channels.conversation import Reply, converse
from nimbus.services.lex_channels.delivery import log, post_json
from nimbus.services.lex_channels.records import Channel
from nimbus.storage import Storage

REPLAY_WINDOW_S = 300
BUTTON_TEXT_MAX = 75  # Block Kit's limit on a button's plain text
# a mention of a user or the bot, as Slack writes it in a message's text
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
# Slack retries an event it thinks went unanswered: this answer tells it not to (the turn was taken)
NO_RETRY = {"X-Slack-No-Retry": "1"}


def slack_webhook(storage: Storage, channel: Channel, call: WebhookCall, api_url: str) -> WebhookAnswer:
    problem = signature_problem(channel.secrets["signingSecret"], call, time.time())
    if problem:
        return refused(401, problem)
    if "x-slack-retry-num" in call.headers:  # the first delivery took the turn
        return WebhookAnswer(200, headers=NO_RETRY)
    document = _document(call)
    if document is None:
        return refused(400, "The body is not a Slack event or interaction payload.")
    if document.get("type") == "block_actions":
        return _interaction(storage, channel, call, api_url, document)
    if document.get("type") == "url_verification":
        challenge = json.dumps({"challenge": document.get("challenge", "")}).encode()
        return WebhookAnswer(200, challenge, "application/json")
    event = document.get("event") or {}
    if document.get("type") == "event_callback" and _from_a_person(event):
        text = _MENTION.sub("", event.get("text") or "").strip()
        if text:
            replies = converse(storage, channel, event["user"], text, call.host)
            _post(api_url, channel, event["channel"], replies, event.get("thread_ts"))
    return WebhookAnswer(200, headers=NO_RETRY)


def signature_problem(signing_secret: str, call: WebhookCall, now: float) -> str:
    """Why the request is not Slack's (empty when it is)."""
    stamp = call.headers.get("x-slack-request-timestamp", "")
    signature = call.headers.get("x-slack-signature", "")
    if not (stamp.isascii() and stamp.isdigit()) or not signature:
        return "X-Slack-Request-Timestamp and X-Slack-Signature are required."
    if abs(now - int(stamp)) > REPLAY_WINDOW_S:
        return "The request timestamp is more than five minutes from now."
    base = b"v0:" + stamp.encode() + b":" + call.body
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    if not same(signature, expected):
        return "The signature does not match the channel's signing secret."
    return ""


def _document(call: WebhookCall) -> dict[str, Any] | None:
    """An event (a JSON body) or an interaction (a form whose ``payload`` is JSON); None for neither."""
    try:
        if call.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            document = json.loads(parse_qs(call.body.decode())["payload"][0])
        else:
            document = json.loads(call.body)
    except (ValueError, KeyError):
        return None
    return document if isinstance(document, dict) else None


def _from_a_person(event: dict[str, Any]) -> bool:
    """A message a user typed: not the bot's own (or another bot's), not an edit or a deletion."""
    return (
        event.get("type") in ("message", "app_mention")
        and "bot_id" not in event
        and "subtype" not in event
        and bool(event.get("user"))
        and bool(event.get("channel"))
    )


def _interaction(
    storage: Storage, channel: Channel, call: WebhookCall, api_url: str, payload: dict[str, Any]
) -> WebhookAnswer:
    """A click on a response card's button: its value is what the user says next."""
    user = (payload.get("user") or {}).get("id")
    conversation = (payload.get("channel") or {}).get("id")
    values = [action["value"] for action in payload.get("actions") or [] if action.get("value")]
    if user and conversation and values:
        replies = converse(storage, channel, user, values[0], call.host)
        _post(api_url, channel, conversation, replies, (payload.get("message") or {}).get("thread_ts"))
    return WebhookAnswer(200)


def _post(
    api_url: str, channel: Channel, conversation: str, replies: list[Reply], thread: str | None
) -> None:
    for reply in replies:
        message: dict[str, Any] = {"channel": conversation, "text": _escaped(reply.text)}
        if reply.buttons:
            message["blocks"] = _card_blocks(reply)
        if thread:
            message["thread_ts"] = thread
        answer = post_json(
            f"{api_url}/chat.postMessage", message, {"Authorization": f"Bearer {channel.secrets['botToken']}"}
        )
        if answer and not answer.get("ok"):
            log.warning("Slack refused chat.postMessage for channel %s: %s", channel.channel_id, answer)


def _card_blocks(reply: Reply) -> list[dict[str, Any]]:
    """A response card in Block Kit: its title and subtitle (and image), then a row of buttons."""
    section: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": _escaped(reply.text)}}
    if reply.image_url:
        section["accessory"] = {"type": "image", "image_url": reply.image_url, "alt_text": reply.text[:100]}
    buttons = [
        {
            "type": "button",
            "action_id": f"lex-button-{index}",
            "text": {"type": "plain_text", "text": button.text[:BUTTON_TEXT_MAX]},
            "value": button.value,
        }
        for index, button in enumerate(reply.buttons)
    ]
    return [section, {"type": "actions", "block_id": "lex-response-card", "elements": buttons}]


def _escaped(text: str) -> str:
    """Slack's escaping of the three characters its markup gives meaning to."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
