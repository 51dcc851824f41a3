"""Customer managed policies and their versions (at most five, one of them the default)."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from nimbus.errors import AwsError
from nimbus.services.iam import iam
from nimbus.services.iam.aws_managed import AWS_MANAGED, AWS_POLICY_PREFIX, CREATED
from nimbus.services.iam.records import (
    ATTACHMENTS,
    POLICIES,
    ROLES,
    USERS,
    VERSIONS,
    already_exists,
    arn,
    check_tags,
    checked_policy,
    delete_conflict,
    encoded,
    new_id,
    now,
    page,
)
from nimbus.services.registry import RequestContext

MAX_VERSIONS = 5


def no_such_policy(policy_arn: str) -> AwsError:
    return AwsError("NoSuchEntity", f"Policy {policy_arn} does not exist or is not attachable.", 404)


def find_policy(connection: Connection, ctx: RequestContext, policy_arn: str) -> Any:
    """The row of a customer managed policy of the caller's account, by ARN."""
    prefix = f"arn:aws:iam::{ctx.caller.account_id}:policy/"
    if not policy_arn.startswith(prefix):
        raise no_such_policy(policy_arn)
    name = policy_arn.rsplit("/", 1)[-1]
    row = connection.execute(
        select(POLICIES).where(
            POLICIES.c.account_id == ctx.caller.account_id, POLICIES.c.name_key == name.lower()
        )
    ).first()
    if row is None or arn(row.account_id, "policy", row.path, row.name) != policy_arn:
        raise no_such_policy(policy_arn)
    return row


def managed_document(connection: Connection, account_id: str, policy_arn: str) -> str | None:
    """The default version's document of a managed policy (AWS's or the account's), or None."""
    if policy_arn.startswith(AWS_POLICY_PREFIX):
        known = AWS_MANAGED.get(policy_arn)
        return known.document if known else None
    name = policy_arn.rsplit("/", 1)[-1].lower()
    row = connection.execute(
        select(VERSIONS.c.document)
        .join(
            POLICIES,
            (POLICIES.c.account_id == VERSIONS.c.account_id) & (POLICIES.c.name_key == VERSIONS.c.policy_key),
        )
        .where(
            POLICIES.c.account_id == account_id,
            POLICIES.c.name_key == name,
            VERSIONS.c.version_id == POLICIES.c.default_version,
        )
    ).first()
    return (
        row.document
        if row is not None and policy_arn.startswith(f"arn:aws:iam::{account_id}:policy/")
        else None
    )


def _usage(connection: Connection, account_id: str, policy_arn: str) -> tuple[int, int]:
    attached = connection.execute(
        select(func.count()).where(
            ATTACHMENTS.c.account_id == account_id, ATTACHMENTS.c.policy_arn == policy_arn
        )
    ).scalar_one()
    boundaries = sum(
        connection.execute(
            select(func.count()).where(
                table.c.account_id == account_id, table.c.permissions_boundary == policy_arn
            )
        ).scalar_one()
        for table in (USERS, ROLES)
    )
    return attached, boundaries


def _policy_output(connection: Connection, row: Mapping[str, Any]) -> dict[str, Any]:
    policy_arn = arn(row["account_id"], "policy", row["path"], row["name"])
    attached, boundaries = _usage(connection, row["account_id"], policy_arn)
    output: dict[str, Any] = {
        "PolicyName": row["name"],
        "PolicyId": row["policy_id"],
        "Arn": policy_arn,
        "Path": row["path"],
        "DefaultVersionId": row["default_version"],
        "AttachmentCount": attached,
        "PermissionsBoundaryUsageCount": boundaries,
        "IsAttachable": True,
        "CreateDate": row["created_at"],
        "UpdateDate": row["updated_at"],
    }
    if row["description"]:
        output["Description"] = row["description"]
    if row["tags"]:
        output["Tags"] = row["tags"]
    return output


def _aws_policy_output(connection: Connection, account_id: str, policy_arn: str) -> dict[str, Any]:
    known = AWS_MANAGED[policy_arn]
    attached, boundaries = _usage(connection, account_id, policy_arn)
    return {
        "PolicyName": known.name,
        "PolicyId": known.policy_id,
        "Arn": policy_arn,
        "Path": "/",
        "DefaultVersionId": "v1",
        "AttachmentCount": attached,
        "PermissionsBoundaryUsageCount": boundaries,
        "IsAttachable": True,
        "Description": known.description,
        "CreateDate": CREATED,
        "UpdateDate": CREATED,
    }


