"""A training job's instances as the barrier tasks of one Spark application on the configured master
(NIMBUS_SPARK_MASTER): one spark-submit (client mode) of engines/learn/barrier.py. While it runs, Nimbus
streams what each instance prints to its CloudWatch Logs stream and reads the outcomes the tasks
leave; a stop, the first failed instance or the time limit halts every instance, then the driver's
process group is stopped, which ends the application and its executors' tasks.

Executors must see the data dir at the same path as Nimbus (a shared mount) and run the same Nimbus
install with bubblewrap: the tasks run the instances' sandboxes there, bound from the job's folder
and the channels' object files in place.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import nimbus
from nimbus.engines.learn import barrier
from nimbus.engines.learn.barrier import BarrierJob
from nimbus.engines.learn.runs import Outcome, Program, Write
from nimbus.engines.spark.processes import stop_process_group
from nimbus.engines.spark.runtime import SparkUnavailable, check_runtime
from nimbus.engines.spark.submit import driver_failure, start_submit, submit_command
from nimbus.services.sagemaker.instances import describe_limits, instance_limits
from nimbus.services.sagemaker.s3_locations import JobFailure

POLL_S = 0.25
HALT_GRACE_S = 10.0  # how long halted tasks get to stop their programs before the driver is stopped
# the longest that executors may take to register with the driver before the stage waits no longer
REGISTRATION_WAIT = "120s"


@dataclass
class _Tail:
    """The new complete lines of a task's log file."""

    path: Path
    offset: int = 0

    def lines(self) -> list[tuple[int, str]]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            data = log.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        return [(int(stamp), str(message)) for stamp, message in map(json.loads, complete.splitlines())]


def train_on_spark(
    master: str,
    name: str,
    folder: Path,
    instances: Sequence[tuple[Program, Write]],
    stop: threading.Event,
    limit_s: float,
    on_line: Callable[[str], None],
) -> tuple[dict[str, Outcome], list[str]]:
    """Runs the instances (each program with where its lines go; algo-1's lines also go to
    ``on_line``) as one Spark application; returns each instance's outcome and the failed instances,
    first failure first. JobFailure when Spark cannot run here or the application ended without an
    instance's outcome."""
    try:
        check_runtime()
    except SparkUnavailable as error:
        raise JobFailure(f"InternalServerError: Nimbus cannot run the job on Spark: {error}") from None
    programs = [program for program, _ in instances]
    limits = instance_limits(programs[0].instance_type)  # this machine's figures: see docs/sagemaker.md
    line = describe_limits(programs[0].instance_type, limits)
    job = BarrierJob(folder, programs, limits, line, limit_s)
    conf = {
        "spark.app.name": f"sagemaker-training-{name}",
        "spark.ui.enabled": "false",
        "spark.task.maxFailures": "1",  # a task that fails crashed: no second attempt
        "spark.stage.maxConsecutiveAttempts": "1",  # nor of the barrier stage
        "spark.cores.max": str(len(instances)),  # one core per instance: the rest stay others'
        # the barrier stage needs every instance's slot at once: wait for the executors first
        "spark.scheduler.minRegisteredResourcesRatio": "1.0",
        "spark.scheduler.maxRegisteredResourcesWaitingTime": REGISTRATION_WAIT,
        # a cluster with fewer free cores than instances fails the job after 4 checks, 15 s apart
        "spark.scheduler.barrier.maxConcurrentTasksCheck.maxFailures": "4",
        # executors' Python imports Nimbus from where this one does (the same install on every host)
        "spark.executorEnv.PYTHONPATH": str(Path(nimbus.__file__).parent.parent),
    }
    command = submit_command(master, [barrier.__file__, str(job.save())], conf)
    process = start_submit(command, folder / "driver", loopback=False)
    tails = {
        host: (_Tail(job.log(host)), write) for host, (_, write) in zip(job.hosts, instances, strict=True)
    }
    outcomes: dict[str, Outcome] = {}
    failed: list[str] = []
    deadline = time.monotonic() + limit_s
    halted = False
    ending_since: float | None = None  # every instance has ended, or was halted: the driver should end

    def follow() -> None:
        for host, (tail, write) in tails.items():
            lines = tail.lines()
            write(lines)
            for _, line in lines if host == job.hosts[0] else []:
                on_line(line)
            outcome = None if host in outcomes else job.outcome(host)
            if outcome is not None:
                outcomes[host] = outcome
                if outcome.code not in (0, "Stopped"):
                    failed.append(host)

    try:
        while process.poll() is None:
            time.sleep(POLL_S)
            follow()
            if not halted and (stop.is_set() or failed or time.monotonic() > deadline):
                job.halt()
                halted = True
            if ending_since is None and (halted or len(outcomes) == len(instances)):
                ending_since = time.monotonic()
            if ending_since is not None and time.monotonic() > ending_since + HALT_GRACE_S:
                break
    finally:
        stop_process_group(process)
    follow()
    missing = [host for host in job.hosts if host not in outcomes]
    if missing and not halted:
        reason = driver_failure(folder / "driver" / "stderr", process.returncode or 0)
        raise JobFailure(f"AlgorithmError: the Spark application ended without {missing[0]}: {reason}"[:1024])
    if halted:  # by a stop, another's failure, or the time limit (measured here, from the submit)
        cause = "Stopped" if stop.is_set() or failed else "MaxRuntimeExceeded"
        for host in job.hosts:
            outcome = outcomes.get(host, Outcome("Stopped", []))
            outcomes[host] = Outcome(cause, outcome.tail) if outcome.code == "Stopped" else outcome
    return outcomes, failed
