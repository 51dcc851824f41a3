"""One measurement of a recommendation job: the model deployed as an endpoint whose worker has a
given number of cores (CPU affinity and the engine's threads) and GPUs, load-tested through the real
InvokeEndpoint path by the load generator process, the worker's CPU and memory sampled at each step.

Each step records two latencies of every request: the load generator's end-to-end latency, from the
request's intended send time (open-loop) to its answer, through the gateway; and AWS's ModelLatency,
the container's time as InvokeEndpoint sees it (model_latency.py).

A step "keeps up" when every request succeeded, the endpoint answered at least KEEP_UP of the rate
offered, no queue built up (the median end-to-end latency stayed within QUEUEING_FACTOR x the idle
endpoint's plus QUEUEING_MARGIN_MS), and the asked ModelLatency percentile stayed within the job's
ModelLatencyThresholds. The measured maximum is the best step that kept up.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import psutil

from nimbus.engines.learn.sandbox import Limits
from nimbus.services.sagemaker.recommendations import model_latency
from nimbus.services.sagemaker.recommendations.load_test import percentile
from nimbus.services.sagemaker.workers import EndpointKey, VariantSpec, WorkerFailed, pool

KEEP_UP = 0.95
QUEUEING_FACTOR = 4.0
QUEUEING_MARGIN_MS = 5.0
CALIBRATION_REQUESTS = 20
ANSWER_TIMEOUT_S = 120.0


class BenchmarkFailed(Exception):
    """The model could not be load-tested; the message says why, in the container's words."""


class Stopped(Exception):
    """The job was stopped while it measured."""


@dataclass(frozen=True)
class LoadSettings:
    """What a job's load tests send and when they stop."""

    payloads: list[str]  # base64
    content_type: str
    percentile: float  # the latency percentile asked (95 for "P95")
    latency_threshold_ms: float | None
    max_invocations: int | None  # per minute
    stop_when_flat: bool
    deadline: float  # time.monotonic() past which no new step starts


@dataclass
class Measurement:
    """The load tests of one core (and GPU) count."""

    cores: int
    gpus: int
    environment: dict[str, str]
    setup_us: int = 0
    idle_latency_ms: float = 0.0
    steps: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    started: float = 0.0  # wall-clock times of the first and last request
    ended: float = 0.0

    @property
    def throughput(self) -> float:
        """Invocations per second at the best step."""
        return self.best["achieved"] if self.best else 0.0


# the next steps of a measurement, given what it measured so far and the idle latency (None: done)
Plan = Callable[[Measurement, float], list[dict[str, float]] | None]


