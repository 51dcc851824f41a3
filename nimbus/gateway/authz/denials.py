"""AccessDenied in each service's own shape, worded as AWS words it: who, which action, which
resource, and why (which kind of policy denied, or which kind allowed nothing)."""

from __future__ import annotations

from botocore.model import ServiceModel

from nimbus.errors import AwsError
from nimbus.policy import EXPLICIT_DENY, Decision
from nimbus.protocol.serializers import QUERY_ERROR_HEADER

_EXPLICIT = {
    "identity": "an identity-based policy",
    "resource": "a resource-based policy",
    "boundary": "a permissions boundary",
    "session": "a session policy",
}


def access_denied(
    model: ServiceModel, caller_arn: str, action: str, resource: str, decision: Decision
) -> AwsError:
    because = _why(action, decision)
    message = f"User: {caller_arn} is not authorized to perform: {action} on resource: {resource}"
    return denied(model, f"{message} {because}")


def denied(model: ServiceModel, message: str) -> AwsError:
    code, status = _shape(model)
    if model.metadata.get("awsQueryCompatible") is not None:
        # a service that left the query protocol for JSON (SQS) still names the query code, which
        # botocore reads from this header
        return AwsError(code, message, status, headers={QUERY_ERROR_HEADER: "AccessDenied;Sender"})
    return AwsError(code, message, status)


def _why(action: str, decision: Decision) -> str:
    if decision.result == EXPLICIT_DENY and decision.deciding is not None:
        return f"with an explicit deny in {_EXPLICIT[decision.deciding.kind]}"
    reason = decision.reason
    if "permissions boundary" in reason:
        kind = "permissions boundary"
    elif "session policy" in reason:
        kind = "session policy"
    elif "resource policy" in reason or "resource-based" in reason:
        kind = "resource-based policy"
    else:
        kind = "identity-based policy"
    return f"because no {kind} allows the {action} action"


def _shape(model: ServiceModel) -> tuple[str, int]:
    """S3 and the query services say AccessDenied (403), SNS AuthorizationError (403, its own
    shape); JSON services AccessDeniedException, with the status their model gives it (400 for
    JSON 1.x, 403 for REST-JSON where it gives none); SQS, query-compatible, 403 as it always did."""
    errors = {shape.metadata.get("error", {}).get("code", shape.name): shape for shape in model.error_shapes}
    if model.protocol in ("rest-xml", "query"):
        return ("AuthorizationError" if "AuthorizationError" in errors else "AccessDenied"), 403
    if model.metadata.get("awsQueryCompatible") is not None:
        return "AccessDeniedException", 403
    shape = errors.get("AccessDeniedException")
    default = 400 if model.protocol == "json" else 403
    if shape is None:
        return "AccessDeniedException", default
    return "AccessDeniedException", int(shape.metadata.get("error", {}).get("httpStatusCode", default))
