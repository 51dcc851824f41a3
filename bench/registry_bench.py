"""Container images on Nimbus: the registry's push and pull speed, and what a container endpoint adds.

1. One large layer (random bytes, --layer-mb MiB) pushed to and pulled from Nimbus's registry by
   skopeo (``oci:`` layout to ``docker://`` and back, blobs copied as they are, so this measures the
   registry and not a compressor), beside the raw disk: the same bytes written with fsync and read.
2. InvokeEndpoint latency of the same "model" (it answers ``<lines>:<request body>``) served by a
   container of the busybox image the tests use, and by Nimbus's built-in runtime (scikit-learn script
   mode handlers), and the container's own server reached directly in its network namespace: the
   difference between the first and the last is what Nimbus's container path adds.

    bench/run.sh registry [--layer-mb 512] [--requests 300]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3_bench import Server, free_port, start_nimbus

from nimbus.engines.containers.network import NamespaceConnection

sys.path.append(str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))  # roles.py, as the tests
from roles import execution_role

REPO_ROOT = Path(__file__).resolve().parent.parent
IMAGE_SOURCE = REPO_ROOT / "tests" / "e2e" / "contract_image"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ECHO_HANDLERS = """
def model_fn(model_dir):
    return open(model_dir + "/lines").read().strip()

def input_fn(body, content_type):
    return body

def predict_fn(body, lines):
    return lines + ":" + (body.decode() if isinstance(body, bytes) else body)

def output_fn(prediction, accept):
    return prediction.encode()
"""
MIB = 1 << 20


def mbps(size: int, seconds: float) -> float:
    return size / MIB / seconds


def raw_disk(work: Path, data: bytes) -> tuple[float, float]:
    """MB/s writing ``data`` to a file with fsync, and reading it back."""
    path = work / "raw.bin"
    started = time.perf_counter()
    with path.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    written = time.perf_counter() - started
    started = time.perf_counter()
    with path.open("rb") as file:
        while file.read(MIB):
            pass
    read = time.perf_counter() - started
    path.unlink()
    return mbps(len(data), written), mbps(len(data), read)


def oci_layout(folder: Path, layer: bytes) -> None:
    """An OCI image layout holding one image whose only layer is ``layer``."""
    blobs = folder / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    )
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **blob(config.encode())},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **blob(layer)}],
    }
    described = blob(json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": manifest["mediaType"],
                **described,
                "annotations": {"org.opencontainers.image.ref.name": "bench"},
            }
        ],
    }
    (folder / "index.json").write_text(json.dumps(index))
    (folder / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')


def registry_password(server: Server) -> str:
    token = server.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode().partition(":")[2]


def skopeo(*arguments: str) -> float:
    started = time.perf_counter()
    subprocess.run(["skopeo", "copy", "--quiet", *arguments], check=True, timeout=1800)
    return time.perf_counter() - started


def push_pull(server: Server, registry: str, work: Path, layer_mb: int) -> dict[str, float]:
    layer = os.urandom(layer_mb * MIB)
    write, read = raw_disk(work, layer)
    oci_layout(work / "layout", layer)
    server.client("ecr").create_repository(repositoryName="bench/layer")
    creds = f"AWS:{registry_password(server)}"
    target = f"docker://{registry}/bench/layer:v1"
    pushed = skopeo("--dest-tls-verify=false", "--dest-creds", creds, f"oci:{work / 'layout'}:bench", target)
    pulled = skopeo("--src-tls-verify=false", "--src-creds", creds, target, f"oci:{work / 'pulled'}:bench")
    return {
        "push": mbps(len(layer), pushed),
        "pull": mbps(len(layer), pulled),
        "disk_write": write,
        "disk_read": read,
    }


def put_model(server: Server, bucket: str) -> str:
    """model.tar.gz: the ``lines`` file both servers answer with, and the built-in runtime's handlers."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in (("lines", "3\n"), ("code/echo.py", ECHO_HANDLERS)):
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    server.client("s3").put_object(Bucket=bucket, Key="model.tar.gz", Body=buffer.getvalue())
    return f"s3://{bucket}/model.tar.gz"


