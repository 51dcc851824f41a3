"""The utilization metrics SageMaker publishes for endpoint instances (namespace
/aws/sagemaker/Endpoints, dimensions EndpointName and VariantName): CPUUtilization (the sum over
cores, so up to 100% per core, as on AWS) and MemoryUtilization, of each instance's process tree,
sampled once a minute (shortened like alarm periods by NIMBUS_ALARM_TIME_SCALE)."""

from __future__ import annotations

import logging
import threading
import time

import psutil

from nimbus.services.monitoring.evaluation import effective_seconds
from nimbus.services.monitoring.publisher import publish
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.workers import pool
from nimbus.storage import Storage

NAMESPACE = "/aws/sagemaker/Endpoints"
SAMPLE_INTERVAL_S = 60.0
SHORTEST_INTERVAL_S = 1.0
log = logging.getLogger(__name__)


def _tree(pid: int) -> tuple[float, int]:
    """CPU seconds used so far and resident bytes now, of the process and its descendants."""
    root = psutil.Process(pid)
    seconds, rss = 0.0, 0
    for process in [root, *root.children(recursive=True)]:
        times = process.cpu_times()
        seconds += times.user + times.system
        rss += process.memory_info().rss
    return seconds, rss


def _sample_forever(storage: Storage) -> None:
    previous: dict[int, tuple[float, float]] = {}  # pid -> (its CPU seconds, when they were read)
    while True:
        time.sleep(max(SHORTEST_INTERVAL_S, effective_seconds(SAMPLE_INTERVAL_S)))
        try:
            previous = _sample(storage, previous)
        except Exception:  # the next sample tries again; a failed one must not end the thread
            log.exception("sampling endpoint utilization failed")


def _sample(storage: Storage, previous: dict[int, tuple[float, float]]) -> dict[int, tuple[float, float]]:
    """Publishes each instance's utilization since the previous sample; answers this sample's readings."""
    total_memory = psutil.virtual_memory().total
    seen: dict[int, tuple[float, float]] = {}
    for ((account_id, region, endpoint), variant), pids in pool.variant_pids().items():
        for pid in pids:
            try:
                seconds, rss = _tree(pid)
            except psutil.Error:  # the instance stopped meanwhile
                continue
            now = time.monotonic()
            seen[pid] = (seconds, now)
            if pid not in previous:
                continue
            cpu = 100 * (seconds - previous[pid][0]) / max(now - previous[pid][1], 1e-6)
            values = {
                "CPUUtilization": (cpu, "Percent"),
                "MemoryUtilization": (100 * rss / total_memory, "Percent"),
            }
            dimensions = {"EndpointName": endpoint, "VariantName": variant}
            publish(storage, account_id, region, NAMESPACE, values, dimensions)
    return seen


@sagemaker.on_startup
def start_sampler(storage: Storage) -> None:
    threading.Thread(
        target=_sample_forever, args=(storage,), name="endpoint-utilization", daemon=True
    ).start()
