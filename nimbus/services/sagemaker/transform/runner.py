"""The durable transform runner: job state lives in the database; a thread of the server process runs
each job. It starts one worker process per instance (the model's serving container), spreads the
input objects over the instances, sends each instance's requests MaxConcurrentTransforms at a time
and writes each object's ``.out`` once all its records are transformed: never a partial one.

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nimbus.services.job_runners import RunnerPerStorage
from nimbus.services.logs.records import append_events
from nimbus.services.registry import Caller
from nimbus.services.sagemaker import deployment, workers
from nimbus.services.sagemaker.s3_locations import JobFailure, write_object
from nimbus.services.sagemaker.transform.batching import Batch, PayloadTooLarge
from nimbus.services.sagemaker.transform.filters import FilterError
from nimbus.services.sagemaker.transform.inputs import InputObject, input_objects, read_input
from nimbus.services.sagemaker.transform.job_rows import JobKey, fail_interrupted_jobs, find_job, move
from nimbus.services.sagemaker.transform.joining import JoinError
from nimbus.services.sagemaker.transform.plan import (
    DEFAULT_MAX_CONCURRENT,
    Plan,
    RecordError,
    Response,
)
from nimbus.services.sagemaker.transform.splitting import SplitError
from nimbus.storage import Storage

LOG_GROUP = "/aws/sagemaker/TransformJobs"
DEFAULT_TIMEOUT_S = 600
DEFAULT_MAX_RETRIES = 3
POLL_S = 0.1
# FailureReason as AWS words it; the job's data-log stream says which object and why
CLIENT_ERROR = "ClientError: See job logs for more information"
ALGORITHM_ERROR = "AlgorithmError: See job logs for more information"
RECORD_ERRORS = (PayloadTooLarge, SplitError, RecordError, FilterError, JoinError)


class ObjectFailed(Exception):
    """One input object could not be transformed: the FailureReason, and the lines for its log."""

    def __init__(self, reason: str, lines: list[str]) -> None:
        super().__init__(reason)
        self.lines = lines


@dataclass
class Submitted:
    """An object whose requests are queued: its records, requests and their responses to come."""

    item: InputObject
    records: list[bytes]
    batches: list[Batch]
    responses: list[Future[Response]]
    failures: list[ObjectFailed]  # in the order they happened: the first is the cause


class Cancelled(Exception):
    """The job is stopping: the rest of its requests are not sent."""


class TransformRunner:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._stops: dict[JobKey, threading.Event] = {}

    def submit(self, key: JobKey) -> None:
        self._stops[key] = threading.Event()
        threading.Thread(target=self._run, args=(key,), name=f"transform-{key[2]}", daemon=True).start()

    def stop(self, key: JobKey) -> None:
        event = self._stops.get(key)
        if event is not None:
            event.set()

    def _run(self, key: JobKey) -> None:
        folder = self.storage.data_dir.joinpath("sagemaker", "transform", *key)
        try:
            outcome = run_job(self.storage, key, folder, self._stops[key])
            move(self.storage, key, outcome)
        except JobFailure as failure:
            move(self.storage, key, "Failed", failure_reason=str(failure)[:1024])
        except Exception as error:  # a bug in Nimbus must still end the job, never leave it running
            move(self.storage, key, "Failed", failure_reason=f"InternalServerError: {error!r}"[:1024])
        finally:
            move(self.storage, key, "Stopped")  # a job stopped while it failed or completed
            self._stops.pop(key, None)
            shutil.rmtree(folder, ignore_errors=True)


class JobLog:
    """One instance's data log (``[sagemaker logs]`` lines: the settings, and each object that
    failed), beside the stream its model server's output goes to."""

    def __init__(self, storage: Storage, key: JobKey, worker: workers.Worker) -> None:
        self.storage, self.key = storage, key
        self.stream = f"{worker.stream}/data-log"

    def data(self, lines: list[str]) -> None:
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}"
        events = [(int(now.timestamp() * 1000), f"{stamp}:[sagemaker logs]: {line}") for line in lines]
        append_events(self.storage, self.key[0], self.key[1], LOG_GROUP, self.stream, events)


