"""Lex channels against a real server: a bot made with lexv2-models, connected to Slack, Twilio SMS and
Facebook Messenger with ``nimbus channels create``, and each platform's signed webhook round trip with a
local stand-in of the platform that checks what the real one checks (the bot token on
chat.postMessage, the page token on the Send API, the payload shapes). The signatures here are
computed as each platform documents them, independently of Nimbus's code; a forged or stale one is
refused and leaves no session."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import lex_support
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, nimbus_cli
from json_endpoint import Call, JsonEndpoint
from lex_support import LOCALE, make_bot, message, prompt

from nimbus.services.lex_channels.calls import WebhookCall
from nimbus.services.lex_channels.messenger import signed_with
from nimbus.services.lex_channels.slack import signature_problem as slack_signature_problem
from nimbus.services.lex_channels.twilio_sms import signature as twilio_signature

models, runtime = lex_support.models, lex_support.runtime  # the Lex modules' shared fixtures

SLACK_SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_BOT_TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
TWILIO_ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_AUTH_TOKEN = "12345678901234567890123456789012"
META_APP_SECRET = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
META_PAGE_TOKEN = "EAAGm0PX4ZCpsBAKZCZBZA"
META_VERIFY_TOKEN = "nimbus-flowers"
CARD_PROMPT = "What type of flowers would you like to order?"


class StandIn:
    """Slack's Web API and Meta's Graph API on a loopback port: each call is recorded and answered as
    the real platform answers it, refused when the token or the payload is not what it takes."""

    def __init__(self) -> None:
        self.received: list[Call] = []
        self.endpoint = JsonEndpoint(self._recorded)
        self.url = self.endpoint.url

    def _recorded(self, call: Call) -> tuple[int, dict[str, Any]]:
        status, answer = self.answer(call)
        if status == 200 and answer.get("ok", True):
            self.received.append(call)
        return status, answer

    def answer(self, call: Call) -> tuple[int, dict[str, Any]]:
        if call.path == "/slack/api/chat.postMessage":
            return 200, slack_answer(call)
        if call.path == "/meta/v21.0/me/messages":
            return meta_answer(call)
        return 404, {}


def slack_answer(call: Call) -> dict[str, Any]:
    """chat.postMessage: a bearer bot token, a JSON body with a channel and text, Block Kit buttons."""
    if call.headers.get("authorization") != f"Bearer {SLACK_BOT_TOKEN}":
        return {"ok": False, "error": "invalid_auth"}
    if not call.headers.get("content-type", "").startswith("application/json"):
        return {"ok": False, "error": "invalid_form_data"}
    if not call.body.get("channel"):
        return {"ok": False, "error": "channel_not_found"}
    if not call.body.get("text") and not call.body.get("blocks"):
        return {"ok": False, "error": "no_text"}
    for block in call.body.get("blocks") or []:
        if block["type"] == "actions":
            for button in block["elements"]:
                if button["type"] != "button" or button["text"]["type"] != "plain_text":
                    return {"ok": False, "error": "invalid_blocks"}
                if not button["action_id"] or len(button["text"]["text"]) > 75:
                    return {"ok": False, "error": "invalid_blocks"}
        elif block["type"] != "section" or block["text"]["type"] not in ("mrkdwn", "plain_text"):
            return {"ok": False, "error": "invalid_blocks"}
    return {"ok": True, "channel": call.body["channel"], "ts": f"{time.time():.6f}"}


def meta_answer(call: Call) -> tuple[int, dict[str, Any]]:
    """The Send API: the page access token in the query, a recipient, a message with text and at
    most 13 text quick replies with titles of at most 20 characters."""
    if call.query.get("access_token") != [META_PAGE_TOKEN]:
        return 400, {
            "error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}
        }
    message = call.body.get("message") or {}
    replies = message.get("quick_replies") or []
    valid = (
        (call.body.get("recipient") or {}).get("id")
        and call.body.get("messaging_type") in ("RESPONSE", "UPDATE", "MESSAGE_TAG")
        and 0 < len(message.get("text") or "") <= 2000
        and len(replies) <= 13
        and all(r["content_type"] == "text" and 0 < len(r["title"]) <= 20 and r["payload"] for r in replies)
    )
    if not valid:
        return 400, {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100}}
    return 200, {"recipient_id": call.body["recipient"]["id"], "message_id": f"m_{len(call.body)}"}


def flowers_with_a_card(models: Any, bot_id: str) -> None:
    """OrderFlowers whose flower question comes with a response card of three buttons."""
    draft = {"botId": bot_id, "botVersion": "DRAFT", "localeId": LOCALE}
    flowers = models.create_slot_type(
        **draft,
        slotTypeName="FlowerTypes",
        slotTypeValues=[{"sampleValue": {"value": v}} for v in ("roses", "lilies", "tulips")],
        valueSelectionSetting={"resolutionStrategy": "TopResolution"},
    )["slotTypeId"]
    intent = models.create_intent(
        **draft,
        intentName="OrderFlowers",
        sampleUtterances=[
            {"utterance": u} for u in ("I would like to order some flowers", "order {FlowerType}")
        ],
    )
    card = {
        "title": "Flowers",
        "subtitle": "Pick one",
        "buttons": [{"text": v.title(), "value": v} for v in ("roses", "lilies", "tulips")],
    }
    asked = prompt(CARD_PROMPT)
    asked["messageGroups"].append({"message": {"imageResponseCard": card}})
    flower_slot = models.create_slot(
        **draft,
        intentId=intent["intentId"],
        slotName="FlowerType",
        slotTypeId=flowers,
        valueElicitationSetting={"slotConstraint": "Required", "promptSpecification": asked},
    )["slotId"]
    day_slot = models.create_slot(
        **draft,
        intentId=intent["intentId"],
        slotName="PickupDate",
        slotTypeId="AMAZON.Date",
        valueElicitationSetting={
            "slotConstraint": "Required",
            "promptSpecification": prompt("What day do you want the {FlowerType} to be picked up?"),
        },
    )["slotId"]
    models.update_intent(
        **draft,
        intentId=intent["intentId"],
        intentName="OrderFlowers",
        sampleUtterances=intent["sampleUtterances"],
        slotPriorities=[{"priority": 1, "slotId": flower_slot}, {"priority": 2, "slotId": day_slot}],
        intentClosingSetting={"closingResponse": message("Thanks, your {FlowerType} are ordered.")},
    )


@pytest.fixture(scope="module")
def bot(models: Any) -> tuple[str, str]:
    return make_bot(models, "ChannelFlowers", lambda bot_id: flowers_with_a_card(models, bot_id), None)


@pytest.fixture(scope="module")
def platform() -> Iterator[StandIn]:
    stand_in = StandIn()
    yield stand_in
    stand_in.endpoint.close()


def channels_create(
    nimbus: NimbusServer, bot: tuple[str, str], platform: str, options: dict[str, str], check: bool = True
) -> Any:
    """``nimbus channels create`` for the bot's alias, with ``--<option> <value>`` for each option."""
    flags = [part for option, value in options.items() for part in (f"--{option}", value)]
    target = ["--bot-id", bot[0], "--bot-alias-id", bot[1], "--locale-id", LOCALE]
    where = ["--data-dir", str(nimbus.data_dir), "--port", str(nimbus.port)]
    return nimbus_cli(
        "channels",
        "create",
        f"flowers-{platform}",
        "--platform",
        platform,
        *target,
        *flags,
        *where,
        check=check,
    )