@iam.operation
def create_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    name = request["PolicyName"]
    checked_policy(request["PolicyDocument"], "identity", "managed")
    created = now()
    row = {
        "account_id": ctx.caller.account_id,
        "name_key": name.lower(),
        "name": name,
        "policy_id": new_id("ANPA"),
        "path": request.get("Path") or "/",
        "description": request.get("Description"),
        "default_version": "v1",
        "next_version": 2,
        "tags": check_tags(request.get("Tags") or []),
        "created_at": created,
        "updated_at": created,
    }
    version = {
        "account_id": ctx.caller.account_id,
        "policy_key": name.lower(),
        "version_id": "v1",
        "document": request["PolicyDocument"],
        "created_at": created,
    }
    try:
        with ctx.storage.database.engine.begin() as connection:
            connection.execute(insert(POLICIES), row)
            connection.execute(insert(VERSIONS), version)
            return {"Policy": _policy_output(connection, row)}
    except IntegrityError:
        raise already_exists("policy", name) from None


@iam.operation
def get_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        if request["PolicyArn"] in AWS_MANAGED:
            return {"Policy": _aws_policy_output(connection, ctx.caller.account_id, request["PolicyArn"])}
        return {
            "Policy": _policy_output(connection, find_policy(connection, ctx, request["PolicyArn"])._mapping)
        }


