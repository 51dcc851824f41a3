"""IAM users: people and programs with long-term access keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError

from nimbus.errors import AwsError
from nimbus.services.iam import iam
from nimbus.services.iam.holders import check_no_policies
from nimbus.services.iam.managed_policies import managed_document, no_such_policy
from nimbus.services.iam.records import (
    MEMBERS,
    USERS,
    already_exists,
    arn,
    check_tags,
    delete_conflict,
    find,
    list_entities,
    new_id,
    now,
)
from nimbus.services.registry import RequestContext
from nimbus.storage import Storage


def user_output(record: Mapping[str, Any], *, full: bool = True) -> dict[str, Any]:
    user: dict[str, Any] = {
        "Path": record["path"],
        "UserName": record["name"],
        "UserId": record["user_id"],
        "Arn": arn(record["account_id"], "user", record["path"], record["name"]),
        "CreateDate": record["created_at"],
    }
    if full and record["permissions_boundary"]:
        user["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": record["permissions_boundary"],
        }
    if full and record["tags"]:
        user["Tags"] = record["tags"]
    return user


def insert_user(connection: Connection, account_id: str, request: Mapping[str, Any]) -> dict[str, Any]:
    name = request["UserName"]
    boundary = request.get("PermissionsBoundary")
    if boundary and managed_document(connection, account_id, boundary) is None:
        raise no_such_policy(boundary)
    row = {
        "account_id": account_id,
        "name_key": name.lower(),
        "name": name,
        "user_id": new_id("AIDA"),
        "path": request.get("Path") or "/",
        "permissions_boundary": boundary,
        "tags": check_tags(request.get("Tags") or []),
        "created_at": now(),
    }
    try:
        with connection.begin_nested():
            connection.execute(insert(USERS), row)
    except IntegrityError:
        raise already_exists("user", name) from None
    return row


def ensure_user(storage: Storage, name: str) -> Mapping[str, Any]:
    """The account's user ``name``, created if it does not exist (``nimbus keys create``)."""
    account_id = storage.credentials.account_id
    with storage.database.engine.begin() as connection:
        row = connection.execute(
            select(USERS).where(USERS.c.account_id == account_id, USERS.c.name_key == name.lower())
        ).first()
        return row._mapping if row is not None else insert_user(connection, account_id, {"UserName": name})


@iam.operation
def create_user(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        return {"User": user_output(insert_user(connection, ctx.caller.account_id, request))}


@iam.operation
def get_user(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Without a UserName, the caller's own user; the root user has no name or path."""
    name = request.get("UserName") or caller_user_name(ctx)
    if name is None:
        return {"User": {"UserId": ctx.caller.account_id, "Arn": ctx.caller.arn, "CreateDate": now()}}
    with ctx.storage.database.engine.connect() as connection:
        return {"User": user_output(find(connection, ctx, "user", name)._mapping)}


def caller_user_name(ctx: RequestContext) -> str | None:
    """The IAM user that signed the request; None for the root user; an error for a role session."""
    if ctx.caller.arn.endswith(":root"):
        return None
    if ":user/" not in ctx.caller.arn:
        raise AwsError("ValidationError", "Must specify userName when calling with non-User credentials", 400)
    return ctx.caller.arn.rsplit("/", 1)[-1]


@iam.operation
def list_users(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return list_entities(ctx, USERS, request, "Users", lambda row: user_output(row._mapping, full=False))


@iam.operation
def delete_user(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """As in AWS, a user with access keys, policies or group memberships cannot be deleted."""
    with ctx.storage.database.engine.begin() as connection:
        row = find(connection, ctx, "user", request["UserName"])
        if ctx.storage.credentials.for_user(row.name):
            raise delete_conflict("Cannot delete entity, must delete access keys first.")
        check_no_policies(connection, ctx, "user", row.name_key)
        member = connection.execute(
            select(MEMBERS.c.group_key).where(
                MEMBERS.c.account_id == row.account_id, MEMBERS.c.user_key == row.name_key
            )
        ).first()
        if member is not None:
            raise delete_conflict("Cannot delete entity, must remove users from group first.")
        connection.execute(
            delete(USERS).where(USERS.c.account_id == row.account_id, USERS.c.name_key == row.name_key)
        )
    return {}
