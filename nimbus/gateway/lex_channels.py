"""The webhooks of Lex channel integrations: ``/_nimbus/lex-channels/<platform>/webhook/<channel id>``,
unsigned by AWS's rules since the platform signs them its own way (the channel checks that)."""

from __future__ import annotations

import anyio
from starlette.types import Receive

from nimbus.config import Settings
from nimbus.gateway.body import read_body
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.services.lex_channels.calls import WebhookCall
from nimbus.services.lex_channels.webhook import answer_webhook
from nimbus.storage import Storage

PREFIX = "/_nimbus/lex-channels/"
MAX_BODY = 1 << 20  # platform events are a few kilobytes


def is_channel_webhook(request: HttpRequest) -> bool:
    return request.path.startswith(PREFIX)


async def channel_webhook(
    request: HttpRequest, receive: Receive, storage: Storage, settings: Settings
) -> HttpResponse:
    body = await read_body(receive, MAX_BODY)
    host = request.headers.get("host", "")
    # the scheme the platform called (and Twilio signed), also behind a proxy or tunnel ending TLS
    scheme = request.headers.get("x-forwarded-proto") or ("https" if request.secure else "http")
    url = f"{scheme}://{host}{request.path}"
    call = WebhookCall(
        method=request.method,
        url=f"{url}?{request.query_string}" if request.query_string else url,
        query={name: values[0] for name, values in request.query.items()},
        headers={name.lower(): value for name, value in request.headers.items()},
        body=body,
        host=host,
    )
    api_urls = {"slack": settings.lex_slack_api_url, "facebook": settings.lex_messenger_api_url}
    path = request.path.removeprefix(PREFIX)
    answer = await anyio.to_thread.run_sync(answer_webhook, storage, api_urls, path, call)
    headers = {"Content-Type": answer.content_type, **answer.headers}
    return HttpResponse(answer.status, headers, answer.body)
