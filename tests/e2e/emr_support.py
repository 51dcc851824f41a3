"""Waiting on EMR clusters and steps, and reading their logs, for the EMR tests."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from typing import Any

READY_TIMEOUT_S = 300
STEP_TIMEOUT_S = 300
POLL_S = 0.5
STEP_END_STATES = ("COMPLETED", "FAILED", "CANCELLED")


def wait_for(what: str, probe: Callable[[], Any], timeout_s: float) -> Any:
    """``probe()``'s first truthy answer; AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(POLL_S)
    raise AssertionError(f"timed out waiting for {what}")


def cluster_state(emr: Any, cluster_id: str) -> str:
    return str(emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"])


def wait_for_state(emr: Any, cluster_id: str, states: set[str], timeout_s: float = READY_TIMEOUT_S) -> str:
    return str(
        wait_for(
            f"cluster {cluster_id} to reach {states}",
            lambda: (state := cluster_state(emr, cluster_id)) in states and state,
            timeout_s,
        )
    )


def wait_for_step(emr: Any, cluster_id: str, step_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        step = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]
        return step if step["Status"]["State"] in STEP_END_STATES else None

    return dict(wait_for(f"step {step_id}", ended, STEP_TIMEOUT_S))


def read_log(s3: Any, bucket: str, key: str) -> str:
    """A gzipped log that EMR wrote under the LogUri."""
    return gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).decode()
