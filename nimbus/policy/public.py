"""Whether a resource policy is public, as S3 Block Public Access judges it: it allows everyone
(``"Principal": "*"``) without a condition that pins the caller to fixed values of a key only
known callers have (their account, ARN, organization, source IP range other than all of them...)."""

from __future__ import annotations

from nimbus.policy.conditions import split_operator
from nimbus.policy.grammar import Policy, Statement

PINNING_KEYS = frozenset(
    {
        "aws:sourceip",
        "aws:sourcearn",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceowner",
        "aws:sourceaccount",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:userid",
        "s3:dataaccesspointaccount",
        "s3:dataaccesspointarn",
    }
)
_PINNING_OPERATORS = frozenset(
    {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "IpAddress"}
)
_OPEN_NETWORKS = frozenset({"0.0.0.0/0", "::/0"})


def is_public(policy: Policy) -> bool:
    return any(public_statement(statement) for statement in policy.statements)


def public_statement(statement: Statement) -> bool:
    if statement.effect != "Allow" or statement.principals is None:
        return False
    everyone = "*" in statement.principals or "*" in statement.principals.get("AWS", ())
    return everyone and not any(
        condition.key in PINNING_KEYS
        and split_operator(condition.operator)[0] is None
        and split_operator(condition.operator)[1] in _PINNING_OPERATORS
        and not any("*" in value or "?" in value or value in _OPEN_NETWORKS for value in condition.values)
        for condition in statement.conditions
    )


def without_public_statements(policy: Policy) -> Policy:
    """The policy as RestrictPublicBuckets applies it: its public grants do not count."""
    return Policy(policy.name, policy.version, tuple(s for s in policy.statements if not public_statement(s)))
