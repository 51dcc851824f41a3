"""Inference Recommender on this machine: how long a Default job takes on a small XGBoost model, and
whether back-to-back runs of the same job agree (MaxInvocations and ModelLatency p95 within 10%, the
same type ranked first).

    python bench/recommender_bench.py [--runs 3] [--types ml.m5.large,ml.c5.xlarge,ml.g4dn.xlarge]

Each run is a Default job through boto3 against a fresh `nimbus serve`; the figures compared are the
report's (``GET /_nimbus/sagemaker/inference-recommendations/<job>``): MaxInvocations per minute and
AWS's ModelLatency P95 (the container's time as InvokeEndpoint sees it) in ms, unrounded; the
open-loop end-to-end P95 is shown beside it, for information. Prints Markdown for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import xgboost
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from s3_bench import Server, start_nimbus
from sagemaker_bench import csv_lines, tar_gz
from sklearn.datasets import load_breast_cancer

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
INVOKE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": "*"},
        # the model and the sample payloads are read as the role, as AWS reads them
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bench/*"},
    ],
}
AGREEMENT = 0.10


def prepare(server: Server) -> str:
    """The role, model and sample payloads; returns the role's ARN."""
    iam = server.client("iam")
    role = iam.create_role(RoleName="Recommender", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName="Recommender", PolicyName="invoke", PolicyDocument=json.dumps(INVOKE))
    features, labels = load_breast_cancer(return_X_y=True)
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 6}, xgboost.DMatrix(features, label=labels), 100
    )
    s3 = server.client("s3")
    s3.create_bucket(Bucket="bench")
    s3.put_object(
        Bucket="bench", Key="model.tar.gz", Body=tar_gz({"xgboost-model": bytes(booster.save_raw("json"))})
    )
    rows = {f"{i}.csv": csv_lines(features[i : i + 1]).encode() for i in range(20)}
    s3.put_object(Bucket="bench", Key="payloads.tar.gz", Body=tar_gz(rows))
    s3.put_object(Bucket="bench", Key="broken.tar.gz", Body=tar_gz({"xgboost-model": b"not a booster"}))
    for name, key in (("xgb", "model.tar.gz"), ("broken", "broken.tar.gz")):
        server.client("sagemaker").create_model(
            ModelName=name,
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://bench/{key}"},
            ExecutionRoleArn=role,
        )
    return role


def report(server: Server, name: str) -> dict[str, Any]:
    url = f"{server.endpoint_url}/_nimbus/sagemaker/inference-recommendations/{name}"
    request = AWSRequest("GET", url)
    SigV4Auth(Credentials(server.access_key, server.secret_key), "sagemaker", "us-east-1").add_auth(request)
    return dict(requests.get(url, headers=dict(request.headers.items()), timeout=30).json())


def run(
    server: Server, role: str, name: str, types: list[str], model: str = "xgb"
) -> tuple[float, dict[str, Any]]:
    """The job's time to its end, and its report (or its description when it did not complete)."""
    sagemaker = server.client("sagemaker")
    started = time.monotonic()
    sagemaker.create_inference_recommendations_job(
        JobName=name,
        JobType="Default",
        RoleArn=role,
        InputConfig={
            "ModelName": model,
            "ContainerConfig": {
                "PayloadConfig": {
                    "SamplePayloadUrl": "s3://bench/payloads.tar.gz",
                    "SupportedContentTypes": ["text/csv"],
                },
                "SupportedInstanceTypes": types,
            },
        },
    )
    while (status := sagemaker.describe_inference_recommendations_job(JobName=name))["Status"] in (
        "PENDING",
        "IN_PROGRESS",
    ):
        time.sleep(1)
    elapsed = time.monotonic() - started
    if model == "xgb" and status["Status"] != "COMPLETED":
        raise RuntimeError(f"{name}: {status['Status']} {status.get('FailureReason')}")
    return elapsed, report(server, name) if status["Status"] == "COMPLETED" else status


def spread(values: list[float]) -> float:
    return max(values) / min(values) - 1 if min(values) > 0 else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--types", default="ml.m5.large,ml.c5.xlarge,ml.g4dn.xlarge")
    args = parser.parse_args()
    types = args.types.split(",")
    with tempfile.TemporaryDirectory() as work:
        server = start_nimbus(Path(work))
        try:
            role = prepare(server)
            runs = [run(server, role, f"run-{index}", types) for index in range(args.runs)]
            failed_after, failed = run(server, role, "broken", types, model="broken")
        finally:
            server.stop()
    machine = f"{platform.machine()} {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end"
    print(
        f"Inference Recommender Default job, {args.runs} runs back to back, "
        f"{datetime.now(UTC):%Y-%m-%d}, {machine}\n"
    )
    print(
        "| run | job time (s) | first | "
        + " | ".join(f"{t} MaxInvocations/min, ModelLatency p95 ms (end-to-end p95) (kind)" for t in types)
        + " |"
    )
    print("|---|---|---|" + "---|" * len(types))
    table: dict[str, list[tuple[float, float]]] = {name: [] for name in types}
    firsts = []
    projections = []
    for index, (elapsed, answer) in enumerate(runs):
        by_type = {item["InstanceType"]: item for item in answer["candidates"]}
        first = min(answer["candidates"], key=lambda item: item["Rank"])["InstanceType"]
        firsts.append(first)
        cells = []
        for name in types:
            figures = by_type[name]["Figures"]
            invocations, latency = figures["MaxInvocations"], figures["ModelLatency"]
            if invocations["value"] is None:
                cells.append(f"{invocations['kind']}")
                continue
            if invocations["kind"] == "projected":
                projections.append(f"run {index + 1}, {name}: {invocations['basis']}")
            end_to_end = figures["EndToEndLatency"]["milliseconds"]
            table[name].append((float(invocations["value"]), float(latency["milliseconds"])))
            cells.append(
                f"{invocations['value']:.0f}, {latency['milliseconds']:.1f} ({end_to_end:.1f}) "
                f"({invocations['kind']})"
            )
        print(f"| {index + 1} | {elapsed:.0f} | {first} | " + " | ".join(cells) + " |")
    print()
    for name, values in table.items():
        if values:
            invocations = spread([value[0] for value in values])
            p95 = spread([value[1] for value in values])
            verdict = "within" if max(invocations, p95) <= AGREEMENT else "NOT within"
            print(
                f"- {name}: MaxInvocations spread {invocations:.1%}, ModelLatency p95 spread {p95:.1%}: "
                f"{verdict} 10%"
            )
    reason = str(failed.get("FailureReason"))[:200]
    print(f"- a model that does not load: {failed['Status']} after {failed_after:.1f} s: {reason}")
    print(
        f"- first-ranked type: {', '.join(firsts)} "
        f"({'the same' if len(set(firsts)) == 1 else 'NOT the same'} in every run)"
    )
    for line in projections:
        print(f"- projected {line}")


if __name__ == "__main__":
    main()
