"""The `nimbus` command: serve, env, status, keys, put-media, advise."""

from __future__ import annotations

import json
import logging
import socket
import urllib.request
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nimbus import __version__
from nimbus.advise import advise
from nimbus.channels import channels
from nimbus.config import Settings
from nimbus.console import CONSOLE_PREFIX
from nimbus.storage.credentials import CredentialStore

app = typer.Typer(help="Nimbus: a self-hosted ML cloud that speaks the AWS APIs.", no_args_is_help=True)
keys = typer.Typer(help="Manage access keys.", no_args_is_help=True)
app.add_typer(keys, name="keys")
app.add_typer(advise, name="advise")
app.add_typer(channels, name="channels")
console = Console(stderr=True)

HostOption = Annotated[str | None, typer.Option(help="Interface to listen on [env NIMBUS_HOST].")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on [env NIMBUS_PORT].")]
DataDirOption = Annotated[
    Path | None, typer.Option(help="Where objects and metadata live [env NIMBUS_DATA_DIR].")
]


def _settings(host: str | None = None, port: int | None = None, data_dir: Path | None = None) -> Settings:
    overrides = {"host": host, "port": port, "data_dir": data_dir}
    return Settings(**{name: value for name, value in overrides.items() if value is not None})


TlsOption = Annotated[
    bool,
    typer.Option(
        "--tls",
        help="Serve HTTPS: with --tls-cert/--tls-key, or a certificate Nimbus makes with a local CA "
        "(`nimbus env` exports AWS_CA_BUNDLE) [env NIMBUS_TLS].",
    ),
]
CertOption = Annotated[Path | None, typer.Option(help="PEM certificate (chain) to serve with --tls.")]
KeyOption = Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")]
AuthorizationOption = Annotated[
    str | None,
    typer.Option(
        help="enforce (default), or log-only: IAM denials logged, not enforced [env NIMBUS_AUTHORIZATION]."
    ),
]


@app.command()
def serve(
    host: HostOption = None,
    port: PortOption = None,
    data_dir: DataDirOption = None,
    tls: TlsOption = False,
    tls_cert: CertOption = None,
    tls_key: KeyOption = None,
    authorization: AuthorizationOption = None,
) -> None:
    """Start every service on one port with embedded defaults."""
    import uvicorn  # only here: `nimbus env` and the other commands start faster without it

    from nimbus.gateway import tls as https
    from nimbus.gateway.app import create_app
    from nimbus.gateway.http2 import AutoHttpProtocol

    settings = _settings(host, port, data_dir)
    overrides: dict[str, object] = {"tls": True} if tls or tls_cert else {}
    if authorization:
        overrides["authorization"] = authorization
    settings = Settings.model_validate({**settings.model_dump(), **overrides})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ssl: dict[str, str] = {}
    if settings.tls:
        certificate = https.prepare(settings.data_dir, [settings.host], tls_cert, tls_key)
        ssl = {"ssl_certfile": str(certificate.certfile), "ssl_keyfile": str(certificate.keyfile)}
    else:
        https.disable(settings.data_dir)
    CredentialStore.open(settings.data_dir)  # first start: root credentials exist before the first request
    logging.basicConfig(level=settings.log_level.upper(), format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration is noise at start
    console.print(f"[bold]Nimbus {__version__}[/bold] listening on [cyan]{settings.endpoint_url}[/cyan]")
    console.print(f"console: [cyan]{settings.endpoint_url}{CONSOLE_PREFIX}/[/cyan]")
    console.print(f"data: {settings.data_dir}")
    console.print(f'credentials: eval "$(nimbus env --data-dir {settings.data_dir} --port {settings.port})"')
    api = _listen(settings.host, settings.port, "--port / NIMBUS_PORT")
    registry = _listen(settings.host, settings.resolved_registry_port, "NIMBUS_REGISTRY_PORT")
    settings = settings.model_copy(
        update={"port": api.getsockname()[1], "registry_port": registry.getsockname()[1]}
    )
    console.print(f"registry: {settings.registry_address} (docker login: see `nimbus env`)")
    config = uvicorn.Config(
        create_app(settings),
        http=AutoHttpProtocol,  # HTTP/1.1 as before, and HTTP/2 for the clients that open with it
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
        **ssl,  # type: ignore[arg-type]
    )
    uvicorn.Server(config).run(sockets=[api, registry])


def _listen(host: str, port: int, setting: str) -> socket.socket:
    """A listening socket; a port that is taken stops Nimbus with a message naming its setting."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        console.print(f"[red]cannot listen on {host}:{port}[/red] ({error}); choose another with {setting}")
        raise typer.Exit(1) from None
    sock.set_inheritable(True)
    return sock


@app.command()
def env(host: HostOption = None, port: PortOption = None, data_dir: DataDirOption = None) -> None:
    """Print shell export lines for the root credentials and the endpoint."""
    settings = _settings(host, port, data_dir)
    from nimbus.gateway.tls import serving_tls

    root = CredentialStore.open(settings.data_dir).root()
    ca_bundle = serving_tls(settings.data_dir)
    if ca_bundle is not None:
        settings = settings.model_copy(update={"tls": True})
    typer.echo(f"export AWS_ACCESS_KEY_ID={root.access_key_id}")
    typer.echo(f"export AWS_SECRET_ACCESS_KEY={root.secret_access_key}")
    typer.echo(f"export AWS_DEFAULT_REGION={settings.region}")
    typer.echo(f"export AWS_ENDPOINT_URL={settings.endpoint_url}")
    if ca_bundle is not None:
        typer.echo(f"export AWS_CA_BUNDLE={ca_bundle}")
    registry = settings.registry_address
    typer.echo(f"export NIMBUS_REGISTRY={registry}")
    typer.echo(
        "# docker login: aws ecr get-login-password | docker login --username AWS --password-stdin "
        f"{registry}  (podman: podman login --tls-verify=false ...; images: {registry}/<repository>:<tag>)"
    )


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
    table.add_row("console", f"{settings.endpoint_url}{CONSOLE_PREFIX}/")
    table.add_row("status", health["status"])
    table.add_row("version", health["version"])
    table.add_row("services", ", ".join(health["services"]))
    table.add_row("data dir", health["data_dir"])
    table.add_row("containers", health.get("containers", "unknown"))
    Console().print(table)


PolicyOption = Annotated[
    list[str] | None,
    typer.Option("--policy", help="Attach this managed policy ARN to the user (repeatable)."),
]


@keys.command("create")
def keys_create(user_name: str, data_dir: DataDirOption = None, policy: PolicyOption = None) -> None:
    """Create an access key for the IAM user USER_NAME (created if missing) and print it (the secret
    is shown only here). A new user may do nothing until a policy allows it: attach one with
    --policy (arn:aws:iam::aws:policy/AdministratorAccess for everything) or through IAM."""
    from nimbus.services.iam.keys import create_user_key

    settings = _settings(data_dir=data_dir)
    try:
        credential = create_user_key(
            settings.data_dir, settings.resolved_database_url, user_name, policy or []
        )
    except (ValueError, LookupError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    typer.echo(f"AWS_ACCESS_KEY_ID={credential.access_key_id}")
    typer.echo(f"AWS_SECRET_ACCESS_KEY={credential.secret_access_key}")


@keys.command("list")
def keys_list(data_dir: DataDirOption = None) -> None:
    """List access keys (without secrets)."""
    table = Table("access key id", "user", "arn", "status", "created")
    for credential in CredentialStore.open(_settings(data_dir=data_dir).data_dir).list():
        table.add_row(
            credential.access_key_id,
            credential.user_name,
            credential.arn,
            credential.status,
            credential.created_at.isoformat(),
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


@app.command("put-media")
def put_media_command(
    source: Annotated[str, typer.Argument(help="An H.264 video file (MP4, MKV...) or an rtsp:// URL.")],
    stream_name: Annotated[str, typer.Option(help="The Kinesis video stream to send it to.")],
    endpoint_url: Annotated[
        str | None, typer.Option(help="The service [env AWS_ENDPOINT_URL; default: this Nimbus].")
    ] = None,
    fragment_seconds: Annotated[
        float, typer.Option(help="Shortest fragment (each starts at a key frame).")
    ] = 2.0,
    realtime: Annotated[
        bool, typer.Option(help="Send each frame when its time comes (off: at once).")
    ] = True,
) -> None:
    """Stream video into a Kinesis video stream with PutMedia, printing each acknowledgement."""
    import os

    from botocore.exceptions import BotoCoreError, ClientError

    from nimbus.engines.media.sources import UnsupportedSource
    from nimbus.producer import PutMediaError, put_media

    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or _settings().endpoint_url
    try:
        acks = put_media(
            source,
            stream_name,
            endpoint_url=endpoint,
            realtime=realtime,
            fragment_seconds=fragment_seconds,
            on_ack=lambda ack: typer.echo(json.dumps(ack)),
        )
    except (PutMediaError, UnsupportedSource, ClientError, BotoCoreError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    if any(ack.get("EventType") == "ERROR" for ack in acks):
        raise typer.Exit(1)
