"""Facebook Messenger: the webhook's verification handshake (``hub.mode=subscribe`` with the channel's
verify token, answered with ``hub.challenge``), events signed with the app secret
(``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>``), replies through the Send API
(``/me/messages`` with the page access token), response cards as quick replies."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote

from nimbus.services.lex_channels.calls import WebhookAnswer, WebhookCall, refused, same
from nimbus.services.lex_channels.conversation import Reply, converse
from nimbus.services.lex_channels.delivery import post_json
from nimbus.services.lex_channels.records import Channel
from nimbus.storage import Storage

TEXT_MAX = 2000  # the Send API's limit on a text message
QUICK_REPLIES_MAX = 13
QUICK_REPLY_TITLE_MAX = 20


def verify_subscription(channel: Channel, call: WebhookCall) -> WebhookAnswer:
    """Meta's GET when the webhook is set up: the challenge back only to the one who knows the token."""
    token = call.query.get("hub.verify_token", "")
    if call.query.get("hub.mode") != "subscribe" or not same(token, channel.secrets["verifyToken"]):
        return refused(403, "hub.mode must be subscribe and hub.verify_token the channel's verify token.")
    return WebhookAnswer(200, call.query.get("hub.challenge", "").encode())


def messenger_webhook(storage: Storage, channel: Channel, call: WebhookCall, api_url: str) -> WebhookAnswer:
    if not signed_with(channel.secrets["appSecret"], call.body, call.headers.get("x-hub-signature-256", "")):
        return refused(403, "X-Hub-Signature-256 does not match the channel's app secret.")
    try:
        document = json.loads(call.body)
        events = [event for entry in document["entry"] for event in entry.get("messaging") or []]
    except (ValueError, KeyError, TypeError, AttributeError):
        return refused(400, "The body is not a Messenger webhook event.")
    if document.get("object") != "page":
        return refused(404, "A Messenger channel takes the events of a page.")
    for event in filter(lambda event: isinstance(event, dict), events):
        sender, text = (event.get("sender") or {}).get("id"), _said(event)
        if sender and text:
            for reply in converse(storage, channel, sender, text, call.host):
                _send(api_url, channel, sender, reply)
    return WebhookAnswer(200, b"EVENT_RECEIVED")


def signed_with(app_secret: str, body: bytes, signature: str) -> bool:
    """Whether ``X-Hub-Signature-256`` is ``sha256=`` and the HMAC-SHA256 of the body under the secret."""
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return same(signature, f"sha256={digest}")


def _said(event: dict[str, Any]) -> str:
    """What the user said: a quick reply's payload, a message's text or a postback's payload (not the
    page's own messages echoed back)."""
    message = event.get("message") or {}
    if message.get("is_echo"):
        return ""
    quick_reply = (message.get("quick_reply") or {}).get("payload")
    return str(quick_reply or message.get("text") or (event.get("postback") or {}).get("payload") or "")


def _send(api_url: str, channel: Channel, recipient: str, reply: Reply) -> None:
    message: dict[str, Any] = {"text": reply.text[:TEXT_MAX]}
    if reply.buttons:
        message["quick_replies"] = [
            {"content_type": "text", "title": button.text[:QUICK_REPLY_TITLE_MAX], "payload": button.value}
            for button in reply.buttons[:QUICK_REPLIES_MAX]
        ]
    token = quote(channel.secrets["pageAccessToken"], safe="")
    post_json(
        f"{api_url}/me/messages?access_token={token}",
        {"recipient": {"id": recipient}, "messaging_type": "RESPONSE", "message": message},
    )
