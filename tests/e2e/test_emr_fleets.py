"""EMR instance fleets, single-node clusters, bootstrap actions, script steps and auto-termination,
with boto3.

Three real clusters serve the module: a single-node cluster left idle until its auto-termination
policy ends it; a fleet cluster (a MASTER fleet and a CORE fleet whose instance type has
WeightedCapacity 2) that is listed, resized and given a TASK fleet; and a single-node instance group
cluster whose bootstrap actions and steps run on its master. The last test terminates the last two.
Bootstrap actions that fail end their clusters before any Spark process starts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, unique_bucket_name
from emr_support import read_log, wait_for, wait_for_state, wait_for_step

RESIZE_TIMEOUT_S = 180

BOOTSTRAP_SCRIPT = b'#!/bin/bash\necho "bootstrapped: $*"\n'
FAILING_BOOTSTRAP_SCRIPT = b"#!/bin/bash\necho 'setup failed' >&2\nexit 3\n"
SUM_SCRIPT = b"""
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
print("sum:", spark.range(100).groupBy().sum("id").first()[0])
spark.stop()
"""
MASTER_FLEET = {
    "Name": "Primary",
    "InstanceFleetType": "MASTER",
    "TargetOnDemandCapacity": 1,
    "InstanceTypeConfigs": [{"InstanceType": "m5.xlarge"}],
}
CORE_FLEET = {
    "Name": "Core",
    "InstanceFleetType": "CORE",
    "TargetOnDemandCapacity": 2,
    # the type with the highest Priority (lowest number) is the one that runs: one m5.large of weight 2
    "InstanceTypeConfigs": [
        {"InstanceType": "c5.xlarge", "WeightedCapacity": 4, "Priority": 1},
        {"InstanceType": "m5.large", "WeightedCapacity": 2, "Priority": 0},
    ],
}


def _fleets(emr: Any, cluster_id: str) -> dict[str, dict[str, Any]]:
    listed = emr.list_instance_fleets(ClusterId=cluster_id)["InstanceFleets"]
    return {fleet["InstanceFleetType"]: fleet for fleet in listed}


def _running(emr: Any, cluster_id: str, fleet_id: str) -> list[dict[str, Any]]:
    listed = emr.list_instances(ClusterId=cluster_id, InstanceFleetId=fleet_id, InstanceStates=["RUNNING"])
    return list(listed["Instances"])


@pytest.fixture(scope="module")
def emr(nimbus: NimbusServer) -> Any:
    return nimbus.client("emr")


@pytest.fixture(scope="module")
def bucket(nimbus: NimbusServer) -> str:
    s3 = nimbus.client("s3")
    name = unique_bucket_name("emr-fleets")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="bootstrap/hello.sh", Body=BOOTSTRAP_SCRIPT)
    s3.put_object(Bucket=name, Key="bootstrap/fail.sh", Body=FAILING_BOOTSTRAP_SCRIPT)
    s3.put_object(Bucket=name, Key="code/sum.py", Body=SUM_SCRIPT)
    return name


def _terminate(emr: Any, cluster_id: str) -> None:
    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    wait_for_state(emr, cluster_id, {"TERMINATED", "TERMINATED_WITH_ERRORS"}, 60)


@pytest.fixture(scope="module")
def fleet_cluster(emr: Any) -> Iterator[str]:
    started = time.monotonic()
    cluster_id = emr.run_job_flow(
        Name="fleets",
        ReleaseLabel="emr-7.2.0",
        Applications=[{"Name": "Spark"}],
        Instances={"InstanceFleets": [MASTER_FLEET, CORE_FLEET], "KeepJobFlowAliveWhenNoSteps": True},
    )["JobFlowId"]
    try:
        assert wait_for_state(emr, cluster_id, {"WAITING", "TERMINATED_WITH_ERRORS"}) == "WAITING"
        print(f"fleet cluster WAITING after {time.monotonic() - started:.1f} s")
        yield cluster_id
    finally:
        _terminate(emr, cluster_id)  # the last test asserts how it ends; this is for when one fails


@pytest.fixture(scope="module")
def single_node_cluster(emr: Any, bucket: str) -> Iterator[str]:
    """Instance groups in the older form, InstanceCount 1: just the MASTER."""
    cluster_id = emr.run_job_flow(
        Name="single node",
        ReleaseLabel="emr-6.15.0",
        LogUri=f"s3://{bucket}/logs/",
        BootstrapActions=[
            {
                "Name": "hello",
                "ScriptBootstrapAction": {"Path": f"s3://{bucket}/bootstrap/hello.sh", "Args": ["a", "b c"]},
            },
            {"Name": "again", "ScriptBootstrapAction": {"Path": f"s3n://{bucket}/bootstrap/hello.sh"}},
        ],
        Instances={"MasterInstanceType": "m5.large", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
    )["JobFlowId"]
    try:
        yield cluster_id
    finally:
        _terminate(emr, cluster_id)


@pytest.fixture(scope="module")
def idle_cluster(emr: Any) -> Iterator[str]:
    """A single-node cluster with an auto-termination policy, left idle until it ends itself."""
    cluster_id = emr.run_job_flow(
        Name="idle",
        ReleaseLabel="emr-7.2.0",
        AutoTerminationPolicy={"IdleTimeout": 120},
        Instances={"MasterInstanceType": "m5.large", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
    )["JobFlowId"]
    try:
        yield cluster_id
    finally:
        _terminate(emr, cluster_id)


def test_auto_termination_policies_are_kept_and_changed(
    emr: Any, idle_cluster: str, fleet_cluster: str
) -> None:
    """(First in the module, so that the idle cluster's minute runs while the others test.)"""
    assert emr.get_auto_termination_policy(ClusterId=idle_cluster)["AutoTerminationPolicy"] == {
        "IdleTimeout": 120
    }
    emr.put_auto_termination_policy(ClusterId=idle_cluster, AutoTerminationPolicy={"IdleTimeout": 60})
    assert emr.get_auto_termination_policy(ClusterId=idle_cluster)["AutoTerminationPolicy"] == {
        "IdleTimeout": 60
    }
    assert "AutoTerminationPolicy" not in emr.get_auto_termination_policy(ClusterId=fleet_cluster)
    emr.put_auto_termination_policy(ClusterId=fleet_cluster, AutoTerminationPolicy={})
    assert emr.get_auto_termination_policy(ClusterId=fleet_cluster)["AutoTerminationPolicy"] == {
        "IdleTimeout": 3600  # EMR's default
    }
    emr.remove_auto_termination_policy(ClusterId=fleet_cluster)
    assert "AutoTerminationPolicy" not in emr.get_auto_termination_policy(ClusterId=fleet_cluster)
    for timeout in (59, 604801):
        with pytest.raises(ClientError) as refused:
            emr.put_auto_termination_policy(
                ClusterId=fleet_cluster, AutoTerminationPolicy={"IdleTimeout": timeout}
            )
        assert error_code(refused) == "ValidationException"
    assert "AutoTerminationPolicy" not in emr.get_auto_termination_policy(ClusterId=fleet_cluster)
    with pytest.raises(ClientError) as unknown:
        emr.get_auto_termination_policy(ClusterId="j-NOSUCHCLUSTER")
    assert error_code(unknown) == "InvalidRequestException"


def test_fleet_cluster_provisions_its_target_capacity(emr: Any, fleet_cluster: str) -> None:
    described = emr.describe_cluster(ClusterId=fleet_cluster)["Cluster"]
    assert described["InstanceCollectionType"] == "INSTANCE_FLEET"
    fleets = _fleets(emr, fleet_cluster)
    assert set(fleets) == {"MASTER", "CORE"}
    master, core = fleets["MASTER"], fleets["CORE"]
    assert master["Id"].startswith("if-") and core["Id"].startswith("if-")
    assert (master["ProvisionedOnDemandCapacity"], master["ProvisionedSpotCapacity"]) == (1, 0)
    assert core["Name"] == "Core"
    assert (core["TargetOnDemandCapacity"], core["TargetSpotCapacity"]) == (2, 0)
    assert (core["ProvisionedOnDemandCapacity"], core["ProvisionedSpotCapacity"]) == (2, 0)
    assert core["Status"]["State"] == master["Status"]["State"] == "RUNNING"
    assert "ReadyDateTime" in core["Status"]["Timeline"]
    assert [
        (s["InstanceType"], s["WeightedCapacity"], s["Priority"]) for s in core["InstanceTypeSpecifications"]
    ] == [
        ("c5.xlarge", 4, 1),
        ("m5.large", 2, 0),
    ]

    instances = emr.list_instances(ClusterId=fleet_cluster)["Instances"]
    assert sorted((i["InstanceFleetId"], i["InstanceType"]) for i in instances) == sorted(
        [(master["Id"], "m5.xlarge"), (core["Id"], "m5.large")]
    )
    assert all("InstanceGroupId" not in i and i["Market"] == "ON_DEMAND" for i in instances)
    assert {i["Status"]["State"] for i in instances} == {"RUNNING"}
    by_type = emr.list_instances(ClusterId=fleet_cluster, InstanceFleetType="CORE")["Instances"]
    assert [i["InstanceFleetId"] for i in by_type] == [core["Id"]]


def test_modify_instance_fleet_resizes_by_weighted_capacity(emr: Any, fleet_cluster: str) -> None:
    core = _fleets(emr, fleet_cluster)["CORE"]
    emr.modify_instance_fleet(
        ClusterId=fleet_cluster, InstanceFleet={"InstanceFleetId": core["Id"], "TargetOnDemandCapacity": 4}
    )
    wait_for(
        "a second core instance", lambda: len(_running(emr, fleet_cluster, core["Id"])) == 2, RESIZE_TIMEOUT_S
    )
    resized = wait_for(
        "the core fleet to run",
        lambda: (fleet := _fleets(emr, fleet_cluster)["CORE"])["Status"]["State"] == "RUNNING" and fleet,
        30,
    )
    assert (resized["ProvisionedOnDemandCapacity"], resized["ProvisionedSpotCapacity"]) == (4, 0)

    # the same two instances, half of the capacity now Spot: the older instance stays On-Demand
    emr.modify_instance_fleet(
        ClusterId=fleet_cluster,
        InstanceFleet={"InstanceFleetId": core["Id"], "TargetOnDemandCapacity": 2, "TargetSpotCapacity": 2},
    )
    mixed = _fleets(emr, fleet_cluster)["CORE"]
    assert (mixed["TargetOnDemandCapacity"], mixed["TargetSpotCapacity"]) == (2, 2)
    assert (mixed["ProvisionedOnDemandCapacity"], mixed["ProvisionedSpotCapacity"]) == (2, 2)
    running = sorted(
        _running(emr, fleet_cluster, core["Id"]), key=lambda i: i["Status"]["Timeline"]["CreationDateTime"]
    )
    assert [i["Market"] for i in running] == ["ON_DEMAND", "SPOT"]


def test_add_instance_fleet_adds_one_task_fleet(emr: Any, fleet_cluster: str) -> None:
    task = {
        "Name": "Task",
        "InstanceFleetType": "TASK",
        "TargetSpotCapacity": 1,
        "InstanceTypeConfigs": [{"InstanceType": "m5.large"}],
    }
    added = emr.add_instance_fleet(ClusterId=fleet_cluster, InstanceFleet=task)
    assert added["ClusterId"] == fleet_cluster
    assert added["ClusterArn"].endswith(f":cluster/{fleet_cluster}")
    fleet_id = added["InstanceFleetId"]
    assert _fleets(emr, fleet_cluster)["TASK"]["Id"] == fleet_id
    for refused in (task, {**task, "InstanceFleetType": "CORE"}):
        with pytest.raises(ClientError) as second:
            emr.add_instance_fleet(ClusterId=fleet_cluster, InstanceFleet=refused)
        assert error_code(second) == "InvalidRequestException"

    (instance,) = wait_for(
        "the task instance", lambda: _running(emr, fleet_cluster, fleet_id), RESIZE_TIMEOUT_S
    )
    assert instance["Market"] == "SPOT"
    fleet = wait_for(
        "the task fleet to run",
        lambda: (fleet := _fleets(emr, fleet_cluster)["TASK"])["Status"]["State"] == "RUNNING" and fleet,
        30,
    )
    assert (fleet["ProvisionedOnDemandCapacity"], fleet["ProvisionedSpotCapacity"]) == (0, 1)
    assert (
        fleet["Status"]["Timeline"]["CreationDateTime"]
        > emr.describe_cluster(ClusterId=fleet_cluster)["Cluster"]["Status"]["Timeline"]["ReadyDateTime"]
    )

    emr.modify_instance_fleet(
        ClusterId=fleet_cluster, InstanceFleet={"InstanceFleetId": fleet_id, "TargetSpotCapacity": 0}
    )
    wait_for("the task instance to leave", lambda: not _running(emr, fleet_cluster, fleet_id), 60)


def test_single_node_cluster_keeps_its_bootstrap_actions(
    emr: Any, single_node_cluster: str, bucket: str
) -> None:
    listed = emr.list_bootstrap_actions(ClusterId=single_node_cluster)
    assert listed["BootstrapActions"] == [
        {"Name": "hello", "ScriptPath": f"s3://{bucket}/bootstrap/hello.sh", "Args": ["a", "b c"]},
        {"Name": "again", "ScriptPath": f"s3n://{bucket}/bootstrap/hello.sh", "Args": []},
    ]
    assert "Marker" not in listed
    described = emr.describe_cluster(ClusterId=single_node_cluster)["Cluster"]
    assert described["InstanceCollectionType"] == "INSTANCE_GROUP"
    groups = emr.list_instance_groups(ClusterId=single_node_cluster)["InstanceGroups"]
    assert [(g["InstanceGroupType"], g["RequestedInstanceCount"]) for g in groups] == [("MASTER", 1)]
    instances = emr.list_instances(ClusterId=single_node_cluster)["Instances"]
    assert [i["InstanceGroupId"] for i in instances] == [groups[0]["Id"]]
    with pytest.raises(ClientError) as unknown:
        emr.list_bootstrap_actions(ClusterId="j-NOSUCHCLUSTER")
    assert error_code(unknown) == "InvalidRequestException"


def test_single_node_cluster_runs_bootstrap_actions_and_steps_on_its_master(
    nimbus: NimbusServer, emr: Any, single_node_cluster: str, bucket: str
) -> None:
    assert wait_for_state(emr, single_node_cluster, {"WAITING", "TERMINATED_WITH_ERRORS"}) == "WAITING"
    (master,) = emr.list_instances(ClusterId=single_node_cluster)["Instances"]
    node_logs = f"logs/{single_node_cluster}/node/{master['Ec2InstanceId']}/bootstrap-actions"
    assert read_log(nimbus.client("s3"), bucket, f"{node_logs}/1/stdout.gz") == "bootstrapped: a b c\n"
    assert read_log(nimbus.client("s3"), bucket, f"{node_logs}/2/stdout.gz") == "bootstrapped: \n"
    (step,) = _run_steps(
        emr,
        single_node_cluster,
        _step("sum", "command-runner.jar", "spark-submit", f"s3://{bucket}/code/sum.py"),
    )
    assert step["Status"]["State"] == "COMPLETED", step["Status"].get("FailureDetails")
    step_log = f"logs/{single_node_cluster}/steps/{step['Id']}/stdout.gz"
    assert "sum: 4950" in read_log(nimbus.client("s3"), bucket, step_log)
    # its executor ran on the master node's own worker
    assert list((nimbus.data_dir / "emr" / single_node_cluster).glob("*/worker/work/app-*"))


def test_script_runner_and_command_runner_steps_run_in_their_own_folder(
    nimbus: NimbusServer, emr: Any, single_node_cluster: str, bucket: str
) -> None:
    script_runner = "s3://us-east-1.elasticmapreduce/libs/script-runner/script-runner.jar"
    objects = nimbus.data_dir / "s3"
    script, command, missing, absent = _run_steps(
        emr,
        single_node_cluster,
        _step("script", script_runner, f"s3://{bucket}/bootstrap/hello.sh", "x", "y z"),
        _step("command", "command-runner.jar", "bash", "-c", f"echo $((6 * 7)); ls {objects} || echo hidden"),
        _step("missing", script_runner, f"s3://{bucket}/bootstrap/missing.sh"),
        _step("absent", "command-runner.jar", "no-such-program"),
    )
    assert script["Status"]["State"] == command["Status"]["State"] == "COMPLETED"
    s3, logs = nimbus.client("s3"), f"logs/{single_node_cluster}/steps"
    assert read_log(s3, bucket, f"{logs}/{script['Id']}/stdout.gz") == "bootstrapped: x y z\n"
    assert read_log(s3, bucket, f"{logs}/{command['Id']}/stdout.gz") == "42\nhidden\n"
    assert missing["Status"]["State"] == "FAILED"
    assert missing["Status"]["FailureDetails"]["Reason"] == (
        f"Unable to download the script s3://{bucket}/bootstrap/missing.sh."
    )
    assert absent["Status"]["State"] == "FAILED"
    assert "no-such-program" in absent["Status"]["FailureDetails"]["Message"]
    assert wait_for_state(emr, single_node_cluster, {"WAITING"}, 30) == "WAITING"  # failed steps only
    for jar, arguments in ((script_runner, []), (script_runner, ["hello.sh"]), ("s3://b/app.jar", ["x"])):
        with pytest.raises(ClientError) as refused:
            emr.add_job_flow_steps(JobFlowId=single_node_cluster, Steps=[_step("bad", jar, *arguments)])
        assert error_code(refused) == "ValidationException"


def _step(name: str, jar: str, *arguments: str) -> dict[str, Any]:
    return {
        "Name": name,
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": jar, "Args": list(arguments)},
    }


def _run_steps(emr: Any, cluster_id: str, *steps: dict[str, Any]) -> list[dict[str, Any]]:
    """Adds the steps and waits for each to end."""
    step_ids = emr.add_job_flow_steps(JobFlowId=cluster_id, Steps=list(steps))["StepIds"]
    return [wait_for_step(emr, cluster_id, step_id) for step_id in step_ids]


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("fail.sh", "On the master instance ({}), bootstrap action 1 returned a non-zero return code"),
        ("missing.sh", "Master instance ({}) failed attempting to download bootstrap action 1 file from S3"),
    ],
)
def test_failing_bootstrap_action_ends_the_cluster(
    nimbus: NimbusServer, emr: Any, bucket: str, script: str, reason: str
) -> None:
    cluster_id = emr.run_job_flow(
        Name="bootstrap fails",
        ReleaseLabel="emr-7.2.0",
        LogUri=f"s3://{bucket}/logs/",
        BootstrapActions=[
            {"Name": "setup", "ScriptBootstrapAction": {"Path": f"s3://{bucket}/bootstrap/{script}"}}
        ],
        Instances={"MasterInstanceType": "m5.large", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
    )["JobFlowId"]
    state = wait_for_state(emr, cluster_id, {"TERMINATED", "TERMINATED_WITH_ERRORS"})
    assert state == "TERMINATED_WITH_ERRORS"
    (master,) = emr.list_instances(ClusterId=cluster_id)["Instances"]
    status = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]
    assert status["StateChangeReason"] == {
        "Code": "BOOTSTRAP_FAILURE",
        "Message": reason.format(master["Ec2InstanceId"]),
    }
    assert master["Status"]["State"] == "TERMINATED"
    if script == "fail.sh":
        node_logs = f"logs/{cluster_id}/node/{master['Ec2InstanceId']}/bootstrap-actions/1"
        assert read_log(nimbus.client("s3"), bucket, f"{node_logs}/stderr.gz") == "setup failed\n"


