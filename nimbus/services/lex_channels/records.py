"""Channels in the database: insert, list, find, delete. A channel names its platform's credentials
and the bot alias and locale it talks to."""

from __future__ import annotations

import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select

from nimbus.errors import AwsError
from nimbus.services.registry import Caller, RequestContext
from nimbus.storage import Storage
from nimbus.storage.lex_channels_schema import LexChannelRecord

CHANNELS = LexChannelRecord.__table__
_ID_ALPHABET = string.ascii_uppercase + string.digits

# each platform's credentials, as the Lex console asks for them (Slack: the signing secret that
# replaced the verification token, and the bot token chat.postMessage takes)
SECRETS = {
    "slack": ("signingSecret", "botToken"),
    "twilio-sms": ("accountSid", "authToken"),
    "facebook": ("appSecret", "pageAccessToken", "verifyToken"),
}


@dataclass(frozen=True)
class Channel:
    channel_id: str
    account_id: str
    region: str
    name: str
    platform: str
    bot_id: str
    bot_alias_id: str
    locale_id: str
    secrets: dict[str, str]
    api_url: str | None
    created_at: datetime

    def context(self, storage: Storage, host: str = "") -> RequestContext:
        """The runtime's request context for a turn on this channel: the channel owner's account."""
        caller = Caller("", self.account_id, self.account_id, f"arn:aws:iam::{self.account_id}:root")
        return RequestContext(str(uuid.uuid4()), self.region, caller, storage, datetime.now(UTC), host)

    def target(self) -> dict[str, str]:
        return {"botId": self.bot_id, "botAliasId": self.bot_alias_id, "localeId": self.locale_id}


def new_channel_id() -> str:
    """10 uppercase letters and digits, as Lex's own resource ids."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


def insert_channel(storage: Storage, channel: Channel) -> None:
    with storage.database.engine.begin() as connection:
        connection.execute(insert(CHANNELS).values(**channel.__dict__))


def list_channels(storage: Storage, account_id: str) -> list[Channel]:
    query = select(CHANNELS).where(CHANNELS.c.account_id == account_id).order_by(CHANNELS.c.created_at)
    with storage.database.engine.connect() as connection:
        return [Channel(**row._mapping) for row in connection.execute(query)]


def find_channel(storage: Storage, channel_id: str) -> Channel | None:
    with storage.database.engine.connect() as connection:
        row = connection.execute(select(CHANNELS).where(CHANNELS.c.channel_id == channel_id)).first()
    return Channel(**row._mapping) if row is not None else None


def delete_channel(storage: Storage, account_id: str, channel_id: str) -> None:
    """ResourceNotFoundException when the account has no such channel."""
    where = (CHANNELS.c.channel_id == channel_id) & (CHANNELS.c.account_id == account_id)
    with storage.database.engine.begin() as connection:
        if connection.execute(delete(CHANNELS).where(where)).rowcount == 0:
            raise AwsError("ResourceNotFoundException", f"No channel {channel_id} in this account.", 404)


def public(channel: Channel) -> dict[str, Any]:
    """What ``nimbus channels list`` shows: everything but the credentials."""
    return {name: value for name, value in channel.__dict__.items() if name != "secrets"}
