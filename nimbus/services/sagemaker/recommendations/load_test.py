"""The load generator of a recommendation job: signed InvokeEndpoint requests to this Nimbus, over its
real HTTP path (gateway, SigV4, authorization, the endpoint's worker), open-loop.

Open-loop: request ``i`` of a step at ``rate`` per second is due at ``start + i / rate`` whether or
not earlier ones have answered, and its latency runs from that intended time, so a slow endpoint
shows as latency instead of as fewer requests sent (no coordinated omission).

Run as ``python -m nimbus.services.sagemaker.recommendations.load_test`` (its own process, so its
work does not share the gateway's interpreter) with the job's execution role in its environment
(``AWS_CONTAINER_CREDENTIALS_FULL_URI``...). It reads one JSON command per line on stdin and answers
each with one JSON line on stdout:

- ``{"setup": {"url", "region", "endpoint", "content_type", "payloads": [base64...], "timeout"}}``
- ``{"calibrate": N}``: N requests one after the other; answers the median latency in ms
- ``{"step": {"rate": R, "duration": S, "end_rate": R2}}``: a step (the rate moving linearly to
  ``end_rate`` when given); answers what was sent, answered, failed and how fast
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import ssl
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.session import get_session

CONNECTIONS = 64  # requests in flight at most; later ones wait for a connection, their clock running
RESIGN_S = 30.0  # a signature is reused this long (SigV4 allows 15 minutes of skew)
PERCENTILES = (50, 90, 95, 99)


class Endpoint:
    """Signed requests to one endpoint over a pool of kept-alive connections."""

    def __init__(self, setup: dict[str, Any]) -> None:
        url = urlsplit(setup["url"])
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or (443 if url.scheme == "https" else 80)
        # the generator talks to its own Nimbus on loopback: its certificate may be one Nimbus made
        self.tls = _loopback_tls() if url.scheme == "https" else None
        self.url = setup["url"].rstrip("/")
        self.path = f"/endpoints/{setup['endpoint']}/invocations"
        self.region = setup["region"]
        self.content_type = setup["content_type"]
        self.payloads = [base64.b64decode(item) for item in setup["payloads"]]
        self.timeout = float(setup.get("timeout", 10.0))
        credentials = get_session().get_credentials()
        if credentials is None:
            raise RuntimeError("the job's execution role gave no credentials")
        self.credentials = credentials
        self.signed: dict[int, tuple[float, bytes]] = {}
        self.pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = asyncio.Queue()
        for _ in range(CONNECTIONS):
            self.pool.put_nowait(None)

    def request_bytes(self, index: int) -> bytes:
        """The HTTP request for payload ``index``, signed (again once its signature is old)."""
        now = time.monotonic()
        cached = self.signed.get(index)
        if cached is not None and now - cached[0] < RESIGN_S:
            return cached[1]
        body = self.payloads[index]
        request = AWSRequest(
            "POST", self.url + self.path, data=body, headers={"Content-Type": self.content_type}
        )
        SigV4Auth(self.credentials.get_frozen_credentials(), "sagemaker", self.region).add_auth(request)
        headers = {**dict(request.headers.items()), "Host": f"{self.host}:{self.port}"}
        headers["Content-Length"] = str(len(body))
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        raw = f"POST {self.path} HTTP/1.1\r\n{head}\r\n".encode() + body
        self.signed[index] = (now, raw)
        return raw

    async def invoke(self, index: int) -> tuple[int, bytes]:
        """(status, body) of one invocation; raises on a broken connection or a timeout."""
        connection = await self.pool.get()
        try:
            if connection is None:
                connection = await asyncio.open_connection(self.host, self.port, ssl=self.tls)
            reader, writer = connection
            writer.write(self.request_bytes(index))
            status, body, keep = await asyncio.wait_for(_read_response(reader), self.timeout)
            if not keep:
                writer.close()
                connection = None
            return status, body
        except BaseException:
            if connection is not None:
                connection[1].close()
            connection = None
            raise
        finally:
            self.pool.put_nowait(connection)


def _loopback_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, body, headers.get("connection", "").lower() != "close"


@dataclass
class StepResult:
    """What one step did: its requests, their latencies from their intended times (ms), the errors."""

    offered: float
    sent: int = 0
    ok: int = 0
    errors: int = 0
    first_error: str | None = None
    latencies: list[float] = field(default_factory=list)
    started: float = 0.0
    last_answer: float = 0.0

    def record_error(self, message: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = message

    def summary(self) -> dict[str, Any]:
        span = max(self.last_answer - self.started, 1e-9)
        ordered = sorted(self.latencies)
        return {
            "offered": self.offered,
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "first_error": self.first_error,
            "achieved": self.ok / span if self.ok else 0.0,
            "span_s": span,
            "latency_ms": {f"p{p}": percentile(ordered, p) for p in PERCENTILES} if ordered else {},
            "latencies_ms": [round(value, 3) for value in ordered],
        }


def percentile(ordered: list[float], p: float) -> float:
    """The ``p``-th percentile of sorted values (nearest rank)."""
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def error_message(status: int, body: bytes) -> str:
    """The AWS error an answer carries: its code and message (a ModelError's holds the container's)."""
    try:
        document = json.loads(body)
    except ValueError:
        return f"HTTP {status}: {body[:300].decode('utf-8', errors='replace')}"
    code = str(document.get("__type", "")).rpartition("#")[2] or f"HTTP {status}"
    message = document.get("message") or document.get("Message") or ""
    return f"{code}: {message}"


async def _one(endpoint: Endpoint, index: int, due: float, result: StepResult) -> None:
    try:
        status, body = await endpoint.invoke(index % len(endpoint.payloads))
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
        result.record_error(f"the request failed: {type(error).__name__}: {error}")
        return
    except TimeoutError:
        result.record_error(f"no answer within {endpoint.timeout:g} s")
        return
    answered = time.monotonic()
    result.last_answer = max(result.last_answer, answered)
    if status != 200:
        result.record_error(error_message(status, body))
        return
    result.ok += 1
    result.latencies.append((answered - due) * 1000)


async def run_step(endpoint: Endpoint, rate: float, duration: float, end_rate: float | None) -> StepResult:
    """Sends at ``rate`` per second (moving to ``end_rate``) for ``duration`` seconds, open-loop, then
    waits for the answers (each at most the timeout)."""
    result = StepResult(offered=rate if end_rate is None else (rate + end_rate) / 2)
    start = result.started = time.monotonic()
    tasks: list[asyncio.Task[None]] = []
    slope = 0.0 if end_rate is None else (end_rate - rate) / duration
    elapsed = 0.0
    while elapsed < duration:
        due = start + elapsed
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_one(endpoint, result.sent, due, result)))
        result.sent += 1
        elapsed += 1.0 / max(rate + slope * elapsed, 1e-3)
    await asyncio.gather(*tasks)
    return result


async def calibrate(endpoint: Endpoint, count: int) -> dict[str, Any]:
    """``count`` requests one at a time: the latency of an idle endpoint, and the first error."""
    result = StepResult(offered=0.0)
    result.started = time.monotonic()
    for index in range(count):
        await _one(endpoint, index, time.monotonic(), result)
        if result.errors:
            break
    summary = result.summary()
    return {
        "median_ms": summary["latency_ms"].get("p50"),
        "errors": result.errors,
        "first_error": result.first_error,
    }


async def main() -> None:
    loop = asyncio.get_running_loop()
    endpoint: Endpoint | None = None
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command = json.loads(line)
        if "setup" in command:
            try:
                endpoint = Endpoint(command["setup"])
            except Exception as error:  # no credentials, a bad payload: the job fails saying why
                answer: dict[str, Any] = {"error": f"{type(error).__name__}: {error}"}
            else:
                answer = {"ready": True}
        elif "calibrate" in command:
            assert endpoint is not None
            answer = await calibrate(endpoint, int(command["calibrate"]))
        else:
            assert endpoint is not None
            step = command["step"]
            result = await run_step(
                endpoint, float(step["rate"]), float(step["duration"]), step.get("end_rate")
            )
            answer = result.summary()
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
