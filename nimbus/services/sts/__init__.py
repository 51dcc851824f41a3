"""AWS STS: who is calling (GetCallerIdentity), roles assumed for a while (AssumeRole), and session
credentials of a user (GetSessionToken). Temporary credentials expire; every service takes them."""

from __future__ import annotations

from nimbus.services.registry import Service

sts = Service("sts")

# the operation modules register themselves on import
from nimbus.services.sts import assume_role, caller_identity, session_token  # noqa: E402, F401