def create_channel(
    nimbus: NimbusServer, bot: tuple[str, str], platform: str, options: dict[str, str]
) -> dict[str, Any]:
    return dict(json.loads(channels_create(nimbus, bot, platform, options).stdout))


def session_of(runtime: Any, bot: tuple[str, str], session_id: str) -> dict[str, Any] | None:
    """The runtime's session, through GetSession; None when the bot has no such session."""
    try:
        return dict(
            runtime.get_session(botId=bot[0], botAliasId=bot[1], localeId=LOCALE, sessionId=session_id)
        )
    except ClientError as error:
        assert error_code(error) == "ResourceNotFoundException"
        return None


def slack_post(
    url: str,
    body: bytes,
    content_type: str,
    secret: str = SLACK_SIGNING_SECRET,
    age: int = 0,
    retry: dict[str, str] | None = None,
) -> Any:
    """A request signed as Slack signs them: v0 HMAC-SHA256 over ``v0:<timestamp>:<body>``."""
    stamp = str(int(time.time()) - age)
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        **(retry or {}),
    }
    return requests.post(url, data=body, headers=headers, timeout=60)


def slack_event(user: str, text: str, **more: str) -> bytes:
    event = {"type": "message", "channel": "D024BE91L", "user": user, "text": text, "ts": "1355517523.000005"}
    event.update(more)
    envelope = {"type": "event_callback", "team_id": "T061EG9R6", "api_app_id": "A0PNCHHK2", "event": event}
    return json.dumps({**envelope, "event_id": f"Ev{user}", "event_time": int(time.time())}).encode()


