"""OpenID Connect identity providers: the issuers whose ID tokens an account trusts, with the client
ids (audiences) and certificate thumbprints registered for each.

A provider is named by its URL without ``https://`` (``server.example.com/path``), which is also its
ARN's resource name. Nimbus keeps and reports them; it does not yet exchange their tokens
(AssumeRoleWithWebIdentity would need the issuer's signing keys, fetched from the internet).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from nimbus.errors import AwsError
from nimbus.services.iam import iam
from nimbus.services.iam.records import OIDC_PROVIDERS, check_tags, invalid_input, now
from nimbus.services.registry import RequestContext

# AWS's quotas: providers per account, client ids and thumbprints per provider
MAX_PROVIDERS = 100
MAX_CLIENT_IDS = 100
MAX_THUMBPRINTS = 5


def provider_arn(account_id: str, name_key: str) -> str:
    return f"arn:aws:iam::{account_id}:oidc-provider/{name_key}"


def _limit_exceeded(message: str) -> AwsError:
    return AwsError("LimitExceeded", message, 409)


def _provider_name(url: str) -> str:
    """The URL's host (lower case) and path (no trailing slash), or InvalidInput saying why not."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise invalid_input(
            f"Invalid Openid Connect Provider URL {url}: it must begin with https:// and a host."
        )
    if parts.query or parts.fragment:
        raise invalid_input(
            f"Invalid Openid Connect Provider URL {url}: it cannot have a query or a fragment."
        )
    return parts.netloc.lower() + parts.path.rstrip("/")


def _checked_thumbprints(thumbprints: list[str]) -> list[str]:
    if len(thumbprints) > MAX_THUMBPRINTS:
        raise _limit_exceeded(f"Thumbprint list must contain at most {MAX_THUMBPRINTS} entries.")
    for thumbprint in thumbprints:
        if not set(thumbprint) <= set(string.hexdigits):
            raise invalid_input(
                f"Thumbprint {thumbprint} is not 40 hexadecimal digits (a SHA-1 fingerprint)."
            )
    return list(dict.fromkeys(thumbprint.lower() for thumbprint in thumbprints))


def _checked_client_ids(client_ids: list[str]) -> list[str]:
    unique = list(dict.fromkeys(client_ids))
    if len(unique) > MAX_CLIENT_IDS:
        raise _limit_exceeded(f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}")
    return unique


def _provider_key(arn: str) -> tuple[str, str]:
    """The account and name an ARN gives, or InvalidInput when it is no provider's ARN."""
    account, _, name = arn.removeprefix("arn:aws:iam::").partition(":oidc-provider/")
    if not arn.startswith("arn:aws:iam::") or not name:
        raise invalid_input(
            f"{arn} is not an OpenID Connect provider ARN (arn:aws:iam::<account>:oidc-provider/<url>)."
        )
    return account, name


def find_provider(connection: Connection, ctx: RequestContext, arn: str) -> Any:
    """The row of a provider of the caller's account, by ARN, or NoSuchEntity."""
    account, name = _provider_key(arn)
    row = connection.execute(
        select(OIDC_PROVIDERS).where(
            OIDC_PROVIDERS.c.account_id == ctx.caller.account_id,
            OIDC_PROVIDERS.c.account_id == account,
            OIDC_PROVIDERS.c.name_key == name,
        )
    ).first()
    if row is None:
        raise AwsError("NoSuchEntity", f"OpenIDConnect Provider not found for arn {arn}", 404)
    return row


def _update(connection: Connection, row: Any, **values: Any) -> None:
    connection.execute(
        update(OIDC_PROVIDERS)
        .where(OIDC_PROVIDERS.c.account_id == row.account_id, OIDC_PROVIDERS.c.name_key == row.name_key)
        .values(**values)
    )


