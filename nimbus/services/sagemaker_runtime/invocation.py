"""One invocation of an endpoint, and its answer by this node's workers: what a node forwards to the node
serving the endpoint (forwarding.py), and what that node runs for it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from nimbus.errors import AwsError
from nimbus.services.sagemaker.endpoints import ensure_serving
from nimbus.services.sagemaker.recommendations import model_latency
from nimbus.services.sagemaker.workers import EndpointKey, Response, WorkerFailed, invoke, pool
from nimbus.storage import Storage

INVOCATION_TIMEOUT_S = 60.0
CONTAINER = "primary"


@dataclass(frozen=True)
class Invocation:
    """The endpoint, the variant asked for (None: drawn by weight), the body and the headers the
    container receives (Content-Type, Accept, X-Amzn-SageMaker-Custom-Attributes)."""

    key: EndpointKey
    target_variant: str | None
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Served:
    """The variant that answered, the container's answer, how long the model took (seconds), and how
    many instances the variant has (for InvocationsPerInstance)."""

    variant: str
    answer: Response
    model_seconds: float
    instances: int


def model_error(message: str, fields: dict[str, str] | None = None) -> AwsError:
    return AwsError("ModelError", message, 424, fields=fields)


def serve_here(storage: Storage, call: Invocation) -> Served:
    """The invocation answered by one of this node's workers of the endpoint (started first if this
    node has just taken the endpoint over)."""
    try:
        ensure_serving(storage, call.key)
        variant, worker = pool.pick(call.key, call.target_variant)
    except LookupError:
        raise AwsError(
            "ValidationError",
            f"Variant {call.target_variant} not found for endpoint {call.key[2]} of account {call.key[0]}.",
            400,
        ) from None
    except WorkerFailed as error:
        raise AwsError(
            "ServiceUnavailable", f"The endpoint's instances could not start: {error}", 503
        ) from None
    started = time.perf_counter()
    try:
        answer = invoke(worker, call.body, call.headers, INVOCATION_TIMEOUT_S)
    except TimeoutError:
        raise model_error(
            f"Your invocation timed out while waiting for a response from container {CONTAINER}. "
            "Review the latency metrics for each container in Amazon CloudWatch, "
            "resolve the issue, and try again.",
        ) from None
    except OSError as error:
        raise model_error(f"The container {CONTAINER} did not answer: {error}") from None
    model_seconds = time.perf_counter() - started
    model_latency.record(call.key, model_seconds)  # a recommendation job's percentiles, if it watches
    try:
        instances = pool.instance_count(call.key, variant)
    except LookupError:  # the endpoint stopped meanwhile
        instances = 1
    return Served(variant, answer, model_seconds, instances)
