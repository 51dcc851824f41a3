"""InvokeEndpoint: one request forwarded to a worker of the endpoint, chosen by variant weight."""

from __future__ import annotations

import time
from typing import Any

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker.endpoints import endpoint_key, ensure_serving
from nimbus.services.sagemaker.workers import Response, WorkerFailed, invoke, pool
from nimbus.services.sagemaker_runtime import sagemaker_runtime
from nimbus.services.sagemaker_runtime.invocation_metrics import publish_invocation
from nimbus.storage.sagemaker_hosting_schema import SageMakerEndpointRecord

INVOCATION_TIMEOUT_S = 60.0
ENDPOINTS = SageMakerEndpointRecord.__table__
CONTAINER = "primary"


def _validation(message: str) -> AwsError:
    return AwsError("ValidationError", message, 400)


def _model_error(message: str, fields: dict[str, str] | None = None) -> AwsError:
    return AwsError("ModelError", message, 424, fields=fields)


def _serving_endpoint(ctx: RequestContext, name: str) -> Any:
    with ctx.storage.database.engine.connect() as connection:
        row = connection.execute(
            ENDPOINTS.select().where(
                ENDPOINTS.c.account_id == ctx.caller.account_id,
                ENDPOINTS.c.region == ctx.region,
                ENDPOINTS.c.name == name,
            )
        ).first()
    if row is None or row.status not in ("InService", "Updating"):
        raise _validation(f"Endpoint {name} of account {ctx.caller.account_id} not found.")
    return row


def _forward(ctx: RequestContext, request: dict[str, Any]) -> tuple[str, Response, float]:
    """The variant that answered, its answer, and how long its model took (seconds)."""
    key = endpoint_key(ctx, request["EndpointName"])
    if not pool.serves(key):  # workers run only for existing endpoints: the database decides the rest
        _serving_endpoint(ctx, request["EndpointName"])
    try:
        ensure_serving(ctx.storage, key)
        variant, worker = pool.pick(key, request.get("TargetVariant"))
    except LookupError:
        raise _validation(
            f"Variant {request.get('TargetVariant')} not found for endpoint {key[2]} "
            f"of account {ctx.caller.account_id}."
        ) from None
    except WorkerFailed as error:
        raise AwsError(
            "ServiceUnavailable", f"The endpoint's instances could not start: {error}", 503
        ) from None
    headers = {"Content-Type": request.get("ContentType") or "application/octet-stream"}
    if request.get("Accept"):
        headers["Accept"] = request["Accept"]
    if request.get("CustomAttributes"):
        headers["X-Amzn-SageMaker-Custom-Attributes"] = request["CustomAttributes"]
    started = time.perf_counter()
    try:
        answer = invoke(worker, request.get("Body") or b"", headers, INVOCATION_TIMEOUT_S)
        return variant, answer, time.perf_counter() - started
    except TimeoutError:
        raise _model_error(
            f"Your invocation timed out while waiting for a response from container {CONTAINER}. "
            "Review the latency metrics for each container in Amazon CloudWatch, "
            "resolve the issue, and try again.",
        ) from None
    except OSError as error:
        raise _model_error(f"The container {CONTAINER} did not answer: {error}") from None


@sagemaker_runtime.operation
def invoke_endpoint(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Models, inference components, sessions and explanations are not supported (TargetModel,
    InferenceComponentName, SessionId, EnableExplanations are ignored); no CloudWatch log stream exists."""
    started = time.perf_counter()
    variant, answer, model_seconds = _forward(ctx, request)
    overhead = time.perf_counter() - started - model_seconds
    publish_invocation(ctx, request["EndpointName"], variant, answer.status, model_seconds, overhead)
    if answer.status != 200:
        original = answer.body.decode("utf-8", errors="replace")
        raise _model_error(
            f"Received {'client' if answer.status < 500 else 'server'} error ({answer.status}) "
            f'from {CONTAINER} with message "{original}". See the worker log for this endpoint '
            f"in account {ctx.caller.account_id} for more information.",
            {"OriginalStatusCode": str(answer.status), "OriginalMessage": original},
        )
    output: dict[str, Any] = {
        "Body": answer.body,
        "ContentType": answer.content_type,
        "InvokedProductionVariant": variant,
    }
    if answer.custom_attributes:
        output["CustomAttributes"] = answer.custom_attributes
    return output
