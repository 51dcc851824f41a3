"""The worker processes behind endpoints: one per instance, each serving the container contract
(``/ping``, ``/invocations``) on a loopback port in its own process tree.

The pool starts a variant's workers and waits until every one answers ``/ping``, restarts a worker
that died, and spreads requests over variants by weight and over a variant's instances in turn.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 5.0
PING_INTERVAL_S = 0.05
FAILURE_TAIL = 800

EndpointKey = tuple[str, str, str]  # account, region, endpoint name


class WorkerFailed(Exception):
    """A worker did not come up; the message says why (the end of its stderr)."""


@dataclass(frozen=True)
class VariantSpec:
    name: str
    weight: float
    instance_count: int
    model_dir: Path


@dataclass
class Worker:
    model_dir: Path
    log_path: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class Response:
    status: int
    content_type: str
    custom_attributes: str | None
    body: bytes


@dataclass
class Variant:
    spec: VariantSpec
    workers: list[Worker]
    turn: itertools.count[int] = field(default_factory=itertools.count)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _launch(model_dir: Path, index: int) -> Worker:
    port = _free_port()
    log_path = model_dir.parent / f"{model_dir.name}-worker-{index}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nimbus.engines.learn.serving",
                "--model-dir",
                str(model_dir),
                "--port",
                str(port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(sys.path)},
            start_new_session=True,  # its own process tree, stopped as a group
        )
    return Worker(model_dir, log_path, port, process)


def _pings(worker: Worker) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", worker.port, timeout=2)
    try:
        connection.request("GET", "/ping")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _wait_ready(worker: Worker) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            tail = worker.log_path.read_text(errors="replace").strip()[-FAILURE_TAIL:]
            raise WorkerFailed(tail or f"the model server exited with status {worker.process.returncode}")
        if _pings(worker):
            return
        time.sleep(PING_INTERVAL_S)
    _stop(worker)
    raise WorkerFailed(f"the model server did not answer /ping within {READY_TIMEOUT_S:.0f} seconds")


def _stop(worker: Worker) -> None:
    if worker.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.process.pid, signal.SIGTERM)
        try:
            worker.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait()


def start_variant(spec: VariantSpec) -> Variant:
    """Every instance of the variant, started and answering /ping; none left running on failure."""
    workers = [_launch(spec.model_dir, index) for index in range(spec.instance_count)]
    try:
        for worker in workers:
            _wait_ready(worker)
    except WorkerFailed:
        for worker in workers:
            _stop(worker)
        raise
    return Variant(spec, workers)


class WorkerPool:
    """The running endpoints of this Nimbus process and their workers."""

    def __init__(self) -> None:
        self._endpoints: dict[EndpointKey, list[Variant]] = {}
        self._lock = threading.Lock()

    def deploy(self, key: EndpointKey, specs: list[VariantSpec]) -> None:
        """Starts the new variants; once all serve, they replace the endpoint's old ones, which stop."""
        started: list[Variant] = []
        try:
            for spec in specs:
                started.append(start_variant(spec))
        except WorkerFailed:
            for variant in started:
                for worker in variant.workers:
                    _stop(worker)
            raise
        with self._lock:
            old = self._endpoints.get(key, [])
            self._endpoints[key] = started
        _stop_variants(old)

    def stop(self, key: EndpointKey) -> None:
        with self._lock:
            old = self._endpoints.pop(key, [])
        _stop_variants(old)

    def stop_all(self) -> None:
        with self._lock:
            running, self._endpoints = list(self._endpoints.values()), {}
        for variants in running:
            _stop_variants(variants)

    def serves(self, key: EndpointKey) -> bool:
        with self._lock:
            return key in self._endpoints

    def pids(self, key: EndpointKey) -> list[int]:
        with self._lock:
            return [worker.pid for variant in self._endpoints.get(key, []) for worker in variant.workers]

    def pick(self, key: EndpointKey, variant_name: str | None) -> tuple[str, Worker]:
        """A live worker: of the named variant, else of a variant drawn by weight. LookupError if
        the endpoint or the variant is not served here."""
        with self._lock:
            variants = self._endpoints.get(key)
            if not variants:
                raise LookupError(key)
            variant = _choose(variants, variant_name)
            index = next(variant.turn) % len(variant.workers)
            worker = variant.workers[index]
        if worker.process.poll() is not None:
            worker = self._restart(variant, index, worker)
        return variant.spec.name, worker

    def _restart(self, variant: Variant, index: int, dead: Worker) -> Worker:
        fresh = _launch(dead.model_dir, index)
        _wait_ready(fresh)
        with self._lock:
            if variant.workers[index] is dead:
                variant.workers[index] = fresh
                return fresh
        _stop(fresh)  # another request restarted it first
        return variant.workers[index]


def _choose(variants: list[Variant], name: str | None) -> Variant:
    if name is not None:
        for variant in variants:
            if variant.spec.name == name:
                return variant
        raise LookupError(name)
    weights = [variant.spec.weight for variant in variants]
    if sum(weights) <= 0:
        weights = [1.0] * len(variants)
    return random.choices(variants, weights)[0]


def _stop_variants(variants: list[Variant]) -> None:
    for variant in variants:
        for worker in variant.workers:
            _stop(worker)


def invoke(worker: Worker, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    """POST /invocations to the worker; TimeoutError past ``timeout`` seconds."""
    connection = http.client.HTTPConnection("127.0.0.1", worker.port, timeout=timeout)
    try:
        connection.request("POST", "/invocations", body=body, headers=headers)
        answer = connection.getresponse()
        return Response(
            answer.status,
            answer.getheader("Content-Type") or "application/octet-stream",
            answer.getheader("X-Amzn-SageMaker-Custom-Attributes"),
            answer.read(),
        )
    finally:
        connection.close()


pool = WorkerPool()
atexit.register(pool.stop_all)
