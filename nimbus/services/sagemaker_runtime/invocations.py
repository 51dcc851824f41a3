"""InvokeEndpoint: one request answered by a worker of the endpoint, chosen by variant weight, on the
node that serves the endpoint (this one, or another that it is forwarded to)."""

from __future__ import annotations

import time
from typing import Any

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker.endpoint_owners import serving_node
from nimbus.services.sagemaker.endpoints import endpoint_key
from nimbus.services.sagemaker.workers import pool
from nimbus.services.sagemaker_runtime import sagemaker_runtime
from nimbus.services.sagemaker_runtime.forwarding import forward
from nimbus.services.sagemaker_runtime.invocation import (
    CONTAINER,
    Invocation,
    Served,
    model_error,
    serve_here,
)
from nimbus.services.sagemaker_runtime.invocation_metrics import publish_invocation
from nimbus.storage.sagemaker_hosting_schema import SageMakerEndpointRecord

ENDPOINTS = SageMakerEndpointRecord.__table__


def _serving_endpoint(ctx: RequestContext, name: str) -> None:
    with ctx.storage.database.engine.connect() as connection:
        row = connection.execute(
            ENDPOINTS.select().where(
                ENDPOINTS.c.account_id == ctx.caller.account_id,
                ENDPOINTS.c.region == ctx.region,
                ENDPOINTS.c.name == name,
            )
        ).first()
    if row is None or row.status not in ("InService", "Updating"):
        raise AwsError(
            "ValidationError", f"Endpoint {name} of account {ctx.caller.account_id} not found.", 400
        )


def _answer(ctx: RequestContext, request: dict[str, Any]) -> Served:
    """The one place that decides where an invocation runs: on this node's workers when it serves the
    endpoint (taking it over if no live node does), else on the node that serves it."""
    key = endpoint_key(ctx, request["EndpointName"])
    if not pool.serves(key):  # workers run only for existing endpoints: the database decides the rest
        _serving_endpoint(ctx, request["EndpointName"])
    headers = {"Content-Type": request.get("ContentType") or "application/octet-stream"}
    if request.get("Accept"):
        headers["Accept"] = request["Accept"]
    if request.get("CustomAttributes"):
        headers["X-Amzn-SageMaker-Custom-Attributes"] = request["CustomAttributes"]
    call = Invocation(key, request.get("TargetVariant"), request.get("Body") or b"", headers)
    address = serving_node(ctx.storage, key)
    return serve_here(ctx.storage, call) if address is None else forward(ctx.storage, address, call)


@sagemaker_runtime.operation
def invoke_endpoint(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Models, inference components, sessions and explanations are not supported (TargetModel,
    InferenceComponentName, SessionId, EnableExplanations are ignored); no CloudWatch log stream exists."""
    started = time.perf_counter()
    served = _answer(ctx, request)
    answer = served.answer
    overhead = time.perf_counter() - started - served.model_seconds
    publish_invocation(ctx, request["EndpointName"], served, overhead)
    if answer.status != 200:
        original = answer.body.decode("utf-8", errors="replace")
        raise model_error(
            f"Received {'client' if answer.status < 500 else 'server'} error ({answer.status}) "
            f'from {CONTAINER} with message "{original}". See the worker log for this endpoint '
            f"in account {ctx.caller.account_id} for more information.",
            {"OriginalStatusCode": str(answer.status), "OriginalMessage": original},
        )
    output: dict[str, Any] = {
        "Body": answer.body,
        "ContentType": answer.content_type,
        "InvokedProductionVariant": served.variant,
    }
    if answer.custom_attributes:
        output["CustomAttributes"] = answer.custom_attributes
    return output
