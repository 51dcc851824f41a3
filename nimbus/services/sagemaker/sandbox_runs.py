"""One program run to its end, a stop or its time limit (engines/learn/runs.py), each line it prints
going to a CloudWatch Logs stream: what a training job, each instance of a processing job and a
notebook's lifecycle scripts share. The stream starts with the line that says what the instance type
gets on this machine; a user's image runs in a container."""

from __future__ import annotations

import functools
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nimbus.engines.containers.run import ContainerFailed, ContainerRun, pull, start_container
from nimbus.engines.learn.runs import Outcome, Program, run_program, start_program
from nimbus.engines.learn.sandbox import Limits
from nimbus.services.logs.records import append_events
from nimbus.services.sagemaker.containers import container_runtime
from nimbus.services.sagemaker.instances import describe_limits, instance_limits
from nimbus.services.sagemaker.s3_locations import JobFailure
from nimbus.storage import Storage


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


def run_logged(
    storage: Storage,
    program: Program,
    stream: LogStream,
    stop: threading.Event,
    deadline: float,
    on_line: Callable[[str], None] | None = None,
) -> Outcome:
    """Runs ``program`` (in its sandbox, or its image in a container) until it exits, ``stop`` is set
    or ``deadline`` (monotonic) passes, its lines going to ``stream``; see run_program."""

    def start(limits: Limits) -> subprocess.Popen[bytes]:
        return _start(storage, program, limits, stream)

    limits = instance_limits(program.instance_type)
    line = describe_limits(program.instance_type, limits)
    write = functools.partial(stream.append, storage)
    return run_program(program, limits, line, write, stop, deadline, on_line, start)


def _start(storage: Storage, program: Program, limits: Limits, stream: LogStream) -> subprocess.Popen[bytes]:
    """The program in its sandbox, or its image in a container (pulled first)."""
    if program.container is None:
        return start_program(program, limits)
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