def run_job(storage: Storage, key: JobKey, folder: Path, stop: threading.Event) -> str:
    """Runs the job to its end; returns its final status (Completed or Stopped), or raises JobFailure."""
    job = find_job(storage, key)
    assert job is not None
    request: dict[str, Any] = job.request
    plan = Plan.of(request)
    items = input_objects(storage, request["TransformInput"]["DataSource"]["S3DataSource"])
    resources = request["TransformResources"]

    def sink(stream: str, lines: list[tuple[int, str]]) -> None:
        append_events(storage, key[0], key[1], LOG_GROUP, stream, lines)

    try:
        # the variant is named after the job, so its workers' streams are "<job>/instance-<n>"
        spec = deployment.model_variant(
            storage,
            key[0],
            key[1],
            request["ModelName"],
            key[2],
            resources["InstanceCount"],
            1.0,
            folder,
            resources["InstanceType"],
        )
        # the job's Environment is added to the model's, and wins where both name a variable
        environment = {**spec.environment, **(request.get("Environment") or {})}
        variant = workers.start_variant(dataclasses.replace(spec, environment=environment, log_sink=sink))
    except workers.WorkerFailed as error:
        raise JobFailure(f"ClientError: {error}") from None
    if stop.is_set():
        workers.stop_variant(variant)
        return "Stopped"
    transform = ObjectTransform(storage, key, job.caller_arn, request, plan, stop)
    try:
        transform.run(items, variant, [JobLog(storage, key, worker) for worker in variant.workers])
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
        self.caller = Caller("", key[0], key[0], caller_arn)
        self.concurrency = request.get("MaxConcurrentTransforms") or DEFAULT_MAX_CONCURRENT
        client = request.get("ModelClientConfig") or {}
        self.timeout_s = client.get("InvocationsTimeoutInSeconds", DEFAULT_TIMEOUT_S)
        self.retries = client.get("InvocationsMaxRetries", DEFAULT_MAX_RETRIES)
        source = request["TransformInput"]
        accept = request["TransformOutput"].get("Accept")
        self.headers = {
            name: value
            for name, value in (("Content-Type", source.get("ContentType")), ("Accept", accept))
            if value
        }
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
            log.data(
                [
                    f"MaxConcurrentTransforms={self.concurrency}, MaxPayloadInMB={self.plan.max_payload_mb}, "
                    f"BatchStrategy={_log_name(self.plan.strategy)}"
                ]
            )
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
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="transform-request") as pool:
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
        try:
            records, batches = self.plan.batches(read_input(item, compression))
        except RECORD_ERRORS as error:
            raise ObjectFailed(CLIENT_ERROR, [str(error)]) from None
        except ValueError as error:  # the object is not gzip as CompressionType says
            raise ObjectFailed(CLIENT_ERROR, [str(error)]) from None
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
        try:
            return self.plan.output(sent.records, sent.batches, responses)
        except RECORD_ERRORS as error:
            raise ObjectFailed(CLIENT_ERROR, [str(error)]) from None

    def _invoke(self, worker: workers.Worker, batch: Batch, failures: list[ObjectFailed]) -> Response:
        """The response to one request, retried InvocationsMaxRetries times when the container does
        not answer or answers 5xx; a 4xx answer fails the object at once."""
        problem = ""
        for _ in range(self.retries + 1):
            if self.stop.is_set():
                raise Cancelled
            if failures:  # another request of the object failed: this one is not sent
                raise ObjectFailed(CLIENT_ERROR, [])
            try:
                answer = workers.invoke(worker, batch.body, self.headers, self.timeout_s)
            except TimeoutError:
                problem = (
                    f"Model server did not respond to /invocations request within {self.timeout_s} seconds"
                )
                continue
            except OSError:
                problem = "Unable to get response from algorithm"
                continue
            if answer.status < 300:
                return Response(answer.body, answer.content_type)
            message = answer.body.decode("utf-8", "replace")
            if answer.status < 500:
                raise ObjectFailed(
                    CLIENT_ERROR, [f"ClientError: {answer.status}", "", "Message:", *message.splitlines()]
                )
            problem = f"AlgorithmError: {answer.status} Message: {message}"
        raise ObjectFailed(ALGORITHM_ERROR, [problem])

    def _upload(self, item: InputObject, output: bytes) -> None:
        destination = f"{self.request['TransformOutput']['S3OutputPath'].rstrip('/')}/{item.relative}.out"
        content_type = self.request["TransformOutput"].get("Accept") or "application/octet-stream"
        write_object(
            self.storage,
            self.caller,
            self.key[1],
            destination,
            io.BytesIO(output),
            content_type,
            "the output",
        )


def _log_name(strategy: str) -> str:
    """MultiRecord -> MULTI_RECORD, as the data log spells it."""
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(strategy)).upper()


transform_runner: RunnerPerStorage[TransformRunner] = RunnerPerStorage(TransformRunner, fail_interrupted_jobs)
"""This process's TransformRunner for a storage, made on first use after fail_interrupted_jobs ran."""
