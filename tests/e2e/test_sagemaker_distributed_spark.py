"""Training on several instances as Spark barrier tasks: a Nimbus with NIMBUS_SPARK_MASTER pointing at
a Spark standalone cluster started here (one master, one worker with a core per instance) runs a
2-instance built-in XGBoost job as one Spark application, whose two barrier tasks are algo-1 and
algo-2 and train together (the same proof as on this machine's sandboxes)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import NimbusServer
from test_sagemaker_distributed import LOG_GROUP, sleeper, train_xgboost_across_two_instances
from test_sagemaker_transform_spark import Cluster, nimbus_on

JOB_TIMEOUT_S = 240.0  # JVMs for the driver and an executor, on a busy 2-core machine
__all__ = ["sleeper"]  # the module's request, made through this module's Nimbus


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = Cluster(tmp_path_factory.mktemp("spark-cluster"), cores=2)  # a barrier slot per instance
    yield started
    started.stop()


@pytest.fixture(scope="module")
def nimbus(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusServer]:
    with nimbus_on(cluster, tmp_path_factory) as server:
        yield server


def test_builtin_xgboost_trains_across_two_barrier_tasks(
    nimbus: NimbusServer, cluster: Cluster, sleeper: dict[str, Any]
) -> None:
    name = train_xgboost_across_two_instances(nimbus, sleeper, JOB_TIMEOUT_S)
    with urllib.request.urlopen(f"{cluster.ui}json/", timeout=10) as answer:
        master = json.load(answer)
    applications = [app for app in master["completedapps"] if app["name"] == f"sagemaker-training-{name}"]
    assert len(applications) == 1, master["completedapps"]
    assert applications[0]["cores"] == 2  # one executor core per instance, both used at once
    assert (cluster.folder / "worker" / "work" / applications[0]["id"]).is_dir()
    logs = nimbus.client("logs")
    for host in ("algo-1", "algo-2"):
        streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/{host}")
        (stream,) = streams["logStreams"]
        events = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream["logStreamName"])["events"]
        lines = [event["message"] for event in events]
        assert any("Joining the xgboost collective of 2 instances" in line for line in lines), lines
