"""A training job as a PySpark application: ``spark-submit barrier.py <folder>/job.json``.

Its one stage is ``rdd.barrier().mapPartitions`` over N partitions, so Spark starts the N tasks at
once or not at all; task k is the instance ``algo-k``. Each learns the executors of the others from
``BarrierTaskContext.getTaskInfos()`` (``algo-k`` resolves to task k's executor address), algo-1's
picks the rendezvous port free on its machine and ``allGather`` tells it to the others; then it runs
the instance's program as the local runner does (cluster.instance_program, runs.run_program),
appending each line it prints to ``<host>.log`` and leaving its outcome in ``<host>.outcome.json``,
whole. Nimbus streams the logs to CloudWatch and decides the job's end from the outcomes; a ``halt``
file (a stop, a failed instance) makes every task stop its program. Tasks never raise for the
program's failure: a task that fails crashed, and the application fails with it.

Executors must see the data dir at the path Nimbus sees it (the jobs' folders and the objects their
channels bind) and run the same Nimbus install, with bubblewrap.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from nimbus.engines.learn.cluster import free_port, instance_program
from nimbus.engines.learn.runs import Outcome, Program, run_program
from nimbus.engines.learn.sandbox import Bind, Limits

DESCRIPTION = "job.json"
HALT = "halt"
POLL_S = 0.25


@dataclass(frozen=True)
class BarrierJob:
    """What the application needs, written by Nimbus as ``<folder>/job.json``: the instances'
    programs (algo-1 first) and the job's time limit; the tasks leave their logs and outcomes in
    ``folder``."""

    folder: Path
    programs: list[Program]
    limits: Limits  # what the instance type gets, and the line that says so, decided by Nimbus
    limits_line: str
    limit_s: float

    @property
    def hosts(self) -> list[str]:
        return [str(program.hostname) for program in self.programs]

    def save(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / DESCRIPTION
        fields = {
            "programs": [program_fields(p) for p in self.programs],
            "limits": dataclasses.asdict(self.limits),
            "limits_line": self.limits_line,
            "limit_s": self.limit_s,
        }
        path.write_text(json.dumps(fields))
        path.chmod(0o600)  # the instances' environment holds the role's credentials grant
        return path

    @classmethod
    def load(cls, path: Path) -> BarrierJob:
        fields = json.loads(path.read_text())
        programs = [program_of(p) for p in fields["programs"]]
        limits = Limits(**fields["limits"])
        return cls(path.parent, programs, limits, fields["limits_line"], fields["limit_s"])

    def log(self, host: str) -> Path:
        return self.folder / f"{host}.log"

    def outcome_file(self, host: str) -> Path:
        return self.folder / f"{host}.outcome.json"

    def outcome(self, host: str) -> Outcome | None:
        """What the instance's task left, or None while it runs."""
        path = self.outcome_file(host)
        if not path.exists():
            return None
        fields = json.loads(path.read_text())
        return Outcome(fields["code"], fields["tail"])

    def halt(self) -> None:
        (self.folder / HALT).touch()

    def halted(self) -> bool:
        return (self.folder / HALT).exists()


def run_instance_task(description: Path, _: Iterable[int]) -> Iterator[int]:
    """Barrier task: runs the instance of this partition to its end, a halt or the time limit."""
    from pyspark import BarrierTaskContext

    context = BarrierTaskContext.get()
    job = BarrierJob.load(description)
    index = context.partitionId()
    host = job.hosts[index]
    deadline = time.monotonic() + job.limit_s
    # algo-1 listens where the instances meet: on its own executor's machine
    ports = context.allGather(str(free_port() if index == 0 else 0))
    executors = [info.address.rsplit(":", 1)[0] for info in context.getTaskInfos()]
    addresses = {
        name: socket.gethostbyname(executor) for name, executor in zip(job.hosts, executors, strict=True)
    }
    program = instance_program(job.programs[index], addresses, int(ports[0]))
    _name_interface(program.root, addresses[host])
    halt = threading.Event()
    threading.Thread(target=_watch_halt, args=(job, halt), daemon=True).start()
    with open(job.log(host), "a", encoding="utf-8") as log:

        def write(lines: Sequence[tuple[int, str]]) -> None:
            log.write("".join(json.dumps(line) + "\n" for line in lines))
            log.flush()

        try:
            outcome = run_program(program, job.limits, job.limits_line, write, halt, deadline)
        finally:
            halt.set()
    _place(job.outcome_file(host), json.dumps({"code": outcome.code, "tail": outcome.tail}))
    yield index


def program_fields(program: Program) -> dict[str, Any]:
    """A sandboxed program as JSON, for a process that runs it elsewhere (a Spark task)."""
    assert program.container is None and program.entrypoint is None  # containers run here only
    fields = dataclasses.asdict(program)
    fields["root"] = str(program.root)
    fields["binds"] = [[str(bind.host), bind.target, bind.writable] for bind in program.binds]
    return fields


def program_of(fields: dict[str, Any]) -> Program:
    binds = [Bind(Path(host), target, writable) for host, target, writable in fields["binds"]]
    return Program(**{**fields, "root": Path(fields["root"]), "binds": binds})


def _name_interface(root: Path, address: str) -> None:
    """``network_interface_name`` in the instance's ``resourceconfig.json``: the interface of its
    executor's address on this machine (``GLOO_SOCKET_IFNAME`` / ``NCCL_SOCKET_IFNAME`` follow it)."""
    found = [
        name for name, items in psutil.net_if_addrs().items() if any(i.address == address for i in items)
    ]
    config = root / "input" / "config" / "resourceconfig.json"
    resources = json.loads(config.read_text())
    resources["network_interface_name"] = found[0] if found else resources["network_interface_name"]
    config.write_text(json.dumps(resources))


def _watch_halt(job: BarrierJob, halt: threading.Event) -> None:
    while not halt.wait(POLL_S):
        if job.halted():
            halt.set()


def _place(target: Path, text: str) -> None:
    """Writes ``target`` whole: Nimbus never reads a partial outcome."""
    staged = target.with_name(f".{uuid.uuid4().hex}")
    staged.write_text(text)
    os.replace(staged, target)


def main(description: Path) -> None:
    from pyspark import SparkContext

    count = len(BarrierJob.load(description).programs)
    context = SparkContext.getOrCreate()
    try:
        instances = context.parallelize(range(count), count).barrier()
        instances.mapPartitions(functools.partial(run_instance_task, description)).collect()
    finally:
        context.stop()


if __name__ == "__main__":
    # by its package name, so that Spark ships the tasks as references to this module rather than
    # as copies of __main__'s functions
    from nimbus.engines.learn.barrier import main as run

    run(Path(sys.argv[1]))
