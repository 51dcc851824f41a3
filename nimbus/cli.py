"""The `nimbus` command: serve, env, status, keys."""

from __future__ import annotations

import json
import logging
import urllib.request
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from nimbus import __version__
from nimbus.config import Settings
from nimbus.storage.credentials import CredentialStore

app = typer.Typer(help="Nimbus: a self-hosted ML cloud that speaks the AWS APIs.", no_args_is_help=True)
keys = typer.Typer(help="Manage access keys.", no_args_is_help=True)
app.add_typer(keys, name="keys")
console = Console(stderr=True)

HostOption = Annotated[str | None, typer.Option(help="Interface to listen on [env NIMBUS_HOST].")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on [env NIMBUS_PORT].")]
DataDirOption = Annotated[
    Path | None, typer.Option(help="Where objects and metadata live [env NIMBUS_DATA_DIR].")
]


def _settings(host: str | None = None, port: int | None = None, data_dir: Path | None = None) -> Settings:
    overrides = {"host": host, "port": port, "data_dir": data_dir}
    return Settings(**{name: value for name, value in overrides.items() if value is not None})


@app.command()
def serve(host: HostOption = None, port: PortOption = None, data_dir: DataDirOption = None) -> None:
    """Start every service on one port with embedded defaults."""
    from nimbus.gateway.app import create_app

    settings = _settings(host, port, data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    CredentialStore.open(settings.data_dir)  # first start: root credentials exist before the first request
    logging.basicConfig(level=settings.log_level.upper(), format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration is noise at start
    console.print(f"[bold]Nimbus {__version__}[/bold] listening on [cyan]{settings.endpoint_url}[/cyan]")
    console.print(f"data: {settings.data_dir}")
    console.print(f'credentials: eval "$(nimbus env --data-dir {settings.data_dir} --port {settings.port})"')
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


@app.command()
def env(host: HostOption = None, port: PortOption = None, data_dir: DataDirOption = None) -> None:
    """Print shell export lines for the root credentials and the endpoint."""
    settings = _settings(host, port, data_dir)
    root = CredentialStore.open(settings.data_dir).root()
    typer.echo(f"export AWS_ACCESS_KEY_ID={root.access_key_id}")
    typer.echo(f"export AWS_SECRET_ACCESS_KEY={root.secret_access_key}")
    typer.echo(f"export AWS_DEFAULT_REGION={settings.region}")
    typer.echo(f"export AWS_ENDPOINT_URL={settings.endpoint_url}")


@app.command()
def status(host: HostOption = None, port: PortOption = None, data_dir: DataDirOption = None) -> None:
    """Say whether Nimbus is up, which services it serves, where its data lives."""
    settings = _settings(host, port, data_dir)
    try:
        with urllib.request.urlopen(f"{settings.endpoint_url}/_nimbus/health", timeout=3) as response:
            health = json.load(response)
    except OSError as error:
        console.print(f"[red]Nimbus is not running[/red] at {settings.endpoint_url} ({error})")
        raise typer.Exit(1) from None
    table = Table(show_header=False)
    table.add_row("endpoint", settings.endpoint_url)
    table.add_row("status", health["status"])
    table.add_row("version", health["version"])
    table.add_row("services", ", ".join(health["services"]))
    table.add_row("data dir", health["data_dir"])
    Console().print(table)


@keys.command("create")
def keys_create(user_name: str, data_dir: DataDirOption = None) -> None:
    """Create an access key for USER_NAME and print it (the secret is shown only here)."""
    credential = CredentialStore.open(_settings(data_dir=data_dir).data_dir).create(user_name)
    typer.echo(f"AWS_ACCESS_KEY_ID={credential.access_key_id}")
    typer.echo(f"AWS_SECRET_ACCESS_KEY={credential.secret_access_key}")


@keys.command("list")
def keys_list(data_dir: DataDirOption = None) -> None:
    """List access keys (without secrets)."""
    table = Table("access key id", "user", "arn", "created")
    for credential in CredentialStore.open(_settings(data_dir=data_dir).data_dir).list():
        table.add_row(
            credential.access_key_id, credential.user_name, credential.arn, credential.created_at.isoformat()
        )
    Console().print(table)


@keys.command("delete")
def keys_delete(access_key_id: str, data_dir: DataDirOption = None) -> None:
    """Delete an access key; requests signed with it are refused from then on."""
    try:
        CredentialStore.open(_settings(data_dir=data_dir).data_dir).delete(access_key_id)
    except KeyError:
        console.print(f"[red]no such key[/red] {access_key_id}")
        raise typer.Exit(1) from None
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    console.print(f"deleted {access_key_id}")
