"""A channel's webhook: ``<platform>/webhook/<channel id>`` under Nimbus's prefix, as Lex's callback
URLs are ``https://channels.lex.<region>.amazonaws.com/<platform>/webhook/<id>``. The channel is looked
up, its platform checks the caller's signature, and only then is a turn taken."""

from __future__ import annotations

from nimbus.services.lex_channels.calls import WebhookAnswer, WebhookCall, refused
from nimbus.services.lex_channels.messenger import messenger_webhook, verify_subscription
from nimbus.services.lex_channels.records import find_channel
from nimbus.services.lex_channels.slack import slack_webhook
from nimbus.services.lex_channels.twilio_sms import twilio_webhook
from nimbus.storage import Storage


def answer_webhook(storage: Storage, api_urls: dict[str, str], path: str, call: WebhookCall) -> WebhookAnswer:
    """``path`` is ``<platform>/webhook/<channel id>``; ``api_urls`` the platforms' APIs by platform,
    for channels that name none of their own."""
    platform, _, channel_id = path.partition("/webhook/")
    channel = find_channel(storage, channel_id) if channel_id else None
    if channel is None or channel.platform != platform:
        return refused(404, f"No {platform} channel {channel_id}.")
    api_url = channel.api_url or api_urls.get(platform, "")
    if platform == "facebook" and call.method == "GET":
        return verify_subscription(channel, call)
    if call.method != "POST":
        return refused(405, f"A {platform} webhook takes POST.")
    if platform == "slack":
        return slack_webhook(storage, channel, call, api_url)
    if platform == "twilio-sms":
        return twilio_webhook(storage, channel, call)
    return messenger_webhook(storage, channel, call, api_url)
