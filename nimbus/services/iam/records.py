"""What the IAM operations share: tables, ARNs, ids, errors, lookups and paging.

IAM is global: its entities belong to an account, not a region, and their names are unique
regardless of case (``name_key`` is the lower-case name).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Table, select

from nimbus.errors import AwsError
from nimbus.policy import Policy, PolicyError, parse_policy
from nimbus.policy.grammar import check_size
from nimbus.services.registry import RequestContext
from nimbus.storage.iam_schema import (
    IamAttachmentRecord,
    IamGroupMemberRecord,
    IamGroupRecord,
    IamInlinePolicyRecord,
    IamInstanceProfileRecord,
    IamManagedPolicyRecord,
    IamOidcProviderRecord,
    IamPolicyVersionRecord,
    IamRoleRecord,
    IamUserRecord,
)

ROLES: Table = IamRoleRecord.__table__  # type: ignore[assignment]
USERS: Table = IamUserRecord.__table__  # type: ignore[assignment]
GROUPS: Table = IamGroupRecord.__table__  # type: ignore[assignment]
MEMBERS: Table = IamGroupMemberRecord.__table__  # type: ignore[assignment]
POLICIES: Table = IamManagedPolicyRecord.__table__  # type: ignore[assignment]
VERSIONS: Table = IamPolicyVersionRecord.__table__  # type: ignore[assignment]
ATTACHMENTS: Table = IamAttachmentRecord.__table__  # type: ignore[assignment]
INLINE: Table = IamInlinePolicyRecord.__table__  # type: ignore[assignment]
PROFILES: Table = IamInstanceProfileRecord.__table__  # type: ignore[assignment]
OIDC_PROVIDERS: Table = IamOidcProviderRecord.__table__  # type: ignore[assignment]

DEFAULT_MAX_ITEMS = 100
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
# the three kinds of identity that hold policies: (table, name column in the API, ARN word)
HOLDERS = {"user": (USERS, "UserName"), "group": (GROUPS, "GroupName"), "role": (ROLES, "RoleName")}
NOUNS = {"user": "user", "group": "group", "role": "role", "policy": "policy", "profile": "instance profile"}


def no_such_entity(kind: str, name: str) -> AwsError:
    return AwsError("NoSuchEntity", f"The {NOUNS[kind]} with name {name} cannot be found.", 404)


def already_exists(kind: str, name: str) -> AwsError:
    return AwsError(
        "EntityAlreadyExists", f"{NOUNS[kind].capitalize()} with name {name} already exists.", 409
    )


def delete_conflict(message: str) -> AwsError:
    return AwsError("DeleteConflict", message, 409)


def invalid_input(message: str) -> AwsError:
    return AwsError("InvalidInput", message, 400)


def malformed(message: str) -> AwsError:
    return AwsError("MalformedPolicyDocument", message, 400)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def new_id(prefix: str) -> str:
    """IAM's unique ids: AIDA (user), AGPA (group), AROA (role), ANPA (policy), AIPA (profile)."""
    return prefix + "".join(secrets.choice(ID_ALPHABET) for _ in range(17))


def arn(account_id: str, kind: str, path: str, name: str) -> str:
    word = "instance-profile" if kind == "profile" else kind
    return f"arn:aws:iam::{account_id}:{word}{path}{name}"


def checked_policy(document: str, kind: str = "identity", size_kind: str = "identity") -> Policy:
    """The parsed policy, or MalformedPolicyDocument saying what is wrong with it (IAM also wants
    each statement's Sid unique in the policy)."""
    try:
        check_size(document, size_kind)
        policy = parse_policy(document, kind)
    except PolicyError as error:
        if "quota" in str(error):
            raise AwsError("LimitExceeded", str(error), 409) from None
        raise malformed(str(error)) from None
    sids = [statement.sid for statement in policy.statements if statement.sid is not None]
    if len(sids) != len(set(sids)):
        raise malformed("Statement IDs (SID) in a single policy must be unique.")
    return policy


def encoded(document: str) -> str:
    """IAM sends policy documents URL-encoded (botocore decodes them)."""
    return quote(document, safe="")


def check_tags(tags: Sequence[Mapping[str, str]]) -> list[Any]:
    if len({tag["Key"].lower() for tag in tags}) != len(tags):
        raise invalid_input("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
    return list(tags)


def find(connection: Connection, ctx: RequestContext, kind: str, name: str) -> Any:
    """The row of a user, group, role, managed policy (by name) or instance profile, or NoSuchEntity."""
    table = {**{k: v[0] for k, v in HOLDERS.items()}, "policy": POLICIES, "profile": PROFILES}[kind]
    row = connection.execute(
        select(table).where(table.c.account_id == ctx.caller.account_id, table.c.name_key == name.lower())
    ).first()
    if row is None:
        raise no_such_entity(kind, name)
    return row


def page(
    items: Sequence[Any],
    request: Mapping[str, Any],
    member: str,
    render: Callable[[Any], Any],
    key: Callable[[Any], str] = lambda row: row.name_key,
) -> dict[str, Any]:
    """One page of items sorted by ``key``: the Marker is the key of the last item of the page before."""
    marker = request.get("Marker")
    listed = [item for item in items if not marker or key(item) > marker]
    limit = request.get("MaxItems") or DEFAULT_MAX_ITEMS
    output: dict[str, Any] = {
        member: [render(item) for item in listed[:limit]],
        "IsTruncated": len(listed) > limit,
    }
    if len(listed) > limit:
        output["Marker"] = key(listed[limit - 1])
    return output


def list_entities(
    ctx: RequestContext, table: Table, request: Mapping[str, Any], member: str, render: Callable[[Any], Any]
) -> dict[str, Any]:
    """ListUsers, ListGroups, ListRoles, ListInstanceProfiles: the account's entities under PathPrefix."""
    query = select(table).where(
        table.c.account_id == ctx.caller.account_id,
        table.c.path.startswith(request.get("PathPrefix") or "/", autoescape=True),
    )
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(query.order_by(table.c.name_key)).all()
        return page(rows, request, member, render)