@iam.operation
def create_open_id_connect_provider(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Nimbus keeps the provider but exchanges none of its tokens (no AssumeRoleWithWebIdentity: that
    needs the issuer's signing keys, fetched from the internet); ThumbprintList may be left out."""
    name = _provider_name(request["Url"])
    row = {
        "account_id": ctx.caller.account_id,
        "name_key": name,
        "url": request["Url"],
        "client_ids": _checked_client_ids(request.get("ClientIDList") or []),
        "thumbprints": _checked_thumbprints(request.get("ThumbprintList") or []),
        "tags": check_tags(request.get("Tags") or []),
        "created_at": now(),
    }
    try:
        with ctx.storage.database.engine.begin() as connection:
            count = connection.scalar(
                select(func.count()).where(OIDC_PROVIDERS.c.account_id == ctx.caller.account_id)
            )
            if (count or 0) >= MAX_PROVIDERS:
                raise _limit_exceeded(
                    f"Cannot exceed quota for OpenIdConnectProvidersPerAccount: {MAX_PROVIDERS}"
                )
            connection.execute(insert(OIDC_PROVIDERS), row)
    except IntegrityError:
        raise AwsError(
            "EntityAlreadyExists", f"Provider with url {request['Url']} already exists.", 409
        ) from None
    output: dict[str, Any] = {"OpenIDConnectProviderArn": provider_arn(ctx.caller.account_id, name)}
    if row["tags"]:
        output["Tags"] = row["tags"]
    return output


def _provider_output(record: Mapping[str, Any]) -> dict[str, Any]:
    output: dict[str, Any] = {
        "Url": record["name_key"],
        "ClientIDList": record["client_ids"],
        "ThumbprintList": record["thumbprints"],
        "CreateDate": record["created_at"],
    }
    if record["tags"]:
        output["Tags"] = record["tags"]
    return output


@iam.operation
def get_open_id_connect_provider(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        return _provider_output(find_provider(connection, ctx, request["OpenIDConnectProviderArn"])._mapping)


@iam.operation
def list_open_id_connect_providers(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    query = (
        select(OIDC_PROVIDERS.c.name_key)
        .where(OIDC_PROVIDERS.c.account_id == ctx.caller.account_id)
        .order_by(OIDC_PROVIDERS.c.name_key)
    )
    with ctx.storage.database.engine.connect() as connection:
        names = connection.scalars(query).all()
    return {
        "OpenIDConnectProviderList": [{"Arn": provider_arn(ctx.caller.account_id, name)} for name in names]
    }


@iam.operation
def delete_open_id_connect_provider(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    # deleting a provider that does not exist is no error, as AWS documents
    account, name = _provider_key(request["OpenIDConnectProviderArn"])
    with ctx.storage.database.engine.begin() as connection:
        connection.execute(
            delete(OIDC_PROVIDERS).where(
                OIDC_PROVIDERS.c.account_id == ctx.caller.account_id,
                OIDC_PROVIDERS.c.account_id == account,
                OIDC_PROVIDERS.c.name_key == name,
            )
        )
    return {}


@iam.operation
def add_client_id_to_open_id_connect_provider(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    # a client id the provider has already changes nothing, as in AWS
    with ctx.storage.database.engine.begin() as connection:
        row = find_provider(connection, ctx, request["OpenIDConnectProviderArn"])
        _update(connection, row, client_ids=_checked_client_ids([*row.client_ids, request["ClientID"]]))
    return {}


@iam.operation
def remove_client_id_from_open_id_connect_provider(
    ctx: RequestContext, request: dict[str, Any]
) -> dict[str, Any]:
    # a client id the provider does not have changes nothing, as in AWS
    with ctx.storage.database.engine.begin() as connection:
        row = find_provider(connection, ctx, request["OpenIDConnectProviderArn"])
        _update(connection, row, client_ids=[cid for cid in row.client_ids if cid != request["ClientID"]])
    return {}


@iam.operation
def update_open_id_connect_provider_thumbprint(
    ctx: RequestContext, request: dict[str, Any]
) -> dict[str, Any]:
    thumbprints = _checked_thumbprints(request["ThumbprintList"])
    with ctx.storage.database.engine.begin() as connection:
        _update(
            connection,
            find_provider(connection, ctx, request["OpenIDConnectProviderArn"]),
            thumbprints=thumbprints,
        )
    return {}
