"""What happens to one input object, wherever its job runs (worker processes on this machine, or a
Spark job): its records and requests, each request's answer with InvocationsMaxRetries retries, its
output, and the failure that AWS reports for it. No I/O here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nimbus.services.sagemaker.transform.batching import Batch, PayloadTooLarge
from nimbus.services.sagemaker.transform.filters import FilterError
from nimbus.services.sagemaker.transform.joining import JoinError
from nimbus.services.sagemaker.transform.plan import DEFAULT_MAX_CONCURRENT, Plan, RecordError, Response
from nimbus.services.sagemaker.transform.splitting import SplitError

DEFAULT_TIMEOUT_S = 600
DEFAULT_MAX_RETRIES = 3
# FailureReason as AWS words it; the job's data-log stream says which object and why
CLIENT_ERROR = "ClientError: See job logs for more information"
ALGORITHM_ERROR = "AlgorithmError: See job logs for more information"
RECORD_ERRORS = (PayloadTooLarge, SplitError, RecordError, FilterError, JoinError)


class ObjectFailed(Exception):
    """One input object could not be transformed: the FailureReason, and the lines for its log."""

    def __init__(self, reason: str, lines: list[str]) -> None:
        super().__init__(reason)
        self.lines = lines


class Cancelled(Exception):
    """The job is stopping: the rest of its requests are not sent."""


class NoAnswer(Exception):
    """The model gave no answer to a request (its server dropped the connection, or it raised)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Invocation:
    """How a job's requests are sent: the headers they carry, their timeout and retries."""

    content_type: str
    accept: str
    concurrency: int
    timeout_s: float
    retries: int

    @classmethod
    def of(cls, request: dict[str, Any]) -> Invocation:
        client = request.get("ModelClientConfig") or {}
        return cls(
            content_type=request["TransformInput"].get("ContentType") or "",
            accept=request["TransformOutput"].get("Accept") or "",
            concurrency=request.get("MaxConcurrentTransforms") or DEFAULT_MAX_CONCURRENT,
            timeout_s=client.get("InvocationsTimeoutInSeconds", DEFAULT_TIMEOUT_S),
            retries=client.get("InvocationsMaxRetries", DEFAULT_MAX_RETRIES),
        )

    @property
    def headers(self) -> dict[str, str]:
        named = (("Content-Type", self.content_type), ("Accept", self.accept))
        return {name: value for name, value in named if value}


def object_batches(plan: Plan, read: Callable[[], bytes]) -> tuple[list[bytes], list[Batch]]:
    """The records and requests of the object that ``read`` returns; ObjectFailed when its records
    cannot be cut or read, or ``read`` raises ValueError (it is not gzip as CompressionType says)."""
    try:
        return plan.batches(read())
    except ValueError as error:  # RECORD_ERRORS are ValueErrors too
        raise ObjectFailed(CLIENT_ERROR, [str(error)]) from None


def object_output(plan: Plan, records: list[bytes], batches: list[Batch], responses: list[Response]) -> bytes:
    """The object's ``.out`` bytes; ObjectFailed when the responses do not fit its records."""
    try:
        return plan.output(records, batches, responses)
    except RECORD_ERRORS as error:
        raise ObjectFailed(CLIENT_ERROR, [str(error)]) from None


def invoke_with_retries(
    send: Callable[[], Answer],
    invocation: Invocation,
    stopping: Callable[[], bool],
    failed: Callable[[], bool],
) -> Response:
    """The response to one request, retried InvocationsMaxRetries times when the container does not
    answer (``send`` raises TimeoutError, OSError or NoAnswer) or answers 5xx; a 4xx answer fails
    the object at once. Cancelled once the job is ``stopping``; not sent once another request of
    the object ``failed``."""
    problem = ""
    for _ in range(invocation.retries + 1):
        if stopping():
            raise Cancelled
        if failed():
            raise ObjectFailed(CLIENT_ERROR, [])
        try:
            answer = send()
        except TimeoutError:
            problem = (
                f"Model server did not respond to /invocations request within {invocation.timeout_s} seconds"
            )
            continue
        except (OSError, NoAnswer):
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


def settings_line(plan: Plan, invocation: Invocation) -> str:
    """The data log's first line: the settings the job runs with."""
    return (
        f"MaxConcurrentTransforms={invocation.concurrency}, MaxPayloadInMB={plan.max_payload_mb}, "
        f"BatchStrategy={_log_name(plan.strategy)}"
    )


def _log_name(strategy: str) -> str:
    """MultiRecord -> MULTI_RECORD, as the data log spells it."""
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(strategy)).upper()
