"""AWS IAM: the roles that SageMaker jobs, models and the SDKs name, stored per account.

IAM is global: a role belongs to an account, not to a region. Nimbus records roles and their trust
policies and answers the SDKs' checks on them; it enforces no IAM policy (every signed request of
an account's key is allowed, and no job assumes its role).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext, Service
from nimbus.storage.iam_schema import IamRoleRecord

iam = Service("iam", validation_error="ValidationError")

ROLES = IamRoleRecord.__table__
DEFAULT_MAX_SESSION_S = 3600
DEFAULT_MAX_ITEMS = 100
ROLE_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def no_such_role(name: str) -> AwsError:
    return AwsError("NoSuchEntity", f"The role with name {name} cannot be found.", 404)


def malformed(message: str) -> AwsError:
    return AwsError("MalformedPolicyDocument", message, 400)


def invalid_input(message: str) -> AwsError:
    return AwsError("InvalidInput", message, 400)


def role_arn(account_id: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:role{path}{name}"


def statements(document: str) -> list[dict[str, Any]]:
    """The statements of a policy document, or MalformedPolicyDocument."""
    try:
        policy = json.loads(document)
    except ValueError:
        raise malformed("This policy contains invalid Json") from None
    found = policy.get("Statement") if isinstance(policy, dict) else None
    listed = [found] if isinstance(found, dict) else found
    if not isinstance(listed, list) or not listed or not all(isinstance(s, dict) for s in listed):
        raise malformed("Syntax errors in policy.")
    for statement in listed:
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise malformed("Invalid effect: the Effect of each statement must be Allow or Deny.")
        if "Action" not in statement and "NotAction" not in statement:
            raise malformed("Policy statement must contain actions.")
    return listed


def check_trust_policy(document: str) -> None:
    for statement in statements(document):
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise malformed("AssumeRolepolicy contained an invalid principal: a statement has no Principal.")


def find_role(ctx: RequestContext, name: str, connection: Connection) -> Any:
    row = connection.execute(
        select(ROLES).where(ROLES.c.account_id == ctx.caller.account_id, ROLES.c.name_key == name.lower())
    ).first()
    if row is None:
        raise no_such_role(name)
    return row


def role_output(record: Mapping[str, Any], *, full: bool = True) -> dict[str, Any]:
    """A Role shape from a stored record. The trust policy is URL-encoded JSON, as IAM sends it
    (botocore decodes it); ``full`` adds what GetRole reports and ListRoles leaves out."""
    role: dict[str, Any] = {
        "Path": record["path"],
        "RoleName": record["name"],
        "RoleId": record["role_id"],
        "Arn": role_arn(record["account_id"], record["path"], record["name"]),
        "CreateDate": record["created_at"],
        "AssumeRolePolicyDocument": quote(record["assume_role_policy"], safe=""),
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


def _role_id() -> str:
    return "AROA" + "".join(secrets.choice(ROLE_ID_ALPHABET) for _ in range(17))


@iam.operation
def create_role(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The trust policy is checked for JSON, statements, effects, actions and principals, not for
    AWS's full policy grammar."""
    name = request["RoleName"]
    check_trust_policy(request["AssumeRolePolicyDocument"])
    tags = request.get("Tags") or []
    if len({tag["Key"].lower() for tag in tags}) != len(tags):
        raise invalid_input("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
    row = {
        "account_id": ctx.caller.account_id,
        "name_key": name.lower(),
        "name": name,
        "role_id": _role_id(),
        "path": request.get("Path") or "/",
        "assume_role_policy": request["AssumeRolePolicyDocument"],
        "description": request.get("Description"),
        "max_session_duration": request.get("MaxSessionDuration") or DEFAULT_MAX_SESSION_S,
        "permissions_boundary": request.get("PermissionsBoundary"),
        "tags": tags,
        "created_at": datetime.now(UTC).replace(microsecond=0),
    }
    try:
        with ctx.storage.database.engine.begin() as connection:
            connection.execute(insert(ROLES), row)
    except IntegrityError:
        raise AwsError("EntityAlreadyExists", f"Role with name {name} already exists.", 409) from None
    return {"Role": role_output(row)}


@iam.operation
def get_role(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """RoleLastUsed is always empty: no request ever acts as a role in Nimbus."""
    with ctx.storage.database.engine.connect() as connection:
        return {"Role": role_output(find_role(ctx, request["RoleName"], connection)._mapping)}


@iam.operation
def list_roles(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Roles come sorted by name; the Marker is the last name of the page before."""
    query = select(ROLES).where(ROLES.c.account_id == ctx.caller.account_id)
    prefix = request.get("PathPrefix") or "/"
    query = query.where(ROLES.c.path.startswith(prefix, autoescape=True))
    if request.get("Marker"):
        query = query.where(ROLES.c.name_key > request["Marker"])
    limit = request.get("MaxItems") or DEFAULT_MAX_ITEMS
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(query.order_by(ROLES.c.name_key).limit(limit + 1)).all()
    output: dict[str, Any] = {
        "Roles": [role_output(row._mapping, full=False) for row in rows[:limit]],
        "IsTruncated": len(rows) > limit,
    }
    if len(rows) > limit:
        output["Marker"] = rows[limit - 1].name_key
    return output


@iam.operation
def update_assume_role_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The trust policy is checked as CreateRole checks it."""
    check_trust_policy(request["PolicyDocument"])
    with ctx.storage.database.engine.begin() as connection:
        row = find_role(ctx, request["RoleName"], connection)
        connection.execute(
            update(ROLES)
            .where(ROLES.c.account_id == row.account_id, ROLES.c.name_key == row.name_key)
            .values(assume_role_policy=request["PolicyDocument"])
        )
    return {}


@iam.operation
def delete_role(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Never a DeleteConflict: Nimbus attaches no policies or instance profiles to roles."""
    with ctx.storage.database.engine.begin() as connection:
        row = find_role(ctx, request["RoleName"], connection)
        connection.execute(
            delete(ROLES).where(ROLES.c.account_id == row.account_id, ROLES.c.name_key == row.name_key)
        )
    return {}


@iam.operation
def simulate_principal_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Nimbus enforces no IAM policy, so a role of the caller's account may do every action: the
    answer is "allowed" unless a policy in PolicyInputList denies the action and resource
    ("explicitDeny") or PermissionsBoundaryPolicyInputList is given and allows none of it
    ("implicitDeny"). Conditions and context entries are not evaluated. Only roles can be
    simulated (Nimbus has no IAM users or groups)."""
    _check_role_source(ctx, request["PolicySourceArn"])
    denials = _statements_with(request.get("PolicyInputList") or [], "Deny")
    boundaries = request.get("PermissionsBoundaryPolicyInputList")
    bounds = _statements_with(boundaries or [], "Allow")
    results = [
        {
            "EvalActionName": action,
            "EvalResourceName": resource,
            "EvalDecision": _decision(action, resource, denials, bounds if boundaries is not None else None),
            "MatchedStatements": [],
            "MissingContextValues": [],
        }
        for action in request["ActionNames"]
        for resource in request.get("ResourceArns") or ["*"]
    ]
    start = int(request["Marker"]) if (request.get("Marker") or "").isdigit() else 0
    end = start + (request.get("MaxItems") or DEFAULT_MAX_ITEMS)
    output: dict[str, Any] = {"EvaluationResults": results[start:end], "IsTruncated": end < len(results)}
    if end < len(results):
        output["Marker"] = str(end)
    return output


def _check_role_source(ctx: RequestContext, arn: str) -> None:
    """PolicySourceArn must name a role of the caller's account that exists."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "iam"] or not parts[5].startswith("role/"):
        raise invalid_input(f"{arn} is not the ARN of a role (Nimbus has no IAM users or groups).")
    name = parts[5].rsplit("/", 1)[-1]
    if parts[4] != ctx.caller.account_id:
        raise no_such_role(name)
    with ctx.storage.database.engine.connect() as connection:
        find_role(ctx, name, connection)


def _statements_with(documents: list[str], effect: str) -> list[dict[str, Any]]:
    return [
        statement
        for document in documents
        for statement in statements(document)
        if statement["Effect"] == effect
    ]


def _decision(
    action: str, resource: str, denials: list[dict[str, Any]], bounds: list[dict[str, Any]] | None
) -> str:
    """Everything is allowed, except what a Deny statement names or a boundary (if any) leaves out."""
    if any(_matches(statement, action, resource) for statement in denials):
        return "explicitDeny"
    if bounds is not None and not any(_matches(statement, action, resource) for statement in bounds):
        return "implicitDeny"
    return "allowed"


def _matches(statement: dict[str, Any], action: str, resource: str) -> bool:
    """Whether a statement names the action (case-insensitive wildcards) and the resource."""
    if "Action" in statement:
        action_hit = _any_pattern(statement["Action"], action.lower(), lower=True)
    else:
        action_hit = not _any_pattern(statement["NotAction"], action.lower(), lower=True)
    if "NotResource" in statement:
        return action_hit and not _any_pattern(statement["NotResource"], resource)
    return action_hit and _any_pattern(statement.get("Resource", "*"), resource)


def _any_pattern(patterns: str | Iterable[str], value: str, *, lower: bool = False) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` any one character, nothing else special."""
    listed = [patterns] if isinstance(patterns, str) else list(patterns)
    for pattern in listed:
        text = pattern.lower() if lower else pattern
        regex = re.escape(text).replace(r"\*", ".*").replace(r"\?", ".")
        if re.fullmatch(regex, value, re.DOTALL):
            return True
    return False
