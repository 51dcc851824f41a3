"""GetSessionToken: temporary credentials with the permissions of the user (or root) that asks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.sts import sts
from nimbus.services.sts.sessions import issue
from nimbus.storage.session_tokens import SessionClaims

DEFAULT_DURATION_S = 43200
ROOT_MAX_S = 3600


@sts.operation
def get_session_token(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """MFA (SerialNumber/TokenCode) is not modelled: the session never counts as MFA-authenticated."""
    caller = ctx.caller
    if caller.access_key_id.startswith("ASIA"):
        raise AwsError("AccessDenied", "Cannot call GetSessionToken with session credentials", 403)
    root = caller.arn.endswith(":root")
    duration = request.get("DurationSeconds") or (ROOT_MAX_S if root else DEFAULT_DURATION_S)
    now = int(datetime.now(UTC).timestamp())
    claims = SessionClaims(
        access_key_id=ctx.storage.sessions.new_access_key_id(),
        account_id=caller.account_id,
        arn=caller.arn,
        user_id=caller.user_id,
        issued_at=now,
        expires_at=now + min(duration, ROOT_MAX_S) if root else now + duration,
        user_name="" if root else caller.arn.rsplit("/", 1)[-1],
    )
    return {"Credentials": issue(ctx.storage, claims).output()}
