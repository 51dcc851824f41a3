"""GetCallerIdentity: answered for every signed caller (no policy can deny it, as in AWS)."""

from __future__ import annotations

from typing import Any

from nimbus.services.registry import RequestContext
from nimbus.services.sts import sts


@sts.operation
def get_caller_identity(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return {"UserId": ctx.caller.user_id, "Account": ctx.caller.account_id, "Arn": ctx.caller.arn}
