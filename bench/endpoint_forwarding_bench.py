"""What forwarding an endpoint invocation between nodes costs: two `nimbus serve` nodes on one SQLite
database and one data directory, an XGBoost endpoint created through node A (which serves it), and the
same InvokeEndpoint (boto3, one CSV row) sent alternately to A (answered by its own worker) and to B
(forwarded to A over HTTP, docs/deployment.md "Endpoints across nodes"). Reports p50 / p99 of each and
their difference, and checks every answer against the booster in-process.

    bench/run.sh endpoint-forwarding [--requests 300]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import xgboost
from s3_bench import percentile, start_nimbus
from sagemaker_bench import XGBOOST_IMAGE, deploy_endpoint
from sklearn.datasets import load_breast_cancer


def _model() -> tuple[xgboost.Booster, np.ndarray, bytes]:
    features, labels = load_breast_cancer(return_X_y=True)
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 3}, xgboost.DMatrix(features, label=labels), 20
    )
    with tempfile.TemporaryDirectory() as folder:
        booster.save_model(f"{folder}/xgboost-model")
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            tar.add(f"{folder}/xgboost-model", arcname="xgboost-model")
    return booster, features[:1], archive.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300, help="invocations through each node")
    args = parser.parse_args()
    booster, row, archive = _model()
    body = ",".join(repr(float(value)) for value in row[0]).encode()
    expected = float(booster.predict(xgboost.DMatrix(row))[0])
    with tempfile.TemporaryDirectory(prefix="nimbus-forwarding-") as work:
        first_work, second_work = Path(work, "a"), Path(work, "b")
        first_work.mkdir()
        second_work.mkdir()
        (first_work / "nimbus-data").mkdir()
        (second_work / "nimbus-data").symlink_to(first_work / "nimbus-data")  # one data directory
        nodes = [start_nimbus(first_work)]
        try:
            nodes.append(start_nimbus(second_work))
            s3 = nodes[0].client("s3")
            bucket = f"forwarding-{uuid.uuid4().hex[:8]}"
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="model.tar.gz", Body=archive)
            name = f"forwarding-{uuid.uuid4().hex[:8]}"
            container = {"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{bucket}/model.tar.gz"}
            status, _ = deploy_endpoint(nodes[0], name, container)
            assert status == "InService", status
            runtimes = [node.client("sagemaker-runtime") for node in nodes]
            latencies: list[list[float]] = [[], []]
            for index in range(10 + args.requests):  # 10 warm-up calls each, then alternately
                for which, runtime in enumerate(runtimes):
                    started = time.perf_counter()
                    answer = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=body)
                    elapsed = time.perf_counter() - started
                    assert abs(float(answer["Body"].read()) - expected) < 1e-6
                    if index >= 10:
                        latencies[which].append(elapsed * 1000)
        finally:
            for node in nodes:
                node.stop()
    load = os.getloadavg()[0]
    print(f"# {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} CPUs, load {load:.1f}")
    print(f"InvokeEndpoint, 1 CSV row, {args.requests} calls through each node (ms)")
    print("| through | p50 | p99 | mean |")
    print("|---|---|---|---|")
    for label, values in zip(("node A (serves it)", "node B (forwards to A)"), latencies, strict=True):
        print(
            f"| {label} | {percentile(values, 50):.2f} | {percentile(values, 99):.2f} | "
            f"{statistics.fmean(values):.2f} |"
        )
    local, forwarded = latencies
    print(
        f"| added by forwarding | {percentile(forwarded, 50) - percentile(local, 50):.2f} | "
        f"{percentile(forwarded, 99) - percentile(local, 99):.2f} | "
        f"{statistics.fmean(forwarded) - statistics.fmean(local):.2f} |"
    )


if __name__ == "__main__":
    sys.exit(main())
