"""A transform job as a PySpark application: ``spark-submit spark_job.py <job folder>/job.json``.

The driver spreads the input objects over the executors, one task per object. Each task reads its
object in place, sends its requests (MaxConcurrentTransforms at a time) to the model, loaded once per
Python worker process and served in it by the same code as a sandboxed worker's ``/invocations``,
and leaves ``out/<n>.out`` (the output of object n) or ``failed/<n>.json`` (why it failed) in the
job folder, each renamed into place whole. Tasks never raise for an object that fails, so a task
that fails is a crash, and the job fails with it.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nimbus.services.sagemaker.transform.batching import Batch
from nimbus.services.sagemaker.transform.inputs import InputObject, read_input
from nimbus.services.sagemaker.transform.outcomes import (
    Answer,
    Invocation,
    NoAnswer,
    ObjectFailed,
    invoke_with_retries,
    object_batches,
    object_output,
)
from nimbus.services.sagemaker.transform.plan import Plan, Response

DESCRIPTION = "job.json"
# a request's body, content type and accept -> the status, body and content type answered
Respond = Callable[[bytes, str, str], tuple[int, bytes, str]]
OUTPUTS, FAILURES, STAGING = "out", "failed", "tmp"


@dataclass(frozen=True)
class SparkJob:
    """What the application needs, written by Nimbus as ``<folder>/job.json``. ``folder`` holds the
    model (``model/``, ``code/``) and receives the results; executors must see it at this path."""

    folder: Path
    request: dict[str, Any]  # the CreateTransformJob request, with its defaults
    framework: str | None
    environment: dict[str, str]
    objects: list[InputObject]

    def save(self) -> Path:
        for name in (OUTPUTS, FAILURES, STAGING):  # made here: a task that outlives a stopped job
            (self.folder / name).mkdir(parents=True, exist_ok=True)  # must not recreate them
        path = self.folder / DESCRIPTION
        fields = {
            "request": self.request,
            "framework": self.framework,
            "environment": self.environment,
            "objects": [[str(item.path), item.relative, item.location] for item in self.objects],
        }
        path.write_text(json.dumps(fields))
        return path

    @classmethod
    def load(cls, path: Path) -> SparkJob:
        fields = json.loads(path.read_text())
        objects = [
            InputObject(Path(file), relative, location) for file, relative, location in fields["objects"]
        ]
        return cls(path.parent, fields["request"], fields["framework"], fields["environment"], objects)

    def output(self, index: int) -> Path:
        return self.folder / OUTPUTS / f"{index}.out"

    def failure(self, index: int) -> Path:
        return self.folder / FAILURES / f"{index}.json"

    def results(self) -> list[tuple[int, Path]]:
        """The outputs and failures that tasks have left, as (object index, file), by index."""
        found = [
            (int(entry.name.split(".", 1)[0]), Path(entry.path))
            for name in (OUTPUTS, FAILURES)
            for entry in os.scandir(self.folder / name)
        ]
        return sorted(found)


@dataclass
class Loaded:
    """A Python worker's copy of a job: its description, and its model or why that did not load."""

    job: SparkJob
    plan: Plan
    invocation: Invocation
    respond: Respond | None
    load_failure: ObjectFailed | None


_loaded: dict[Path, Loaded] = {}


def _load(description: Path) -> Loaded:
    """The job, its model loaded once per Python worker process (Spark reuses the process for the
    job's tasks)."""
    if description not in _loaded:
        job = SparkJob.load(description)
        plan, invocation = Plan.of(job.request), Invocation.of(job.request)
        # the model's and the job's Environment, as a sandboxed worker's environment has them
        os.environ.update(job.environment)
        # imported here: the Nimbus process that writes job descriptions never loads the ML engines
        from nimbus.engines.learn import serving

        try:
            container = serving.load_container(job.framework, job.folder)
        except Exception as error:  # the user's model_fn or module may raise anything
            _loaded[description] = Loaded(
                job,
                plan,
                invocation,
                None,
                ObjectFailed(f"ClientError: {serving.load_failure(error)}", []),
            )
        else:
            respond = functools.partial(serving.answer, container)
            _loaded[description] = Loaded(job, plan, invocation, respond, None)
    return _loaded[description]


def transform_object(description: Path, index: int) -> None:
    """Task: transforms the job's object ``index``, leaving its output or its failure in the folder."""
    loaded = _load(description)
    job = loaded.job
    try:
        _place(job, job.output(index), _transform(loaded, job.objects[index]))
    except ObjectFailed as failed:
        _place(job, job.failure(index), json.dumps({"reason": str(failed), "lines": failed.lines}).encode())
    except Exception as error:  # a bug in Nimbus fails the job, never skips an object silently
        failure = {"reason": f"InternalServerError: {error!r}", "lines": []}
        _place(job, job.failure(index), json.dumps(failure).encode())


def _transform(loaded: Loaded, item: InputObject) -> bytes:
    if loaded.load_failure is not None:
        raise loaded.load_failure
    assert loaded.respond is not None
    respond, plan, invocation = loaded.respond, loaded.plan, loaded.invocation
    compression = loaded.job.request["TransformInput"].get("CompressionType") or "None"
    records, batches = object_batches(plan, lambda: read_input(item, compression))
    failures: list[ObjectFailed] = []

    def send(batch: Batch) -> Response:
        try:
            return invoke_with_retries(
                lambda: _answer(respond, batch.body, invocation),
                invocation,
                lambda: False,  # a stopped job's driver is killed, and its tasks with it
                lambda: bool(failures),
            )
        except ObjectFailed as failed:
            failures.append(failed)
            raise

    with ThreadPoolExecutor(invocation.concurrency, thread_name_prefix="transform-request") as pool:
        responses = [pool.submit(send, batch) for batch in batches]
        try:
            answered = [future.result() for future in responses]
        except ObjectFailed:
            raise failures[0] from None
    return object_output(plan, records, batches, answered)


def _answer(respond: Respond, body: bytes, invocation: Invocation) -> Answer:
    """What ``/invocations`` would answer, within InvocationsTimeoutInSeconds (TimeoutError past
    it: the call cannot be cut off, it is left to end in its own thread)."""
    answer: Future[Answer] = Future()

    def call() -> None:
        try:
            status, payload, content_type = respond(body, invocation.content_type, invocation.accept)
        except Exception as error:  # a worker's server drops the connection: no answer
            answer.set_exception(NoAnswer(repr(error)))
        else:
            answer.set_result(Answer(int(status), payload, content_type))

    threading.Thread(target=call, name="transform-model", daemon=True).start()
    return answer.result(invocation.timeout_s)


def _place(job: SparkJob, target: Path, data: bytes) -> None:
    """Writes ``target`` whole: Nimbus never sees a partial file."""
    staged = job.folder / STAGING / uuid.uuid4().hex
    staged.write_bytes(data)
    os.replace(staged, target)


def main(description: Path) -> None:
    from pyspark import SparkContext  # in the Spark driver only: the server imports this module too

    job = SparkJob.load(description)
    context = SparkContext.getOrCreate()
    try:
        objects = context.parallelize(range(len(job.objects)), len(job.objects))
        objects.foreach(functools.partial(transform_object, description))
    finally:
        context.stop()


if __name__ == "__main__":
    # by its package name, so that Spark ships the tasks as references to this module rather than
    # as copies of __main__'s functions, which would each start with an empty model cache
    from nimbus.services.sagemaker.transform.spark_job import main as run

    run(Path(sys.argv[1]))
