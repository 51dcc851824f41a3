"""Tags of users and roles after they were created: Tag/Untag/List for each. Keys are unique
regardless of case, as IAM keeps them; a tag given again replaces the one it names. The tags are
what ``aws:ResourceTag/*`` and ``iam:ResourceTag/*`` test (see tag_keys.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import update

from nimbus.errors import AwsError
from nimbus.services.iam import iam
from nimbus.services.iam.records import HOLDERS, check_tags, find, page
from nimbus.services.registry import RequestContext

MAX_TAGS = 50


def _retag(ctx: RequestContext, kind: str, name: str, change: Callable[[list[Any]], list[Any]]) -> None:
    table = HOLDERS[kind][0]
    with ctx.storage.database.engine.begin() as connection:
        row = find(connection, ctx, kind, name)
        connection.execute(
            update(table)
            .where(table.c.account_id == row.account_id, table.c.name_key == row.name_key)
            .values(tags=change(list(row.tags or [])))
        )


def _tag(ctx: RequestContext, kind: str, name: str, tags: list[dict[str, str]]) -> dict[str, Any]:
    given = check_tags(tags)
    replaced = {tag["Key"].lower() for tag in given}

    def added(current: list[Any]) -> list[Any]:
        merged = [tag for tag in current if tag["Key"].lower() not in replaced] + given
        if len(merged) > MAX_TAGS:
            raise AwsError("LimitExceeded", f"A {kind} cannot have more than {MAX_TAGS} tags.", 409)
        return merged

    _retag(ctx, kind, name, added)
    return {}


def _untag(ctx: RequestContext, kind: str, name: str, keys: list[str]) -> dict[str, Any]:
    removed = {key.lower() for key in keys}
    _retag(ctx, kind, name, lambda current: [tag for tag in current if tag["Key"].lower() not in removed])
    return {}


def _list(ctx: RequestContext, kind: str, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        row = find(connection, ctx, kind, request[HOLDERS[kind][1]])
    tags = sorted(row.tags or [], key=lambda tag: tag["Key"].lower())
    return page(tags, request, "Tags", lambda tag: tag, key=lambda tag: tag["Key"].lower())


@iam.operation
def tag_role(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _tag(ctx, "role", request["RoleName"], request["Tags"])


@iam.operation
def untag_role(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _untag(ctx, "role", request["RoleName"], request["TagKeys"])


@iam.operation
def list_role_tags(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _list(ctx, "role", request)


@iam.operation
def tag_user(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _tag(ctx, "user", request["UserName"], request["Tags"])


@iam.operation
def untag_user(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _untag(ctx, "user", request["UserName"], request["TagKeys"])


@iam.operation
def list_user_tags(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _list(ctx, "user", request)
