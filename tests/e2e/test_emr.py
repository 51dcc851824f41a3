"""EMR end to end with boto3: clusters that are real Spark standalone clusters (master and worker JVMs),
steps that are real spark-submits reading and writing Nimbus S3, with MLlib.

One cluster (1 master + 2 core) serves the module; its last test ends it through a step that fails
with ActionOnFailure TERMINATE_CLUSTER, and checks that no process of it is left.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import io
import json
import os
import random
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyspark
import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, list_keys, unique_bucket_name
from emr_support import (
    READY_TIMEOUT_S,
    STEP_TIMEOUT_S,
    read_log,
    wait_for,
    wait_for_state,
    wait_for_step,
)
from roles import EMR_INSTANCE_PROFILE, emr_roles

from nimbus.engines.spark.cluster import WorkerResources, start_master, start_worker
from nimbus.engines.spark.processes import stop_process_group

EXECUTOR_REGISTERED = "Successfully registered with driver"

TRAIN_SCRIPT = """
import sys
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import SparkSession

source, target = sys.argv[1], sys.argv[2]
spark = SparkSession.builder.appName("train").getOrCreate()
data = spark.read.csv(source, header=True, inferSchema=True)
features = VectorAssembler(inputCols=["x1", "x2"], outputCol="features").transform(data)
model = LogisticRegression(maxIter=50, regParam=0.01).fit(features)
predicted = model.transform(features).select("id", "prediction")
predicted.coalesce(1).write.mode("overwrite").csv(target, header=True)
print("trained on", data.count(), "rows, workers:", spark.sparkContext.defaultParallelism)
spark.stop()
"""

FAILING_SCRIPT = """
raise ValueError("the input is not what this job expects")
"""

IDS_SCRIPT = """
import sys
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
spark.range(100).coalesce(1).write.csv(sys.argv[1], header=True)
spark.stop()
"""

# copies what the role may read to where it may write, tries an object's file by its local path,
# then reads what the role may not (the step fails there)
ROLE_SCRIPT = """
import sys
from pyspark.sql import SparkSession

source, target, object_file, secret = sys.argv[1:5]
spark = SparkSession.builder.getOrCreate()
spark.read.text(source).coalesce(1).write.text(target)
try:
    open(object_file, "rb")
except OSError as error:
    print("the object's file by its local path:", type(error).__name__, flush=True)
spark.read.text(secret).count()
"""

SLEEPING_SCRIPT = """
import time
time.sleep(300)
"""

# runs on each node before its Spark daemon starts: leaves a file for the node's Spark processes, and
# says whether it can see Nimbus's database
BOOTSTRAP_SCRIPT = """#!/bin/bash
echo "bootstrapped with $1"
echo "$1" > "$HOME/bootstrap-marker"
if [ -e "$2" ]; then echo "the database is visible"; else echo "the database is hidden"; fi
"""

# what the driver and the executors can see (the database, an object's file by its local path);
# writes an object, then waits for the test's answer (an object it looks for through s3://)
PROBE_SCRIPT = """
import os, sys, time
from pyspark.sql import SparkSession

database, object_file, target, answer = sys.argv[1:5]
spark = SparkSession.builder.getOrCreate()
hadoop = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(answer)
answers = hadoop.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

def look(_):
    marker = os.path.expanduser("~/bootstrap-marker")
    found = open(marker).read().strip() if os.path.exists(marker) else None
    return os.path.exists(database), os.path.exists(object_file), found

print("driver sees the database:", os.path.exists(database))
try:
    open(object_file, "rb")
except OSError as error:
    print("driver opens the object file:", type(error).__name__)
print("executors see:", sorted(set(spark.sparkContext.parallelize(range(4), 4).map(look).collect())))
spark.sparkContext.parallelize(["written while the step runs"], 1).saveAsTextFile(target)
deadline = time.time() + 120
while not answers.exists(hadoop) and time.time() < deadline:
    time.sleep(0.2)
print("answered:", answers.exists(hadoop))
spark.stop()
"""


def _training_rows(count: int = 200) -> list[dict[str, float]]:
    """Two Gaussian blobs, one per label."""
    rng = random.Random(7)
    rows = []
    for index in range(count):
        label = index % 2
        center = 2.0 if label else -2.0
        rows.append({"id": index, "x1": rng.gauss(center, 1.2), "x2": rng.gauss(center, 1.2), "label": label})
    return rows


def _csv_bytes(rows: list[dict[str, float]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _cluster_pids(nimbus: NimbusServer, cluster_id: str) -> set[int]:
    """The processes working in the cluster's folder: master, workers, executors, drivers."""
    folder = str(nimbus.data_dir / "emr" / cluster_id)
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "cwd").startswith(folder):
                    pids.add(int(entry.name))
            except OSError:
                continue
    return pids


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def _spark_submit_step(name: str, action: str, *arguments: str) -> dict[str, Any]:
    return {
        "Name": name,
        "ActionOnFailure": action,
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": ["spark-submit", "--deploy-mode", "cluster", *arguments],
        },
    }


