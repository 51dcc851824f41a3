"""SimulatePrincipalPolicy and SimulateCustomPolicy: the decisions of the evaluator that enforces
every request, for the actions and resources asked about."""

from __future__ import annotations

from typing import Any

from nimbus.policy import Decision, Policy, PolicySet, Principal, Request, evaluate
from nimbus.policy.principals import ROLE_SESSION, USER
from nimbus.services.iam import iam
from nimbus.services.iam.identities import Identities, Identity
from nimbus.services.iam.records import checked_policy, invalid_input, no_such_entity
from nimbus.services.registry import RequestContext

DEFAULT_MAX_ITEMS = 100
_LIST_TYPES = frozenset({"stringList", "numericList", "booleanList", "ipList", "binaryList", "dateList"})


@iam.operation
def simulate_principal_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The source's own policies (with its groups' for a user), its permissions boundary unless
    PermissionsBoundaryPolicyInputList replaces it, plus PolicyInputList. PolicyExclusionList, and
    organizations policies, are not modelled."""
    arn = request["PolicySourceArn"]
    kind = next((kind for kind in ("user", "group", "role") if f":{kind}/" in arn), None)
    if kind is None:
        raise invalid_input(f"{arn} is not the ARN of an IAM user, group or role.")
    source = Identities(ctx.storage).source(ctx.caller.account_id, arn)
    if source is None:
        raise no_such_entity(kind, arn.rsplit("/", 1)[-1])
    return _simulate(ctx, request, source)


@iam.operation
def simulate_custom_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    caller = request.get("CallerArn") or f"arn:aws:iam::{ctx.caller.account_id}:user/SimulatedCaller"
    kind = ROLE_SESSION if ":assumed-role/" in caller or ":role/" in caller else USER
    principal = Principal(kind, ctx.caller.account_id, caller, name=caller.rsplit("/", 1)[-1])
    return _simulate(ctx, request, Identity(principal, PolicySet()))


def _simulate(ctx: RequestContext, request: dict[str, Any], source: Identity) -> dict[str, Any]:
    added = tuple(
        _named(checked_policy(document), f"PolicyInputList.{i + 1}")
        for i, document in enumerate(request.get("PolicyInputList") or [])
    )
    boundaries = request.get("PermissionsBoundaryPolicyInputList")
    boundary = (
        _named(checked_policy(boundaries[0]), "PermissionsBoundaryPolicyInputList.1")
        if boundaries
        else source.policies.boundary
    )
    resource_policy = (
        _named(checked_policy(request["ResourcePolicy"], "resource"), "ResourcePolicy")
        if request.get("ResourcePolicy")
        else None
    )
    policies = PolicySet(source.policies.identity + added, boundary, None, resource_policy)
    context = {**source.context, **_context_entries(request.get("ContextEntries") or [])}
    principal = source.principal
    if request.get("CallerArn"):
        principal = Principal(
            principal.kind,
            principal.account_id,
            request["CallerArn"],
            principal.user_id,
            principal.name,
            principal.role_arn,
            principal.tags,
        )
    owner = (request.get("ResourceOwner") or "").split(":")[4] if request.get("ResourceOwner") else ""
    results = []
    for action in request["ActionNames"]:
        for resource in request.get("ResourceArns") or ["*"]:
            decision = evaluate(Request(action, resource, principal, context, owner), policies)
            results.append(_result(action, resource, decision, policies, context))
    start = int(request["Marker"]) if (request.get("Marker") or "").isdigit() else 0
    end = start + (request.get("MaxItems") or DEFAULT_MAX_ITEMS)
    output: dict[str, Any] = {"EvaluationResults": results[start:end], "IsTruncated": end < len(results)}
    if end < len(results):
        output["Marker"] = str(end)
    return output


def _named(policy: Policy, name: str) -> Policy:
    return Policy(name, policy.version, policy.statements)


def _context_entries(entries: list[dict[str, Any]]) -> dict[str, str | tuple[str, ...]]:
    context: dict[str, str | tuple[str, ...]] = {}
    for entry in entries:
        values = [str(value) for value in entry.get("ContextKeyValues") or []]
        if entry.get("ContextKeyType") in _LIST_TYPES:
            context[entry["ContextKeyName"].lower()] = tuple(values)
        elif values:
            context[entry["ContextKeyName"].lower()] = values[0]
    return context


def _result(
    action: str, resource: str, decision: Decision, policies: PolicySet, context: dict[str, Any]
) -> dict[str, Any]:
    statements = [
        {"SourcePolicyId": match.policy.name, "SourcePolicyType": _policy_type(match.kind)}
        for match in decision.matched
        if match.statement.effect == ("Allow" if decision.allowed else "Deny")
    ]
    referenced = {
        condition.key
        for policy in (*policies.identity, policies.boundary, policies.resource)
        if policy is not None
        for statement in policy.statements
        for condition in statement.conditions
    }
    result: dict[str, Any] = {
        "EvalActionName": action,
        "EvalResourceName": resource,
        "EvalDecision": decision.result,
        "MatchedStatements": statements,
        "MissingContextValues": sorted(key for key in referenced if key not in context),
    }
    if policies.boundary is not None:
        allowed = any(m.kind == "boundary" and m.statement.effect == "Allow" for m in decision.matched)
        result["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": allowed}
    return result


def _policy_type(kind: str) -> str:
    return {"identity": "IAM Policy", "boundary": "IAM Policy", "resource": "resource"}.get(kind, "none")
