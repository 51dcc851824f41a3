"""EMR: the two ways a step's s3:// paths reach Nimbus S3, side by side. A cluster without a
JobFlowRole reads and writes the object files in place (Nimbus's rights); a cluster with one calls
Nimbus's S3 API over HTTP as its role, each call SigV4-signed and authorized (HeadObject, ranged
GetObject, multipart PutObject, ListObjectsV2, CopyObject and DeleteObjects for the commit). A
PySpark step, timed in its driver, reads an object of N MB (``spark.read.text(...).count()``), writes
N MB (``spark.range`` as text lines, committed by Hadoop's output committer) and reads K small
objects. Two clusters of one worker run the step alternately, ``--runs`` times each.

    bench/run.sh emr-access [--mb 256] [--objects 200] [--runs 2]
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
LINE_BYTES = 100  # 99 characters and a newline
SCRIPT = """
import sys, time
print("driver-start", time.time(), flush=True)
from pyspark.sql import SparkSession

big, out, small, megabytes = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
spark = SparkSession.builder.getOrCreate()
rows = megabytes * 1024 * 1024 // 100

def timed(name, action):
    started = time.time()
    result = action()
    print(name, time.time() - started, result, flush=True)

spark.range(0, 8, numPartitions=4).count()  # the executors are up: not part of the first timing
timed("read", lambda: spark.read.text(big).count())
lines = spark.range(0, rows, numPartitions=4).selectExpr("lpad(cast(id as string), 99, 'x') as value")
timed("write", lambda: lines.write.mode("overwrite").text(out))
timed("small", lambda: spark.read.text(small).count())
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
    parser.add_argument("--mb", type=int, default=256, help="megabytes read and written")
    parser.add_argument("--objects", type=int, default=200, help="small objects read")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="emr-access-bench-") as folder:
        server = start_nimbus(Path(folder))
        try:
            s3, emr, iam = (server.client(name) for name in ("s3", "emr", "iam"))
            bucket = "emr-access-bench"
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="bench.py", Body=SCRIPT.encode())
            line = b"x" * (LINE_BYTES - 1) + b"\n"
            s3.upload_fileobj(_Repeated(line, args.mb * 1024 * 1024 // LINE_BYTES), bucket, "big/lines.txt")
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
                "in place (no role)": start_cluster(emr, bucket, {}),
                "over HTTP (role)": start_cluster(
                    emr, bucket, {"JobFlowRole": PROFILE, "ServiceRole": "EMR_DefaultRole"}
                ),
            }
            times: dict[str, list[tuple[float, float, float]]] = {mode: [] for mode in clusters}
            try:
                for _ in range(args.runs):
                    for mode, cluster_id in clusters.items():
                        arguments = [f"s3://{bucket}/big/", f"s3://{bucket}/out/", f"s3://{bucket}/small/"]
                        _, _, stdout = run_step(
                            emr, s3, bucket, cluster_id, ["bench", *arguments, str(args.mb)]
                        )
                        lines = args.mb * 1024 * 1024 // LINE_BYTES
                        assert f" {lines}\n" in stdout and f" {args.objects}\n" in stdout, stdout
                        found = tuple(_value(stdout, name) for name in ("read", "write", "small"))
                        times[mode].append(found)  # type: ignore[arg-type]
                        print(mode, found, flush=True)
            finally:
                for cluster_id in clusters.values():
                    terminate(emr, cluster_id)
        finally:
            server.stop()
    print(f"\n{args.mb} MB read and written, {args.objects} small objects, {args.runs} runs each, median")
    print(
        f"| s3:// paths | read {args.mb} MB s (MB/s) | write {args.mb} MB s (MB/s) | {args.objects} small s |"
    )
    print("| --- | ---: | ---: | ---: |")
    for mode, found in times.items():
        read, write, small = (statistics.median(t[index] for t in found) for index in range(3))
        throughput = f"{read:.1f} ({args.mb / read:.0f}) | {write:.1f} ({args.mb / write:.0f})"
        print(f"| {mode} | {throughput} | {small:.1f} |")


class _Repeated:
    """A file-like object of ``count`` copies of ``line``, read without holding them all."""

    def __init__(self, line: bytes, count: int) -> None:
        self.line, self.left = line, count

    def read(self, size: int = -1) -> bytes:
        lines = self.left if size < 0 else min(self.left, max(1, size // len(self.line)))
        self.left -= lines
        return self.line * lines


if __name__ == "__main__":
    main()
