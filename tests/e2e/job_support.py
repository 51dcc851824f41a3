"""What tests of long-running work share: waiting for a job or an endpoint to settle, and the
gzipped tar archives SageMaker takes (source directories, model artifacts, payloads)."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

TRAINING_BUSY = ("InProgress", "Stopping")


def settled(
    describe: Callable[[], Mapping[str, Any]],
    status: str,
    busy: Collection[str],
    timeout: float,
    every: float = 0.3,
) -> dict[str, Any]:
    """Describes until the ``status`` member leaves ``busy``; fails the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        described = dict(describe())
        if described[status] not in busy:
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"still {described[status]} after {timeout} s: {described}")
        time.sleep(every)


def training_job_ended(sagemaker: Any, name: str, timeout: float = 120) -> dict[str, Any]:
    return settled(
        lambda: sagemaker.describe_training_job(TrainingJobName=name),
        "TrainingJobStatus",
        TRAINING_BUSY,
        timeout,
    )


def gz_archive(files: Mapping[str, bytes]) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return data.getvalue()
