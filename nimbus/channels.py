"""``nimbus channels``: Lex channel integrations (Slack, Twilio SMS, Facebook Messenger) made, listed
and deleted from the command line, in the database the running server reads. Lex V2's API has no
public channel operations; this is Nimbus's way, and each channel's callback URL is printed to paste
into the platform's settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nimbus.config import Settings
from nimbus.errors import AwsError
from nimbus.storage import Storage
from nimbus.storage.credentials import CredentialStore

channels = typer.Typer(help="Lex bots in Slack, Twilio SMS and Facebook Messenger.", no_args_is_help=True)
errors = Console(stderr=True)

DataDirOption = Annotated[
    Path | None, typer.Option(help="Where objects and metadata live [env NIMBUS_DATA_DIR].")
]
PortOption = Annotated[
    int | None, typer.Option(help="Nimbus's port, for the callback URL [env NIMBUS_PORT].")
]


@contextmanager
def _storage(data_dir: Path | None, port: int | None = None) -> Iterator[tuple[Settings, Storage, str]]:
    """The settings, the storage and the account (the data dir's own) a command works on; an AWS
    error becomes its message and exit status 1."""
    overrides = {"data_dir": data_dir, "port": port}
    settings = Settings(**{name: value for name, value in overrides.items() if value is not None})
    account_id = CredentialStore.open(settings.data_dir).account_id
    storage = Storage.open(settings.data_dir, settings.resolved_database_url)
    try:
        yield settings, storage, account_id
    except AwsError as error:
        errors.print(f"[red]{error.code}[/red]: {error.message}")
        raise typer.Exit(1) from None
    finally:
        storage.close()


def callback_url(settings: Settings, platform: str, channel_id: str) -> str:
    return f"{settings.endpoint_url}/_nimbus/lex-channels/{platform}/webhook/{channel_id}"


@channels.command("create")
def create(
    name: str,
    platform: Annotated[str, typer.Option(help="slack, twilio-sms or facebook.")],
    bot_id: Annotated[str, typer.Option()],
    bot_alias_id: Annotated[str, typer.Option()],
    locale_id: Annotated[str, typer.Option()] = "en_US",
    signing_secret: Annotated[str | None, typer.Option(help="Slack: the app's signing secret.")] = None,
    bot_token: Annotated[str | None, typer.Option(help="Slack: the bot user OAuth token (xoxb-...).")] = None,
    account_sid: Annotated[str | None, typer.Option(help="Twilio: the account SID.")] = None,
    auth_token: Annotated[str | None, typer.Option(help="Twilio: the account's auth token.")] = None,
    app_secret: Annotated[str | None, typer.Option(help="Facebook: the app secret.")] = None,
    page_access_token: Annotated[str | None, typer.Option(help="Facebook: the page access token.")] = None,
    verify_token: Annotated[str | None, typer.Option(help="Facebook: the webhook's verify token.")] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            help="The platform's API for replies (Slack: https://slack.com/api, Facebook: "
            "https://graph.facebook.com/v21.0) [env NIMBUS_LEX_SLACK_API_URL, NIMBUS_LEX_MESSENGER_API_URL]."
        ),
    ] = None,
    region: Annotated[str | None, typer.Option(help="The bot's region [env NIMBUS_REGION].")] = None,
    data_dir: DataDirOption = None,
    port: PortOption = None,
) -> None:
    """Connect a bot alias and locale to a messaging platform, and print the channel with the callback
    URL to give the platform (Slack: Event Subscriptions and Interactivity request URL; Twilio: the
    number's messaging webhook; Facebook: the app's webhook callback URL)."""
    from nimbus.services.lex_channels.create import create_channel
    from nimbus.services.lex_channels.records import public

    secrets = {
        "signingSecret": signing_secret,
        "botToken": bot_token,
        "accountSid": account_sid,
        "authToken": auth_token,
        "appSecret": app_secret,
        "pageAccessToken": page_access_token,
        "verifyToken": verify_token,
    }
    target = {"botId": bot_id, "botAliasId": bot_alias_id, "localeId": locale_id}
    with _storage(data_dir, port) as (settings, storage, account_id):
        channel = create_channel(
            storage,
            account_id,
            region or settings.region,
            name,
            platform,
            target,
            {secret: value for secret, value in secrets.items() if value},
            api_url,
        )
        shown = {**public(channel), "callback_url": callback_url(settings, platform, channel.channel_id)}
        typer.echo(json.dumps(shown, default=str, indent=2))


@channels.command("list")
def list_command(data_dir: DataDirOption = None, port: PortOption = None) -> None:
    """List the channels (their credentials are never shown)."""
    from nimbus.services.lex_channels.records import list_channels

    table = Table("channel id", "name", "platform", "bot", "alias", "locale", "callback URL")
    with _storage(data_dir, port) as (settings, storage, account_id):
        for channel in list_channels(storage, account_id):
            table.add_row(
                channel.channel_id,
                channel.name,
                channel.platform,
                channel.bot_id,
                channel.bot_alias_id,
                channel.locale_id,
                callback_url(settings, channel.platform, channel.channel_id),
            )
    Console().print(table)


@channels.command("delete")
def delete(channel_id: str, data_dir: DataDirOption = None) -> None:
    """Delete a channel: its webhook answers 404 from then on (sessions end with their idle timeout)."""
    from nimbus.services.lex_channels.records import delete_channel

    with _storage(data_dir) as (_, storage, account_id):
        delete_channel(storage, account_id, channel_id)
    errors.print(f"deleted {channel_id}")
