"""Lex channel integrations of a bot: the Slack, Twilio SMS and Facebook Messenger channels of one
alias and locale, each with the callback URL to give the platform; create and delete. Lex V2's API
has none of this, so the page goes through Nimbus's signed extension (``/_nimbus/lex/channels/``),
which IAM authorizes as lex:ListBotChannels, lex:CreateBotChannel and lex:DeleteBotChannel."""

from __future__ import annotations

from typing import Any

from nimbus.console.lex import DRAFT, PAGE_SIZE, TEST_ALIAS
from nimbus.console.web import ConsoleRequest, Done, Page, get, post, url

EXTENSION = "/_nimbus/lex/channels"
# each platform's credentials, in the order and with the names the Lex console shows them
PLATFORMS = {
    "slack": ("Slack", (("signingSecret", "Signing secret"), ("botToken", "Bot user OAuth token"))),
    "twilio-sms": ("Twilio SMS", (("accountSid", "Account SID"), ("authToken", "Auth token"))),
    "facebook": (
        "Facebook Messenger",
        (
            ("appSecret", "App secret"),
            ("pageAccessToken", "Page access token"),
            ("verifyToken", "Verify token"),
        ),
    ),
}


def channels(ctx: ConsoleRequest) -> Page:
    bot_id = ctx.path("bot")
    models = ctx.client("lexv2-models")
    aliases = models.list_bot_aliases(botId=bot_id, maxResults=PAGE_SIZE).get("botAliasSummaries", [])
    locales = models.list_bot_locales(botId=bot_id, botVersion=DRAFT, maxResults=PAGE_SIZE).get(
        "botLocaleSummaries", []
    )
    alias = ctx.query("alias") or TEST_ALIAS
    locale_id = ctx.query("locale") or (locales[0]["localeId"] if locales else "en_US")
    listed = ctx.extension("ListBotChannels", "GET", f"{EXTENSION}/{bot_id}/{alias}/{locale_id}")
    data = {
        "bot_id": bot_id,
        "aliases": aliases,
        "locales": locales,
        "alias": alias,
        "locale_id": locale_id,
        "channels": listed["channels"],
        "platforms": PLATFORMS,
    }
    return Page("lex_channels.html", data, title="Channel integrations")


def create(ctx: ConsoleRequest) -> Done:
    bot_id, alias, locale_id = ctx.path("bot"), ctx.field("alias"), ctx.field("locale")
    platform = ctx.field("platform")
    names = [name for name, _ in PLATFORMS[platform][1]] if platform in PLATFORMS else []
    body: dict[str, Any] = {
        "name": ctx.field("name"),
        "platform": platform,
        "secrets": {name: ctx.field(name) for name in names if ctx.field(name)},
        "apiUrl": ctx.field("api_url") or None,
    }
    made = ctx.extension("CreateBotChannel", "POST", f"{EXTENSION}/{bot_id}/{alias}/{locale_id}", body)
    channel = made["channel"]
    return Done(
        url(f"/lex/{bot_id}/channels", alias=alias, locale=locale_id),
        f"Channel {channel['name']} created: give the platform {channel['callbackUrl']}",
        made,
    )


def delete(ctx: ConsoleRequest) -> Done:
    bot_id, alias, locale_id = ctx.path("bot"), ctx.field("alias"), ctx.field("locale")
    channel_id = ctx.path("channel")
    ctx.extension("DeleteBotChannel", "DELETE", f"{EXTENSION}/{bot_id}/{alias}/{locale_id}/{channel_id}")
    back = url(f"/lex/{bot_id}/channels", alias=alias, locale=locale_id)
    return Done(back, f"Channel {channel_id} deleted.")


ROUTES = [
    get("/lex/{bot}/channels", channels),
    post("/lex/{bot}/channels", create),
    post("/lex/{bot}/channels/{channel}/delete", delete),
]
