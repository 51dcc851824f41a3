"""One sandboxed program run to its end, a stop or its time limit, each line it prints going to a
CloudWatch Logs stream: what a training job, each instance of a processing job and a notebook's
lifecycle scripts share. The stream starts with the line that says what the instance type gets on
this machine."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nimbus.engines.containers.run import (
    ContainerFailed,
    ContainerImage,
    ContainerProcess,
    ContainerRun,
    pull,
    start_container,
    stop_container,
)
from nimbus.engines.learn.sandbox import Bind, Limits, start_sandboxed, stop_sandboxed
from nimbus.services.logs.records import append_events
from nimbus.services.sagemaker.containers import container_runtime
from nimbus.services.sagemaker.instances import describe_limits, instance_limits
from nimbus.services.sagemaker.s3_locations import JobFailure
from nimbus.storage import Storage

POLL_S = 0.25
TAIL_LINES = 5


@dataclass(frozen=True)
class LogStream:
    account_id: str
    region: str
    group: str
    name: str

    def append(self, storage: Storage, lines: Sequence[tuple[int, str]]) -> None:
        append_events(storage, self.account_id, self.region, self.group, self.name, lines)

    def say(self, storage: Storage, line: str) -> None:
        self.append(storage, [(int(time.time() * 1000), line)])


@dataclass(frozen=True)
class Program:
    """What runs in the sandbox: ``root`` is the host folder standing for ``/opt/ml``."""

    command: Sequence[str]
    root: Path
    binds: Sequence[Bind]
    instance_type: str
    environment: Mapping[str, str] = field(default_factory=dict)
    network: bool = False
    home: str = "/tmp"
    # the user's image: the command is its arguments (``train``), run in a container with the binds
    container: ContainerImage | None = None
    entrypoint: Sequence[str] | None = None  # replaces the image's own
    hostname: str | None = None


@dataclass(frozen=True)
class Outcome:
    code: int | str  # the exit code, or "Stopped" / "MaxRuntimeExceeded"
    tail: list[str]  # its last lines, for a failure reason


def run_logged(
    storage: Storage,
    program: Program,
    stream: LogStream,
    stop: threading.Event,
    deadline: float,
    on_line: Callable[[str], None] | None = None,
) -> Outcome:
    """Runs ``program`` until it exits, ``stop`` is set or ``deadline`` (monotonic) passes, killing
    its whole tree in the last two cases. ``on_line`` sees every line it prints, in order."""
    limits = instance_limits(program.instance_type)
    stream.say(storage, describe_limits(program.instance_type, limits))
    process = _start(storage, program, limits, stream)
    lines: list[tuple[int, str]] = []
    lock = threading.Lock()
    reader = threading.Thread(target=_read_lines, args=(process, lines, lock), daemon=True)
    reader.start()
    code: int | str | None = None
    tail: list[str] = []
    while code is None or reader.is_alive():
        time.sleep(POLL_S)
        with lock:
            batch, lines[:] = list(lines), []
        stream.append(storage, batch)
        for _, message in batch:
            if on_line is not None:
                on_line(message)
        tail = (tail + [message for _, message in batch])[-TAIL_LINES:]
        if code is None:
            code = _outcome(process, stop, deadline)
    return Outcome(code, tail)


def _start(storage: Storage, program: Program, limits: Limits, stream: LogStream) -> subprocess.Popen[bytes]:
    """The program in its sandbox, or its image in a container (pulled first)."""
    if program.container is None:
        return start_sandboxed(
            program.command,
            program.root,
            program.binds,
            limits,
            environment=program.environment,
            network=program.network,
            die_with_thread=True,
            home=program.home,
            hostname=program.hostname,
        )
    runtime = container_runtime(storage)
    if runtime is None:
        raise JobFailure("ClientError: no container runtime is installed any more to run the image")
    stream.say(storage, f"Pulling {program.container.reference.split('@')[0]}")
    run = ContainerRun(
        program.container,
        program.command,
        program.binds,
        limits,
        "host" if program.network else "none",
        program.environment,
        program.entrypoint,
        program.hostname,
        staging=program.root.parent / f"{program.root.name}-staged",
    )
    try:
        pull(runtime, program.container)
        return start_container(runtime, run)
    except ContainerFailed as error:
        raise JobFailure(f"ClientError: {error}") from None


def stop_program(process: subprocess.Popen[bytes]) -> None:
    """Ends a sandbox's whole process tree, or a container."""
    if isinstance(process, ContainerProcess):
        stop_container(process)
    else:
        stop_sandboxed(process)


def _outcome(process: subprocess.Popen[bytes], stop: threading.Event, deadline: float) -> int | str | None:
    """The exit code once the process ended; kills the whole tree when stopped or out of time."""
    code = process.poll()
    if code is not None:
        return code
    reason = "Stopped" if stop.is_set() else "MaxRuntimeExceeded" if time.monotonic() > deadline else None
    if reason is not None:
        stop_program(process)
    return reason


def _read_lines(process: subprocess.Popen[bytes], lines: list[tuple[int, str]], lock: threading.Lock) -> None:
    assert process.stdout is not None
    for raw in process.stdout:
        with lock:
            lines.append((int(time.time() * 1000), raw.decode("utf-8", errors="replace").rstrip("\n")))
