"""A transform job run as one spark-submit (client mode) against the configured Spark master: the
job's model is extracted into its folder, a description of the job written beside it, and
spark_job.py transforms the objects on the cluster's executors. While it runs, Nimbus writes each
``.out`` that appears through S3 and logs each object that failed; StopTransformJob stops the
spark-submit's process group (the driver, and with it the application's executors).

Executors must see the data dir at the same path as Nimbus (a shared mount): they read the input
objects and the model, and write the outputs, in place.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import nimbus
from nimbus.engines.spark.processes import stop_process_group
from nimbus.engines.spark.runtime import SparkUnavailable, check_runtime
from nimbus.engines.spark.submit import driver_failure, start_submit, submit_command
from nimbus.services.sagemaker.s3_locations import JobFailure
from nimbus.services.sagemaker.transform import spark_job
from nimbus.services.sagemaker.transform.inputs import input_objects
from nimbus.services.sagemaker.transform.job_io import JobLog, job_model, log_lines, upload_output
from nimbus.services.sagemaker.transform.job_rows import JobKey, find_job
from nimbus.services.sagemaker.transform.outcomes import ALGORITHM_ERROR, Invocation, settings_line
from nimbus.services.sagemaker.transform.plan import Plan
from nimbus.storage import Storage

POLL_S = 0.25
DRIVER_LOG_LINES = 2000  # the end of the driver's output that goes to the job's log stream


class SparkTransform:
    """One job's spark-submit, and the results it has left that Nimbus has taken."""

    def __init__(self, storage: Storage, key: JobKey, caller_arn: str, job: spark_job.SparkJob) -> None:
        self.storage, self.key, self.caller_arn, self.job = storage, key, caller_arn, job
        self.log = JobLog(storage, key, self.stream)
        self.taken: set[int] = set()
        self.failures: list[str] = []  # FailureReasons in the order they were seen: the first is the cause

    @property
    def stream(self) -> str:
        return f"{self.key[2]}/spark"

    def run(self, master: str, stop: threading.Event) -> str:
        """Completed or Stopped; JobFailure when an object or the Spark job failed."""
        conf = {
            "spark.app.name": f"sagemaker-transform-{self.key[2]}",
            "spark.ui.enabled": "false",
            # tasks never raise for an object that fails: one that fails crashed, and the job fails
            "spark.task.maxFailures": "1",
            # one task per object: more cores than objects would stay idle, kept from other applications
            "spark.cores.max": str(len(self.job.objects)),
            # executors' Python imports Nimbus from where this one does (a shared mount on a cluster)
            "spark.executorEnv.PYTHONPATH": str(Path(nimbus.__file__).parent.parent),
        }
        command = submit_command(master, [spark_job.__file__, str(self.job.save())], conf)
        process = start_submit(command, self.job.folder / "driver", loopback=False)
        try:
            while process.poll() is None and not stop.wait(POLL_S):
                self._take_results()
        finally:
            stop_process_group(process)
            self._log_driver()
        if stop.is_set():
            return "Stopped"
        self._take_results()
        if self.failures:
            raise JobFailure(self.failures[0])
        if process.returncode != 0:
            failure = driver_failure(self.job.folder / "driver" / "stderr", process.returncode)
            raise JobFailure(f"AlgorithmError: {failure}"[:1024])
        missing = [item.location for index, item in enumerate(self.job.objects) if index not in self.taken]
        if missing:  # executors that wrote to a folder of their own at the job folder's path
            where = f"in {self.job.folder}: do the Spark executors see the data dir at this path?"
            self.log.data([f"{location}: the Spark job left no output {where}" for location in missing])
            raise JobFailure(ALGORITHM_ERROR)
        return "Completed"

    def _take_results(self) -> None:
        """Writes the outputs that appeared through S3 and logs the failures that appeared, once each."""
        for index, result in self.job.results():
            if index in self.taken:
                continue
            self.taken.add(index)
            item = self.job.objects[index]
            if result == self.job.output(index):
                try:
                    with open(result, "rb") as body:
                        upload_output(
                            self.storage, self.key, self.caller_arn, self.job.request, item.relative, body
                        )
                except JobFailure as error:
                    self.failures.append(str(error))
            else:
                failed = json.loads(result.read_text())
                self.log.data([f"{item.location}: {line}" for line in failed["lines"]])
                self.failures.append(failed["reason"])

    def _log_driver(self) -> None:
        folder = self.job.folder / "driver"
        lines = [
            line
            for name in ("stdout", "stderr")
            if (folder / name).exists()
            for line in (folder / name).read_text(errors="replace").splitlines()
        ][-DRIVER_LOG_LINES:]
        now = int(time.time() * 1000)
        log_lines(self.storage, self.key, self.stream, [(now, line) for line in lines])


def run_spark_job(storage: Storage, key: JobKey, folder: Path, stop: threading.Event, master: str) -> str:
    """Runs the job on the Spark master to its end; its final status (Completed or Stopped), or
    JobFailure. Instance count and type place nothing: the cluster's executors are the instances."""
    job = find_job(storage, key)
    assert job is not None
    request: dict[str, Any] = job.request
    plan = Plan.of(request)
    items = input_objects(storage, key, request)
    try:
        check_runtime()
    except SparkUnavailable as error:
        raise JobFailure(f"InternalServerError: Nimbus cannot run the job on Spark: {error}") from None
    spec = job_model(storage, key, request, folder)
    if spec.container is not None:
        raise JobFailure(
            "ClientError: the model's image runs in a container, which Spark tasks do not start: "
            "run this transform job on a Nimbus without NIMBUS_SPARK_MASTER."
        )
    if stop.is_set():
        return "Stopped"
    transform = SparkTransform(
        storage,
        key,
        job.caller_arn,
        spark_job.SparkJob(folder, request, spec.framework, spec.environment, items),
    )
    transform.log.data([settings_line(plan, Invocation.of(request))])
    return transform.run(master, stop)
