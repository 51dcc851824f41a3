"""Crash safety, measured: SIGKILL ``nimbus serve`` at random points of a mixed workload, restart it on the
same data dir, and check everything it had acknowledged against a model of the acknowledged operations.

The workload (boto3, a few threads, each owning its own keys so the model stays exact): PutObject,
multipart uploads (create, parts, complete), DeleteObjects, CopyObject, writes to a versioned bucket, SQS
SendMessage / ReceiveMessage / DeleteMessage, and SageMaker CreateTrainingJob / StopTrainingJob (the
built-in XGBoost on a small CSV). A request the server answered is acknowledged; one cut by the kill may
or may not have happened, so the model then allows both outcomes, and the first check after the restart
settles which one did.

After each restart, before any new write, it checks: every key reads as one of the states the model allows
(bytes, size and ETag agree: nothing torn or half written); every acknowledged version still reads back;
the listing shows exactly the keys that read back, at their sizes (no orphan, no missing key); every
acknowledged multipart upload still lists its acknowledged parts with their ETags and completes into the
right bytes; every acknowledged message that was not deleted is received again (at least once); no job
the earlier process ran is still InProgress or Stopping; no process the killed server started survives it.

    bench/run.sh faults [--kills 1000] [--minutes M] [--seed 1] [--min-run 0.05] [--max-run 1.5] [--no-jobs]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import requests
import sqlalchemy
from botocore.exceptions import ClientError

sys.path.append(str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))  # roles.py, as the tests
from roles import execution_role

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the leak sweep of the tree under test
from nimbus.storage.database import Database
from nimbus.storage.leak_sweep import STALE_S, sweep_leaks

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 90.0
KIB = 1024
MIB = 1024 * KIB
PART_SIZE = 5 * MIB  # S3's smallest part but the last
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ABSENT = "absent"
LEASE_S = 3.0  # the server's job leases: a killed process's jobs are settled once they expire
JOB_GRACE_S = 3 * LEASE_S + 10  # time a job of a killed process may still read InProgress


def _digest(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _multipart_etag(parts: list[bytes]) -> str:
    joined = b"".join(hashlib.md5(part).digest() for part in parts)
    return f"{hashlib.md5(joined).hexdigest()}-{len(parts)}"


@dataclass(frozen=True)
class Content:
    """One state a key may be in: its bytes' MD5, size and the ETag S3 must give them."""

    md5: str
    size: int
    etag: str

    @classmethod
    def of(cls, data: bytes, etag: str | None = None) -> Content:
        return cls(_digest(data), len(data), etag or _digest(data))


GONE = Content(ABSENT, 0, "")


@dataclass
class Upload:
    key: str
    parts: dict[int, bytes] = field(default_factory=dict)  # acknowledged parts
    sent: dict[int, bytes] = field(default_factory=dict)  # parts sent, acknowledged or not


@dataclass
class Model:
    """What the server acknowledged, and for requests the kill cut, every outcome still possible."""

    keys: dict[tuple[str, str], set[Content]] = field(default_factory=dict)
    versions: dict[tuple[str, str, str], Content] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    completing: dict[str, Content] = field(default_factory=dict)  # uploads whose completion was cut
    messages: set[str] = field(default_factory=set)  # bodies whose SendMessage was acknowledged
    deleting: set[str] = field(default_factory=set)  # bodies a worker received and may have deleted
    sent: set[str] = field(default_factory=set)  # every body ever sent, acknowledged or not
    jobs: set[str] = field(default_factory=set)  # started by the running process
    settling: dict[str, float] = field(default_factory=dict)  # started by a killed one -> deadline
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attempt(self, bucket: str, key: str, content: Content) -> None:
        with self.lock:
            self.keys.setdefault((bucket, key), {GONE}).add(content)

    def acknowledge(self, bucket: str, key: str, content: Content) -> None:
        with self.lock:
            self.keys[(bucket, key)] = {content}

    def certain(self, bucket: str, key: str) -> Content | None:
        with self.lock:
            states = self.keys.get((bucket, key), {GONE})
            return next(iter(states)) if len(states) == 1 else None