def push_echo_image(server: Server, registry: str, work: Path) -> str:
    context = work / "image"
    shutil.copytree(IMAGE_SOURCE, context)
    shutil.copy("/bin/busybox", context / "busybox")
    (work / "containers.conf").write_text('[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\n')
    env = {**os.environ, "CONTAINERS_CONF": str(work / "containers.conf")}
    server.client("ecr").create_repository(repositoryName="bench/echo")
    uri = f"{registry}/bench/echo:v1"
    for command in (
        ["build", "--quiet", "--tag", uri, str(context)],
        ["push", "--quiet", "--tls-verify=false", "--creds", f"AWS:{registry_password(server)}", uri],
    ):
        subprocess.run(["podman", *command], check=True, env=env, capture_output=True, timeout=600)
    return uri


def deploy(server: Server, name: str, container: dict[str, Any]) -> None:
    sagemaker = server.client("sagemaker")
    role = execution_role(sagemaker)
    sagemaker.create_model(ModelName=name, PrimaryContainer=container, ExecutionRoleArn=role)
    variant = {
        "VariantName": "a",
        "ModelName": name,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    while (status := sagemaker.describe_endpoint(EndpointName=name))["EndpointStatus"] == "Creating":
        time.sleep(0.2)
    if status["EndpointStatus"] != "InService":
        raise RuntimeError(f"{name}: {status.get('FailureReason')}")


def latencies(call: Any, requests: int) -> dict[str, float]:
    for _ in range(10):
        call()  # warm
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50": statistics.median(times), "p99": times[int(len(times) * 0.99) - 1]}


def invoke(server: Server, name: str) -> Any:
    runtime = server.client("sagemaker-runtime")

    def call() -> None:
        body = runtime.invoke_endpoint(EndpointName=name, Body=b"hello", ContentType="text/plain")[
            "Body"
        ].read()
        assert body == b"3:hello", body

    return call


def direct(config_dir: Path) -> Any:
    """The container endpoint's server alone: a POST in its network namespace, as Nimbus sends it."""
    listed = subprocess.run(
        ["podman", "ps", "--filter", f"label=nimbus.containers={config_dir}", "--format", "{{.ID}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    pid = subprocess.run(
        ["podman", "inspect", "--format", "{{.State.Pid}}", listed[0]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    def call() -> None:
        connection = NamespaceConnection(int(pid), 8080, 10)
        connection.request("POST", "/invocations", body=b"hello", headers={"Content-Type": "text/plain"})
        assert connection.getresponse().read() == b"3:hello"
        connection.close()

    return call


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layer-mb", type=int, default=512)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as folder:
        work = Path(folder)
        registry_port = free_port()
        server = start_nimbus(work, {"NIMBUS_REGISTRY_PORT": str(registry_port)})
        registry = f"127.0.0.1:{registry_port}"
        try:
            speeds = push_pull(server, registry, work, args.layer_mb)
            bucket = f"bench-{uuid.uuid4().hex[:8]}"
            server.client("s3").create_bucket(Bucket=bucket)
            model = put_model(server, bucket)
            deploy(
                server, "container", {"Image": push_echo_image(server, registry, work), "ModelDataUrl": model}
            )
            environment = {"SAGEMAKER_PROGRAM": "echo.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
            deploy(
                server, "builtin", {"Image": SKLEARN_IMAGE, "ModelDataUrl": model, "Environment": environment}
            )
            container = latencies(invoke(server, "container"), args.requests)
            builtin = latencies(invoke(server, "builtin"), args.requests)
            alone = latencies(direct(work / "nimbus-data" / "containers"), args.requests)
        finally:
            for name in ("container", "builtin"):
                with contextlib.suppress(Exception):  # an endpoint that never came up
                    server.client("sagemaker").delete_endpoint(EndpointName=name)
            server.stop()
    print(
        f"## Container registry and container endpoints ({datetime.now():%Y-%m-%d}, {os.cpu_count()} cores)\n"
    )
    print(f"| {args.layer_mb} MiB layer | MB/s |\n| --- | --- |")
    for label, name in (
        ("skopeo push to Nimbus", "push"),
        ("skopeo pull from Nimbus", "pull"),
        ("raw disk write (fsync)", "disk_write"),
        ("raw disk read (page cache)", "disk_read"),
    ):
        print(f"| {label} | {speeds[name]:.0f} |")
    print()
    print(f"| InvokeEndpoint, {args.requests} requests | p50 ms | p99 ms |\n| --- | --- | --- |")
    for label, found in (
        ("container endpoint (busybox echo image)", container),
        ("built-in runtime (scikit-learn script mode echo)", builtin),
        ("the container's server alone (in its network namespace)", alone),
    ):
        print(f"| {label} | {found['p50']:.1f} | {found['p99']:.1f} |")


if __name__ == "__main__":
    main()
