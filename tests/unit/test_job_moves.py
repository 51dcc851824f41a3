"""A SageMaker job's status moves by compare-and-set: of writers racing to move one job (request threads,
the runner, another node's heartbeat), exactly one wins, and the job ends in one final state."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from nimbus.services.sagemaker.transform.job_rows import TRANSFORM_JOBS
from nimbus.storage import Storage

KEY = ("123456789012", "us-east-1", "raced-job")
WRITERS = 8


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    opened = Storage.open(tmp_path, f"sqlite:///{tmp_path / 'nimbus.db'}")
    TRANSFORM_JOBS.insert(opened, KEY, "arn:aws:iam::123456789012:root", {}, transform_start=None)
    yield opened
    opened.close()


def test_one_of_racing_moves_wins(storage: Storage) -> None:
    start = threading.Barrier(WRITERS)
    targets = ["Stopping", "Completed", "Failed", "Stopping"] * (WRITERS // 4)

    def move(status: str) -> tuple[str, bool]:
        start.wait()
        return status, TRANSFORM_JOBS.move(storage, KEY, status, failure_reason=f"moved to {status}")

    with ThreadPoolExecutor(WRITERS) as pool:
        moved = [status for status, won in pool.map(move, targets) if won]
    assert len(moved) == 1
    job = TRANSFORM_JOBS.find(storage, KEY)
    assert job is not None and job.status == moved[0] and job.failure_reason == f"moved to {moved[0]}"
    assert (job.transform_end is None) == (moved[0] == "Stopping")
    # from Stopping only Stopped; from a final state nothing
    assert TRANSFORM_JOBS.move(storage, KEY, "Stopped") == (moved[0] == "Stopping")
    assert not TRANSFORM_JOBS.move(storage, KEY, "Stopping")
