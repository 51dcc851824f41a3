"""The durable transform runner: job state lives in the database; a thread of the server process runs
each job. It starts one worker process per instance (the model's serving container), spreads the
input objects over the instances, sends each instance's requests MaxConcurrentTransforms at a time
and writes each object's ``.out`` once all its records are transformed: never a partial one.

With a Spark master configured (``NIMBUS_SPARK_MASTER``) a job runs as a Spark job instead
(spark_runner.py), with the same outcome.

The runner starts with the first transform request a Nimbus process serves, and first fails the jobs
an earlier process left running.
"""

from __future__ import annotations

import dataclasses
import io
import queue
import shutil
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nimbus.config import Settings
from nimbus.services.job_runners import RunnerPerStorage
from nimbus.services.leases import LeasedStops
from nimbus.services.sagemaker import workers
from nimbus.services.sagemaker.s3_locations import JobFailure
from nimbus.services.sagemaker.transform.batching import Batch
from nimbus.services.sagemaker.transform.inputs import InputObject, input_objects, read_input
from nimbus.services.sagemaker.transform.job_io import JobLog, job_model, log_lines, upload_output
from nimbus.services.sagemaker.transform.job_rows import (
    TRANSFORM_JOBS,
    JobKey,
    fail_interrupted_jobs,
    find_job,
    move,
)
from nimbus.services.sagemaker.transform.outcomes import (
    Answer,
    Cancelled,
    Invocation,
    ObjectFailed,
    invoke_with_retries,
    object_batches,
    object_output,
    settings_line,
)
from nimbus.services.sagemaker.transform.plan import Plan, Response
from nimbus.services.sagemaker.transform.spark_runner import run_spark_job
from nimbus.storage import Storage

POLL_S = 0.1


@dataclass
class Submitted:
    """An object whose requests are queued: its records, requests and their responses to come."""

    item: InputObject
    records: list[bytes]
    batches: list[Batch]
    responses: list[Future[Response]]
    failures: list[ObjectFailed]  # in the order they happened: the first is the cause


class TransformRunner:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._stops = LeasedStops(storage, TRANSFORM_JOBS.lease_kind)  # stops asked on any node reach it

    def submit(self, key: JobKey) -> None:
        self._stops.start(key)
        threading.Thread(target=self._run, args=(key,), name=f"transform-{key[2]}", daemon=True).start()

    def stop(self, key: JobKey) -> None:
        self._stops.stop(key)

    def _run(self, key: JobKey) -> None:
        folder = self.storage.data_dir.joinpath("sagemaker", "transform", *key)
        master = Settings().spark_master
        try:
            if master:
                outcome = run_spark_job(self.storage, key, folder, self._stops[key], master)
            else:
                outcome = run_job(self.storage, key, folder, self._stops[key])
            move(self.storage, key, outcome)
        except JobFailure as failure:
            move(self.storage, key, "Failed", failure_reason=str(failure)[:1024])
        except Exception as error:  # a bug in Nimbus must still end the job, never leave it running
            move(self.storage, key, "Failed", failure_reason=f"InternalServerError: {error!r}"[:1024])
        finally:
            move(self.storage, key, "Stopped")  # a job stopped while it failed or completed
            self._stops.finish(key)
            shutil.rmtree(folder, ignore_errors=True)


def run_job(storage: Storage, key: JobKey, folder: Path, stop: threading.Event) -> str:
    """Runs the job to its end; returns its final status (Completed or Stopped), or raises JobFailure."""
    job = find_job(storage, key)
    assert job is not None
    request: dict[str, Any] = job.request
    plan = Plan.of(request)
    items = input_objects(storage, key, request)

    def sink(stream: str, lines: list[tuple[int, str]]) -> None:
        log_lines(storage, key, stream, lines)

    spec = job_model(storage, key, request, folder)
    try:
        variant = workers.start_variant(dataclasses.replace(spec, log_sink=sink))
    except workers.WorkerFailed as error:
        raise JobFailure(f"ClientError: {error}") from None
    if stop.is_set():
        workers.stop_variant(variant)
        return "Stopped"
    transform = ObjectTransform(storage, key, job.caller_arn, request, plan, stop)
    try:
        transform.run(items, variant, [JobLog(storage, key, worker.stream) for worker in variant.workers])
    finally:
        workers.stop_variant(variant)
    if stop.is_set():
        return "Stopped"
    if transform.failure is not None:
        raise JobFailure(str(transform.failure))
    return "Completed"


