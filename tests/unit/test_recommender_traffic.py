"""A Default job's search for the highest rate an endpoint sustains, driven against endpoints whose
capacity is known: the rate it reports lies within the search's resolution below that capacity,
whatever the capacity, so MaxInvocations is not quantised in coarse steps."""

from __future__ import annotations

import time
from typing import Any

import pytest

from nimbus.services.sagemaker.recommendations.benchmark import LoadSettings, Measurement, best_step
from nimbus.services.sagemaker.recommendations.traffic import RESOLUTION, SUSTAIN_TRIES, traffic_plan

IDLE_MS = 4.0


def _settings() -> LoadSettings:
    return LoadSettings([], "text/csv", 95.0, None, None, True, time.monotonic() + 600)


def _answer(step: dict[str, float], capacity: float, short_capacity: float) -> dict[str, Any]:
    """What an endpoint that answers up to ``capacity`` per second for good (``short_capacity`` for a
    few seconds) does at ``step``: above it, a queue builds and the median latency grows."""
    limit = capacity if step.get("sustained") else short_capacity
    rate = step["rate"]
    achieved = min(rate, limit)
    p50 = IDLE_MS if rate <= limit else IDLE_MS * 50
    return {
        "offered": rate,
        "achieved": achieved,
        "ok": int(achieved * step["duration"]),
        "errors": 0,
        "latency_p50": p50,
        "latency_at": p50 * 2,
        "model_latency_p50": 1.0,
        "model_latency_at": 2.0,
        "idle_ms": IDLE_MS,
        "sustained": bool(step.get("sustained")),
    }


def _search(capacity: float, short_capacity: float) -> Measurement:
    settings = _settings()
    plan = traffic_plan(None, settings)
    measurement = Measurement(cores=2, gpus=0, environment={})
    while steps := plan(measurement, IDLE_MS):
        measurement.steps.extend(_answer(step, capacity, short_capacity) for step in steps)
    measurement.best = best_step(measurement.steps, settings)
    return measurement


@pytest.mark.parametrize("capacity", [137.0, 263.0, 301.0, 520.0, 1111.0])
# short steps can pass above what is sustained, or fail below it in a busy moment
@pytest.mark.parametrize("short_burst", [0.75, 1.0, 1.12])
def test_the_sustained_rate_is_found_within_the_resolution(capacity: float, short_burst: float) -> None:
    measurement = _search(capacity, capacity * short_burst)
    assert measurement.best is not None and measurement.best["sustained"]
    assert capacity / RESOLUTION <= measurement.best["achieved"] <= capacity
    assert sum(step["sustained"] for step in measurement.steps) <= SUSTAIN_TRIES


def test_a_first_step_that_does_not_keep_up_searches_lower() -> None:
    slow = 1000.0 / IDLE_MS / 5  # below half the idle rate, where the search starts
    measurement = _search(slow, slow)
    assert measurement.best is not None and measurement.best["sustained"]
    assert slow / RESOLUTION <= measurement.best["achieved"] <= slow
