"""The CloudWatch metrics SageMaker publishes for each invocation of an endpoint (namespace
AWS/SageMaker, dimensions EndpointName and VariantName), buffered so InvokeEndpoint never waits.
Published once, by the node that received the invocation (not by the node it was forwarded to)."""

from __future__ import annotations

from nimbus.services.monitoring.publisher import publish
from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker_runtime.invocation import Served

NAMESPACE = "AWS/SageMaker"
MICROSECONDS = 1_000_000


def publish_invocation(ctx: RequestContext, endpoint: str, served: Served, overhead_seconds: float) -> None:
    status = served.answer.status
    values = {
        "Invocations": (1.0, "None"),
        "InvocationsPerInstance": (1.0 / max(served.instances, 1), "None"),
        "ModelLatency": (served.model_seconds * MICROSECONDS, "Microseconds"),
        "OverheadLatency": (overhead_seconds * MICROSECONDS, "Microseconds"),
        "Invocation4XXErrors": (float(400 <= status < 500), "None"),
        "Invocation5XXErrors": (float(status >= 500), "None"),
    }
    dimensions = {"EndpointName": endpoint, "VariantName": served.variant}
    publish(ctx.storage, ctx.caller.account_id, ctx.region, NAMESPACE, values, dimensions)
