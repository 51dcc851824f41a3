"""IAM groups: a user holds the policies of every group it is in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from nimbus.services.iam import iam
from nimbus.services.iam.holders import check_no_policies
from nimbus.services.iam.records import (
    GROUPS,
    MEMBERS,
    USERS,
    already_exists,
    arn,
    delete_conflict,
    find,
    list_entities,
    new_id,
    now,
    page,
)
from nimbus.services.iam.users import user_output
from nimbus.services.registry import RequestContext


def group_output(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "Path": record["path"],
        "GroupName": record["name"],
        "GroupId": record["group_id"],
        "Arn": arn(record["account_id"], "group", record["path"], record["name"]),
        "CreateDate": record["created_at"],
    }


@iam.operation
def create_group(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    name = request["GroupName"]
    row = {
        "account_id": ctx.caller.account_id,
        "name_key": name.lower(),
        "name": name,
        "group_id": new_id("AGPA"),
        "path": request.get("Path") or "/",
        "created_at": now(),
    }
    try:
        with ctx.storage.database.engine.begin() as connection:
            connection.execute(insert(GROUPS), row)
    except IntegrityError:
        raise already_exists("group", name) from None
    return {"Group": group_output(row)}


@iam.operation
def get_group(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        group = find(connection, ctx, "group", request["GroupName"])
        users = connection.execute(
            select(USERS)
            .join(
                MEMBERS,
                (MEMBERS.c.account_id == USERS.c.account_id) & (MEMBERS.c.user_key == USERS.c.name_key),
            )
            .where(MEMBERS.c.account_id == group.account_id, MEMBERS.c.group_key == group.name_key)
            .order_by(USERS.c.name_key)
        ).all()
    return {
        "Group": group_output(group._mapping),
        **page(users, request, "Users", lambda row: user_output(row._mapping, full=False)),
    }


@iam.operation
def list_groups(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return list_entities(ctx, GROUPS, request, "Groups", lambda row: group_output(row._mapping))


@iam.operation
def list_groups_for_user(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        user = find(connection, ctx, "user", request["UserName"])
        rows = connection.execute(
            select(GROUPS)
            .join(
                MEMBERS,
                (MEMBERS.c.account_id == GROUPS.c.account_id) & (MEMBERS.c.group_key == GROUPS.c.name_key),
            )
            .where(MEMBERS.c.account_id == user.account_id, MEMBERS.c.user_key == user.name_key)
            .order_by(GROUPS.c.name_key)
        ).all()
    return page(rows, request, "Groups", lambda row: group_output(row._mapping))


@iam.operation
def add_user_to_group(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        group = find(connection, ctx, "group", request["GroupName"])
        user = find(connection, ctx, "user", request["UserName"])
        member = {"account_id": group.account_id, "group_key": group.name_key, "user_key": user.name_key}
        exists = connection.execute(select(MEMBERS).filter_by(**member)).first()
        if exists is None:
            connection.execute(insert(MEMBERS), member)
    return {}


@iam.operation
def remove_user_from_group(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        group = find(connection, ctx, "group", request["GroupName"])
        user = find(connection, ctx, "user", request["UserName"])
        connection.execute(
            delete(MEMBERS).where(
                MEMBERS.c.account_id == group.account_id,
                MEMBERS.c.group_key == group.name_key,
                MEMBERS.c.user_key == user.name_key,
            )
        )
    return {}


@iam.operation
def delete_group(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        group = find(connection, ctx, "group", request["GroupName"])
        check_no_policies(connection, ctx, "group", group.name_key)
        if connection.execute(
            select(MEMBERS.c.user_key).where(
                MEMBERS.c.account_id == group.account_id, MEMBERS.c.group_key == group.name_key
            )
        ).first():
            raise delete_conflict("Cannot delete entity, must remove users from group first.")
        connection.execute(
            delete(GROUPS).where(GROUPS.c.account_id == group.account_id, GROUPS.c.name_key == group.name_key)
        )
    return {}
