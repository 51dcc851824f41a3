"""One decision from all the policies that apply to a request, as AWS's policy evaluation logic
documents it for requests within an account:

1. an explicit Deny in any policy (identity, permissions boundary, session, resource) denies;
2. the account's root user may do everything else;
3. a resource policy that allows the caller by its own ARN (a user or a role session) allows;
   one that allows everyone (``*``) allows within the session policy; one that names the caller's
   role allows within the permissions boundary and the session policy;
4. otherwise an identity policy must allow, and so must the permissions boundary and the session
   policy where there is one;
5. anything else is an implicit deny.

A request for a resource of another account needs both: the identity side (4) and a resource
policy that names the caller or its account. Anonymous requests have no identity side.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from nimbus.policy.conditions import condition_matches
from nimbus.policy.grammar import Policy, Statement
from nimbus.policy.patterns import Context, Unresolved, arn_match, wildcard_match
from nimbus.policy.principals import ANONYMOUS, Principal, PrincipalMatch, principal_match

ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicitDeny", "implicitDeny"  # IAM Simulate's words


@dataclass(frozen=True)
class Request:
    action: str  # "s3:GetObject"
    resource: str  # an ARN, or "*" for actions on no particular resource
    principal: Principal
    context: Context  # condition keys in lower case
    resource_account: str = ""  # the account that owns the resource; empty: the caller's


@dataclass(frozen=True)
class PolicySet:
    identity: tuple[Policy, ...] = ()
    boundary: Policy | None = None
    session: tuple[Policy, ...] | None = None  # None: not a session with a session policy
    resource: Policy | None = None
    # a role's trust policy (sts:AssumeRole) must itself name the caller or its account: an identity
    # policy alone never lets anyone assume a role
    resource_required: bool = False


@dataclass(frozen=True)
class Match:
    policy: Policy
    statement: Statement
    kind: str  # "identity" | "boundary" | "session" | "resource"
    principal: PrincipalMatch = PrincipalMatch.EXACT


@dataclass(frozen=True)
class Decision:
    result: str  # ALLOWED | EXPLICIT_DENY | IMPLICIT_DENY
    reason: str  # for the server log: the deciding statement, or what no statement allowed
    deciding: Match | None = None
    matched: tuple[Match, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.result == ALLOWED


def evaluate(request: Request, policies: PolicySet) -> Decision:
    matched = tuple(_matches(request, policies))
    for match in matched:
        if match.statement.effect == "Deny":
            return Decision(EXPLICIT_DENY, f"explicit deny: {_where(match)}", match, matched)
    allows = [match for match in matched if match.statement.effect == "Allow"]
    by_kind = {kind: [m for m in allows if m.kind == kind] for kind in ("identity", "boundary", "session")}
    resource_allow = max(
        (m for m in allows if m.kind == "resource"), key=lambda m: m.principal.value, default=None
    )
    principal = request.principal
    same_account = request.resource_account in ("", principal.account_id)
    session_allows = policies.session is None or bool(by_kind["session"])
    bounded = (policies.boundary is None or bool(by_kind["boundary"])) and session_allows
    identity = by_kind["identity"][0] if by_kind["identity"] and bounded else None
    if principal.is_root and same_account:
        return Decision(ALLOWED, "the account's root user", None, matched)
    if principal.kind == ANONYMOUS:
        if resource_allow is not None and resource_allow.principal == PrincipalMatch.EVERYONE:
            return Decision(ALLOWED, f"allowed by {_where(resource_allow)}", resource_allow, matched)
        return Decision(
            IMPLICIT_DENY, "implicit deny: no resource policy grants anonymous access", None, matched
        )
    if same_account and resource_allow is not None:
        level = resource_allow.principal
        if (
            level == PrincipalMatch.EXACT
            or (level == PrincipalMatch.EVERYONE and session_allows)
            or (level == PrincipalMatch.ROLE and bounded)
        ):
            return Decision(ALLOWED, f"allowed by {_where(resource_allow)}", resource_allow, matched)
    if identity is not None and (
        (same_account and not policies.resource_required) or resource_allow is not None
    ):
        return Decision(ALLOWED, f"allowed by {_where(identity)}", identity, matched)
    return Decision(IMPLICIT_DENY, f"implicit deny: {_missing(policies, by_kind)}", None, matched)


def _missing(policies: PolicySet, by_kind: dict[str, list[Match]]) -> str:
    if not by_kind["identity"]:
        return "no identity-based policy allows it"
    if policies.boundary is not None and not by_kind["boundary"]:
        return f"the permissions boundary {policies.boundary.name} does not allow it"
    if policies.session is not None and not by_kind["session"]:
        return "the session policy does not allow it"
    return "no resource-based policy allows it"


def _where(match: Match) -> str:
    return f"{match.kind} policy {match.policy.name or '(unnamed)'}, {match.statement.label}"


def _matches(request: Request, policies: PolicySet) -> Iterator[Match]:
    for kind, listed in (
        ("identity", policies.identity),
        ("boundary", (policies.boundary,) if policies.boundary else ()),
        ("session", policies.session or ()),
    ):
        for policy in listed:
            for statement in policy.statements:
                if statement_applies(statement, request, policy.variables, expand_short=True):
                    yield Match(policy, statement, kind)
    if policies.resource is not None and request.resource != "*":  # no resource, no resource policy
        for statement in policies.resource.statements:
            level = _principal_level(statement, request.principal)
            if level != PrincipalMatch.NONE and statement_applies(
                statement, request, policies.resource.variables, expand_short=False
            ):
                yield Match(policies.resource, statement, "resource", level)


def _principal_level(statement: Statement, principal: Principal) -> PrincipalMatch:
    if statement.principals is not None:
        return principal_match(statement.principals, principal)
    assert statement.not_principals is not None
    if principal_match(statement.not_principals, principal) == PrincipalMatch.NONE:
        return PrincipalMatch.EXACT
    return PrincipalMatch.NONE


def statement_applies(statement: Statement, request: Request, variables: bool, *, expand_short: bool) -> bool:
    """Action, resource and conditions; the caller decides about principals."""
    context = request.context if variables else None
    if statement.actions is not None:
        if not any(wildcard_match(a, request.action, ignore_case=True) for a in statement.actions):
            return False
    elif statement.not_actions is not None and any(
        wildcard_match(a, request.action, ignore_case=True) for a in statement.not_actions
    ):
        return False
    if statement.resources is not None:
        if not any(
            _resource_match(r, request.resource, context, expand_short) is True for r in statement.resources
        ):
            return False
    elif statement.not_resources is not None and any(
        _resource_match(r, request.resource, context, expand_short) is not False
        for r in statement.not_resources
    ):
        return False
    return all(condition_matches(c, request.context, variables) for c in statement.conditions)


def _resource_match(pattern: str, resource: str, context: Context | None, expand_short: bool) -> bool | None:
    """None for a pattern with a policy variable the request has no value for: it matches in
    neither sense, so a Resource holding it does not match and a NotResource does not apply."""
    try:
        return pattern == "*" or arn_match(pattern, resource, context, expand_short=expand_short)
    except Unresolved:
        return None
