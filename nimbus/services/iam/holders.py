"""The policies users, groups and roles hold: inline policies, attached managed policies and (users
and roles) permissions boundaries. Each operation is a thin function over one generic one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from nimbus.errors import AwsError
from nimbus.services.iam import iam
from nimbus.services.iam.managed_policies import managed_document, no_such_policy
from nimbus.services.iam.records import (
    ATTACHMENTS,
    HOLDERS,
    INLINE,
    checked_policy,
    delete_conflict,
    encoded,
    find,
    page,
)
from nimbus.services.registry import RequestContext

MAX_ATTACHED = 10


def _holder(connection: Connection, ctx: RequestContext, kind: str, request: dict[str, Any]) -> Any:
    return find(connection, ctx, kind, request[HOLDERS[kind][1]])


def _inline_of(ctx: RequestContext, kind: str, key: str) -> tuple[Any, ...]:
    return (
        INLINE.c.account_id == ctx.caller.account_id,
        INLINE.c.holder_kind == kind,
        INLINE.c.holder_key == key,
    )


def _attached_to(ctx: RequestContext, kind: str, key: str) -> tuple[Any, ...]:
    return (
        ATTACHMENTS.c.account_id == ctx.caller.account_id,
        ATTACHMENTS.c.holder_kind == kind,
        ATTACHMENTS.c.holder_key == key,
    )


def check_no_policies(connection: Connection, ctx: RequestContext, kind: str, key: str) -> None:
    """DeleteUser/Group/Role refuse while the entity still holds policies, as in AWS."""
    if connection.execute(select(INLINE.c.name).where(*_inline_of(ctx, kind, key))).first():
        raise delete_conflict("Cannot delete entity, must delete policies first.")
    if connection.execute(select(ATTACHMENTS.c.policy_arn).where(*_attached_to(ctx, kind, key))).first():
        raise delete_conflict("Cannot delete entity, must detach all policies first.")


def _put_inline(ctx: RequestContext, kind: str, request: dict[str, Any]) -> dict[str, Any]:
    checked_policy(request["PolicyDocument"])
    name = request["PolicyName"]
    with ctx.storage.database.engine.begin() as connection:
        holder = _holder(connection, ctx, kind, request)
        connection.execute(
            delete(INLINE).where(*_inline_of(ctx, kind, holder.name_key), INLINE.c.name_key == name.lower())
        )
        connection.execute(
            insert(INLINE),
            {
                "account_id": ctx.caller.account_id,
                "holder_kind": kind,
                "holder_key": holder.name_key,
                "name_key": name.lower(),
                "name": name,
                "document": request["PolicyDocument"],
            },
        )
    return {}


def _inline_row(
    connection: Connection, ctx: RequestContext, kind: str, request: dict[str, Any]
) -> tuple[Any, Any]:
    holder = _holder(connection, ctx, kind, request)
    row = connection.execute(
        select(INLINE).where(
            *_inline_of(ctx, kind, holder.name_key), INLINE.c.name_key == request["PolicyName"].lower()
        )
    ).first()
    if row is None:
        raise AwsError(
            "NoSuchEntity",
            f"The {kind} policy with name {request['PolicyName']} cannot be found.",
            404,
        )
    return holder, row


def _get_inline(ctx: RequestContext, kind: str, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        holder, row = _inline_row(connection, ctx, kind, request)
    return {HOLDERS[kind][1]: holder.name, "PolicyName": row.name, "PolicyDocument": encoded(row.document)}


def _delete_inline(ctx: RequestContext, kind: str, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        holder, row = _inline_row(connection, ctx, kind, request)
        connection.execute(
            delete(INLINE).where(*_inline_of(ctx, kind, holder.name_key), INLINE.c.name_key == row.name_key)
        )
    return {}


def _list_inline(ctx: RequestContext, kind: str, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        holder = _holder(connection, ctx, kind, request)
        rows = connection.execute(
            select(INLINE).where(*_inline_of(ctx, kind, holder.name_key)).order_by(INLINE.c.name_key)
        ).all()
    return page(rows, request, "PolicyNames", lambda row: row.name)


def _attach(ctx: RequestContext, kind: str, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        holder = _holder(connection, ctx, kind, request)
        attach(connection, ctx.caller.account_id, kind, holder.name_key, request["PolicyArn"])
    return {}


def attach(connection: Connection, account_id: str, kind: str, key: str, policy_arn: str) -> None:
    """Attaches a managed policy (AWS's or the account's) to a user, group or role, once."""
    if managed_document(connection, account_id, policy_arn) is None:
        raise no_such_policy(policy_arn)
    attached = holder_attachments(connection, account_id, kind, key)
    if policy_arn in attached:
        return
    if len(attached) >= MAX_ATTACHED:
        raise AwsError(
            "LimitExceeded", f"Cannot exceed quota for PoliciesPer{kind.capitalize()}: {MAX_ATTACHED}.", 409
        )
    connection.execute(
        insert(ATTACHMENTS),
        {"account_id": account_id, "holder_kind": kind, "holder_key": key, "policy_arn": policy_arn},
    )


def _detach(ctx: RequestContext, kind: str, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        holder = _holder(connection, ctx, kind, request)
        removed = connection.execute(
            delete(ATTACHMENTS).where(
                *_attached_to(ctx, kind, holder.name_key), ATTACHMENTS.c.policy_arn == request["PolicyArn"]
            )
        ).rowcount
    if not removed:
        raise AwsError("NoSuchEntity", f"Policy {request['PolicyArn']} was not found.", 404)
    return {}


def _list_attached(ctx: RequestContext, kind: str, request: dict[str, Any]) -> dict[str, Any]:
    prefix = request.get("PathPrefix") or "/"
    with ctx.storage.database.engine.connect() as connection:
        holder = _holder(connection, ctx, kind, request)
        arns = (
            connection.execute(
                select(ATTACHMENTS.c.policy_arn)
                .where(*_attached_to(ctx, kind, holder.name_key))
                .order_by(ATTACHMENTS.c.policy_arn)
            )
            .scalars()
            .all()
        )
    listed = [
        policy_arn for policy_arn in arns if ("/" + policy_arn.split(":policy/", 1)[1]).startswith(prefix)
    ]
    return page(
        listed,
        request,
        "AttachedPolicies",
        lambda policy_arn: {"PolicyName": policy_arn.rsplit("/", 1)[-1], "PolicyArn": policy_arn},
        key=lambda policy_arn: policy_arn,
    )


def holder_attachments(connection: Connection, account_id: str, kind: str, key: str) -> list[str]:
    return list(
        connection.execute(
            select(ATTACHMENTS.c.policy_arn).where(
                ATTACHMENTS.c.account_id == account_id,
                ATTACHMENTS.c.holder_kind == kind,
                ATTACHMENTS.c.holder_key == key,
            )
        ).scalars()
    )


def _set_boundary(
    ctx: RequestContext, kind: str, request: dict[str, Any], boundary: str | None
) -> dict[str, Any]:
    table = HOLDERS[kind][0]
    with ctx.storage.database.engine.begin() as connection:
        holder = _holder(connection, ctx, kind, request)
        if boundary is not None and managed_document(connection, ctx.caller.account_id, boundary) is None:
            raise no_such_policy(boundary)
        connection.execute(
            update(table)
            .where(table.c.account_id == holder.account_id, table.c.name_key == holder.name_key)
            .values(permissions_boundary=boundary)
        )
    return {}


# the operations: users, groups and roles alike
@iam.operation
def put_user_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _put_inline(ctx, "user", request)


@iam.operation
def put_group_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _put_inline(ctx, "group", request)


@iam.operation
def put_role_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _put_inline(ctx, "role", request)


@iam.operation
def get_user_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _get_inline(ctx, "user", request)


@iam.operation
def get_group_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _get_inline(ctx, "group", request)


@iam.operation
def get_role_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _get_inline(ctx, "role", request)


@iam.operation
def delete_user_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _delete_inline(ctx, "user", request)


@iam.operation
def delete_group_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _delete_inline(ctx, "group", request)


@iam.operation
def delete_role_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _delete_inline(ctx, "role", request)


@iam.operation
def list_user_policies(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _list_inline(ctx, "user", request)


@iam.operation
def list_group_policies(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _list_inline(ctx, "group", request)


@iam.operation
def list_role_policies(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _list_inline(ctx, "role", request)


@iam.operation
def attach_user_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _attach(ctx, "user", request)


@iam.operation
def attach_group_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _attach(ctx, "group", request)


@iam.operation
def attach_role_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _attach(ctx, "role", request)


@iam.operation
def detach_user_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _detach(ctx, "user", request)


@iam.operation
def detach_group_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _detach(ctx, "group", request)


@iam.operation
def detach_role_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _detach(ctx, "role", request)


@iam.operation
def list_attached_user_policies(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _list_attached(ctx, "user", request)


@iam.operation
def list_attached_group_policies(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _list_attached(ctx, "group", request)


@iam.operation
def list_attached_role_policies(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _list_attached(ctx, "role", request)


@iam.operation
def put_user_permissions_boundary(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _set_boundary(ctx, "user", request, request["PermissionsBoundary"])


@iam.operation
def put_role_permissions_boundary(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _set_boundary(ctx, "role", request, request["PermissionsBoundary"])


@iam.operation
def delete_user_permissions_boundary(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _set_boundary(ctx, "user", request, None)


@iam.operation
def delete_role_permissions_boundary(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _set_boundary(ctx, "role", request, None)
