"""SageMaker batch transform as a Spark job: a Nimbus with NIMBUS_SPARK_MASTER pointing at a Spark
standalone cluster started here (one master, one worker) runs each transform job as a spark-submit
whose executors serve a real XGBoost booster. Outputs are compared record by record with the
booster's own predictions; each job's executors must have run on the cluster's worker."""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import NimbusServer
from test_sagemaker_transform import Scene, _csv, _scores

from nimbus.engines.spark.cluster import WorkerResources, start_master, start_worker
from nimbus.engines.spark.processes import stop_process_group

JOB_TIMEOUT_S = 240.0  # JVMs for the driver and an executor, on a busy 2-core machine


class Cluster:
    def __init__(self, folder: Path, cores: int = 1) -> None:
        self.folder = folder
        self.master, self.url, self.ui = start_master(folder / "master")
        try:
            resources = WorkerResources(cores=cores, memory_mb=1024)
            self.worker = start_worker(self.url, resources, folder / "worker")
        except Exception:
            stop_process_group(self.master)
            raise

    def applications(self) -> set[str]:
        """The Spark applications whose executors the worker ran."""
        return {path.name for path in (self.folder / "worker" / "work").glob("app-*")}

    def stop(self) -> None:
        stop_process_group(self.worker)
        stop_process_group(self.master)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = Cluster(tmp_path_factory.mktemp("spark-cluster"))
    yield started
    started.stop()


@contextlib.contextmanager
def nimbus_on(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusServer]:
    """A Nimbus whose Spark master (NIMBUS_SPARK_MASTER) is the cluster's."""
    server = NimbusServer(
        tmp_path_factory.mktemp("spark-nimbus-data"),
        tmp_path_factory.mktemp("spark-nimbus-logs"),
        settings={"NIMBUS_SPARK_MASTER": cluster.url},
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def scene(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    with nimbus_on(cluster, tmp_path_factory) as server:
        yield Scene(server, tmp_path_factory)


GOOD, BAD = "good", "bad"


@pytest.fixture(scope="module")
def jobs(scene: Scene) -> dict[str, str]:
    """The two jobs below, created at once so that the second's driver starts while the first runs
    (the cluster's one core serves one application at a time)."""
    scene.put("csv/a.csv", _csv(np.tile(scene.rows, (4, 1))))  # 1.3 MB: two requests of at most 1 MB
    scene.put("csv/nested/b.csv", _csv(scene.rows[:50]))
    huge = ",".join(["1.0"] * 300_000).encode()  # one 1.2 MB line
    scene.put("bad/big.csv", _csv(scene.rows[:3]) + huge + b"\n")
    scene.put("bad/malformed.csv", _csv(scene.rows[:5]) + b"1.0,not-a-number,3.0\n")
    scene.put("bad/z-good.csv", _csv(scene.rows[:7]))
    names = {GOOD: f"job-{uuid.uuid4().hex[:10]}", BAD: f"job-{uuid.uuid4().hex[:10]}"}
    good = scene.request(
        names[GOOD],
        f"s3://{scene.bucket}/csv/",
        f"s3://{scene.bucket}/csv-out",
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=1,
        MaxConcurrentTransforms=3,
    )
    bad = scene.request(
        names[BAD],
        f"s3://{scene.bucket}/bad/",
        f"s3://{scene.bucket}/bad-out",
        MaxPayloadInMB=1,
        BatchStrategy="SingleRecord",
    )
    scene.sagemaker.create_transform_job(**good)
    scene.sagemaker.create_transform_job(**bad)
    return names


def _ran_on_the_cluster(scene: Scene, cluster: Cluster, name: str) -> None:
    """The job's driver (its output is in the job's ``<job>/spark`` stream) had its executors on the
    cluster's worker."""
    driver = "\n".join(
        event["message"]
        for event in scene.logs.get_log_events(
            logGroupName="/aws/sagemaker/TransformJobs", logStreamName=f"{name}/spark"
        )["events"]
    )
    found = re.search(r"Connected to Spark cluster with app ID (app-[0-9-]+)", driver)
    assert found is not None, driver[-2000:]
    assert (cluster.folder / "worker" / "work" / found.group(1)).is_dir()


def test_csv_objects_transformed_by_spark_executors(
    scene: Scene, cluster: Cluster, jobs: dict[str, str]
) -> None:
    described = scene.wait(jobs[GOOD], JOB_TIMEOUT_S)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    _ran_on_the_cluster(scene, cluster, jobs[GOOD])
    assert scene.keys("csv-out/") == ["csv-out/a.csv.out", "csv-out/nested/b.csv.out"]
    np.testing.assert_allclose(
        _scores(scene.get("csv-out/a.csv.out")), scene.predict(np.tile(scene.rows, (4, 1))), atol=1e-6
    )
    np.testing.assert_allclose(
        _scores(scene.get("csv-out/nested/b.csv.out")), scene.predict(scene.rows[:50]), atol=1e-6
    )
    head = scene.s3.head_object(Bucket=scene.bucket, Key="csv-out/a.csv.out")
    assert head["ContentLength"] == len(scene.get("csv-out/a.csv.out"))
    assert "MaxConcurrentTransforms=3, MaxPayloadInMB=1, BatchStrategy=MULTI_RECORD" in scene.data_log(
        jobs[GOOD]
    )


def test_objects_that_fail_get_no_output_and_fail_the_job(
    scene: Scene, cluster: Cluster, jobs: dict[str, str]
) -> None:
    """A record over MaxPayloadInMB and a record the model refuses fail their objects (logged, no
    .out); the good object beside them is still written, as AWS does."""
    described = scene.wait(jobs[BAD], JOB_TIMEOUT_S)
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"] == "ClientError: See job logs for more information"
    _ran_on_the_cluster(scene, cluster, jobs[BAD])
    log = scene.data_log(jobs[BAD])
    assert f"{scene.bucket}/bad/big.csv: Too much data for max payload size" in log
    assert f"{scene.bucket}/bad/malformed.csv: ClientError: 400" in log
    assert "Unable to parse the request" in log
    assert scene.keys("bad-out/") == ["bad-out/z-good.csv.out"]  # no partial .out for the others
    np.testing.assert_allclose(
        _scores(scene.get("bad-out/z-good.csv.out")), scene.predict(scene.rows[:7]), atol=1e-6
    )


def _processes_naming(text: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if text in cmdline.read_bytes().decode(errors="replace"):
                found.append(int(cmdline.parent.name))
    return found


def test_stop_kills_the_spark_submit(scene: Scene) -> None:
    scene.put("stop/a.csv", _csv(scene.rows[:20]))
    name = f"job-{uuid.uuid4().hex[:10]}"
    scene.sagemaker.create_transform_job(
        **scene.request(name, f"s3://{scene.bucket}/stop/", f"s3://{scene.bucket}/stop-out")
    )
    app = f"spark.app.name=sagemaker-transform-{name}"
    deadline = time.monotonic() + 60
    while not _processes_naming(app):
        assert time.monotonic() < deadline, "no spark-submit started for the job"
        time.sleep(0.1)
    scene.sagemaker.stop_transform_job(TransformJobName=name)
    assert scene.wait(name)["TransformJobStatus"] == "Stopped"
    assert _processes_naming(app) == []
    assert scene.keys("stop-out/") == []
