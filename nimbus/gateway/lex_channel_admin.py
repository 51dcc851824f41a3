"""Nimbus's extension for Lex channel integrations, which Lex V2's API has no operations for: list,
create and delete the channels of a bot alias and locale, as ``nimbus channels`` does. Each request is
signed like any AWS request (SigV4) and authorized by the IAM evaluator as the permission-only actions
AWS defines for the Lex console's channels, on the bot's ARN:

- ``GET    /_nimbus/lex/channels/<botId>/<botAliasId>/<localeId>`` (``lex:ListBotChannels``):
  ``{"channels": [...]}``, each without its credentials, with the callback URL for the platform.
- ``POST   /_nimbus/lex/channels/<botId>/<botAliasId>/<localeId>`` (``lex:CreateBotChannel``), body
  ``{"name": ..., "platform": "slack" | "twilio-sms" | "facebook", "secrets": {...}, "apiUrl": ...}``:
  ``{"channel": {...}}``.
- ``DELETE /_nimbus/lex/channels/<botId>/<botAliasId>/<localeId>/<channelId>`` (``lex:DeleteBotChannel``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import anyio
from starlette.types import Receive

from nimbus.errors import AwsError
from nimbus.gateway.authz.context import request_context
from nimbus.gateway.authz.denials import access_denied
from nimbus.gateway.authz.facts import RequestFacts, request_facts
from nimbus.gateway.authz.step import Authorizer
from nimbus.gateway.body import read_body
from nimbus.gateway.extension_auth import Routes, match_route, signed_caller
from nimbus.gateway.lex_channels import PREFIX as WEBHOOKS
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.services.iam.identities import Identity
from nimbus.services.lex_channels.create import create_channel
from nimbus.services.lex_channels.records import Channel, delete_channel, find_channel, list_channels, public
from nimbus.services.registry import Service
from nimbus.storage import Storage

PREFIX = "/_nimbus/lex/channels/"
MAX_BODY = 64 * 1024  # a channel's name and a few credentials
_TARGET = r"(?P<botId>[0-9A-Z]{10})/(?P<botAliasId>[0-9A-Z]{10})/(?P<localeId>[A-Za-z_]{2,16})"
ROUTES: Routes = {
    ("GET", re.compile(_TARGET)): "ListBotChannels",
    ("POST", re.compile(_TARGET)): "CreateBotChannel",
    ("DELETE", re.compile(_TARGET + r"/(?P<channelId>[0-9A-Z]{10})")): "DeleteBotChannel",
}


def is_lex_channel_admin(request: HttpRequest) -> bool:
    return request.path.startswith(PREFIX)


async def lex_channel_admin(
    request: HttpRequest, receive: Receive, storage: Storage, lex: Service, authorizer: Authorizer
) -> HttpResponse:
    action, found = match_route(ROUTES, request, PREFIX, "Lex channel")
    request.body = await read_body(receive, MAX_BODY)
    signed = signed_caller(request, storage)
    scope, credential = signed.scope, signed.credential
    account_id, region = credential.account_id, scope.region
    target = {name: found[name] for name in ("botId", "botAliasId", "localeId")}
    facts = request_facts(request, scope, region)
    # the scheme the caller used, also behind a proxy or tunnel ending TLS (as the webhook sees it)
    scheme = request.headers.get("x-forwarded-proto") or ("https" if request.secure else "http")
    webhooks = f"{scheme}://{request.headers.get('host', '')}{WEBHOOKS}"

    def answer() -> dict[str, Any]:
        identity = authorizer.identity(credential, signed.signers.session, signed.signers.token)
        _authorize(authorizer, lex, action, target["botId"], facts, identity)
        if action == "ListBotChannels":
            return {
                "channels": [
                    _shown(channel, webhooks)
                    for channel in list_channels(storage, account_id)
                    if channel.region == region and channel.target() == target
                ]
            }
        if action == "CreateBotChannel":
            name, platform, secrets, api_url = _new_channel(request.body)
            made = create_channel(storage, account_id, region, name, platform, target, secrets, api_url)
            return {"channel": _shown(made, webhooks)}
        _delete(storage, account_id, region, target, found["channelId"])
        return {}

    body = await anyio.to_thread.run_sync(answer)
    return HttpResponse(200, {"Content-Type": "application/json"}, json.dumps(body, default=str).encode())


def _shown(channel: Channel, webhooks: str) -> dict[str, Any]:
    """The channel without its credentials, with the callback URL to give its platform."""
    return {**public(channel), "callbackUrl": f"{webhooks}{channel.platform}/webhook/{channel.channel_id}"}


def _authorize(
    authorizer: Authorizer, lex: Service, name: str, bot_id: str, facts: RequestFacts, identity: Identity
) -> None:
    """``lex:<name>`` on the bot, decided by the evaluator every API request goes through."""
    action = authorizer.table.action("lex", name)
    assert action is not None  # the three are in AWS's Service Authorization Reference
    request = {"botId": bot_id}
    context = {**request_context(facts, action, request), **identity.context}
    for check in authorizer.checks(action, request, facts, identity):
        decision = authorizer.authorize_action(identity, check, context)
        if authorizer.refuses(decision):
            raise access_denied(lex.model, identity.principal.arn, action.full_name, check.resource, decision)


def _new_channel(body: bytes) -> tuple[str, str, dict[str, str], str | None]:
    """The body's name, platform, credentials and API URL; ValidationException when it is not that."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        raise AwsError("ValidationException", "The body must be JSON.", 400) from None
    secrets = document.get("secrets") if isinstance(document, dict) else None
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("name"), str)
        or not isinstance(document.get("platform"), str)
        or not isinstance(secrets, dict)
        or not all(isinstance(value, str) for value in secrets.values())
        or not isinstance(document.get("apiUrl") or "", str)
    ):
        raise AwsError(
            "ValidationException",
            'The body must be {"name": "...", "platform": "...", "secrets": {...}, "apiUrl": "..."}.',
            400,
        )
    api_url: str | None = document.get("apiUrl") or None
    return document["name"], document["platform"], secrets, api_url


def _delete(storage: Storage, account_id: str, region: str, target: dict[str, str], channel_id: str) -> None:
    """ResourceNotFoundException for a channel of another account, region, alias or locale."""
    channel = find_channel(storage, channel_id)
    if channel is None or channel.region != region or channel.target() != target:
        raise AwsError(
            "ResourceNotFoundException", f"No channel {channel_id} on this bot alias and locale.", 404
        )
    delete_channel(storage, account_id, channel_id)