@pytest.fixture(scope="module")
def emr(nimbus: NimbusServer) -> Any:
    return nimbus.client("emr")


@pytest.fixture(scope="module")
def bucket(nimbus: NimbusServer) -> str:
    s3 = nimbus.client("s3")
    name = unique_bucket_name("emr")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="data/train.csv", Body=_csv_bytes(_training_rows()))
    s3.put_object(Bucket=name, Key="code/train.py", Body=TRAIN_SCRIPT.encode())
    s3.put_object(Bucket=name, Key="code/fail.py", Body=FAILING_SCRIPT.encode())
    s3.put_object(Bucket=name, Key="code/sleep.py", Body=SLEEPING_SCRIPT.encode())
    s3.put_object(Bucket=name, Key="code/probe.py", Body=PROBE_SCRIPT.encode())
    s3.put_object(Bucket=name, Key="bootstrap/setup.sh", Body=BOOTSTRAP_SCRIPT.encode())
    return name


@pytest.fixture(scope="module")
def cluster(nimbus: NimbusServer, emr: Any, bucket: str) -> Iterator[str]:
    started = time.monotonic()
    database = str(nimbus.data_dir / "nimbus.db")
    emr_roles(emr)  # the ServiceRole and JobFlowRole below exist in IAM, as EMR requires
    cluster_id = emr.run_job_flow(
        Name="nimbus-e2e",
        ReleaseLabel="emr-7.2.0",
        Applications=[{"Name": "Spark"}],
        LogUri=f"s3://{bucket}/logs/",
        BootstrapActions=[
            {
                "Name": "setup",
                "ScriptBootstrapAction": {
                    "Path": f"s3://{bucket}/bootstrap/setup.sh",
                    "Args": ["marker-value", database],
                },
            }
        ],
        Configurations=[
            {"Classification": "spark-defaults", "Properties": {"spark.executor.memory": "768m"}}
        ],
        Instances={
            "InstanceGroups": [
                {
                    "Name": "Primary",
                    "InstanceRole": "MASTER",
                    "InstanceType": "m5.xlarge",
                    "InstanceCount": 1,
                },
                {"Name": "Core", "InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 2},
            ],
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]
    try:
        assert wait_for_state(emr, cluster_id, {"WAITING", "TERMINATED_WITH_ERRORS"}) == "WAITING"
        print(f"cluster WAITING after {time.monotonic() - started:.1f} s")
        yield cluster_id
    finally:
        emr.terminate_job_flows(JobFlowIds=[cluster_id])
        wait_for_state(emr, cluster_id, {"TERMINATED", "TERMINATED_WITH_ERRORS"}, 60)


def test_cluster_is_a_running_spark_cluster(nimbus: NimbusServer, emr: Any, cluster: str) -> None:
    described = emr.describe_cluster(ClusterId=cluster)["Cluster"]
    assert described["Status"]["State"] == "WAITING"
    assert {"Name": "Spark", "Version": pyspark.__version__} in described["Applications"]
    assert described["ReleaseLabel"] == "emr-7.2.0"
    assert (
        described["Status"]["Timeline"]["ReadyDateTime"]
        >= described["Status"]["Timeline"]["CreationDateTime"]
    )
    assert cluster in [c["Id"] for c in emr.list_clusters(ClusterStates=["WAITING"])["Clusters"]]
    assert cluster not in [c["Id"] for c in emr.list_clusters(ClusterStates=["TERMINATED"])["Clusters"]]

    groups = {
        g["InstanceGroupType"]: g for g in emr.list_instance_groups(ClusterId=cluster)["InstanceGroups"]
    }
    assert groups["CORE"]["RequestedInstanceCount"] == groups["CORE"]["RunningInstanceCount"] == 2
    assert groups["MASTER"]["RunningInstanceCount"] == 1
    instances = emr.list_instances(ClusterId=cluster)["Instances"]
    assert [i["Status"]["State"] for i in instances] == ["RUNNING"] * 3
    # master + two workers, each a JVM of its own (plus nothing else yet: no step has run)
    assert len(_cluster_pids(nimbus, cluster)) >= 3


def test_bootstrap_actions_ran_on_each_node_in_its_sandbox(
    nimbus: NimbusServer, emr: Any, cluster: str, bucket: str
) -> None:
    assert (nimbus.data_dir / "nimbus.db").exists()
    s3 = nimbus.client("s3")
    instances = emr.list_instances(ClusterId=cluster)["Instances"]
    assert len(instances) == 3
    for instance in instances:
        key = f"logs/{cluster}/node/{instance['Ec2InstanceId']}/bootstrap-actions/1/stdout.gz"
        stdout = read_log(s3, bucket, key)
        assert stdout.splitlines() == ["bootstrapped with marker-value", "the database is hidden"]
    actions = emr.list_bootstrap_actions(ClusterId=cluster)["BootstrapActions"]
    assert [(a["Name"], a["ScriptPath"]) for a in actions] == [("setup", f"s3://{bucket}/bootstrap/setup.sh")]


def test_pyspark_mllib_step_reads_and_writes_s3(
    nimbus: NimbusServer, emr: Any, cluster: str, bucket: str
) -> None:
    """The step trains on the cluster while one worker is killed mid-job: Spark re-runs its tasks on
    the other worker, the step completes, and its predictions match the same model in local mode."""
    s3 = nimbus.client("s3")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        local_predictions = pool.submit(_local_mode_predictions)
        step_id = emr.add_job_flow_steps(
            JobFlowId=cluster,
            Steps=[
                _spark_submit_step(
                    "train",
                    "CONTINUE",
                    f"s3://{bucket}/code/train.py",
                    f"s3a://{bucket}/data/train.csv",
                    f"s3://{bucket}/out/predictions",
                )
            ],
        )["StepIds"][0]
        killed = _kill_a_worker_once_executors_run(nimbus, emr, cluster)
        step = wait_for_step(emr, cluster, step_id)
        assert step["Status"]["State"] == "COMPLETED", step["Status"].get("FailureDetails")
        expected = local_predictions.result()
    assert step["Config"]["Args"][0] == "spark-submit"
    instance = next(i for i in emr.list_instances(ClusterId=cluster)["Instances"] if i["Id"] == killed)
    assert instance["Status"]["State"] == "TERMINATED"
    assert instance["Status"]["StateChangeReason"]["Code"] == "INSTANCE_FAILURE"

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="out/predictions/")["Contents"]]
    assert "out/predictions/_SUCCESS" in keys
    parts = [key for key in keys if key.rsplit("/", 1)[-1].startswith("part-")]
    assert len(parts) == 1 and not any("_temporary" in key for key in keys)
    body = s3.get_object(Bucket=bucket, Key=parts[0])["Body"].read()
    predictions = {
        int(row["id"]): float(row["prediction"]) for row in csv.DictReader(io.StringIO(body.decode()))
    }
    assert predictions == expected
    accuracy = sum(predictions[row["id"]] == row["label"] for row in _training_rows()) / len(predictions)
    assert accuracy > 0.9

    # the step's logs, in EMR's layout under the LogUri
    log_key = f"logs/{cluster}/steps/{step_id}/stdout.gz"
    stdout = read_log(s3, bucket, log_key)
    assert "trained on 200 rows" in stdout


