"""Sustained load: concurrent boto3 clients on every service of one ``nimbus serve`` for N minutes.

Clients (one thread each, back to back, no pause): S3 PutObject + GetObject of 4 KiB objects (two
threads), S3 PutObject + GetObject of 16 MiB objects, Rekognition DetectLabels and DetectFaces on a photo
under tests/e2e/photos, Lex V2 RecognizeText on a small built bot, and SageMaker InvokeEndpoint on a
built-in XGBoost endpoint (a model trained here on scikit-learn's breast-cancer data). Every answer is
checked (the bytes read back, labels and faces found, the intent recognized, one score per row).

Reported: errors (the aim is zero), the server's RSS (its whole process tree, from /proc) every 10 s,
and p50 / p99 latency per operation per minute.

    bench/run.sh soak [--minutes 10]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import xgboost
from sklearn.datasets import load_breast_cancer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3_bench import Server, percentile, start_nimbus

sys.path.append(str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))  # roles.py, as the tests
from roles import execution_role

REPO_ROOT = Path(__file__).resolve().parent.parent
PHOTO = REPO_ROOT / "tests/e2e/photos/obama_portrait.jpg"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SoakRole"
LOCALE = "en_US"
INTENTS = {
    "OrderPizza": ["I want a pizza", "order a pizza please", "can I get a large pizza", "pizza for dinner"],
    "BookHotel": ["book a hotel room", "I need a room for tonight", "reserve a hotel", "find me a hotel"],
    "CheckWeather": [
        "what is the weather",
        "will it rain tomorrow",
        "weather forecast please",
        "is it sunny",
    ],
}
KIB = 1024
MIB = 1024 * KIB
RSS_EVERY_S = 10.0


class Recorder:
    """Latencies per (minute, operation), errors, and the server's RSS over time."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.latencies: dict[tuple[int, str], list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.rss: list[tuple[float, float]] = []
        self.lock = threading.Lock()

    def timed(self, operation: str, call: Callable[[], None]) -> None:
        began = time.perf_counter()
        try:
            call()
        except Exception as error:  # every failure is counted and reported
            with self.lock:
                self.errors.append(f"{operation}: {error!r}"[:300])
            return
        elapsed = time.perf_counter() - began
        minute = int((time.monotonic() - self.started) // 60)
        with self.lock:
            self.latencies[(minute, operation)].append(elapsed)


def tree_rss_mib(root: int) -> float:
    """The resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[parent].append(int(entry.name))
    total_kib, pending = 0, [root]
    while pending:
        pid = pending.pop()
        pending.extend(children.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except OSError:
            continue
    return total_kib / KIB


def tar_gz(name: str, content: bytes) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return archive.getvalue()


def wait_for(describe: Callable[[], str], ready: str, busy: tuple[str, ...], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = describe()
        if status == ready:
            return
        if status not in busy:
            raise RuntimeError(f"ended {status}, not {ready}")
        time.sleep(0.5)
    raise RuntimeError(f"not {ready} after {timeout:.0f} s")


def deploy_xgboost(server: Server, work: Path, bucket: str) -> tuple[str, bytes]:
    """A built-in XGBoost endpoint; returns its name and a 10-row CSV request body."""
    features, labels = load_breast_cancer(return_X_y=True)
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 3}, xgboost.DMatrix(features, labels), 20
    )
    path = work / "xgboost-model"
    booster.save_model(str(path))
    s3 = server.client("s3")
    s3.put_object(Bucket=bucket, Key="model/model.tar.gz", Body=tar_gz("xgboost-model", path.read_bytes()))
    sagemaker = server.client("sagemaker")
    name = f"soak-{uuid.uuid4().hex[:8]}"
    container = {"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{bucket}/model/model.tar.gz"}
    sagemaker.create_model(
        ModelName=name, PrimaryContainer=container, ExecutionRoleArn=execution_role(sagemaker)
    )
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[{**variant, "InstanceType": "ml.m5.large"}]
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    wait_for(
        lambda: sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"],
        "InService",
        ("Creating",),
        300,
    )
    rows = "\n".join(",".join(repr(float(value)) for value in row) for row in features[:10])
    return name, rows.encode()


def build_bot(server: Server) -> str:
    models = server.client("lexv2-models")
    bot_id = models.create_bot(
        botName=f"soak-{uuid.uuid4().hex[:8]}",
        roleArn=ROLE,
        dataPrivacy={"childDirected": False},
        idleSessionTTLInSeconds=300,
    )["botId"]
    where = {"botId": bot_id, "botVersion": "DRAFT", "localeId": LOCALE}
    models.create_bot_locale(**where, nluIntentConfidenceThreshold=0.4)
    for name, samples in INTENTS.items():
        models.create_intent(**where, intentName=name, sampleUtterances=[{"utterance": u} for u in samples])
    models.build_bot_locale(**where)
    wait_for(
        lambda: models.describe_bot_locale(**where)["botLocaleStatus"],
        "Built",
        ("Building", "NotBuilt", "ReadyExpressTesting"),
        600,
    )
    return str(bot_id)


def clients(server: Server, work: Path, record: Recorder) -> list[Callable[[int], None]]:
    """One callable per client thread: ``call(i)`` runs that client's i-th round and checks the answers."""
    bucket = f"soak-{uuid.uuid4().hex[:8]}"
    server.client("s3").create_bucket(Bucket=bucket)
    endpoint, csv_rows = deploy_xgboost(server, work, bucket)
    bot_id = build_bot(server)
    photo = PHOTO.read_bytes()

    def s3_round(size: int, label: str) -> Callable[[int], None]:
        s3 = server.client("s3")
        data = os.urandom(size)

        def call(index: int) -> None:
            key = f"{label.replace(' ', '-')}/{index % 50}"  # each client its own keys
            record.timed(f"PutObject {label}", lambda: s3.put_object(Bucket=bucket, Key=key, Body=data))

            def get() -> None:
                if s3.get_object(Bucket=bucket, Key=key)["Body"].read() != data:
                    raise AssertionError(f"{key} read back other bytes")

            record.timed(f"GetObject {label}", get)

        return call

    def vision(_: int) -> None:
        rekognition = server.client("rekognition")

        def labels() -> None:
            if not rekognition.detect_labels(Image={"Bytes": photo}, MaxLabels=10)["Labels"]:
                raise AssertionError("no labels")

        def faces() -> None:
            if len(rekognition.detect_faces(Image={"Bytes": photo})["FaceDetails"]) != 1:
                raise AssertionError("not the one face of the portrait")

        record.timed("DetectLabels", labels)
        record.timed("DetectFaces", faces)

    runtime = server.client("lexv2-runtime")
    texts = [("I would like a pizza", "OrderPizza"), ("get me a hotel room", "BookHotel")]

    def lex(index: int) -> None:
        text, intent = texts[index % len(texts)]

        def recognize() -> None:
            reply = runtime.recognize_text(
                botId=bot_id, botAliasId="TSTALIASID", localeId=LOCALE, sessionId=f"s{index}", text=text
            )
            if reply["sessionState"]["intent"]["name"] != intent:
                raise AssertionError(f"{text!r} -> {reply['sessionState']['intent']['name']}")

        record.timed("RecognizeText", recognize)

    sagemaker_runtime = server.client("sagemaker-runtime")

    def invoke(_: int) -> None:
        def call() -> None:
            body = sagemaker_runtime.invoke_endpoint(
                EndpointName=endpoint, ContentType="text/csv", Body=csv_rows
            )
            scores = body["Body"].read().decode().replace(",", "\n").split()
            if len(scores) != 10:
                raise AssertionError(f"{len(scores)} scores for 10 rows")

        record.timed("InvokeEndpoint", call)

    return [
        s3_round(4 * KIB, "4KiB a"),
        s3_round(4 * KIB, "4KiB b"),
        s3_round(16 * MIB, "16MiB"),
        vision,
        lex,
        invoke,
    ]


def soak(server: Server, work: Path, minutes: float) -> Recorder:
    record = Recorder()
    rounds = clients(server, work, record)
    record.started = time.monotonic()
    deadline = record.started + minutes * 60
    pid = server.proc.pid

    def loop(call: Callable[[int], None]) -> None:
        index = 0
        while time.monotonic() < deadline:
            call(index)
            index += 1

    threads = [threading.Thread(target=loop, args=(call,)) for call in rounds]
    for thread in threads:
        thread.start()
    while time.monotonic() < deadline:
        record.rss.append((time.monotonic() - record.started, tree_rss_mib(pid)))
        time.sleep(min(RSS_EVERY_S, max(0.0, deadline - time.monotonic())))
    for thread in threads:
        thread.join()
    record.rss.append((time.monotonic() - record.started, tree_rss_mib(pid)))
    return record


def report(record: Recorder, minutes: float) -> str:
    lines = [
        f"Soak ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end): {minutes:g} min, 6 concurrent clients",
        "",
        f"Errors: **{len(record.errors)}**",
    ]
    lines += [f"- {error}" for error in record.errors[:20]]
    operations = sorted({operation for _, operation in record.latencies})
    minute_count = max((minute for minute, _ in record.latencies), default=-1) + 1
    lines += ["", "p50 / p99 latency (ms) per operation per minute, and requests:", ""]
    lines.append("| operation | " + " | ".join(f"min {m + 1}" for m in range(minute_count)) + " | requests |")
    lines.append("|---|" + "---|" * (minute_count + 1))
    for operation in operations:
        cells, total = [], 0
        for minute in range(minute_count):
            values = record.latencies.get((minute, operation), [])
            total += len(values)
            cells.append(
                f"{percentile(values, 50) * 1000:.0f} / {percentile(values, 99) * 1000:.0f}"
                if values
                else "-"
            )
        lines.append(f"| {operation} | " + " | ".join(cells) + f" | {total} |")
    lines += ["", "Server RSS (its process tree, MiB) over time:", ""]
    samples = record.rss[:: max(1, len(record.rss) // 12)] + record.rss[-1:]
    lines.append("| " + " | ".join(f"{seconds:.0f} s" for seconds, _ in samples) + " |")
    lines.append("|" + "---|" * len(samples))
    lines.append("| " + " | ".join(f"{rss:.0f}" for _, rss in samples) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nimbus-soak-") as work:
        server = start_nimbus(Path(work))
        try:
            record = soak(server, Path(work), args.minutes)
        finally:
            server.stop()
    print(report(record, args.minutes))
    sys.exit(1 if record.errors else 0)


if __name__ == "__main__":
    main()
