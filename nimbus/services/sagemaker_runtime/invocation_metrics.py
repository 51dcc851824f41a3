"""The CloudWatch metrics SageMaker publishes for each invocation of an endpoint (namespace
AWS/SageMaker, dimensions EndpointName and VariantName), buffered so InvokeEndpoint never waits."""

from __future__ import annotations

from nimbus.services.monitoring.publisher import publish
from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker.endpoints import endpoint_key
from nimbus.services.sagemaker.workers import pool

NAMESPACE = "AWS/SageMaker"
MICROSECONDS = 1_000_000


def publish_invocation(
    ctx: RequestContext,
    endpoint: str,
    variant: str,
    status: int,
    model_seconds: float,
    overhead_seconds: float,
) -> None:
    try:
        instances = pool.instance_count(endpoint_key(ctx, endpoint), variant) or 1
    except LookupError:  # the endpoint stopped meanwhile
        instances = 1
    values = {
        "Invocations": (1.0, "None"),
        "InvocationsPerInstance": (1.0 / instances, "None"),
        "ModelLatency": (model_seconds * MICROSECONDS, "Microseconds"),
        "OverheadLatency": (overhead_seconds * MICROSECONDS, "Microseconds"),
        "Invocation4XXErrors": (float(400 <= status < 500), "None"),
        "Invocation5XXErrors": (float(status >= 500), "None"),
    }
    dimensions = {"EndpointName": endpoint, "VariantName": variant}
    publish(ctx.storage, ctx.caller.account_id, ctx.region, NAMESPACE, values, dimensions)
