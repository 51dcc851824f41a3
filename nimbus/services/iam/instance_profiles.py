"""Instance profiles: the names EMR clusters give their nodes' role (JobFlowRole); one role each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from nimbus.errors import AwsError
from nimbus.services.iam import iam
from nimbus.services.iam.records import (
    PROFILES,
    ROLES,
    already_exists,
    arn,
    check_tags,
    delete_conflict,
    find,
    new_id,
    now,
    page,
)
from nimbus.services.iam.roles import role_output
from nimbus.services.registry import RequestContext


def profile_output(connection: Connection, record: Mapping[str, Any]) -> dict[str, Any]:
    roles = []
    if record["role_key"]:
        role = connection.execute(
            select(ROLES).where(
                ROLES.c.account_id == record["account_id"], ROLES.c.name_key == record["role_key"]
            )
        ).first()
        roles = [role_output(role._mapping, full=False)] if role is not None else []
    output: dict[str, Any] = {
        "Path": record["path"],
        "InstanceProfileName": record["name"],
        "InstanceProfileId": record["profile_id"],
        "Arn": arn(record["account_id"], "profile", record["path"], record["name"]),
        "CreateDate": record["created_at"],
        "Roles": roles,
    }
    if record["tags"]:
        output["Tags"] = record["tags"]
    return output


@iam.operation
def create_instance_profile(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    name = request["InstanceProfileName"]
    row = {
        "account_id": ctx.caller.account_id,
        "name_key": name.lower(),
        "name": name,
        "profile_id": new_id("AIPA"),
        "path": request.get("Path") or "/",
        "role_key": None,
        "tags": check_tags(request.get("Tags") or []),
        "created_at": now(),
    }
    try:
        with ctx.storage.database.engine.begin() as connection:
            connection.execute(insert(PROFILES), row)
            return {"InstanceProfile": profile_output(connection, row)}
    except IntegrityError:
        raise already_exists("profile", name) from None


@iam.operation
def get_instance_profile(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        row = find(connection, ctx, "profile", request["InstanceProfileName"])
        return {"InstanceProfile": profile_output(connection, row._mapping)}


@iam.operation
def list_instance_profiles(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    query = select(PROFILES).where(
        PROFILES.c.account_id == ctx.caller.account_id,
        PROFILES.c.path.startswith(request.get("PathPrefix") or "/", autoescape=True),
    )
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(query.order_by(PROFILES.c.name_key)).all()
        return page(rows, request, "InstanceProfiles", lambda row: profile_output(connection, row._mapping))


@iam.operation
def list_instance_profiles_for_role(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        role = find(connection, ctx, "role", request["RoleName"])
        rows = connection.execute(
            select(PROFILES)
            .where(PROFILES.c.account_id == role.account_id, PROFILES.c.role_key == role.name_key)
            .order_by(PROFILES.c.name_key)
        ).all()
        return page(rows, request, "InstanceProfiles", lambda row: profile_output(connection, row._mapping))


def _set_role(ctx: RequestContext, request: dict[str, Any], adding: bool) -> None:
    with ctx.storage.database.engine.begin() as connection:
        profile = find(connection, ctx, "profile", request["InstanceProfileName"])
        role = find(connection, ctx, "role", request["RoleName"])
        if adding and profile.role_key is not None:
            raise AwsError(
                "LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1", 409
            )
        if not adding and profile.role_key != role.name_key:
            raise AwsError(
                "NoSuchEntity",
                f"The role with name {role.name} cannot be found in the instance profile.",
                404,
            )
        connection.execute(
            update(PROFILES)
            .where(PROFILES.c.account_id == profile.account_id, PROFILES.c.name_key == profile.name_key)
            .values(role_key=role.name_key if adding else None)
        )


@iam.operation
def add_role_to_instance_profile(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    _set_role(ctx, request, adding=True)
    return {}


@iam.operation
def remove_role_from_instance_profile(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    _set_role(ctx, request, adding=False)
    return {}


@iam.operation
def delete_instance_profile(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        profile = find(connection, ctx, "profile", request["InstanceProfileName"])
        if profile.role_key is not None:
            raise delete_conflict("Cannot delete entity, must remove roles from instance profile first.")
        connection.execute(
            delete(PROFILES).where(
                PROFILES.c.account_id == profile.account_id, PROFILES.c.name_key == profile.name_key
            )
        )
    return {}