def _local_mode_predictions() -> dict[int, float]:
    """The same model, trained by Spark in local mode in this process."""
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
    try:
        frame = spark.createDataFrame(_training_rows())
        features = VectorAssembler(inputCols=["x1", "x2"], outputCol="features").transform(frame)
        model = LogisticRegression(maxIter=50, regParam=0.01).fit(features)
        return {int(row["id"]): float(row["prediction"]) for row in model.transform(features).collect()}
    finally:
        spark.stop()


def _kill_a_worker_once_executors_run(nimbus: NimbusServer, emr: Any, cluster_id: str) -> str:
    """SIGKILLs every process of a worker node (its sandbox, JVM, executor, their Python workers), as
    when the node dies, as soon as the step's executor on it has joined the driver; returns the
    instance's id."""
    folder = nimbus.data_dir / "emr" / cluster_id
    workers = [
        i["Id"]
        for i in emr.list_instances(ClusterId=cluster_id, InstanceGroupTypes=["CORE"])["Instances"]
        if i["Status"]["State"] == "RUNNING"
    ]

    def worker_with_executor() -> tuple[str, int] | None:
        for pid in _cluster_pids(nimbus, cluster_id):
            with contextlib.suppress(OSError):
                cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
                if (
                    cwd.parent == folder
                    and cwd.name in workers
                    and any(
                        EXECUTOR_REGISTERED in log.read_text(errors="replace")
                        for log in (cwd / "work").glob("app-*/*/stderr")
                    )
                ):
                    return cwd.name, pid
        return None

    instance_id, _ = wait_for("an executor on a worker", worker_with_executor, STEP_TIMEOUT_S)
    for pid in _cluster_pids(nimbus, cluster_id):
        with contextlib.suppress(OSError):
            if Path(os.readlink(f"/proc/{pid}/cwd")).is_relative_to(folder / instance_id):
                os.kill(pid, signal.SIGKILL)
    return str(instance_id)