def test_single_master_fleet_is_a_cluster(emr: Any) -> None:
    cluster_id = emr.run_job_flow(
        Name="single master fleet",
        ReleaseLabel="emr-7.2.0",
        Instances={
            "InstanceFleets": [{**MASTER_FLEET, "TargetOnDemandCapacity": 0, "TargetSpotCapacity": 1}]
        },
    )["JobFlowId"]
    try:
        (master,) = emr.list_instance_fleets(ClusterId=cluster_id)["InstanceFleets"]
        assert (master["InstanceFleetType"], master["TargetSpotCapacity"]) == ("MASTER", 1)
        assert emr.list_bootstrap_actions(ClusterId=cluster_id)["BootstrapActions"] == []
    finally:
        emr.terminate_job_flows(JobFlowIds=[cluster_id])
    assert wait_for_state(emr, cluster_id, {"TERMINATED", "TERMINATED_WITH_ERRORS"}, 60) == "TERMINATED"


def test_fleet_and_group_operations_refuse_the_other_kind(
    emr: Any, fleet_cluster: str, single_node_cluster: str
) -> None:
    with pytest.raises(ClientError) as groups_of_fleets:
        emr.list_instance_groups(ClusterId=fleet_cluster)
    assert error_code(groups_of_fleets) == "InvalidRequestException"
    assert (
        "Use the ListInstanceFleets operation instead" in groups_of_fleets.value.response["Error"]["Message"]
    )
    core = _fleets(emr, fleet_cluster)["CORE"]
    with pytest.raises(ClientError) as modify_groups:
        emr.modify_instance_groups(
            ClusterId=fleet_cluster, InstanceGroups=[{"InstanceGroupId": core["Id"], "InstanceCount": 3}]
        )
    assert error_code(modify_groups) == "ValidationException"

    with pytest.raises(ClientError) as fleets_of_groups:
        emr.list_instance_fleets(ClusterId=single_node_cluster)
    assert error_code(fleets_of_groups) == "InvalidRequestException"
    assert "uses instance groups" in fleets_of_groups.value.response["Error"]["Message"]
    master_group = emr.list_instance_groups(ClusterId=single_node_cluster)["InstanceGroups"][0]["Id"]
    for call in (
        lambda: emr.modify_instance_fleet(
            ClusterId=single_node_cluster,
            InstanceFleet={"InstanceFleetId": master_group, "TargetOnDemandCapacity": 2},
        ),
        lambda: emr.add_instance_fleet(
            ClusterId=single_node_cluster,
            InstanceFleet={
                "InstanceFleetType": "TASK",
                "InstanceTypeConfigs": [{"InstanceType": "m5.large"}],
            },
        ),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert error_code(refused) == "InvalidRequestException"

    # the MASTER fleet keeps its one instance, and a fleet id must be the cluster's
    master = _fleets(emr, fleet_cluster)["MASTER"]
    for change in (
        {"InstanceFleetId": master["Id"], "TargetOnDemandCapacity": 2},
        {"InstanceFleetId": "if-NOSUCHFLEET00", "TargetOnDemandCapacity": 2},
    ):
        with pytest.raises(ClientError) as refused:
            emr.modify_instance_fleet(ClusterId=fleet_cluster, InstanceFleet=change)
        assert error_code(refused) == "InvalidRequestException"
    assert _fleets(emr, fleet_cluster)["CORE"]["TargetOnDemandCapacity"] == 2


def test_bad_fleets_and_bootstrap_actions_are_refused(emr: Any, bucket: str) -> None:
    core = {**CORE_FLEET, "InstanceTypeConfigs": [{"InstanceType": "m5.large"}]}
    hello = {"Name": "hello", "ScriptBootstrapAction": {"Path": f"s3://{bucket}/bootstrap/hello.sh"}}
    invalid = {
        "two MASTER fleets": {"Instances": {"InstanceFleets": [MASTER_FLEET, MASTER_FLEET, core]}},
        "MASTER capacity 2": {
            "Instances": {"InstanceFleets": [{**MASTER_FLEET, "TargetOnDemandCapacity": 2}, core]}
        },
        "MASTER On-Demand and Spot": {
            "Instances": {"InstanceFleets": [{**MASTER_FLEET, "TargetSpotCapacity": 1}, core]}
        },
        "unknown instance type": {
            "Instances": {
                "InstanceFleets": [
                    MASTER_FLEET,
                    {**core, "InstanceTypeConfigs": [{"InstanceType": "m5.large"}, {"InstanceType": "huge"}]},
                ]
            }
        },
        "no capacity": {
            "Instances": {"InstanceFleets": [MASTER_FLEET, {**core, "TargetOnDemandCapacity": 0}]}
        },
        "fleets and groups": {
            "Instances": {
                "InstanceFleets": [MASTER_FLEET],
                "InstanceGroups": [
                    {"InstanceRole": "MASTER", "InstanceType": "m5.large", "InstanceCount": 1}
                ],
            }
        },
        "CORE group of no instance": {
            "Instances": {
                "InstanceGroups": [
                    {"InstanceRole": "MASTER", "InstanceType": "m5.large", "InstanceCount": 1},
                    {"InstanceRole": "CORE", "InstanceType": "m5.large", "InstanceCount": 0},
                ]
            }
        },
        "bootstrap from a file": {
            "Instances": {"InstanceFleets": [MASTER_FLEET]},
            "BootstrapActions": [
                hello,
                {
                    "Name": "local",
                    "ScriptBootstrapAction": {"Path": "file:/usr/share/aws/emr/scripts/run-if"},
                },
            ],
        },
        "bootstrap without a key": {
            "Instances": {"InstanceFleets": [MASTER_FLEET]},
            "BootstrapActions": [{"Name": "bucket", "ScriptBootstrapAction": {"Path": f"s3://{bucket}/"}}],
        },
        "17 bootstrap actions": {
            "Instances": {"InstanceFleets": [MASTER_FLEET]},
            "BootstrapActions": [hello] * 17,
        },
    }
    before = {c["Id"] for c in emr.list_clusters()["Clusters"]}
    messages = {}
    for what, request in invalid.items():
        with pytest.raises(ClientError) as refused:
            emr.run_job_flow(Name="invalid", ReleaseLabel="emr-7.2.0", **request)
        assert error_code(refused) == "ValidationException", what
        messages[what] = refused.value.response["Error"]["Message"]
    assert {c["Id"] for c in emr.list_clusters()["Clusters"]} == before  # nothing was created
    assert "from S3 only" in messages["bootstrap from a file"]
    assert "huge" in messages["unknown instance type"]
    assert "16" in messages["17 bootstrap actions"]


def test_idle_cluster_ends_itself(emr: Any, idle_cluster: str) -> None:
    state = wait_for_state(emr, idle_cluster, {"TERMINATED", "TERMINATED_WITH_ERRORS"})
    assert state == "TERMINATED"
    status = emr.describe_cluster(ClusterId=idle_cluster)["Cluster"]["Status"]
    assert status["StateChangeReason"] == {
        "Code": "ALL_STEPS_COMPLETED",
        "Message": "Auto-terminated after being idle for 60 seconds",
    }
    idle = status["Timeline"]["EndDateTime"] - status["Timeline"]["ReadyDateTime"]
    assert idle.total_seconds() >= 60
    with pytest.raises(ClientError) as ended:
        emr.put_auto_termination_policy(ClusterId=idle_cluster, AutoTerminationPolicy={"IdleTimeout": 60})
    assert error_code(ended) == "ValidationException"


def test_terminated_clusters_end_terminated(emr: Any, fleet_cluster: str, single_node_cluster: str) -> None:
    emr.terminate_job_flows(JobFlowIds=[fleet_cluster, single_node_cluster])
    for cluster_id in (fleet_cluster, single_node_cluster):
        assert wait_for_state(emr, cluster_id, {"TERMINATED", "TERMINATED_WITH_ERRORS"}, 60) == "TERMINATED"
    fleets = _fleets(emr, fleet_cluster)
    assert {fleet["Status"]["State"] for fleet in fleets.values()} == {"TERMINATED"}
    instances = emr.list_instances(ClusterId=fleet_cluster)["Instances"]
    assert {i["Status"]["State"] for i in instances} == {"TERMINATED"}
