"""EMR: what authorizing each file access as the cluster's role costs. A PySpark step reads N small
objects (``spark.read.text(<prefix>).count()``, timed in the driver: the listing in the driver, one
open per object in the executors) twice: the first read asks Nimbus once per object (s3:GetObject)
and once for the listing (s3:ListBucket), the second finds every decision in the JVMs' cache. Two
clusters of one worker run the step alternately, ``--runs`` times each: one with a JobFlowRole whose
role may read everything (authorized), one without a JobFlowRole (the file system asks nobody).

    bench/run.sh emr-access [--objects 1000] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emr_bench import _value, run_step, terminate, wait_for
from s3_bench import start_nimbus

PROFILE = "bench-job-flow"
SCRIPT = """
import sys, time
print("driver-start", time.time(), flush=True)
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
for name in ("first", "again"):
    started = time.time()
    count = spark.read.text(sys.argv[2]).count()
    print(name, time.time() - started, count, flush=True)
spark.stop()
"""
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def start_cluster(emr: Any, bucket: str, roles: dict[str, str]) -> str:
    cluster_id = emr.run_job_flow(
        Name="bench-access",
        ReleaseLabel="emr-7.2.0",
        Applications=[{"Name": "Spark"}],
        LogUri=f"s3://{bucket}/logs/",
        **roles,
        Instances={
            "InstanceGroups": [
                {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
                {"InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 1},
            ],
            "KeepJobFlowAliveWhenNoSteps": True,
        },
    )["JobFlowId"]
    wait_for("WAITING", lambda: _state(emr, cluster_id) in ("WAITING", "TERMINATED_WITH_ERRORS"))
    assert _state(emr, cluster_id) == "WAITING"
    return str(cluster_id)


def _state(emr: Any, cluster_id: str) -> str:
    return str(emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"])


def make_roles(iam: Any) -> None:
    """The instance profile and the roles RunJobFlow hands over (EMR's service role, the nodes' role)."""
    for name, service in (
        ("EMR_DefaultRole", "elasticmapreduce.amazonaws.com"),
        ("bench-nodes", "ec2.amazonaws.com"),
    ):
        trust = {**TRUST, "Statement": [{**TRUST["Statement"][0], "Principal": {"Service": service}}]}
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName=name, PolicyName="s3", PolicyDocument=json.dumps(EVERYTHING))
    iam.create_instance_profile(InstanceProfileName=PROFILE)
    iam.add_role_to_instance_profile(InstanceProfileName=PROFILE, RoleName="bench-nodes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="emr-access-bench-") as folder:
        server = start_nimbus(Path(folder))
        try:
            s3, emr, iam = (server.client(name) for name in ("s3", "emr", "iam"))
            bucket = "emr-access-bench"
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="bench.py", Body=SCRIPT.encode())
            with ThreadPoolExecutor(8) as pool:
                list(
                    pool.map(
                        lambda n: s3.put_object(
                            Bucket=bucket, Key=f"small/{n:05d}.txt", Body=f"line {n}\n".encode()
                        ),
                        range(args.objects),
                    )
                )
            make_roles(iam)
            clusters = {
                "not asked": start_cluster(emr, bucket, {}),
                "authorized": start_cluster(
                    emr, bucket, {"JobFlowRole": PROFILE, "ServiceRole": "EMR_DefaultRole"}
                ),
            }
            times: dict[str, list[tuple[float, float]]] = {mode: [] for mode in clusters}
            try:
                for _ in range(args.runs):
                    for mode, cluster_id in clusters.items():
                        _, _, stdout = run_step(
                            emr, s3, bucket, cluster_id, ["read", f"s3://{bucket}/small/"]
                        )
                        assert f" {args.objects}" in stdout, stdout
                        times[mode].append((_value(stdout, "first"), _value(stdout, "again")))
                        print(mode, times[mode][-1], flush=True)
            finally:
                for cluster_id in clusters.values():
                    terminate(emr, cluster_id)
        finally:
            server.stop()
    print(f"\n{args.objects} objects, {args.runs} runs each, median seconds")
    print("| file system | first read s | again (cached) s |")
    print("| --- | ---: | ---: |")
    for mode, found in times.items():
        first = statistics.median(t[0] for t in found)
        again = statistics.median(t[1] for t in found)
        print(f"| {mode} | {first:.2f} | {again:.2f} |")
    added = statistics.median(t[0] for t in times["authorized"]) - statistics.median(
        t[0] for t in times["not asked"]
    )
    print(f"added per object opened (first read): {added / args.objects * 1000:.2f} ms")


if __name__ == "__main__":
    main()
