"""Tags of users, roles, customer managed policies, instance profiles and OpenID Connect providers
after they were created: Tag/Untag/List for each. Keys are unique regardless of case, as IAM keeps
them; a tag given again replaces the one it names. The tags are what ``aws:ResourceTag/*`` and
``iam:ResourceTag/*`` test (see tag_keys.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table, update

from nimbus.errors import AwsError
from nimbus.services.iam import iam
from nimbus.services.iam.managed_policies import find_policy
from nimbus.services.iam.oidc_providers import find_provider
from nimbus.services.iam.records import (
    OIDC_PROVIDERS,
    POLICIES,
    PROFILES,
    ROLES,
    USERS,
    check_tags,
    find,
    page,
)
from nimbus.services.registry import RequestContext

MAX_TAGS = 50

Finder = Callable[[Connection, RequestContext, dict[str, Any]], Any]
# a taggable kind -> (its table, how a request names one: by name or by ARN)
_TAGGABLE: dict[str, tuple[Table, Finder]] = {
    "role": (ROLES, lambda connection, ctx, request: find(connection, ctx, "role", request["RoleName"])),
    "user": (USERS, lambda connection, ctx, request: find(connection, ctx, "user", request["UserName"])),
    "policy": (POLICIES, lambda connection, ctx, request: find_policy(connection, ctx, request["PolicyArn"])),
    "instance profile": (
        PROFILES,
        lambda connection, ctx, request: find(connection, ctx, "profile", request["InstanceProfileName"]),
    ),
    "OpenID Connect provider": (
        OIDC_PROVIDERS,
        lambda connection, ctx, request: find_provider(connection, ctx, request["OpenIDConnectProviderArn"]),
    ),
}


def _retag(
    ctx: RequestContext, kind: str, request: dict[str, Any], change: Callable[[list[Any]], list[Any]]
) -> dict[str, Any]:
    table, finder = _TAGGABLE[kind]
    with ctx.storage.database.engine.begin() as connection:
        row = finder(connection, ctx, request)
        connection.execute(
            update(table)
            .where(table.c.account_id == row.account_id, table.c.name_key == row.name_key)
            .values(tags=change(list(row.tags or [])))
        )
    return {}


def _tag(ctx: RequestContext, kind: str, request: dict[str, Any]) -> dict[str, Any]:
    given = check_tags(request["Tags"])
    replaced = {tag["Key"].lower() for tag in given}

    def added(current: list[Any]) -> list[Any]:
        merged = [tag for tag in current if tag["Key"].lower() not in replaced] + given
        if len(merged) > MAX_TAGS:
            raise AwsError("LimitExceeded", f"A {kind} cannot have more than {MAX_TAGS} tags.", 409)
        return merged

    return _retag(ctx, kind, request, added)


def _untag(ctx: RequestContext, kind: str, request: dict[str, Any]) -> dict[str, Any]:
    removed = {key.lower() for key in request["TagKeys"]}
    return _retag(
        ctx, kind, request, lambda current: [tag for tag in current if tag["Key"].lower() not in removed]
    )


def _list(ctx: RequestContext, kind: str, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        row = _TAGGABLE[kind][1](connection, ctx, request)
    tags = sorted(row.tags or [], key=lambda tag: tag["Key"].lower())
    return page(tags, request, "Tags", lambda tag: tag, key=lambda tag: tag["Key"].lower())


@iam.operation
def tag_role(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _tag(ctx, "role", request)


@iam.operation
def untag_role(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _untag(ctx, "role", request)


@iam.operation
def list_role_tags(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _list(ctx, "role", request)


@iam.operation
def tag_user(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _tag(ctx, "user", request)


@iam.operation
def untag_user(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _untag(ctx, "user", request)


@iam.operation
def list_user_tags(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _list(ctx, "user", request)


@iam.operation
def tag_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _tag(ctx, "policy", request)


@iam.operation
def untag_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _untag(ctx, "policy", request)


@iam.operation
def list_policy_tags(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _list(ctx, "policy", request)


@iam.operation
def tag_instance_profile(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _tag(ctx, "instance profile", request)


@iam.operation
def untag_instance_profile(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _untag(ctx, "instance profile", request)


@iam.operation
def list_instance_profile_tags(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _list(ctx, "instance profile", request)


@iam.operation
def tag_open_id_connect_provider(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _tag(ctx, "OpenID Connect provider", request)


@iam.operation
def untag_open_id_connect_provider(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _untag(ctx, "OpenID Connect provider", request)


@iam.operation
def list_open_id_connect_provider_tags(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _list(ctx, "OpenID Connect provider", request)
