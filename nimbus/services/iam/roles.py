"""Roles: who services and assumed sessions act as. A role's trust policy says who may assume it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from nimbus.services.iam import iam
from nimbus.services.iam.holders import check_no_policies
from nimbus.services.iam.records import (
    PROFILES,
    ROLES,
    already_exists,
    arn,
    check_tags,
    checked_policy,
    delete_conflict,
    encoded,
    find,
    list_entities,
    new_id,
    now,
)
from nimbus.services.registry import RequestContext

DEFAULT_MAX_SESSION_S = 3600


def role_output(record: Mapping[str, Any], *, full: bool = True) -> dict[str, Any]:
    """A Role shape; ``full`` adds what GetRole reports and ListRoles leaves out."""
    role: dict[str, Any] = {
        "Path": record["path"],
        "RoleName": record["name"],
        "RoleId": record["role_id"],
        "Arn": arn(record["account_id"], "role", record["path"], record["name"]),
        "CreateDate": record["created_at"],
        "AssumeRolePolicyDocument": encoded(record["assume_role_policy"]),
        "MaxSessionDuration": record["max_session_duration"],
    }
    if record["description"] is not None:
        role["Description"] = record["description"]
    if full:
        if record["permissions_boundary"]:
            role["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": record["permissions_boundary"],
            }
        if record["tags"]:
            role["Tags"] = record["tags"]
        role["RoleLastUsed"] = {}
    return role


@iam.operation
def create_role(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    name = request["RoleName"]
    checked_policy(request["AssumeRolePolicyDocument"], "trust", "trust")
    row = {
        "account_id": ctx.caller.account_id,
        "name_key": name.lower(),
        "name": name,
        "role_id": new_id("AROA"),
        "path": request.get("Path") or "/",
        "assume_role_policy": request["AssumeRolePolicyDocument"],
        "description": request.get("Description"),
        "max_session_duration": request.get("MaxSessionDuration") or DEFAULT_MAX_SESSION_S,
        "permissions_boundary": request.get("PermissionsBoundary"),
        "tags": check_tags(request.get("Tags") or []),
        "created_at": now(),
    }
    try:
        with ctx.storage.database.engine.begin() as connection:
            connection.execute(insert(ROLES), row)
    except IntegrityError:
        raise already_exists("role", name) from None
    return {"Role": role_output(row)}


@iam.operation
def get_role(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """RoleLastUsed is always empty."""
    with ctx.storage.database.engine.connect() as connection:
        return {"Role": role_output(find(connection, ctx, "role", request["RoleName"])._mapping)}


@iam.operation
def list_roles(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return list_entities(ctx, ROLES, request, "Roles", lambda row: role_output(row._mapping, full=False))


@iam.operation
def update_assume_role_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    checked_policy(request["PolicyDocument"], "trust", "trust")
    with ctx.storage.database.engine.begin() as connection:
        row = find(connection, ctx, "role", request["RoleName"])
        connection.execute(
            update(ROLES)
            .where(ROLES.c.account_id == row.account_id, ROLES.c.name_key == row.name_key)
            .values(assume_role_policy=request["PolicyDocument"])
        )
    return {}


@iam.operation
def update_role(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    values = {
        column: request[member]
        for member, column in (("Description", "description"), ("MaxSessionDuration", "max_session_duration"))
        if member in request
    }
    with ctx.storage.database.engine.begin() as connection:
        row = find(connection, ctx, "role", request["RoleName"])
        if values:
            connection.execute(
                update(ROLES)
                .where(ROLES.c.account_id == row.account_id, ROLES.c.name_key == row.name_key)
                .values(**values)
            )
    return {}


@iam.operation
def delete_role(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """As in AWS, a role with policies or in an instance profile cannot be deleted."""
    with ctx.storage.database.engine.begin() as connection:
        row = find(connection, ctx, "role", request["RoleName"])
        check_no_policies(connection, ctx, "role", row.name_key)
        in_profile = connection.execute(
            select(PROFILES.c.name).where(
                PROFILES.c.account_id == row.account_id, PROFILES.c.role_key == row.name_key
            )
        ).first()
        if in_profile is not None:
            raise delete_conflict("Cannot delete entity, must remove roles from instance profile first.")
        connection.execute(
            delete(ROLES).where(ROLES.c.account_id == row.account_id, ROLES.c.name_key == row.name_key)
        )
    return {}