def test_steps_run_sandboxed_and_their_objects_show_at_once(
    nimbus: NimbusServer, emr: Any, cluster: str, bucket: str
) -> None:
    """On a cluster with a JobFlowRole the driver and the executors see neither the database nor the
    object files (an object's file, by its local path, is not there: s3:// paths are calls to S3 as
    the role); an object a job writes is listed by S3 while the step still runs."""
    s3 = nimbus.client("s3")
    object_file = nimbus.data_dir / "s3" / bucket / "code" / "probe.py"
    assert object_file.is_file()  # where Nimbus keeps the object, outside the sandbox
    arguments = [str(nimbus.data_dir / "nimbus.db"), str(object_file), f"s3://{bucket}/probe/out"]
    step_id = emr.add_job_flow_steps(
        JobFlowId=cluster,
        Steps=[
            _spark_submit_step(
                "probe",
                "CONTINUE",
                f"s3://{bucket}/code/probe.py",
                *arguments,
                f"s3a://{bucket}/answer",
            )
        ],
    )["StepIds"][0]
    parts = wait_for(
        "the step's object in S3",
        # the committed part: saveAsTextFile writes under _temporary/ first and renames on commit
        lambda: [key for key in list_keys(s3, bucket, Prefix="probe/out/part-")],
        STEP_TIMEOUT_S,
    )
    assert emr.describe_step(ClusterId=cluster, StepId=step_id)["Step"]["Status"]["State"] == "RUNNING"
    assert s3.get_object(Bucket=bucket, Key=parts[0])["Body"].read() == b"written while the step runs\n"
    s3.put_object(Bucket=bucket, Key="answer", Body=b"")
    step = wait_for_step(emr, cluster, step_id)
    assert step["Status"]["State"] == "COMPLETED", step["Status"].get("FailureDetails")
    log_key = f"logs/{cluster}/steps/{step_id}/stdout.gz"
    stdout = read_log(s3, bucket, log_key)
    assert "driver sees the database: False" in stdout
    assert "driver opens the object file: FileNotFoundError" in stdout
    assert "executors see: [(False, False, 'marker-value')]" in stdout
    assert "answered: True" in stdout


@pytest.fixture
def external_spark(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A Spark standalone cluster that no Nimbus started (a master and one worker, unconfined): its
    URL and its worker's folder."""
    master, master_url, _ = start_master(tmp_path / "spark-master")
    try:
        worker = start_worker(master_url, WorkerResources(cores=1, memory_mb=1024), tmp_path / "spark-worker")
        try:
            yield master_url, tmp_path / "spark-worker"
        finally:
            stop_process_group(worker)
    finally:
        stop_process_group(master)


@contextlib.contextmanager
def _nimbus_on(master_url: str, bucket: str, folder: Path) -> Iterator[tuple[Any, Any]]:
    """A second Nimbus, with NIMBUS_SPARK_MASTER set to ``master_url`` and a bucket holding the ids
    script: its S3 and EMR clients."""
    (folder / "data").mkdir()
    other = NimbusServer(folder / "data", folder, settings={"NIMBUS_SPARK_MASTER": master_url})
    other.start()
    try:
        s3 = other.client("s3")
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="ids.py", Body=IDS_SCRIPT.encode())
        yield s3, other.client("emr")
    finally:
        other.stop()


