"""The worker processes behind endpoints: one per instance, each serving the container contract
(``/ping``, ``/invocations``) on a loopback port in its own process tree.

The pool starts a variant's workers and waits until every one answers ``/ping``, restarts a worker
that died, and spreads requests over variants by weight and over a variant's instances in turn.
"""

from __future__ import annotations

import atexit
import dataclasses
import http.client
import itertools
import random
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nimbus.engines.containers.network import NamespaceConnection
from nimbus.engines.containers.run import (
    ContainerFailed,
    ContainerImage,
    ContainerProcess,
    ContainerRun,
    container_pid,
    pull,
    start_container,
    stop_container,
)
from nimbus.engines.containers.runtime import ContainerRuntime
from nimbus.engines.learn.sandbox import Bind, Limits, start_long_lived, stop_sandboxed

READY_TIMEOUT_S = 60.0
SERVING_PORT = 8080  # where a container's model server answers (SageMaker's contract)
SAFE_PORT_RANGE = "8081-8180"  # ports a container's model server may use for its own helpers
PING_INTERVAL_S = 0.05
FAILURE_TAIL = 800
TAIL_LINES = 20
DRAIN_TIMEOUT_S = 1.0

EndpointKey = tuple[str, str, str]  # account, region, endpoint name
# where a worker's output goes: (log stream name, [(time in ms, line)])
LogSink = Callable[[str, list[tuple[int, str]]], None]


class WorkerFailed(Exception):
    """A worker did not come up; the message says why (the end of its stderr)."""


@dataclass(frozen=True)
class VariantSpec:
    """What a variant's workers run: ``root`` stands for their ``/opt/ml`` (``model/``, and ``code/``
    for a script), ``framework`` names the script's framework (None: a built-in's model)."""

    name: str
    weight: float
    instance_count: int
    root: Path
    limits: Limits
    framework: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    log_sink: LogSink | None = None
    # the user's image, run with ``serve`` in a container (with no network when ``isolated``)
    container: ContainerImage | None = None
    runtime: ContainerRuntime | None = None
    isolated: bool = False

    def binds(self) -> list[Bind]:
        binds = [Bind(self.root / "model", "model")]
        return binds + ([Bind(self.root / "code", "code")] if (self.root / "code").is_dir() else [])


@dataclass
class Worker:
    spec: VariantSpec
    index: int
    port: int
    process: subprocess.Popen[bytes]
    output: threading.Thread = field(init=False)
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    # kept-alive connections to the worker that no request uses now (deque: thread-safe pop/append)
    idle: deque[http.client.HTTPConnection] = field(default_factory=deque)
    container_pid: int | None = None  # the container's first process (its network namespace)

    @property
    def stream(self) -> str:
        """The worker's log stream, named after its variant and instance as AWS's are."""
        return f"{self.spec.name}/instance-{self.index}"

    def log(self, line: str) -> None:
        self.tail.append(line)
        if self.spec.log_sink is not None:
            self.spec.log_sink(self.stream, [(int(time.time() * 1000), line)])

    def last_lines(self) -> str:
        self.output.join(DRAIN_TIMEOUT_S)  # the process ended: let its last lines arrive
        return "\n".join(self.tail).strip()[-FAILURE_TAIL:]

    @property
    def pid(self) -> int:
        return self.process.pid

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        """A connection to the model server: on its loopback port, or inside its container."""
        if not isinstance(self.process, ContainerProcess):
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        if self.container_pid is None:
            self.container_pid = container_pid(self.process)
            if self.container_pid is None:
                raise ConnectionRefusedError("the container is not running yet")
        return NamespaceConnection(self.container_pid, self.port, timeout)


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


def _launch(spec: VariantSpec, index: int) -> Worker:
    """One instance: the model server in its sandbox, sharing the host's network to listen on a
    loopback port; its own process tree, stopped as a group. Its output goes to the spec's log sink."""
    if spec.container is not None:
        process: subprocess.Popen[bytes] = _start_container(spec)
        port = SERVING_PORT
    else:
        port = _free_port()
        command = ["python", "-m", "nimbus.engines.learn.serving", "--port", str(port)]
        command += ["--framework", spec.framework] if spec.framework else []
        process = start_long_lived(
            command, spec.root, spec.binds(), spec.limits, environment=spec.environment, network=True
        )
    worker = Worker(spec, index, port, process)
    worker.output = threading.Thread(target=_relay, args=(worker,), name=f"worker-output-{port}", daemon=True)
    worker.output.start()
    return worker


def _start_container(spec: VariantSpec) -> ContainerProcess:
    """The image's ``serve`` in a container of its own network (none at all when isolated), told the
    port to answer on; Nimbus reaches it inside that network, so no port is published."""
    assert spec.container is not None and spec.runtime is not None
    environment = {
        **spec.environment,
        "SAGEMAKER_BIND_TO_PORT": str(SERVING_PORT),
        "SAGEMAKER_SAFE_PORT_RANGE": SAFE_PORT_RANGE,
    }
    network = "none" if spec.isolated else "bridge"
    run = ContainerRun(spec.container, ["serve"], spec.binds(), spec.limits, network, environment)
    try:
        pull(spec.runtime, spec.container)
        return start_container(spec.runtime, run)
    except ContainerFailed as error:
        raise WorkerFailed(str(error)) from None


