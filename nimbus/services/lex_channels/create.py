"""CreateChannel, as Nimbus does it (Lex V2's API has none): the platform's credentials checked for
completeness and the bot alias and locale for being able to talk, then the channel stored."""

from __future__ import annotations

from datetime import UTC, datetime

from nimbus.errors import AwsError
from nimbus.services.lex_channels.records import SECRETS, Channel, insert_channel, new_channel_id
from nimbus.services.lexv2_runtime.targets import open_bot_locale
from nimbus.storage import Storage


def create_channel(
    storage: Storage,
    account_id: str,
    region: str,
    name: str,
    platform: str,
    target: dict[str, str],
    secrets: dict[str, str],
    api_url: str | None = None,
) -> Channel:
    """A new channel; ValidationException for an unknown platform, a missing credential or a bad API
    URL, and the runtime's own errors for a bot, alias or locale that cannot talk."""
    if platform not in SECRETS:
        raise _invalid(f"Platform {platform!r} is not one of {', '.join(SECRETS)}.")
    missing = [secret for secret in SECRETS[platform] if not secrets.get(secret)]
    if missing:
        raise _invalid(f"A {platform} channel needs {', '.join(missing)}.")
    if api_url is not None and not api_url.startswith(("http://", "https://")):
        raise _invalid(f"The API URL must start with http:// or https://, not {api_url!r}.")
    if not 1 <= len(name) <= 100:
        raise _invalid("A channel name has 1 to 100 characters.")
    channel = Channel(
        new_channel_id(),
        account_id,
        region,
        name,
        platform,
        target["botId"],
        target["botAliasId"],
        target["localeId"],
        {secret: secrets[secret] for secret in SECRETS[platform]},
        api_url.rstrip("/") if api_url else None,
        datetime.now(UTC),
    )
    open_bot_locale(channel.context(storage), target)
    insert_channel(storage, channel)
    return channel


def _invalid(message: str) -> AwsError:
    return AwsError("ValidationException", message, 400)
