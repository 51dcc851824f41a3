"""AWS's ModelLatency of each invocation of the endpoints a recommendation job load-tests: "the
interval of time taken by a model to respond as viewed from SageMaker", from the moment InvokeEndpoint
sends the request to the endpoint's container to the moment it has the answer (queueing in the
container included, the caller's and the gateway's time not). InvokeEndpoint measures it on the node
serving the endpoint (sagemaker_runtime/invocation.py) and reports it here; only the endpoints being
watched keep their values. CloudWatch keeps statistic sets, not the percentiles a job reports, so the
job reads the values themselves."""

from __future__ import annotations

import threading

from nimbus.services.sagemaker.workers import EndpointKey

_watched: dict[EndpointKey, list[float]] = {}
_lock = threading.Lock()


def record(key: EndpointKey, seconds: float) -> None:
    """One invocation's model time; kept only while ``key`` is watched."""
    with _lock:
        values = _watched.get(key)
        if values is not None:
            values.append(seconds)


def watch(key: EndpointKey) -> None:
    with _lock:
        _watched[key] = []


def take(key: EndpointKey) -> list[float]:
    """The model times (seconds) recorded since the last take, and a fresh start."""
    with _lock:
        values, _watched[key] = _watched.get(key, []), []
    return values


def forget(key: EndpointKey) -> None:
    with _lock:
        _watched.pop(key, None)
