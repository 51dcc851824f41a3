"""Rekognition Custom Labels through the API, against a real `nimbus serve`: held-out accuracy on two
small-image tasks whose images and labels nobody here made.

- digits-96px: scikit-learn's handwritten digits 0-9 (``load_digits``, the UCI optical digits test
  set, 8x8; BSD-3-Clause with scikit-learn), dark ink on white, upscaled to 96x96 PNGs.
- fashion-96px: Fashion-MNIST (Zalando's product photos, 28x28 grey; Expat/MIT licence), its 10,000
  image test file as Debian's `dataset-fashion-mnist` package ships it, upscaled to 96x96 PNGs.

Per label: the first --train TRAIN, the next --test TEST images (Ground Truth manifests), the next
--held-out images seen by neither. CreateProjectVersion to TRAINING_COMPLETED is timed; the F1 the
evaluation reports; then DetectCustomLabels on every held-out image, as a client without
MinConfidence gets it (the first label it returns is right; no label counts as wrong) and the most
confident label at MinConfidence 0. Debian's package is fetched with `apt-get download` into --cache
(default ~/.cache/nimbus-bench); --no-fetch skips that task when it is not there.

    .venv/bin/python bench/custom_labels_quality.py [--train 40] [--test 10] [--held-out 50]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3_bench import Server, start_nimbus

POLL_S = 0.5
SIDE = 96
FASHION_PACKAGE = "dataset-fashion-mnist"
FASHION_FILES = "usr/share/datasets/fashion-mnist"
FASHION_CLASSES = (
    "T-shirt",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Boot",
)
# The Fashion-MNIST paper's benchmark of scikit-learn classifiers on the raw pixels, trained on all
# 60,000 training images (Xiao, Rasul, Vollgraf 2017, arXiv:1708.07747, Table 3): the best is an RBF SVC.
FASHION_PUBLISHED = "0.897 (SVC, RBF kernel, C=10, 60,000 training images; arXiv:1708.07747)"

Task = dict[str, list[tuple[bytes, str]]]
COLUMNS = {  # heading -> (result key, format)
    "CreateProjectVersion → TRAINING_COMPLETED, s": ("training_s", ".1f"),
    "F1 on TEST": ("f1", ".3f"),
    "held-out accuracy, no MinConfidence": ("at_threshold", ".3f"),
    "held-out accuracy, most confident label": ("most_confident", ".3f"),
    "DetectCustomLabels p50, ms": ("p50_ms", ".0f"),
}


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).resize((SIDE, SIDE), Image.Resampling.BILINEAR).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def split(images: np.ndarray, targets: np.ndarray, names: list[str], sizes: tuple[int, int, int]) -> Task:
    """The first images of each class: TRAIN, then TEST, then held out."""
    task: Task = {"TRAIN": [], "TEST": [], "held-out": []}
    bounds = np.cumsum(sizes)
    for target, name in enumerate(names):
        for position, index in enumerate(np.nonzero(targets == target)[0][: bounds[-1]]):
            part = "TRAIN" if position < bounds[0] else "TEST" if position < bounds[1] else "held-out"
            task[part].append((png(images[index]), name))
    return task


def digits_task(sizes: tuple[int, int, int]) -> Task:
    digits = load_digits()
    ink = (255 - digits.images / 16 * 255).astype(np.uint8)
    return split(ink, digits.target, [str(digit) for digit in range(10)], sizes)


def fashion_files(cache: Path, fetch: bool) -> Path | None:
    folder = cache / FASHION_PACKAGE
    if not (folder / FASHION_FILES).is_dir():
        if not fetch:
            return None
        with tempfile.TemporaryDirectory() as download:
            subprocess.run(["apt-get", "download", FASHION_PACKAGE], cwd=download, check=True, timeout=300)
            (deb,) = Path(download).glob("*.deb")
            subprocess.run(["dpkg-deb", "-x", str(deb), str(folder)], check=True)
    return folder / FASHION_FILES


def fashion_task(files: Path, sizes: tuple[int, int, int]) -> Task:
    with gzip.open(files / "t10k-images-idx3-ubyte.gz") as handle:
        images = np.frombuffer(handle.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(files / "t10k-labels-idx1-ubyte.gz") as handle:
        targets = np.frombuffer(handle.read(), np.uint8, offset=8)
    return split(images, targets, list(FASHION_CLASSES), sizes)


def manifest_line(bucket: str, key: str, label: str) -> str:
    metadata = {"class-name": label, "type": "groundtruth/image-classification", "confidence": 1}
    return json.dumps({"source-ref": f"s3://{bucket}/{key}", "class": 1, "class-metadata": metadata})


def wait_version(rekognition: Any, project: str, statuses: set[str]) -> dict[str, Any]:
    while True:
        (found,) = rekognition.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
        if found["Status"] in statuses:
            return found
        time.sleep(POLL_S)


def measure(server: Server, name: str, task: Task) -> dict[str, float]:
    s3, rekognition = server.client("s3"), server.client("rekognition")
    s3.create_bucket(Bucket=name)
    project = rekognition.create_project(ProjectName=name)["ProjectArn"]
    for kind in ("TRAIN", "TEST"):
        lines = []
        for number, (image, label) in enumerate(task[kind]):
            key = f"{kind}/{number}.png"
            s3.put_object(Bucket=name, Key=key, Body=image)
            lines.append(manifest_line(name, key, label))
        s3.put_object(Bucket=name, Key=f"{kind}.manifest", Body="\n".join(lines).encode())
        source = {"GroundTruthManifest": {"S3Object": {"Bucket": name, "Name": f"{kind}.manifest"}}}
        rekognition.create_dataset(ProjectArn=project, DatasetType=kind, DatasetSource=source)
    began = time.perf_counter()
    version = rekognition.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": name, "S3KeyPrefix": "out/"}
    )["ProjectVersionArn"]
    trained = wait_version(rekognition, project, {"TRAINING_COMPLETED", "TRAINING_FAILED"})
    training_s = time.perf_counter() - began
    if trained["Status"] != "TRAINING_COMPLETED":
        raise RuntimeError(trained.get("StatusMessage"))
    rekognition.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
    wait_version(rekognition, project, {"RUNNING"})
    at_threshold = most_confident = 0
    latencies = []
    for image, label in task["held-out"]:
        began = time.perf_counter()
        assumed = rekognition.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": image})
        latencies.append(time.perf_counter() - began)
        every = rekognition.detect_custom_labels(
            ProjectVersionArn=version, Image={"Bytes": image}, MinConfidence=0
        )
        at_threshold += bool(assumed["CustomLabels"]) and assumed["CustomLabels"][0]["Name"] == label
        most_confident += every["CustomLabels"][0]["Name"] == label
    rekognition.stop_project_version(ProjectVersionArn=version)
    held_out = len(task["held-out"])
    return {
        "training_s": training_s,
        "f1": trained["EvaluationResult"]["F1Score"],
        "at_threshold": at_threshold / held_out,
        "most_confident": most_confident / held_out,
        "p50_ms": 1000 * statistics.median(latencies),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=40)
    parser.add_argument("--test", type=int, default=10)
    parser.add_argument("--held-out", type=int, default=50)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "nimbus-bench")
    parser.add_argument("--no-fetch", action="store_true")
    arguments = parser.parse_args(argv)
    sizes = (arguments.train, arguments.test, arguments.held_out)
    tasks = {"digits-96px": (digits_task(sizes), "none found for this protocol")}
    files = fashion_files(arguments.cache, not arguments.no_fetch)
    if files is None:
        print(f"fashion-96px: not measured ({FASHION_PACKAGE} is not in {arguments.cache})\n")
    else:
        tasks["fashion-96px"] = (fashion_task(files, sizes), FASHION_PUBLISHED)
    print(f"{arguments.train} TRAIN, {arguments.test} TEST, {arguments.held_out} held-out images a label\n")
    print(" | ".join(["| task", *COLUMNS, "published |"]))
    print("|---|" + "---:|" * len(COLUMNS) + "---|")
    with tempfile.TemporaryDirectory() as work:
        server = start_nimbus(Path(work))
        try:
            for name, (task, published) in tasks.items():
                result = measure(server, name, task)
                cells = [f"{result[key]:{form}}" for key, form in COLUMNS.values()]
                print(" | ".join([f"| {name}", *cells, f"{published} |"]), flush=True)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