def test_steps_go_to_an_existing_spark_master(external_spark: tuple[str, Path], tmp_path: Path) -> None:
    """A Nimbus with NIMBUS_SPARK_MASTER set: its clusters start nothing, and their steps run on that
    master's workers, writing this Nimbus's S3."""
    master_url, worker_folder = external_spark
    with _nimbus_on(master_url, "scale-out", tmp_path) as (other_s3, other_emr):
        cluster_id = other_emr.run_job_flow(
            Name="on-an-existing-master",
            ReleaseLabel="emr-7.2.0",
            Instances={
                "MasterInstanceType": "m5.xlarge",
                "InstanceCount": 3,
                "KeepJobFlowAliveWhenNoSteps": True,
            },
        )["JobFlowId"]
        assert wait_for_state(other_emr, cluster_id, {"WAITING"}, 60) == "WAITING"
        assert other_emr.list_instances(ClusterId=cluster_id)["Instances"] == []
        with pytest.raises(ClientError) as no_ui:  # that master's UI is not Nimbus's to hand out
            other_emr.get_on_cluster_app_ui_presigned_url(ClusterId=cluster_id)
        assert error_code(no_ui) == "InvalidRequestException"
        step_id = other_emr.add_job_flow_steps(
            JobFlowId=cluster_id,
            Steps=[
                _spark_submit_step("write ids", "CONTINUE", "s3://scale-out/ids.py", "s3a://scale-out/ids")
            ],
        )["StepIds"][0]
        step = wait_for_step(other_emr, cluster_id, step_id)
        assert step["Status"]["State"] == "COMPLETED", step["Status"].get("FailureDetails")
        parts = [key for key in list_keys(other_s3, "scale-out", Prefix="ids/") if "/part-" in key]
        body = b"".join(other_s3.get_object(Bucket="scale-out", Key=key)["Body"].read() for key in parts)
        assert sorted(int(row["id"]) for row in csv.DictReader(io.StringIO(body.decode()))) == list(
            range(100)
        )
        other_emr.terminate_job_flows(JobFlowIds=[cluster_id])
        assert wait_for_state(other_emr, cluster_id, {"TERMINATED"}, 60) == "TERMINATED"
    # the step's executors ran on the worker of the master it was sent to
    assert list((worker_folder / "work").glob("app-*"))