def posted(platform: StandIn, path: str) -> list[Call]:
    return [call for call in platform.received if call.path == path]


def test_slack_signed_events_and_button_clicks_talk_to_the_bot(
    nimbus: NimbusServer, runtime: Any, bot: tuple[str, str], platform: StandIn
) -> None:
    channel = create_channel(
        nimbus,
        bot,
        "slack",
        {
            "signing-secret": SLACK_SIGNING_SECRET,
            "bot-token": SLACK_BOT_TOKEN,
            "api-url": f"{platform.url}/slack/api",
        },
    )
    url = channel["callback_url"]
    assert url == f"{nimbus.endpoint_url}/_nimbus/lex-channels/slack/webhook/{channel['channel_id']}"
    challenge = json.dumps(
        {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY", "type": "url_verification"}
    )
    verified = slack_post(url, challenge.encode(), "application/json")
    assert verified.status_code == 200 and verified.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY"}

    session_id = f"slack:{channel['channel_id']}:U2147483697"
    ordering = slack_event("U2147483697", "I would like to order some flowers")
    forged = slack_post(url, ordering, "application/json", secret="not-the-signing-secret")
    stale = slack_post(url, ordering, "application/json", age=6 * 60)
    assert (forged.status_code, stale.status_code) == (401, 401)
    assert session_of(runtime, bot, session_id) is None and not posted(
        platform, "/slack/api/chat.postMessage"
    )

    assert slack_post(url, ordering, "application/json").status_code == 200
    retried = slack_post(url, ordering, "application/json", retry={"X-Slack-Retry-Num": "1"})
    own = slack_post(url, slack_event("U2147483697", "Flowers", bot_id="B0AB1"), "application/json")
    assert (retried.status_code, own.status_code) == (200, 200)  # neither is a turn of the user's
    question, card = (call.body for call in posted(platform, "/slack/api/chat.postMessage"))
    assert question == {"channel": "D024BE91L", "text": CARD_PROMPT}
    buttons = card["blocks"][1]["elements"]
    assert [(b["text"]["text"], b["value"]) for b in buttons] == [
        ("Roses", "roses"),
        ("Lilies", "lilies"),
        ("Tulips", "tulips"),
    ]
    assert card["blocks"][0]["text"]["text"] == "Flowers\nPick one"

    click = {
        "type": "block_actions",
        "user": {"id": "U2147483697", "team_id": "T061EG9R6"},
        "channel": {"id": "D024BE91L"},
        "actions": [{"type": "button", "action_id": buttons[2]["action_id"], "value": buttons[2]["value"]}],
    }
    clicked = slack_post(
        url, urlencode({"payload": json.dumps(click)}).encode(), "application/x-www-form-urlencoded"
    )
    assert clicked.status_code == 200
    assert posted(platform, "/slack/api/chat.postMessage")[-1].body["text"] == (
        "What day do you want the tulips to be picked up?"
    )
    session = session_of(runtime, bot, session_id)
    assert session is not None and session["sessionState"]["intent"]["name"] == "OrderFlowers"
    assert session["sessionState"]["intent"]["slots"]["FlowerType"]["value"]["interpretedValue"] == "tulips"

    listed = nimbus_cli("channels", "list", "--data-dir", str(nimbus.data_dir)).stdout
    assert channel["channel_id"] in listed and SLACK_SIGNING_SECRET not in listed
    nimbus_cli("channels", "delete", channel["channel_id"], "--data-dir", str(nimbus.data_dir))
    assert slack_post(url, ordering, "application/json").status_code == 404


def twilio_post(url: str, form: dict[str, str], token: str = TWILIO_AUTH_TOKEN) -> Any:
    """A webhook call signed as Twilio signs them: base64 HMAC-SHA1 of the URL and the sorted params."""
    signed = url + "".join(name + form[name] for name in sorted(form))
    signature = base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()
    return requests.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=60)