class ObjectTransform:
    """The objects of one job, taken in turn by its instances."""

    def __init__(
        self,
        storage: Storage,
        key: JobKey,
        caller_arn: str,
        request: dict[str, Any],
        plan: Plan,
        stop: threading.Event,
    ) -> None:
        self.storage, self.key, self.request, self.plan, self.stop = storage, key, request, plan, stop
        self.caller_arn = caller_arn
        self.invocation = Invocation.of(request)
        self.failure: ObjectFailed | None = None
        self._failure_lock = threading.Lock()
        self._pending: queue.SimpleQueue[InputObject] = queue.SimpleQueue()

    def run(self, items: list[InputObject], variant: workers.Variant, logs: list[JobLog]) -> None:
        for item in items:
            self._pending.put(item)
        threads = [
            threading.Thread(target=self._instance, args=(worker, log, len(variant.workers)), daemon=True)
            for worker, log in zip(variant.workers, logs, strict=True)
        ]
        for log in logs:
            log.data([settings_line(self.plan, self.invocation)])
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(POLL_S)
                if self.stop.is_set():  # requests in flight end now, not at their timeout
                    workers.stop_variant(variant)

    def _instance(self, worker: workers.Worker, log: JobLog, instances: int) -> None:
        """Takes objects until none is left, sending the next object's requests while the current
        one's finish (so the worker never waits on reading or writing objects) when there are
        objects enough for every instance. An object that fails is logged and the job goes on with
        the others (their outputs are still written), as AWS does."""
        with ThreadPoolExecutor(self.invocation.concurrency, thread_name_prefix="transform-request") as pool:
            ahead: deque[Submitted] = deque()
            while not self.stop.is_set():
                item = self._next() if not ahead or self._pending.qsize() >= instances else None
                if item is not None:
                    self._step(item, log, lambda item=item: ahead.append(self._submit(item, worker, pool)))
                elif ahead:
                    sent = ahead.popleft()
                    self._step(sent.item, log, lambda sent=sent: self._upload(sent.item, self._finish(sent)))
                else:
                    return

    def _next(self) -> InputObject | None:
        try:
            return self._pending.get_nowait()
        except queue.Empty:
            return None

    def _step(self, item: InputObject, log: JobLog, step: Callable[[], None]) -> None:
        """Runs one step of an object's transform; a failure is the object's, logged, not the loop's."""
        try:
            step()
        except Cancelled:
            return
        except ObjectFailed as failed:
            log.data([f"{item.location}: {line}" for line in failed.lines])
            self._fail(failed)
        except JobFailure as failure:  # the output could not be written
            self._fail(ObjectFailed(str(failure), []))
        except Exception as error:  # a bug in Nimbus fails the job, never skips an object silently
            self._fail(ObjectFailed(f"InternalServerError: {error!r}", []))

    def _fail(self, failed: ObjectFailed) -> None:
        with self._failure_lock:
            if self.failure is None:
                self.failure = failed

    def _submit(self, item: InputObject, worker: workers.Worker, pool: ThreadPoolExecutor) -> Submitted:
        """Reads the object and queues its requests."""
        compression = self.request["TransformInput"].get("CompressionType") or "None"
        records, batches = object_batches(self.plan, lambda: read_input(item, compression))
        sent = Submitted(item, records, batches, [], [])

        def send(batch: Batch) -> Response:
            try:
                return self._invoke(worker, batch, sent.failures)
            except ObjectFailed as failed:
                sent.failures.append(failed)
                raise

        sent.responses.extend(pool.submit(send, batch) for batch in batches)
        return sent

    def _finish(self, sent: Submitted) -> bytes:
        """The object's output, once all its responses are in; the first failure if one failed."""
        try:
            responses = [future.result() for future in sent.responses]
        except ObjectFailed:
            raise sent.failures[0] from None
        return object_output(self.plan, sent.records, sent.batches, responses)

    def _invoke(self, worker: workers.Worker, batch: Batch, failures: list[ObjectFailed]) -> Response:
        def send() -> Answer:
            answer = workers.invoke(worker, batch.body, self.invocation.headers, self.invocation.timeout_s)
            return Answer(answer.status, answer.body, answer.content_type)

        return invoke_with_retries(send, self.invocation, self.stop.is_set, lambda: bool(failures))

    def _upload(self, item: InputObject, output: bytes) -> None:
        upload_output(
            self.storage, self.key, self.caller_arn, self.request, item.relative, io.BytesIO(output)
        )


transform_runner: RunnerPerStorage[TransformRunner] = RunnerPerStorage(
    TransformRunner, fail_interrupted_jobs, leased=True
)
"""This process's TransformRunner for a storage, made on first use after fail_interrupted_jobs ran."""
