"""Twilio SMS: the messaging webhook's form POST, signed as Twilio documents (``X-Twilio-Signature``:
base64 HMAC-SHA1, keyed with the account's auth token, over the URL Twilio called followed by every
POST parameter's name and value in sorted order), answered with TwiML, one ``<Message>`` per message
of the bot's. SMS has no buttons: a response card is its title, subtitle and one line per button."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl
from xml.etree import ElementTree

from nimbus.services.lex_channels.calls import WebhookAnswer, WebhookCall, refused, same
from nimbus.services.lex_channels.conversation import Reply, converse
from nimbus.services.lex_channels.records import Channel
from nimbus.storage import Storage


def twilio_webhook(storage: Storage, channel: Channel, call: WebhookCall) -> WebhookAnswer:
    try:
        parameters = parse_qsl(call.body.decode(), keep_blank_values=True, strict_parsing=bool(call.body))
    except (UnicodeDecodeError, ValueError):
        return refused(400, "The body is not a form of Twilio's parameters.")
    expected = signature(channel.secrets["authToken"], call.url, parameters)
    if not same(call.headers.get("x-twilio-signature", ""), expected):
        return refused(403, "X-Twilio-Signature does not match the channel's auth token.")
    form = dict(parameters)
    if form.get("AccountSid") != channel.secrets["accountSid"]:
        return refused(403, "The message is for another Twilio account than the channel's.")
    sender, text = form.get("From", ""), form.get("Body", "")
    replies = converse(storage, channel, sender, text, call.host) if sender and text.strip() else []
    return WebhookAnswer(200, twiml(replies), "text/xml; charset=utf-8")


def signature(auth_token: str, url: str, parameters: list[tuple[str, str]]) -> str:
    signed = url + "".join(name + value for name, value in sorted(parameters))
    return base64.b64encode(hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def twiml(replies: list[Reply]) -> bytes:
    response = ElementTree.Element("Response")
    for reply in replies:
        lines = [reply.text, *(button.text for button in reply.buttons)]
        ElementTree.SubElement(response, "Message").text = "\n".join(line for line in lines if line)
    return ElementTree.tostring(response, encoding="utf-8", xml_declaration=True)