@iam.operation
def list_policies(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Scope "AWS" lists the AWS managed policies Nimbus knows; OnlyAttached and PolicyUsageFilter
    narrow as in AWS."""
    scope = request.get("Scope") or "All"
    with ctx.storage.database.engine.connect() as connection:
        listed: list[dict[str, Any]] = []
        if scope in ("All", "AWS"):
            listed += [
                _aws_policy_output(connection, ctx.caller.account_id, known) for known in sorted(AWS_MANAGED)
            ]
        if scope in ("All", "Local"):
            rows = connection.execute(
                select(POLICIES)
                .where(POLICIES.c.account_id == ctx.caller.account_id)
                .order_by(POLICIES.c.name_key)
            ).all()
            listed += [_policy_output(connection, row._mapping) for row in rows]
    prefix = request.get("PathPrefix") or "/"
    listed = [p for p in listed if p["Path"].startswith(prefix)]
    if request.get("OnlyAttached"):
        listed = [p for p in listed if p["AttachmentCount"] or p["PermissionsBoundaryUsageCount"]]
    usage = request.get("PolicyUsageFilter")
    if usage == "PermissionsPolicy":
        listed = [p for p in listed if p["AttachmentCount"]]
    elif usage == "PermissionsBoundary":
        listed = [p for p in listed if p["PermissionsBoundaryUsageCount"]]
    return page(listed, request, "Policies", lambda output: output, key=lambda output: output["Arn"])


@iam.operation
def delete_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """As in AWS, an attached policy, or one with versions besides the default, is a DeleteConflict."""
    with ctx.storage.database.engine.begin() as connection:
        row = find_policy(connection, ctx, request["PolicyArn"])
        attached, boundaries = _usage(connection, row.account_id, request["PolicyArn"])
        if attached or boundaries:
            raise delete_conflict("Cannot delete a policy attached to entities.")
        versions = _versions(connection, row)
        if len(versions) > 1:
            raise delete_conflict("Cannot delete a policy with non-default versions: delete them first.")
        connection.execute(delete(VERSIONS).where(*_version_of(row)))
        connection.execute(
            delete(POLICIES).where(
                POLICIES.c.account_id == row.account_id, POLICIES.c.name_key == row.name_key
            )
        )
    return {}


def _version_of(row: Any) -> tuple[Any, ...]:
    return (VERSIONS.c.account_id == row.account_id, VERSIONS.c.policy_key == row.name_key)


def _versions(connection: Connection, row: Any) -> list[Any]:
    return connection.execute(select(VERSIONS).where(*_version_of(row)).order_by(VERSIONS.c.created_at)).all()


def _version_output(version: Any, default: str, *, document: bool) -> dict[str, Any]:
    output: dict[str, Any] = {
        "VersionId": version.version_id,
        "IsDefaultVersion": version.version_id == default,
        "CreateDate": version.created_at,
    }
    if document:
        output["Document"] = encoded(version.document)
    return output


def _policy_locked(ctx: RequestContext, policy_arn: str) -> AbstractContextManager[Connection]:
    """A transaction holding the policy's lock: its versions and default change one writer at a time
    (concurrent writers would otherwise both take the 5th slot, or the same next version id)."""
    return ctx.storage.database.locked(f"iam/policy/{policy_arn}")


@iam.operation
def create_policy_version(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    checked_policy(request["PolicyDocument"], "identity", "managed")
    with _policy_locked(ctx, request["PolicyArn"]) as connection:
        row = find_policy(connection, ctx, request["PolicyArn"])
        if len(_versions(connection, row)) >= MAX_VERSIONS:
            raise AwsError(
                "LimitExceeded",
                f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, "
                "you must delete an existing version.",
                409,
            )
        version = {
            "account_id": row.account_id,
            "policy_key": row.name_key,
            "version_id": f"v{row.next_version}",
            "document": request["PolicyDocument"],
            "created_at": now(),
        }
        connection.execute(insert(VERSIONS), version)
        default = version["version_id"] if request.get("SetAsDefault") else row.default_version
        connection.execute(
            update(POLICIES)
            .where(POLICIES.c.account_id == row.account_id, POLICIES.c.name_key == row.name_key)
            .values(
                next_version=row.next_version + 1, default_version=default, updated_at=version["created_at"]
            )
        )
    return {
        "PolicyVersion": {
            "VersionId": version["version_id"],
            "IsDefaultVersion": version["version_id"] == default,
            "CreateDate": version["created_at"],
        }
    }


@iam.operation
def get_policy_version(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        if request["PolicyArn"] in AWS_MANAGED and request["VersionId"] == "v1":
            document = AWS_MANAGED[request["PolicyArn"]].document
            return {
                "PolicyVersion": {
                    "VersionId": "v1",
                    "IsDefaultVersion": True,
                    "CreateDate": CREATED,
                    "Document": encoded(document),
                }
            }
        row = find_policy(connection, ctx, request["PolicyArn"])
        version = _find_version(connection, row, request["VersionId"], request["PolicyArn"])
    return {"PolicyVersion": _version_output(version, row.default_version, document=True)}


def _find_version(connection: Connection, row: Any, version_id: str, policy_arn: str) -> Any:
    version = connection.execute(
        select(VERSIONS).where(*_version_of(row), VERSIONS.c.version_id == version_id)
    ).first()
    if version is None:
        raise AwsError("NoSuchEntity", f"Policy {policy_arn} version {version_id} does not exist.", 404)
    return version


@iam.operation
def list_policy_versions(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """An AWS managed policy has the one version Nimbus knows, v1."""
    if request["PolicyArn"] in AWS_MANAGED:
        version = {"VersionId": "v1", "IsDefaultVersion": True, "CreateDate": CREATED}
        return {"Versions": [version], "IsTruncated": False}
    with ctx.storage.database.engine.connect() as connection:
        row = find_policy(connection, ctx, request["PolicyArn"])
        versions = sorted(_versions(connection, row), key=lambda v: int(v.version_id[1:]), reverse=True)
    # at most five versions: always one page
    return {
        "Versions": [_version_output(v, row.default_version, document=False) for v in versions],
        "IsTruncated": False,
    }


@iam.operation
def set_default_policy_version(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with _policy_locked(ctx, request["PolicyArn"]) as connection:
        row = find_policy(connection, ctx, request["PolicyArn"])
        _find_version(connection, row, request["VersionId"], request["PolicyArn"])
        connection.execute(
            update(POLICIES)
            .where(POLICIES.c.account_id == row.account_id, POLICIES.c.name_key == row.name_key)
            .values(default_version=request["VersionId"], updated_at=now())
        )
    return {}


@iam.operation
def delete_policy_version(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with _policy_locked(ctx, request["PolicyArn"]) as connection:
        row = find_policy(connection, ctx, request["PolicyArn"])
        _find_version(connection, row, request["VersionId"], request["PolicyArn"])
        if request["VersionId"] == row.default_version:
            raise delete_conflict("Cannot delete the default version of a policy.")
        connection.execute(
            delete(VERSIONS).where(*_version_of(row), VERSIONS.c.version_id == request["VersionId"])
        )
    return {}
