"""One program run to its end, a stop or its time limit, each line it prints written out as it
prints it: a training instance, a processing job's instance, a notebook's lifecycle script. It runs
in its sandbox (sandbox.py) or, given a start, in a container. No AWS here: where the lines go (a
CloudWatch Logs stream, a file a Spark task leaves) is the caller's."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nimbus.engines.containers.run import ContainerImage, ContainerProcess, stop_container
from nimbus.engines.learn.sandbox import Bind, Limits, start_sandboxed, stop_sandboxed

POLL_S = 0.25
TAIL_LINES = 5


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


# writes a batch of (epoch milliseconds, line) where the program's output goes
Write = Callable[[Sequence[tuple[int, str]]], None]


def run_program(
    program: Program,
    limits: Limits,
    limits_line: str,
    write: Write,
    stop: threading.Event,
    deadline: float,
    on_line: Callable[[str], None] | None = None,
    start: Callable[[Limits], subprocess.Popen[bytes]] | None = None,
) -> Outcome:
    """Runs ``program`` until it exits, ``stop`` is set or ``deadline`` (monotonic) passes, killing
    its whole tree in the last two cases; ``write`` gets ``limits_line`` (what the instance type gets:
    ``limits``), then every line it prints, in order, as ``on_line`` does. ``start`` starts it (by default in
    its sandbox: what a process without Nimbus's database, a Spark task, can start)."""
    write([(int(time.time() * 1000), limits_line)])
    process = start(limits) if start is not None else start_program(program, limits)
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
        write(batch)
        for _, message in batch:
            if on_line is not None:
                on_line(message)
        tail = (tail + [message for _, message in batch])[-TAIL_LINES:]
        if code is None:
            code = _outcome(process, stop, deadline)
    return Outcome(code, tail)


def start_program(program: Program, limits: Limits) -> subprocess.Popen[bytes]:
    """The program in its sandbox, tied to the calling thread (it dies with it)."""
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