def test_steps_go_to_kubernetes(tmp_path: Path) -> None:
    """With a k8s:// master a step's spark-submit runs Spark's Kubernetes scheduler: here no API
    server answers at that URL, and the step fails saying so."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with _nimbus_on(f"k8s://https://127.0.0.1:{port}", "on-kubernetes", tmp_path) as (other_s3, other_emr):
        cluster_id = other_emr.run_job_flow(
            Name="on kubernetes",
            ReleaseLabel="emr-7.2.0",
            LogUri="s3://on-kubernetes/logs/",
            Configurations=[
                {
                    "Classification": "spark-defaults",
                    "Properties": {"spark.kubernetes.container.image": f"apache/spark:{pyspark.__version__}"},
                }
            ],
            Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 3},
            Steps=[
                _spark_submit_step(
                    "ids", "TERMINATE_CLUSTER", "s3://on-kubernetes/ids.py", "s3a://on-kubernetes/ids"
                )
            ],
        )["JobFlowId"]
        master = other_emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["MasterPublicDnsName"]
        assert master == "127.0.0.1"
        state = wait_for_state(other_emr, cluster_id, {"TERMINATED", "TERMINATED_WITH_ERRORS"})
        assert state == "TERMINATED_WITH_ERRORS"
        reason = other_emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["StateChangeReason"]
        assert reason["Code"] == "STEP_FAILURE"
        (step,) = other_emr.list_steps(ClusterId=cluster_id)["Steps"]
        assert step["Status"]["State"] == "FAILED"
        log_key = f"logs/{cluster_id}/steps/{step['Id']}/stderr.gz"
        stderr = read_log(other_s3, "on-kubernetes", log_key)
        assert "KubernetesClientException" in stderr
        assert f"Connection refused: /127.0.0.1:{port}" in stderr


def test_resize_adds_and_removes_workers(nimbus: NimbusServer, emr: Any, cluster: str) -> None:
    core = next(
        g
        for g in emr.list_instance_groups(ClusterId=cluster)["InstanceGroups"]
        if g["InstanceGroupType"] == "CORE"
    )

    def running_core() -> list[dict[str, Any]]:
        listed = emr.list_instances(ClusterId=cluster, InstanceGroupId=core["Id"], InstanceStates=["RUNNING"])
        return list(listed["Instances"])

    emr.modify_instance_groups(
        ClusterId=cluster, InstanceGroups=[{"InstanceGroupId": core["Id"], "InstanceCount": 3}]
    )
    grown = wait_for("a third worker", lambda: len(running_core()) == 3 and running_core(), READY_TIMEOUT_S)
    groups = emr.list_instance_groups(ClusterId=cluster)["InstanceGroups"]
    assert next(g for g in groups if g["Id"] == core["Id"])["RunningInstanceCount"] == 3

    leaving = grown[0]["Ec2InstanceId"]
    emr.modify_instance_groups(
        InstanceGroups=[
            {"InstanceGroupId": core["Id"], "InstanceCount": 2, "EC2InstanceIdsToTerminate": [leaving]}
        ]
    )
    wait_for("the resize down", lambda: len(running_core()) == 2, 60)
    assert leaving not in [i["Ec2InstanceId"] for i in running_core()]
    assert wait_for_state(emr, cluster, {"WAITING"}, 30) == "WAITING"


def test_cancel_and_failed_steps_follow_action_on_failure(emr: Any, cluster: str, bucket: str) -> None:
    failing = f"s3://{bucket}/code/fail.py"
    step_ids = emr.add_job_flow_steps(
        JobFlowId=cluster,
        Steps=[
            _spark_submit_step("sleeps, cancelled", "TERMINATE_CLUSTER", f"s3://{bucket}/code/sleep.py"),
            _spark_submit_step("fails, continue", "CONTINUE", failing),
            _spark_submit_step("fails, cancel and wait", "CANCEL_AND_WAIT", failing),
            _spark_submit_step("never runs", "CONTINUE", failing),
        ],
    )["StepIds"]
    wait_for(
        "the first step to run",
        lambda: (
            emr.describe_step(ClusterId=cluster, StepId=step_ids[0])["Step"]["Status"]["State"] == "RUNNING"
        ),
        STEP_TIMEOUT_S,
    )
    cancelled = emr.cancel_steps(ClusterId=cluster, StepIds=[step_ids[0], "s-NOSUCHSTEP"])[
        "CancelStepsInfoList"
    ]
    assert [info["Status"] for info in cancelled] == ["SUBMITTED", "FAILED"]
    assert wait_for_step(emr, cluster, step_ids[0])["Status"]["State"] == "CANCELLED"

    first = wait_for_step(emr, cluster, step_ids[1])
    assert first["Status"]["State"] == "FAILED"
    details = first["Status"]["FailureDetails"]
    assert "ValueError: the input is not what this job expects" in details["Reason"]
    assert details["LogFile"] == f"s3://{bucket}/logs/{cluster}/steps/{step_ids[1]}/stdout.gz"
    assert wait_for_step(emr, cluster, step_ids[2])["Status"]["State"] == "FAILED"
    assert wait_for_step(emr, cluster, step_ids[3])["Status"]["State"] == "CANCELLED"
    assert wait_for_state(emr, cluster, {"WAITING"}, READY_TIMEOUT_S) == "WAITING"
    listed = emr.list_steps(ClusterId=cluster, StepStates=["FAILED"])["Steps"]
    assert [s["Id"] for s in listed] == [step_ids[2], step_ids[1]]  # newest first
    ended = emr.cancel_steps(ClusterId=cluster, StepIds=[step_ids[1]])["CancelStepsInfoList"]
    assert ended[0]["Status"] == "FAILED"


def test_bad_input_gets_emr_errors(emr: Any, cluster: str) -> None:
    with pytest.raises(ClientError) as unknown:
        emr.describe_cluster(ClusterId="j-NOSUCHCLUSTER")
    assert error_code(unknown) == "InvalidRequestException"
    with pytest.raises(ClientError) as unknown_step:
        emr.describe_step(ClusterId=cluster, StepId="s-NOSUCHSTEP")
    assert error_code(unknown_step) == "InvalidRequestException"
    with pytest.raises(ClientError) as no_flow:
        emr.add_job_flow_steps(
            JobFlowId="j-NOSUCHCLUSTER", Steps=[_spark_submit_step("x", "CONTINUE", "a.py")]
        )
    assert error_code(no_flow) == "ValidationException"

    master = {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1}
    core = {"InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": 1}
    invalid_clusters = [
        {"ReleaseLabel": "emr-7.2.0", "Instances": {"InstanceGroups": [master, master, core]}},
        {
            "ReleaseLabel": "emr-7.2.0",
            "Instances": {"InstanceGroups": [{**master, "InstanceCount": 2}, core]},
        },
        {
            "ReleaseLabel": "emr-7.2.0",
            "Instances": {"InstanceGroups": [master, {**core, "InstanceType": "huge"}]},
        },
        {"ReleaseLabel": "emr-3.1.0", "Instances": {"InstanceGroups": [master, core]}},
        {
            "ReleaseLabel": "emr-7.2.0",
            "Applications": [{"Name": "Presto"}],
            "Instances": {"InstanceGroups": [master, core]},
        },
    ]
    before = {c["Id"] for c in emr.list_clusters()["Clusters"]}
    for invalid in invalid_clusters:
        with pytest.raises(ClientError) as refused:
            emr.run_job_flow(Name="invalid", **invalid)
        assert error_code(refused) == "ValidationException", invalid
    assert {c["Id"] for c in emr.list_clusters()["Clusters"]} == before  # nothing was created

    with pytest.raises(ClientError) as not_spark:
        emr.add_job_flow_steps(
            JobFlowId=cluster,
            Steps=[{"Name": "jar", "HadoopJarStep": {"Jar": "s3://bucket/app.jar", "Args": ["x"]}}],
        )
    assert error_code(not_spark) == "ValidationException"
    groups = emr.list_instance_groups(ClusterId=cluster)["InstanceGroups"]
    master_group = next(g["Id"] for g in groups if g["InstanceGroupType"] == "MASTER")
    with pytest.raises(ClientError) as master_resize:
        emr.modify_instance_groups(
            ClusterId=cluster, InstanceGroups=[{"InstanceGroupId": master_group, "InstanceCount": 2}]
        )
    assert error_code(master_resize) == "ValidationException"


def _job_flow_role_policy(bucket: str) -> dict[str, Any]:
    """Reads the code and role-in/, writes role-out/ (as Hadoop's committer does: put, read back,
    delete), lists only those two folders; nothing on role-secret/."""
    objects = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"{objects}/code/*", f"{objects}/role-in/*"],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": f"{objects}/role-out/*",
            },
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": objects,
                "Condition": {"StringLike": {"s3:prefix": ["role-in/*", "role-out/*"]}},
            },
        ],
    }


@contextlib.contextmanager
def _job_flow_role_limited_to(nimbus: NimbusServer, bucket: str) -> Iterator[str]:
    """The cluster's instance profile (JobFlowRole) holds a role of _job_flow_role_policy for the
    duration, instead of its role that may do everything."""
    iam = nimbus.client("iam")
    profile = EMR_INSTANCE_PROFILE
    (usual,) = iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Roles"]
    role = f"emr-objects-{os.getpid()}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role, PolicyName="objects", PolicyDocument=json.dumps(_job_flow_role_policy(bucket))
    )
    iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=usual["RoleName"])
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    try:
        yield arn
    finally:
        iam.remove_role_from_instance_profile(InstanceProfileName=profile, RoleName=role)
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=usual["RoleName"])
        iam.delete_role_policy(RoleName=role, PolicyName="objects")
        iam.delete_role(RoleName=role)


def test_steps_read_and_write_objects_as_the_job_flow_role(
    nimbus: NimbusServer, emr: Any, cluster: str, bucket: str
) -> None:
    """The steps' s3:// paths are calls to Nimbus's S3 API as the cluster's role, each authorized as
    any S3 call: a step copies role-in/ to role-out/, finds no object file at its local path, then
    fails reading role-secret/, AWS's AccessDenied message in its log, leaving only the copy."""
    s3 = nimbus.client("s3")
    s3.put_object(Bucket=bucket, Key="code/role.py", Body=ROLE_SCRIPT.encode())
    s3.put_object(Bucket=bucket, Key="role-in/a.txt", Body=b"readable\n")
    s3.put_object(Bucket=bucket, Key="role-secret/b.txt", Body=b"secret\n")
    object_file = nimbus.data_dir / "s3" / bucket / "role-in" / "a.txt"
    assert object_file.is_file()  # where Nimbus keeps the object, outside the sandbox
    with _job_flow_role_limited_to(nimbus, bucket) as role_arn:
        step = _spark_submit_step(
            "as the role",
            "CONTINUE",
            f"s3://{bucket}/code/role.py",
            f"s3://{bucket}/role-in/",
            f"s3a://{bucket}/role-out/copy",
            str(object_file),
            f"s3n://{bucket}/role-secret/",
        )
        (step_id,) = emr.add_job_flow_steps(JobFlowId=cluster, Steps=[step])["StepIds"]
        denied = wait_for_step(emr, cluster, step_id)
    assert denied["Status"]["State"] == "FAILED"
    keys = list_keys(s3, bucket, Prefix="role-out/")
    assert [key for key in keys if not key.startswith("role-out/copy/part-")] == ["role-out/copy/_SUCCESS"]
    parts = [key for key in keys if key.startswith("role-out/copy/part-")]
    assert [s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in parts] == [b"readable\n"]
    # the driver's listing was refused: its Python traceback (stdout, as spark-submit passes it) and
    # FailureDetails carry S3's AccessDenied
    failure = denied["Status"]["FailureDetails"]
    assert failure["Reason"].startswith(f"java.nio.file.AccessDeniedException: s3n://{bucket}/role-secret: ")
    session = f"arn:aws:sts::{role_arn.split(':')[4]}:assumed-role/{role_arn.rsplit('/', 1)[1]}/{cluster}"
    log = read_log(s3, bucket, failure["LogFile"].split("/", 3)[3])
    assert "the object's file by its local path: FileNotFoundError" in log
    assert (
        f"User: {session} is not authorized to perform: s3:ListBucket on resource: arn:aws:s3:::{bucket} "
        "because no identity-based policy allows the s3:ListBucket action"
    ) in log


