"""AWS IAM: users, groups, roles, access keys, managed and inline policies, permissions boundaries,
instance profiles, OpenID Connect providers, and the Simulate operations, which answer from the
evaluator that enforces.

IAM is global: its entities belong to an account, not to a region.
"""

from __future__ import annotations

from nimbus.services.registry import Service

iam = Service("iam", validation_error="ValidationError")

# the operation modules register themselves on import
from nimbus.services.iam import (  # noqa: E402, F401
    access_keys,
    account,
    groups,
    holders,
    instance_profiles,
    managed_policies,
    oidc_providers,
    roles,
    simulate,
    tag_keys,
    tagging,
    users,
)
