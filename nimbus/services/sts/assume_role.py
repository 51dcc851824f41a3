"""AssumeRole: temporary credentials of a role, for a caller its trust policy names. The trust
policy and the caller's permission to call sts:AssumeRole are checked by the authorization step
(the trust policy is this service's resource policy); what is left here is AWS's own limits."""

from __future__ import annotations

from typing import Any

from nimbus.errors import AwsError
from nimbus.policy import PolicyError, parse_policy
from nimbus.policy.grammar import check_size
from nimbus.services.registry import RequestContext
from nimbus.services.sts import sts
from nimbus.services.sts.sessions import find_role, role_session, trust_policy

ROLE_CHAINING_MAX_S = 3600
MIN_DURATION_S = 900
MAX_SESSION_TAGS = 50

sts.resource_policies(trust_policy)


@sts.operation
def assume_role(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """MFA (SerialNumber/TokenCode), TransitiveTagKeys and ProvidedContexts are not modelled."""
    if ctx.caller.arn.endswith(":root"):
        raise AwsError("AccessDenied", "Roles may not be assumed by root accounts.", 403)
    role = find_role(ctx.storage, request["RoleArn"])
    if role is None:  # the authorization step found no trust policy either, so this is not reached
        raise AwsError(
            "AccessDenied", f"Not authorized to perform sts:AssumeRole on {request['RoleArn']}", 403
        )
    chained = ":assumed-role/" in ctx.caller.arn
    duration = request.get("DurationSeconds") or 3600
    limit = ROLE_CHAINING_MAX_S if chained else role.max_session_duration
    if duration > limit:
        what = "1 hour session limit for roles assumed by role chaining" if chained else "MaxSessionDuration"
        raise AwsError(
            "ValidationError", f"The requested DurationSeconds exceeds the {what} set for this role.", 400
        )
    if request.get("Policy"):
        try:
            check_size(request["Policy"], "session")
            parse_policy(request["Policy"], "identity")
        except PolicyError as error:
            raise AwsError("MalformedPolicyDocument", str(error), 400) from None
    tags = {tag["Key"]: tag["Value"] for tag in request.get("Tags") or []}
    if len(tags) > MAX_SESSION_TAGS:
        raise AwsError("ValidationError", f"Cannot exceed quota for SessionTags: {MAX_SESSION_TAGS}.", 400)
    credentials = role_session(
        ctx.storage,
        role,
        request["RoleSessionName"],
        duration,
        policy=request.get("Policy"),
        policy_arns=[item["arn"] for item in request.get("PolicyArns") or []],
        tags=tags,
        source_identity=request.get("SourceIdentity") or "",
    )
    output: dict[str, Any] = {
        "Credentials": credentials.output(),
        "AssumedRoleUser": {"AssumedRoleId": credentials.claims.user_id, "Arn": credentials.claims.arn},
        "PackedPolicySize": min(100, len(request.get("Policy") or "") * 100 // 2048),
    }
    if request.get("SourceIdentity"):
        output["SourceIdentity"] = request["SourceIdentity"]
    return output
