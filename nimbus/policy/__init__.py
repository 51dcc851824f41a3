"""IAM policy evaluation, as AWS documents it: policy grammar, wildcard and ARN matching, condition
operators, policy variables, and the combination of identity policies, resource policies,
permissions boundaries and session policies into one decision.

Pure logic: no HTTP, no storage. The gateway's authorization step and IAM's Simulate operations
both call ``evaluate``.
"""

from nimbus.policy.evaluation import (
    ALLOWED,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    Decision,
    PolicySet,
    Request,
    evaluate,
)
from nimbus.policy.grammar import Policy, PolicyError, Statement, parse_policy
from nimbus.policy.principals import Principal

__all__ = [
    "ALLOWED",
    "EXPLICIT_DENY",
    "IMPLICIT_DENY",
    "Decision",
    "Policy",
    "PolicyError",
    "PolicySet",
    "Principal",
    "Request",
    "Statement",
    "evaluate",
    "parse_policy",
]