def _relay(worker: Worker) -> None:
    assert worker.process.stdout is not None
    for raw in worker.process.stdout:
        worker.log(raw.decode("utf-8", errors="replace").rstrip("\n"))


def _pings(worker: Worker) -> bool:
    try:
        connection = worker.connection(timeout=2)
    except OSError:
        return False
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
            tail = worker.last_lines()
            raise WorkerFailed(tail or f"the model server exited with status {worker.process.returncode}")
        if _pings(worker):
            return
        time.sleep(PING_INTERVAL_S)
    _stop(worker)
    raise WorkerFailed(f"the model server did not answer /ping within {READY_TIMEOUT_S:.0f} seconds")


def _stop(worker: Worker) -> None:
    if isinstance(worker.process, ContainerProcess):
        stop_container(worker.process)
    else:
        stop_sandboxed(worker.process)


def start_variant(spec: VariantSpec) -> Variant:
    """Every instance of the variant, started and answering /ping; none left running on failure."""
    workers = [_launch(spec, index) for index in range(spec.instance_count)]
    try:
        for worker in workers:
            _wait_ready(worker)
    except WorkerFailed:
        for worker in workers:
            _stop(worker)
        raise
    return Variant(spec, workers)


def stop_variant(variant: Variant) -> None:
    for worker in variant.workers:
        _stop(worker)


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
            _stop_variants(started)
            raise
        with self._lock:
            old = self._endpoints.get(key, [])
            self._endpoints[key] = started
        _stop_variants(old)

    def resize(self, key: EndpointKey, name: str, weight: float, instance_count: int) -> None:
        """A variant's new weight and instance count: new instances serve (answer /ping) before the
        variant uses them; instances beyond the count stop after they leave it."""
        with self._lock:
            variant = _choose(self._endpoints.get(key) or [], name)
            have = len(variant.workers)
        added = [_launch(variant.spec, index) for index in range(have, instance_count)]
        try:
            for worker in added:
                _wait_ready(worker)
        except WorkerFailed:
            for worker in added:
                _stop(worker)
            raise
        with self._lock:
            variant.spec = dataclasses.replace(variant.spec, weight=weight, instance_count=instance_count)
            removed = variant.workers[instance_count:]
            variant.workers = variant.workers[:instance_count] + added
        for worker in removed:
            _stop(worker)

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

    def instance_count(self, key: EndpointKey, name: str) -> int:
        with self._lock:
            return len(_choose(self._endpoints.get(key) or [], name).workers)

    def variant_pids(self) -> dict[tuple[EndpointKey, str], list[int]]:
        """The process ids of every running variant's instances, by endpoint and variant name."""
        with self._lock:
            return {
                (key, variant.spec.name): [worker.pid for worker in variant.workers]
                for key, variants in self._endpoints.items()
                for variant in variants
            }

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
        dead.log(
            f"The model server of instance {index} exited with status {dead.process.returncode}; "
            "Nimbus started a new one."
        )
        fresh = _launch(dead.spec, index)
        _wait_ready(fresh)
        with self._lock:
            if index < len(variant.workers) and variant.workers[index] is dead:
                variant.workers[index] = fresh
                return fresh
        _stop(fresh)  # another request restarted it first
        return variant.workers[index % len(variant.workers)]


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
        stop_variant(variant)


def invoke(worker: Worker, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    """POST /invocations to the worker over one of its kept-alive connections; TimeoutError past
    ``timeout`` seconds, OSError when the worker does not answer."""
    try:
        connection = worker.idle.pop()
    except IndexError:
        connection = worker.connection(timeout)
        reused = False
    else:
        reused = True
    try:
        answer = _post(connection, body, headers, timeout)
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        connection.close()
        if not reused:
            raise
        # the worker closed a connection that waited idle: the request never reached it
        connection = worker.connection(timeout)
        answer = _post(connection, body, headers, timeout)
    except BaseException:
        connection.close()
        raise
    worker.idle.append(connection)
    return answer


def _post(
    connection: http.client.HTTPConnection, body: bytes, headers: dict[str, str], timeout: float
) -> Response:
    connection.timeout = timeout
    if connection.sock is not None:
        connection.sock.settimeout(timeout)
    connection.request("POST", "/invocations", body=body, headers=headers)
    answer = connection.getresponse()
    return Response(
        answer.status,
        answer.getheader("Content-Type") or "application/octet-stream",
        answer.getheader("X-Amzn-SageMaker-Custom-Attributes"),
        answer.read(),
    )


pool = WorkerPool()
atexit.register(pool.stop_all)