class LoadGenerator:
    """The load generator process: one JSON command in, one JSON answer out."""

    def __init__(self, environment: dict[str, str]) -> None:
        env = {**environment, "PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(sys.path)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nimbus.services.sagemaker.recommendations.load_test"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
            line = _read_line(self.process.stdout, ANSWER_TIMEOUT_S)
        except BrokenPipeError:
            line = ""
        if not line:
            self.close()
            error = self.process.stderr.read() if self.process.stderr else ""
            raise BenchmarkFailed(f"the load generator stopped: {error.strip()[-600:]}")
        return dict(json.loads(line))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def _read_line(stream: IO[str], timeout: float) -> str:
    answer: list[str] = []
    reader = threading.Thread(target=lambda: answer.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return answer[0] if answer else ""


def _tree_usage(pids: list[int]) -> tuple[float, int]:
    """CPU seconds used so far and resident memory now, of the workers' process trees."""
    seconds, rss = 0.0, 0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for process in [root, *root.children(recursive=True)]:
                times = process.cpu_times()
                seconds += times.user + times.system
                rss += process.memory_info().rss
        except psutil.Error:
            continue
    return seconds, rss


def keeps_up(step: dict[str, Any], settings: LoadSettings) -> bool:
    if step["errors"] or not step["ok"] or step["achieved"] < KEEP_UP * step["offered"]:
        return False
    if step["latency_p50"] > QUEUEING_FACTOR * step["idle_ms"] + QUEUEING_MARGIN_MS:
        return False
    threshold = settings.latency_threshold_ms
    return threshold is None or (step["model_latency_at"] or 0.0) <= threshold


def deploy(key: EndpointKey, spec: VariantSpec) -> int:
    """Starts the endpoint's worker; the microseconds until it answered /ping."""
    started = time.monotonic()
    try:
        pool.deploy(key, [spec])
    except WorkerFailed as error:
        raise BenchmarkFailed(f"the model server did not start: {error}") from None
    return int((time.monotonic() - started) * 1e6)


def measure(
    spec: VariantSpec,
    account_region: tuple[str, str],
    generator: LoadGenerator,
    setup: dict[str, Any],
    settings: LoadSettings,
    plan: Plan,
    stop: threading.Event,
) -> Measurement:
    """Deploys ``spec``, calibrates, then runs the steps ``plan`` gives: called with what was measured
    so far and the idle latency, it answers the next steps (None: done)."""
    name = f"nimbus-ir-{uuid.uuid4().hex[:12]}"
    key = (account_region[0], account_region[1], name)
    measurement = Measurement(spec.limits.cpus, spec.limits.gpus, dict(spec.environment))
    measurement.setup_us = deploy(key, spec)
    model_latency.watch(key)
    try:
        answer = generator.ask({"setup": {**setup, "endpoint": name}})
        if "error" in answer:
            raise BenchmarkFailed(f"the load generator could not start: {answer['error']}")
        measurement.started = time.time()
        calibration = generator.ask({"calibrate": CALIBRATION_REQUESTS})
        if calibration["errors"]:
            raise BenchmarkFailed(f"InvokeEndpoint failed: {calibration['first_error']}")
        measurement.idle_latency_ms = float(calibration["median_ms"])
        while (
            steps := plan(measurement, measurement.idle_latency_ms)
        ) and time.monotonic() < settings.deadline:
            for step in steps:
                if stop.is_set():
                    raise Stopped()
                quietest = min(
                    [measurement.idle_latency_ms] + [done["idle_ms"] for done in measurement.steps]
                )
                measurement.steps.append(_step(generator, key, step, settings, quietest))
        measurement.ended = time.time()
    finally:
        model_latency.forget(key)
        pool.stop(key)
    measurement.best = best_step(measurement.steps, settings)
    return measurement


def best_step(steps: list[dict[str, Any]], settings: LoadSettings) -> dict[str, Any] | None:
    """The step the job's figures come from: the fastest sustained step that kept up (a rate held for
    longer is the better evidence), else the fastest that kept up, else the fastest of all."""
    holding = [step for step in steps if keeps_up(step, settings)]
    held = [step for step in holding if step["sustained"]]
    return max(held or holding or steps, key=lambda step: step["achieved"], default=None)


def _step(
    generator: LoadGenerator, key: EndpointKey, step: dict[str, float], settings: LoadSettings, idle_ms: float
) -> dict[str, Any]:
    pids = pool.pids(key)
    cpu_before, _ = _tree_usage(pids)
    model_latency.take(key)  # what came before the step (calibration, an earlier step's stragglers)
    started = time.monotonic()
    answer = generator.ask({"step": step})
    elapsed = time.monotonic() - started
    cpu_after, rss = _tree_usage(pids)
    model_ms = sorted(seconds * 1000 for seconds in model_latency.take(key))
    latencies = answer.pop("latencies_ms")
    answer["sustained"] = bool(step.get("sustained"))
    # end to end: from each request's intended send time to its answer, at the load generator
    answer["latency_at"] = percentile(latencies, settings.percentile) if latencies else None
    answer["latency_p50"] = percentile(latencies, 50) if latencies else None
    answer["model_latency_at"] = percentile(model_ms, settings.percentile) if model_ms else None
    answer["model_latency_p50"] = percentile(model_ms, 50) if model_ms else None
    # the quietest median seen, calibration included: a busy moment during calibration must not
    # let a queue pass for normal
    answer["idle_ms"] = min(idle_ms, answer["latency_p50"] if answer["latency_p50"] is not None else idle_ms)
    answer["cpu_percent"] = 100 * (cpu_after - cpu_before) / max(elapsed, 1e-9)
    answer["rss_bytes"] = rss
    return answer


def variant(spec: VariantSpec, limits: Limits, environment: dict[str, str]) -> VariantSpec:
    """The job's model as a one-instance variant with ``limits`` and extra ``environment``."""
    return dataclasses.replace(
        spec, instance_count=1, limits=limits, environment=spec.environment | environment
    )