def test_terminate_cluster_on_failure_leaves_no_process(
    nimbus: NimbusServer, emr: Any, cluster: str, bucket: str
) -> None:
    pids = _cluster_pids(nimbus, cluster)
    assert len(pids) >= 3
    step_ids = emr.add_job_flow_steps(
        JobFlowId=cluster,
        Steps=[
            _spark_submit_step("fails, terminate", "TERMINATE_CLUSTER", f"s3://{bucket}/code/fail.py"),
            _spark_submit_step("cancelled", "CONTINUE", f"s3://{bucket}/code/fail.py"),
        ],
    )["StepIds"]
    assert wait_for_state(emr, cluster, {"TERMINATED", "TERMINATED_WITH_ERRORS"}) == "TERMINATED_WITH_ERRORS"
    status = emr.describe_cluster(ClusterId=cluster)["Cluster"]["Status"]
    assert status["StateChangeReason"]["Code"] == "STEP_FAILURE"
    assert "EndDateTime" in status["Timeline"]
    states = {s["Id"]: s["Status"]["State"] for s in emr.list_steps(ClusterId=cluster)["Steps"]}
    assert states[step_ids[0]] == "FAILED" and states[step_ids[1]] == "CANCELLED"
    assert not [pid for pid in pids if _alive(pid)]
    assert not _cluster_pids(nimbus, cluster)
    instances = emr.list_instances(ClusterId=cluster)["Instances"]
    assert {i["Status"]["State"] for i in instances} == {"TERMINATED"}

    with pytest.raises(ClientError) as ended:
        emr.add_job_flow_steps(JobFlowId=cluster, Steps=[_spark_submit_step("late", "CONTINUE", "a.py")])
    assert error_code(ended) == "ValidationException"