def test_twilio_sms_signed_webhook_answers_with_twiml(
    nimbus: NimbusServer, runtime: Any, bot: tuple[str, str]
) -> None:
    channel = create_channel(
        nimbus, bot, "twilio-sms", {"account-sid": TWILIO_ACCOUNT_SID, "auth-token": TWILIO_AUTH_TOKEN}
    )
    url = channel["callback_url"]
    form = {
        "AccountSid": TWILIO_ACCOUNT_SID,
        "MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "From": "+15017122661",
        "To": "+15558675310",
        "Body": "I would like to order some flowers",
        "NumMedia": "0",
    }
    session_id = f"twilio-sms:{channel['channel_id']}:.2b.15017122661"
    forged = twilio_post(url, form, token="0" * 32)
    assert forged.status_code == 403 and session_of(runtime, bot, session_id) is None

    answered = twilio_post(url, form)
    assert answered.status_code == 200 and answered.headers["Content-Type"].startswith("text/xml")
    response = ElementTree.fromstring(answered.content)
    assert response.tag == "Response"
    assert [message.text for message in response.findall("Message")] == [
        CARD_PROMPT,
        "Flowers\nPick one\nRoses\nLilies\nTulips",
    ]
    second = ElementTree.fromstring(twilio_post(url, {**form, "Body": "roses"}).content)
    assert [message.text for message in second] == ["What day do you want the roses to be picked up?"]
    assert session_of(runtime, bot, session_id) is not None


def meta_post(url: str, document: dict[str, Any], secret: str = META_APP_SECRET) -> Any:
    """An event signed as Meta signs them: X-Hub-Signature-256, HMAC-SHA256 of the body."""
    body = json.dumps(document).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
    return requests.post(url, data=body, headers=headers, timeout=60)


def messenger_event(sender: str, message: dict[str, Any]) -> dict[str, Any]:
    event = {"sender": {"id": sender}, "recipient": {"id": "1143908402"}, "timestamp": 1458692752478}
    return {
        "object": "page",
        "entry": [{"id": "1143908402", "time": 1458692752478, "messaging": [{**event, "message": message}]}],
    }