@dataclass
class Tally:
    kills: int = 0
    acknowledged: int = 0
    cut: int = 0
    checked_keys: int = 0
    checked_versions: int = 0
    checked_parts: int = 0
    checked_messages: int = 0
    checked_jobs: int = 0
    orphan_files: int = 0  # plain files on disk under no key (a listing never shows them)
    leaked_files: int = 0  # at the end: object store files no row names (blobs, uploads' parts, temp files)
    leaked_bytes: int = 0
    leaked_after_sweep: int = 0  # those files left after a leak sweep as of an hour later
    restart_s: list[float] = field(default_factory=list)
    check_s: list[float] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


class Server:
    """A ``nimbus serve`` process on a data dir; killed with SIGKILL and started again on the same dir."""

    def __init__(self, data_dir: Path, log_path: Path, repo: Path = REPO_ROOT) -> None:
        self.data_dir = data_dir
        self.repo = repo  # the Nimbus tree it runs (power_loss_cost.py runs an older one beside this one)
        self.log_path = log_path
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.credentials: dict[str, str] = {}

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        started = time.monotonic()
        env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "NIMBUS_"))}
        env["PYTHONPATH"] = str(self.repo)
        env["NIMBUS_LEASE_SECONDS"] = str(LEASE_S)
        # a fresh registry port each start: on a shared machine another process may take the last one
        env["NIMBUS_REGISTRY_PORT"] = str(_free_port())
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "nimbus",
                    "serve",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                ],
                cwd=self.repo,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own session: what it starts can be found after the kill
            )
        while time.monotonic() - started < STARTUP_TIMEOUT_S:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"nimbus serve exited with {self.proc.returncode} on restart:\n{tail}")
            try:
                if requests.get(f"{self.endpoint_url}/_nimbus/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"nimbus serve not healthy after {STARTUP_TIMEOUT_S} s; see {self.log_path}")
        if not self.credentials:
            self.credentials = _credentials(self.data_dir)
        return time.monotonic() - started

    def kill(self) -> list[str]:
        """SIGKILL, as a crash would; returns the processes it started that outlived it (then kills them)."""
        assert self.proc is not None
        session = self.proc.pid
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        survivors = _session_processes(session)
        for pid, _ in survivors:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return [command for _, command in survivors]

    def stop(self) -> None:
        if self.proc is not None:
            self.kill()

    def client(self, service: str) -> Any:
        config = botocore.config.Config(
            retries={"max_attempts": 1}, connect_timeout=5, read_timeout=60, max_pool_connections=8
        )
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.credentials["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
            config=config,
        )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _credentials(data_dir: Path) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "nimbus", "env", "--data-dir", str(data_dir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        found[name.strip()] = value.strip().strip("'\"")
    return found


def _session_processes(session: int) -> list[tuple[int, str]]:
    """Processes still alive in the session the server led (sandboxes, runners it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session and fields[0] != "Z":
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append((int(entry.name), command[:120]))
        except (OSError, IndexError, ValueError):
            continue
    return found


# ---- the workload --------------------------------------------------------------------------------------


class Workload:
    """Operations on the server, each recorded in the model before it is sent and when it is answered."""

    def __init__(self, server: Server, model: Model, tally: Tally, rng: random.Random, names: dict[str, str]):
        self.server = server
        self.model = model
        self.tally = tally
        self.rng = rng
        self.names = names
        self.s3 = server.client("s3")
        self.sqs = server.client("sqs")
        self.sagemaker = server.client("sagemaker")
        self.queue_url = self.sqs.get_queue_url(QueueName=names["queue"])["QueueUrl"]

    def body(self, size: int) -> bytes:
        return self.rng.randbytes(size)

    def put(self, prefix: str) -> None:
        bucket, key = self.names["bucket"], f"{prefix}/k{self.rng.randrange(6)}"
        data = self.body(self.rng.choice([0, 100, 4 * KIB, 300 * KIB, 2 * MIB]))
        content = Content.of(data)
        self.model.attempt(bucket, key, content)
        self.s3.put_object(Bucket=bucket, Key=key, Body=data)
        self.model.acknowledge(bucket, key, content)

    def put_versioned(self, prefix: str) -> None:
        bucket, key = self.names["versioned"], f"{prefix}/v{self.rng.randrange(3)}"
        data = self.body(self.rng.choice([10, 64 * KIB]))
        content = Content.of(data)
        self.model.attempt(bucket, key, content)
        answer = self.s3.put_object(Bucket=bucket, Key=key, Body=data)
        self.model.acknowledge(bucket, key, content)
        with self.model.lock:
            self.model.versions[(bucket, key, answer["VersionId"])] = content

    def delete_objects(self, prefix: str) -> None:
        bucket = self.names["bucket"]
        keys = sorted({f"{prefix}/k{self.rng.randrange(6)}" for _ in range(self.rng.randint(1, 3))})
        for key in keys:
            self.model.attempt(bucket, key, GONE)
        answer = self.s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys]})
        if answer.get("Errors"):
            raise AssertionError(f"DeleteObjects errors: {answer['Errors']}")
        for key in keys:
            self.model.acknowledge(bucket, key, GONE)

    def copy(self, prefix: str) -> None:
        bucket = self.names["bucket"]
        source = f"{prefix}/k{self.rng.randrange(6)}"
        content = self.model.certain(bucket, source)
        if content is None or content is GONE:
            return
        target = f"{prefix}/k{self.rng.randrange(6)}"
        if target == source:
            return
        copied = Content(content.md5, content.size, content.md5)  # a copy made in one go has the MD5 ETag
        self.model.attempt(bucket, target, copied)
        self.s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": source})
        self.model.acknowledge(bucket, target, copied)

    def multipart(self, prefix: str) -> None:
        """One step of an upload: start one, send its next part, or complete it."""
        bucket = self.names["bucket"]
        with self.model.lock:
            mine = [(upload_id, u) for upload_id, u in self.model.uploads.items() if u.key.startswith(prefix)]
        if not mine:
            key = f"{prefix}/m{self.rng.randrange(2)}"
            upload_id = self.s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
            with self.model.lock:
                self.model.uploads[upload_id] = Upload(key)
            return
        upload_id, upload = mine[0]
        if len(upload.parts) < 2 or self.rng.random() < 0.3:  # the next part, or part 1 again
            number = len(upload.parts) + 1 if len(upload.parts) < 2 else 1
            data = self.body(PART_SIZE if number == 1 else 100 * KIB)
            upload.sent[number] = data
            self.s3.upload_part(
                Bucket=bucket, Key=upload.key, UploadId=upload_id, PartNumber=number, Body=data
            )
            upload.parts[number] = data
            return
        parts = [upload.parts[1], upload.parts[2]]
        content = Content.of(b"".join(parts), _multipart_etag(parts))
        self.model.attempt(bucket, upload.key, content)
        with self.model.lock:
            self.model.completing[upload_id] = content
        self.s3.complete_multipart_upload(
            Bucket=bucket,
            Key=upload.key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": f'"{_digest(p)}"'} for n, p in enumerate(parts, 1)]
            },
        )
        self.model.acknowledge(bucket, upload.key, content)
        with self.model.lock:
            del self.model.uploads[upload_id]
            del self.model.completing[upload_id]

    def send(self, prefix: str) -> None:
        text = f"{prefix}:{uuid.uuid4().hex}"
        with self.model.lock:
            self.model.sent.add(text)
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=text)
        with self.model.lock:
            self.model.messages.add(text)

    def receive_and_delete(self, prefix: str) -> None:
        answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=3, VisibilityTimeout=1)
        for message in answer.get("Messages", []):
            with self.model.lock:  # once the delete is sent, the message may be gone: no longer owed
                self.model.deleting.add(message["Body"])
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def job(self, prefix: str) -> None:
        with self.model.lock:
            running = sorted(self.model.jobs)
        if running and self.rng.random() < 0.5:
            name = self.rng.choice(running)
            try:
                self.sagemaker.stop_training_job(TrainingJobName=name)
            except ClientError as error:  # already finished: AWS's answer for a job that is not running
                if error.response["Error"]["Code"] != "ValidationException":
                    raise
            return
        name = f"fi-{uuid.uuid4().hex[:12]}"
        bucket = self.names["bucket"]
        self.sagemaker.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            RoleArn=execution_role(self.sagemaker),
            HyperParameters={"objective": "reg:squarederror", "num_round": "5"},
            InputDataConfig=[
                {
                    "ChannelName": "train",
                    "ContentType": "text/csv",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/train"}
                    },
                }
            ],
            OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 300},
        )
        with self.model.lock:
            self.model.jobs.add(name)

    def run(self, prefix: str, stop: threading.Event, jobs: bool) -> None:
        operations: list[Callable[[str], None]] = [
            self.put,
            self.put,
            self.put_versioned,
            self.delete_objects,
            self.copy,
            self.multipart,
            self.send,
            self.send,
            self.receive_and_delete,
        ]
        if jobs:
            operations.append(self.job)
        while not stop.is_set():
            operation = self.rng.choice(operations)
            try:
                operation(prefix)
                self.tally.acknowledged += 1
            except Exception as error:  # the kill cuts requests: any failure then is expected
                if not stop.is_set() and self.server.proc is not None and self.server.proc.poll() is None:
                    self.tally.violations.append(f"{operation.__name__} failed on a live server: {error!r}")
                self.tally.cut += 1
                return


# ---- the checks after a restart ------------------------------------------------------------------------


class Checker:
    def __init__(self, server: Server, model: Model, tally: Tally, names: dict[str, str]):
        self.s3 = server.client("s3")
        self.sqs = server.client("sqs")
        self.sagemaker = server.client("sagemaker")
        self.model = model
        self.tally = tally
        self.names = names
        self.queue_url = self.sqs.get_queue_url(QueueName=names["queue"])["QueueUrl"]

    def fail(self, message: str) -> None:
        self.tally.violations.append(f"after kill {self.tally.kills}: {message}")

    def all(self) -> None:
        self.jobs()
        self.keys()
        self.versions()
        self.listings()
        self.uploads()
        self.messages()

    def read(self, bucket: str, key: str, version_id: str | None = None) -> Content:
        extra = {"VersionId": version_id} if version_id else {}
        try:
            answer = self.s3.get_object(Bucket=bucket, Key=key, **extra)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return GONE
            raise
        data = answer["Body"].read()
        if answer["ContentLength"] != len(data):
            self.fail(f"{bucket}/{key}: Content-Length {answer['ContentLength']} but {len(data)} bytes")
        return Content(_digest(data), len(data), answer["ETag"].strip('"'))

    def keys(self) -> None:
        for (bucket, key), states in list(self.model.keys.items()):
            try:
                found = self.read(bucket, key)
            except ClientError as error:
                self.fail(f"{bucket}/{key} cannot be read: {error}")
                continue
            self.tally.checked_keys += 1
            if found not in states:
                known = {state.md5 for state in states}
                what = (
                    "lost (it reads as absent)"
                    if found == GONE
                    else "torn (bytes of no write)"
                    if found.md5 not in known
                    else "bytes and ETag disagree"
                )
                self.fail(f"{bucket}/{key} is {what}: {found} not in {states}")
                self.model.keys[(bucket, key)] = {found}
                continue
            self.model.keys[(bucket, key)] = {found}

    def versions(self) -> None:
        for (bucket, key, version_id), content in self.model.versions.items():
            self.tally.checked_versions += 1
            try:
                found = self.read(bucket, key, version_id)
            except ClientError as error:
                self.fail(f"acknowledged version {bucket}/{key}?versionId={version_id} is lost: {error}")
                continue
            if found != content:
                self.fail(f"acknowledged version {bucket}/{key}?versionId={version_id}: {found} != {content}")

    def listings(self) -> None:
        for bucket in (self.names["bucket"], self.names["versioned"]):
            listed = {}
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                listed.update({item["Key"]: item["Size"] for item in page.get("Contents", [])})
            expected = {
                key: next(iter(states)).size
                for (name, key), states in self.model.keys.items()
                if name == bucket and next(iter(states)) is not GONE
            }
            for key, size in listed.items():
                if key.startswith(("train/", "output/")):
                    continue
                if key not in expected:
                    self.fail(f"the listing of {bucket} shows {key}, which does not read back (orphan)")
                elif expected[key] != size:
                    self.fail(
                        f"the listing of {bucket} shows {key} at {size} bytes, it reads {expected[key]}"
                    )
            for key in expected.keys() - listed.keys():
                self.fail(f"{bucket}/{key} reads back but the listing does not show it")

    def uploads(self) -> None:
        bucket = self.names["bucket"]
        for upload_id, upload in list(self.model.uploads.items()):
            try:
                answer = self.s3.list_parts(Bucket=bucket, Key=upload.key, UploadId=upload_id)
            except ClientError as error:
                if error.response["Error"]["Code"] == "NoSuchUpload" and upload_id in self.model.completing:
                    content = self.model.completing.pop(upload_id)
                    del self.model.uploads[upload_id]
                    if self.model.keys.get((bucket, upload.key)) != {content}:
                        self.fail(f"upload {upload_id} is gone but {upload.key} does not hold its bytes")
                    continue
                self.fail(f"acknowledged upload {upload_id} of {upload.key} is lost: {error}")
                del self.model.uploads[upload_id]
                continue
            self.model.completing.pop(upload_id, None)
            listed = {part["PartNumber"]: part for part in answer.get("Parts", [])}
            for number, data in upload.sent.items():
                part = listed.get(number)
                if part is None:
                    if number in upload.parts:
                        self.fail(f"acknowledged part {number} of upload {upload_id} is lost")
                    continue
                self.tally.checked_parts += 1
                # the part as last acknowledged, or as sent again by a request the kill cut
                matching = [
                    d
                    for d in (upload.parts.get(number), data)
                    if d is not None and _digest(d) == part["ETag"].strip('"')
                ]
                if not matching or part["Size"] != len(matching[0]):
                    self.fail(f"part {number} of upload {upload_id} is torn: {part}")
                    continue
                upload.parts[number] = matching[0]
            upload.parts = {n: d for n, d in upload.parts.items() if n in listed}
            upload.sent = dict(upload.parts)

    def messages(self) -> None:
        owed = self.model.messages - self.model.deleting
        deadline = time.monotonic() + 30  # well past the workload's 1 s visibility timeouts
        seen: set[str] = set()
        while owed - seen and time.monotonic() < deadline:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=1
            )
            for message in answer.get("Messages", []):
                if message["Body"] not in self.model.sent:
                    self.fail(f"a message nobody sent: {message['Body'][:60]}")
                seen.add(message["Body"])
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.tally.checked_messages += len(owed)
        for body in owed - seen:
            self.fail(f"acknowledged message {body} was lost")
        self.model.messages.clear()
        self.model.deleting.clear()

    def jobs(self, final: bool = False) -> None:
        """Jobs the killed process ran must end (Failed with a reason, or Stopped) once their leases expire:
        they may read InProgress until then, never after. ``final``: wait out the last ones."""
        now = time.monotonic()
        for name in self.model.jobs:
            self.model.settling.setdefault(name, now + JOB_GRACE_S)
        self.model.jobs.clear()
        while self.model.settling:
            for name, deadline in sorted(self.model.settling.items()):
                status = self.sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
                if status not in ("InProgress", "Stopping"):
                    self.tally.checked_jobs += 1
                    del self.model.settling[name]
                elif time.monotonic() > deadline:
                    self.fail(f"training job {name} is still {status} {JOB_GRACE_S:.0f} s after the restart")
                    del self.model.settling[name]
            if not final:
                return
            time.sleep(0.5)


def _orphan_files(root: Path, model: Model) -> int:
    """Plain files in the buckets' folders that no present key names (temp files are cleared at start)."""
    present = {f"{bucket}/{key}" for (bucket, key), states in model.keys.items() if GONE not in states}
    orphans = 0
    for bucket in {bucket for bucket, _ in model.keys}:
        for path in (root / bucket).rglob("*"):
            name = path.relative_to(root).as_posix()
            if (
                path.is_file()
                and name not in present
                and not name.startswith((f"{bucket}/train/", f"{bucket}/output/"))
            ):
                orphans += 1
    return orphans


def _leaks(data_dir: Path) -> tuple[int, int]:
    """Files (and their bytes) in the object store that no row names, so nothing lists or reads them:
    blobs, the files of upload folders, temp files. (Plain files: ``_orphan_files``.)"""
    engine = sqlalchemy.create_engine(f"sqlite:///{data_dir / 'nimbus.db'}")
    with engine.connect() as connection:
        named = sqlalchemy.text(
            "SELECT bucket, blob FROM s3_objects UNION SELECT bucket, blob FROM s3_object_versions"
        )
        blobs = {(row.bucket, row.blob) for row in connection.execute(named)}
        uploads = set(connection.scalars(sqlalchemy.text("SELECT upload_id FROM s3_multipart_uploads")))
    engine.dispose()
    root = data_dir / "s3"
    leaked = [path for path in root.glob(".blobs/*/*") if (path.parent.name, path.name) not in blobs]
    leaked += [path for path in root.glob(".uploads/*/*") if path.parent.name not in uploads]
    files = [path for path in leaked + list(root.glob(".tmp/**/*")) if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files)


def _count_leaks(data_dir: Path, tally: Tally) -> None:
    """What the campaign leaked, and what of it a leak sweep an hour later (all of it stale then) leaves."""
    tally.leaked_files, tally.leaked_bytes = _leaks(data_dir)
    database = Database.open(f"sqlite:///{data_dir / 'nimbus.db'}")
    try:
        sweep_leaks(data_dir / "s3", database, now=time.time() + STALE_S + 1)
    finally:
        database.close()
    tally.leaked_after_sweep = _leaks(data_dir)[0]


# ---- the campaign --------------------------------------------------------------------------------------


def _prepare(server: Server, names: dict[str, str]) -> None:
    s3 = server.client("s3")
    s3.create_bucket(Bucket=names["bucket"])
    s3.create_bucket(Bucket=names["versioned"])
    s3.put_bucket_versioning(Bucket=names["versioned"], VersioningConfiguration={"Status": "Enabled"})
    rows = "\n".join(f"{i % 7},{i},{i * 0.5}" for i in range(200))
    s3.put_object(Bucket=names["bucket"], Key="train/train.csv", Body=rows.encode())
    server.client("sqs").create_queue(QueueName=names["queue"])


def run_campaign(
    data_dir: Path,
    kills: int,
    seed: int,
    *,
    threads: int = 3,
    min_run: float = 0.05,
    max_run: float = 1.5,
    jobs: bool = True,
    minutes: float | None = None,
    progress: Callable[[Tally], None] | None = None,
    crash: Callable[[], None] | None = None,
    settled: Callable[[], None] | None = None,
) -> Tally:
    """``kills`` rounds (fewer if ``minutes`` run out first) of: run the workload for a random time,
    SIGKILL, restart, check. The server is stopped at the end, whatever happens. ``crash`` runs after each
    kill, before the restart (power_loss.py drops what was not fsynced there); ``settled`` after each round's
    checks (power_loss.py makes everything durable there, as sync(2) would)."""
    ends = time.monotonic() + minutes * 60 if minutes else float("inf")
    rng = random.Random(seed)
    tally = Tally()
    model = Model()
    names = {"bucket": "faults", "versioned": "faults-versioned", "queue": "faults"}
    server = Server(data_dir / "nimbus", data_dir / "nimbus-serve.log")
    try:
        tally.restart_s.append(server.start())
        _prepare(server, names)
        # clients made once: they reconnect after each restart (same port)
        workers = [Workload(server, model, tally, random.Random(rng.random()), names) for _ in range(threads)]
        checker = Checker(server, model, tally, names)
        for _ in range(kills):
            if time.monotonic() > ends:
                break
            stop = threading.Event()
            running = [
                threading.Thread(target=worker.run, args=(f"t{index}", stop, jobs and index == 0))
                for index, worker in enumerate(workers)
            ]
            for thread in running:
                thread.start()
            time.sleep(rng.uniform(min_run, max_run))
            stop.set()
            survivors = server.kill()
            if crash is not None:
                crash()
            tally.kills += 1
            for thread in running:
                thread.join()
            for command in survivors:
                tally.violations.append(f"after kill {tally.kills}: a process outlived the server: {command}")
            try:
                tally.restart_s.append(server.start())
            except RuntimeError as error:  # a server that cannot start on its data dir again
                tally.violations.append(f"after kill {tally.kills}: {error}")
                break
            began = time.monotonic()
            checker.all()
            tally.check_s.append(time.monotonic() - began)
            tally.orphan_files += _orphan_files(server.data_dir / "s3", model)
            if settled is not None:
                settled()
            if progress is not None:
                progress(tally)
        if server.proc is not None:
            checker.jobs(final=True)
    finally:
        server.stop()
    _count_leaks(server.data_dir, tally)
    return tally


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def report(tally: Tally, seconds: float, title: str = "Fault injection", kills: str = "SIGKILLs") -> str:
    lines = [
        f"{title} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}): {tally.kills} {kills} in {seconds / 60:.1f} min",
        "",
        "| measure | value |",
        "|---|---|",
        f"| kills (SIGKILL, restart on the same data dir) | {tally.kills} |",
        f"| requests acknowledged / cut by a kill | {tally.acknowledged} / {tally.cut} |",
        f"| key states checked (bytes, size, ETag) | {tally.checked_keys} |",
        f"| acknowledged versions checked | {tally.checked_versions} |",
        f"| multipart parts checked | {tally.checked_parts} |",
        f"| acknowledged messages owed and checked | {tally.checked_messages} |",
        f"| training jobs checked after restarts | {tally.checked_jobs} |",
        f"| plain files under no key, summed over restarts (never listed) | {tally.orphan_files} |",
        f"| files no row names at the end (blobs, upload parts, temp files) / bytes | {tally.leaked_files} / "
        f"{tally.leaked_bytes:,} |",
        f"| of those, left by a leak sweep an hour later | {tally.leaked_after_sweep} |",
        f"| restart to healthy, p50 / max | {_percentile(tally.restart_s, 0.5):.1f} s / "
        f"{max(tally.restart_s, default=0):.1f} s |",
        f"| checks after a restart, p50 / max | {_percentile(tally.check_s, 0.5):.1f} s / "
        f"{max(tally.check_s, default=0):.1f} s |",
        f"| **violations** | **{len(tally.violations)}** |",
    ]
    lines += [f"- {violation}" for violation in tally.violations[:50]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=3)
    parser.add_argument(
        "--min-run", type=float, default=0.05, help="shortest workload time before a kill (s)"
    )
    parser.add_argument("--max-run", type=float, default=1.5, help="longest workload time before a kill (s)")
    parser.add_argument("--minutes", type=float, help="stop after this long, whatever the kills done")
    parser.add_argument("--no-jobs", action="store_true", help="leave training jobs out of the workload")
    args = parser.parse_args()
    started = time.monotonic()

    def progress(tally: Tally) -> None:
        print(
            f"{tally.kills} kills, restart {tally.restart_s[-1]:.1f} s, checks {tally.check_s[-1]:.1f} s, "
            f"{len(tally.violations)} violations {tally.violations[-1:]}",
            file=sys.stderr,
            flush=True,
        )

    with tempfile.TemporaryDirectory(prefix="nimbus-faults-") as work:
        tally = run_campaign(
            Path(work),
            args.kills,
            args.seed,
            threads=args.threads,
            min_run=args.min_run,
            max_run=args.max_run,
            jobs=not args.no_jobs,
            minutes=args.minutes,
            progress=progress,
        )
    print(report(tally, time.monotonic() - started))
    sys.exit(1 if tally.violations else 0)


if __name__ == "__main__":
    main()