def test_terminate_job_flows_while_starting(nimbus: NimbusServer, emr: Any) -> None:
    cluster_id = emr.run_job_flow(
        Name="short-lived",
        ReleaseLabel="emr-6.15.0",
        Instances={
            "MasterInstanceType": "m5.large",
            "SlaveInstanceType": "m5.large",
            "InstanceCount": 2,
            "KeepJobFlowAliveWhenNoSteps": True,
        },
    )["JobFlowId"]
    wait_for("the master to start", lambda: _cluster_pids(nimbus, cluster_id), READY_TIMEOUT_S)
    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    assert wait_for_state(emr, cluster_id, {"TERMINATED", "TERMINATED_WITH_ERRORS"}) == "TERMINATED"
    reason = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["StateChangeReason"]
    assert reason["Code"] == "USER_REQUEST"
    assert not _cluster_pids(nimbus, cluster_id)


def test_restart_ends_running_clusters(
    nimbus: NimbusServer, restart_server: Callable[[], NimbusServer], emr: Any
) -> None:
    cluster_id = emr.run_job_flow(
        Name="interrupted",
        ReleaseLabel="emr-5.36.0",
        Instances={"MasterInstanceType": "m5.large", "InstanceCount": 2, "KeepJobFlowAliveWhenNoSteps": True},
    )["JobFlowId"]
    pids = wait_for("the master to start", lambda: _cluster_pids(nimbus, cluster_id), READY_TIMEOUT_S)
    restart_server()
    # every Spark process dies with the Nimbus that started it; the new one ends the cluster
    assert wait_for("the old processes to end", lambda: not [p for p in pids if _alive(p)], 30)
    status = nimbus.client("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]
    assert status["State"] == "TERMINATED_WITH_ERRORS"
    assert status["StateChangeReason"] == {
        "Code": "INTERNAL_ERROR",
        "Message": "The Nimbus node running the cluster stopped (restarted or died)",
    }