def test_messenger_handshake_signed_events_and_quick_replies(
    nimbus: NimbusServer, runtime: Any, bot: tuple[str, str], platform: StandIn
) -> None:
    channel = create_channel(
        nimbus,
        bot,
        "facebook",
        {
            "app-secret": META_APP_SECRET,
            "page-access-token": META_PAGE_TOKEN,
            "verify-token": META_VERIFY_TOKEN,
            "api-url": f"{platform.url}/meta/v21.0",
        },
    )
    url = channel["callback_url"]
    handshake = {
        "hub.mode": "subscribe",
        "hub.verify_token": META_VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    subscribed = requests.get(url, params=handshake, timeout=60)
    assert subscribed.status_code == 200 and subscribed.text == "1158201444"
    wrong = requests.get(url, params={**handshake, "hub.verify_token": "guess"}, timeout=60)
    assert wrong.status_code == 403

    session_id = f"facebook:{channel['channel_id']}:6723491829"
    ordering = messenger_event("6723491829", {"mid": "m_1", "text": "I would like to order some flowers"})
    assert meta_post(url, ordering, secret="forged").status_code == 403
    assert session_of(runtime, bot, session_id) is None

    accepted = meta_post(url, ordering)
    assert accepted.status_code == 200 and accepted.text == "EVENT_RECEIVED"
    question, card = posted(platform, "/meta/v21.0/me/messages")
    assert question.body == {
        "recipient": {"id": "6723491829"},
        "messaging_type": "RESPONSE",
        "message": {"text": CARD_PROMPT},
    }
    assert card.body["message"]["quick_replies"] == [
        {"content_type": "text", "title": v.title(), "payload": v} for v in ("roses", "lilies", "tulips")
    ]
    picked = messenger_event(
        "6723491829", {"mid": "m_2", "text": "Lilies", "quick_reply": {"payload": "lilies"}}
    )
    assert meta_post(url, picked).status_code == 200
    assert posted(platform, "/meta/v21.0/me/messages")[-1].body["message"] == {
        "text": "What day do you want the lilies to be picked up?"
    }
    session = session_of(runtime, bot, session_id)
    assert session is not None
    assert session["sessionState"]["intent"]["slots"]["FlowerType"]["value"]["interpretedValue"] == "lilies"


def test_signatures_agree_with_the_platforms_published_examples() -> None:
    """Nimbus's checks accept the worked examples of Slack's and Twilio's request-verification guides
    and GitHub's example of the X-Hub-Signature-256 scheme Meta uses, and refuse them altered."""
    slack_body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    slack_headers = {
        "x-slack-request-timestamp": "1531420618",
        "x-slack-signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }
    secret = "8f742231b10e8888abcd99yyyzzz85a5"

    def slack(body: bytes, now: float) -> str:
        return slack_signature_problem(secret, WebhookCall("POST", "", {}, slack_headers, body), now)

    assert slack(slack_body, 1531420618 + 299) == ""
    assert "signature" in slack(slack_body.replace(b"foobar", b"foobaz"), 1531420618)
    assert "five minutes" in slack(slack_body, 1531420618 + 301)

    twilio_form = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    published = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert twilio_signature("12345", url, list(reversed(twilio_form))) == published
    assert twilio_signature("12345", url.replace("bar=2", "bar=3"), twilio_form) != published

    github = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signed_with("It's a Secret to Everybody", b"Hello, World!", github)
    assert not signed_with("It's a Secret to Everybody", b"Hello, World?", github)


def test_a_channel_for_a_missing_alias_or_without_its_secrets_is_refused(
    nimbus: NimbusServer, bot: tuple[str, str]
) -> None:
    secrets = {"signing-secret": "s", "bot-token": "t"}
    missing_alias = channels_create(nimbus, (bot[0], "NOSUCHALIA"), "slack", secrets, check=False)
    assert missing_alias.returncode == 1 and "ResourceNotFoundException" in missing_alias.stderr
    no_token = channels_create(nimbus, bot, "facebook", {"app-secret": "s"}, check=False)
    assert no_token.returncode == 1 and "pageAccessToken, verifyToken" in no_token.stderr


def test_channel_admin_refuses_and_logs_a_caller_without_permission(
    nimbus: NimbusServer, bot: tuple[str, str]
) -> None:
    """The channel admin endpoint is decided like any API request: a user whose policies allow no
    lex:ListBotChannels is refused with Lex's AccessDeniedException, and the server logs the denial
    with the deciding reason, as it logs every other."""
    iam = nimbus.client("iam")
    iam.create_user(UserName="no-channels")
    key = iam.create_access_key(UserName="no-channels")["AccessKey"]
    url = f"{nimbus.endpoint_url}/_nimbus/lex/channels/{bot[0]}/{bot[1]}/{LOCALE}"
    signed = AWSRequest("GET", url)
    credentials = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    SigV4Auth(credentials, "lex", nimbus.region).add_auth(signed)
    response = requests.get(url, headers=dict(signed.headers), timeout=30)
    assert response.status_code == 403
    assert "is not authorized to perform: lex:ListBotChannels" in response.text
    denials = [
        json.loads(line) for line in nimbus.log_text().splitlines() if line.startswith('{"authorization"')
    ]
    assert any(
        denial["principal"].endswith(":user/no-channels")
        and denial["action"] == "lex:ListBotChannels"
        and denial["resource"].endswith(f":bot/{bot[0]}")
        and denial["decision"] == "implicitDeny"
        for denial in denials
    ), denials
