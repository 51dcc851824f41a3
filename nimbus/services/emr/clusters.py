"""Clusters: RunJobFlow, DescribeCluster, ListClusters, TerminateJobFlows."""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert, select

from nimbus.config import Settings
from nimbus.engines.spark.runtime import SparkUnavailable, check_runtime, spark_version
from nimbus.errors import AwsError
from nimbus.services.emr import emr
from nimbus.services.emr.auto_termination import check_auto_termination_policy
from nimbus.services.emr.bootstrap_actions import check_bootstrap_actions
from nimbus.services.emr.errors import invalid_request, unknown_cluster, unknown_job_flow, validation_error
from nimbus.services.emr.instance_groups import fleet_instances, uses_fleets
from nimbus.services.emr.instance_types import aws_resources, check_instance_type
from nimbus.services.emr.records import (
    ACTIVE_CLUSTER_STATES,
    CLUSTERS,
    INSTANCES,
    cluster_instances,
    find_cluster,
    move_cluster,
    new_ec2_instance_id,
    new_id,
    now,
)
from nimbus.services.emr.runner import cluster_supervisor
from nimbus.services.emr.steps import check_step, insert_steps
from nimbus.services.registry import RequestContext
from nimbus.services.resource_tags import tag_condition_keys
from nimbus.storage import Storage

PAGE_SIZE = 50
# the release labels people use today; each runs its steps on the Spark of the pyspark package
_RELEASE_LABEL = re.compile(r"^emr-[567]\.\d+\.\d+$")
_APPLICATIONS = {"spark": "Spark", "hadoop": "Hadoop"}  # Hadoop: its file system client, no HDFS or YARN


def cluster_arn(region: str, account_id: str, cluster_id: str) -> str:
    return f"arn:aws:elasticmapreduce:{region}:{account_id}:cluster/{cluster_id}"


def cluster_tag_keys(storage: Storage, arn: str) -> dict[str, str]:
    """``aws:ResourceTag/*`` and ``elasticmapreduce:ResourceTag/*`` of the cluster ``arn`` names: the
    Tags it was created with (Nimbus serves no AddTags or RemoveTags)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("cluster/"):
        return {}
    query = select(CLUSTERS.c.request).where(
        CLUSTERS.c.id == parts[5].removeprefix("cluster/"),
        CLUSTERS.c.account_id == parts[4],
        CLUSTERS.c.region == parts[3],
    )
    with storage.database.engine.connect() as connection:
        request = connection.scalar(query) or {}
    return tag_condition_keys(request.get("Tags"), "aws:resourcetag/", "elasticmapreduce:resourcetag/")


emr.resource_tags(cluster_tag_keys)


@emr.operation
def run_job_flow(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A Spark standalone cluster on this machine: the MASTER instance is a Spark master and each CORE
    and TASK instance a Spark worker (cores and memory of its instance type, capped by this machine),
    all JVMs on loopback started from the pyspark package; DescribeCluster names the Spark version that
    runs. A cluster of just the MASTER (a single-node cluster) runs one Spark worker on its master node.
    Release labels emr-5.x, 6.x and 7.x are accepted and all run that one Spark; the applications are
    Spark and Hadoop (its file system client: no HDFS, YARN, Hive). Instance groups or instance fleets:
    a fleet runs one instance type, the first of its InstanceTypeConfigs with the highest Priority, as
    many instances of it as its weighted target capacities need; Nimbus has no Spot market, so Spot
    capacity runs as On-Demand capacity does. Bootstrap actions (scripts at s3:// URIs of this Nimbus,
    at most 16) run on each node before its Spark daemon starts, in the node's sandbox; their output
    goes to ``<LogUri>/<cluster-id>/node/<ec2-instance-id>/bootstrap-actions/<n>/stdout.gz`` and
    ``stderr.gz``, and one that fails ends the cluster TERMINATED_WITH_ERRORS with BOOTSTRAP_FAILURE.
    Configurations: ``spark-defaults`` properties apply to every step, other classifications are kept
    but not applied. Only step and bootstrap action logs go to LogUri (no other node logs). Ignored:
    networking, security, EBS, auto-scaling and managed-scaling settings, fleets' launch and resize
    specifications. A ServiceRole that does not exist or does not trust elasticmapreduce.amazonaws.com
    is refused at the call ("EMR service role ... is invalid"), where AWS ends the cluster with that
    VALIDATION_ERROR; the AutoScalingRole is not checked. An AutoTerminationPolicy ends the cluster
    once it has been WAITING for IdleTimeout seconds (StateChangeReason ALL_STEPS_COMPLETED). Every
    process of a cluster (the Spark daemons, the executors and Python workers of jobs, steps' drivers)
    runs in a bubblewrap sandbox that can write only the cluster's folder (and the object files, for a
    cluster without a JobFlowRole, whose steps read and write them in place) and sees nothing else
    of the data dir. With NIMBUS_SPARK_MASTER set (``spark://host:port``, or
    ``k8s://https://host:port`` for Spark on Kubernetes), new clusters start nothing on this machine:
    their steps go to that existing master (the driver still runs here, in client mode), and they list
    no instances and cannot be resized; its executors must see this Nimbus's ``<data dir>/s3`` at the
    same path (the same machine, or a shared mount), since they read and write the object files in
    place. On Kubernetes the cluster's ``spark-defaults`` must name the executors' image and that
    mount (docs/emr.md)."""
    _check_cluster(request)
    if "AutoTerminationPolicy" in request:
        request = {
            **request,
            "AutoTerminationPolicy": check_auto_termination_policy(request["AutoTerminationPolicy"]),
        }
    try:
        check_runtime()
    except SparkUnavailable as error:
        raise AwsError("InternalServerError", f"Nimbus cannot run Spark here: {error}", 500) from None
    supervisor = cluster_supervisor(ctx.storage)
    existing_master = Settings().spark_master
    cluster_id = new_id("j-")
    groups = _instance_groups(request)
    created = now()
    with ctx.storage.database.engine.begin() as connection:
        connection.execute(
            insert(CLUSTERS),
            {
                "id": cluster_id,
                "account_id": ctx.caller.account_id,
                "region": ctx.region,
                "caller_arn": ctx.caller.arn,
                "name": request["Name"],
                "request": request,
                "instance_groups": groups,
                "state": "STARTING",
                "master_url": existing_master,
                "created_at": created,
            },
        )
        if existing_master is None:
            master = next(group for group in groups if group["InstanceGroupType"] == "MASTER")
            connection.execute(
                insert(INSTANCES),
                {
                    "id": new_id("ci-"),
                    "cluster_id": cluster_id,
                    "group_id": master["Id"],
                    "ec2_instance_id": new_ec2_instance_id(),
                    "instance_type": master["InstanceType"],
                    "state": "PROVISIONING",
                    "created_at": created,
                },
            )
        insert_steps(connection, cluster_id, request.get("Steps") or [], 0)
    supervisor.launch(cluster_id)
    return {"JobFlowId": cluster_id, "ClusterArn": cluster_arn(ctx.region, ctx.caller.account_id, cluster_id)}


def _check_cluster(request: dict[str, Any]) -> None:
    """What Nimbus cannot run is refused before anything is stored."""
    label = request.get("ReleaseLabel")
    if label is None or not _RELEASE_LABEL.match(label):
        raise validation_error(
            f"The release label {label!r} is not supported: Nimbus runs emr-5.x, emr-6.x and emr-7.x "
            f"release labels, all on Spark {spark_version()}."
        )
    for application in request.get("Applications") or []:
        if application.get("Name", "").lower() not in _APPLICATIONS:
            raise validation_error(
                f"The application {application.get('Name')!r} is not supported: Nimbus runs "
                + " and ".join(_APPLICATIONS.values())
                + "."
            )
    check_bootstrap_actions(request.get("BootstrapActions") or [])
    log_uri = request.get("LogUri")
    if log_uri is not None and not re.match(r"^s3n?://[^/]+", log_uri):
        raise validation_error(f"The LogUri {log_uri!r} is not an S3 URI (s3://bucket/prefix).")
    for step in request.get("Steps") or []:
        check_step(step)


def _instance_groups(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The cluster's instance groups, from ``InstanceGroups``, the older Master/Slave form, or
    ``InstanceFleets`` (kept as groups: see ``fleet_entry``)."""
    instances = request["Instances"]
    if instances.get("InstanceFleets"):
        return _instance_fleets(instances, request["ReleaseLabel"])
    configs = instances.get("InstanceGroups")
    if not configs:
        if "MasterInstanceType" not in instances:
            raise validation_error(
                "Instances must name InstanceGroups, InstanceFleets, or MasterInstanceType and InstanceCount."
            )
        count = instances.get("InstanceCount", 1)
        configs = [
            {"InstanceRole": "MASTER", "InstanceType": instances["MasterInstanceType"], "InstanceCount": 1}
        ]
        if count > 1:
            slave = instances.get("SlaveInstanceType", instances["MasterInstanceType"])
            configs.append({"InstanceRole": "CORE", "InstanceType": slave, "InstanceCount": count - 1})
    roles = [config["InstanceRole"] for config in configs]
    if roles.count("MASTER") != 1 or roles.count("CORE") > 1:
        raise validation_error(
            "A cluster has exactly one MASTER instance group and at most one CORE instance group."
        )
    groups = []
    for config in configs:
        check_instance_type(config["InstanceType"])
        if config["InstanceRole"] == "MASTER" and config["InstanceCount"] != 1:
            raise validation_error("The MASTER instance group must have exactly 1 instance.")
        if config["InstanceCount"] < 0:
            raise validation_error("An instance group's InstanceCount must not be negative.")
        groups.append(
            {
                "Id": new_id("ig-"),
                "Name": config.get("Name") or f"{config['InstanceRole'].title()} - 1",
                "InstanceGroupType": config["InstanceRole"],
                "InstanceType": config["InstanceType"],
                "RequestedInstanceCount": config["InstanceCount"],
                "Market": config.get("Market", "ON_DEMAND"),
            }
        )
    workers = [group["RequestedInstanceCount"] for group in groups if group["InstanceGroupType"] != "MASTER"]
    if workers and not sum(workers):  # only a cluster of just the MASTER runs Spark on its master
        raise validation_error(
            "Nimbus runs Spark on CORE and TASK instances: the cluster's CORE and TASK instance groups need "
            "at least one (a single-node cluster names only the MASTER instance group)."
        )
    return groups


def _instance_fleets(instances: dict[str, Any], release_label: str) -> list[dict[str, Any]]:
    if instances.get("InstanceGroups") or "MasterInstanceType" in instances:
        raise validation_error(
            "Instances names either InstanceFleets or instance groups (InstanceGroups, MasterInstanceType), "
            "not both."
        )
    if release_label.startswith("emr-5.0."):
        raise validation_error(
            "The instance fleet configuration is available only in Amazon EMR releases 4.8.0 and later, "
            "excluding 5.0.x versions."
        )
    kinds = [config["InstanceFleetType"] for config in instances["InstanceFleets"]]
    if kinds.count("MASTER") != 1 or kinds.count("CORE") > 1 or kinds.count("TASK") > 1:
        raise validation_error(
            "A cluster has exactly one MASTER instance fleet, and at most one CORE and one TASK "
            "instance fleet."
        )
    return [fleet_entry(config) for config in instances["InstanceFleets"]]


def fleet_entry(config: dict[str, Any]) -> dict[str, Any]:
    """An instance fleet as the runner keeps instance groups: a group of one instance type (the first
    of its InstanceTypeConfigs with the highest Priority, the lowest number) with as many instances as
    its target capacities need, that keeps the fleet's request for the fleet operations."""
    kind = config["InstanceFleetType"]
    types = config.get("InstanceTypeConfigs") or []
    on_demand, spot = config.get("TargetOnDemandCapacity", 0), config.get("TargetSpotCapacity", 0)
    launch = config.get("LaunchSpecifications") or {}
    strategy = any((launch.get(market) or {}).get("AllocationStrategy") for market in launch)
    most = 30 if strategy else 5
    if not 1 <= len(types) <= most:
        raise validation_error(
            f"The {kind} instance fleet names {len(types)} InstanceTypeConfigs: an instance fleet names 1 to "
            f"{most}{' with an allocation strategy' if strategy else ' (30 with an allocation strategy)'}."
        )
    for type_config in types:
        check_instance_type(type_config["InstanceType"])
        if type_config.get("WeightedCapacity", 1) < 1:
            raise validation_error("The WeightedCapacity of an instance type config must be 1 or greater.")
    if kind == "MASTER":
        if sorted((on_demand, spot)) != [0, 1]:
            raise validation_error(
                "The MASTER instance fleet has a target capacity of 1: TargetOnDemandCapacity or "
                "TargetSpotCapacity 1, and the other 0."
            )
        if any(type_config.get("WeightedCapacity", 1) != 1 for type_config in types):
            raise validation_error("The WeightedCapacity of the MASTER instance fleet's instance types is 1.")
    elif on_demand + spot == 0:
        raise validation_error(
            f"The {kind} instance fleet needs a TargetOnDemandCapacity or TargetSpotCapacity greater than 0."
        )
    chosen = min(types, key=lambda type_config: type_config.get("Priority", math.inf))
    fleet = {
        "Id": new_id("if-"),
        "Name": config.get("Name") or f"{kind.title()} - 1",
        "InstanceGroupType": kind,
        "InstanceType": chosen["InstanceType"],
        "WeightedCapacity": chosen.get("WeightedCapacity", 1),
        "Fleet": config,
    }
    fleet["RequestedInstanceCount"] = sum(fleet_instances(fleet))
    return fleet


@emr.operation
def describe_cluster(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Ec2InstanceAttributes names only an availability zone of the region; MasterPublicDnsName is
    the loopback address the Spark master listens on."""
    cluster_supervisor(ctx.storage)
    cluster = find_cluster_of_caller(ctx, request["ClusterId"])
    output = {
        **cluster_summary(ctx, cluster),
        "Ec2InstanceAttributes": {"Ec2AvailabilityZone": f"{cluster.region}a"},
        "InstanceCollectionType": "INSTANCE_FLEET" if uses_fleets(cluster) else "INSTANCE_GROUP",
        "ReleaseLabel": cluster.request["ReleaseLabel"],
        "AutoTerminate": not cluster.request["Instances"].get("KeepJobFlowAliveWhenNoSteps", False),
        "TerminationProtected": cluster.request["Instances"].get("TerminationProtected", False),
        "VisibleToAllUsers": cluster.request.get("VisibleToAllUsers", True),
        "Applications": [
            {"Name": "Spark", "Version": spark_version()},
            *[
                {"Name": "Hadoop"}
                for application in cluster.request.get("Applications") or []
                if application["Name"].lower() == "hadoop"
            ],
        ],
        "Tags": cluster.request.get("Tags") or [],
        "Configurations": cluster.request.get("Configurations") or [],
        "StepConcurrencyLevel": 1,
        "ScaleDownBehavior": "TERMINATE_AT_TASK_COMPLETION",
    }
    optional = {
        "LogUri": cluster.request.get("LogUri"),
        "ServiceRole": cluster.request.get("ServiceRole"),
        "MasterPublicDnsName": _master_host(cluster.master_url) if cluster.master_url else None,
    }
    output.update({name: value for name, value in optional.items() if value is not None})
    return {"Cluster": output}


def _master_host(master_url: str) -> str | None:
    """The host of ``spark://host:port``, or of the API server of ``k8s://https://host:port``."""
    return urlsplit(master_url.removeprefix("k8s://")).hostname


def find_cluster_of_caller(ctx: RequestContext, cluster_id: str) -> Any:
    cluster = find_cluster(ctx.storage, cluster_id, ctx.caller.account_id)
    if cluster is None or cluster.region != ctx.region:
        raise unknown_cluster(cluster_id)
    return cluster


def cluster_summary(ctx: RequestContext, cluster: Any) -> dict[str, Any]:
    timeline = {"CreationDateTime": cluster.created_at}
    if cluster.ready_at is not None:
        timeline["ReadyDateTime"] = cluster.ready_at
    if cluster.ended_at is not None:
        timeline["EndDateTime"] = cluster.ended_at
    reason = {"Code": cluster.reason_code, "Message": cluster.reason_message}
    return {
        "Id": cluster.id,
        "Name": cluster.name,
        "Status": {
            "State": cluster.state,
            "StateChangeReason": {name: value for name, value in reason.items() if value is not None},
            "Timeline": timeline,
        },
        "NormalizedInstanceHours": _normalized_instance_hours(ctx, cluster),
        "ClusterArn": cluster_arn(cluster.region, cluster.account_id, cluster.id),
    }


def _normalized_instance_hours(ctx: RequestContext, cluster: Any) -> int:
    """EMR's approximation of use: each started hour of each instance, weighted by its size (a large
    counts 4, an xlarge 8, ...: twice its vCPUs)."""
    total = 0
    for instance in cluster_instances(ctx.storage, cluster.id):
        if instance.ready_at is None:
            continue
        seconds = ((instance.ended_at or now()) - instance.ready_at).total_seconds()
        total += max(1, math.ceil(seconds / 3600)) * 2 * aws_resources(instance.instance_type)[0]
    return total


@emr.operation
def list_clusters(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Newest first, 50 a page."""
    cluster_supervisor(ctx.storage)
    query = select(CLUSTERS).where(
        CLUSTERS.c.account_id == ctx.caller.account_id, CLUSTERS.c.region == ctx.region
    )
    if request.get("ClusterStates"):
        query = query.where(CLUSTERS.c.state.in_(request["ClusterStates"]))
    if "CreatedAfter" in request:
        query = query.where(CLUSTERS.c.created_at >= request["CreatedAfter"])
    if "CreatedBefore" in request:
        query = query.where(CLUSTERS.c.created_at <= request["CreatedBefore"])
    offset = _offset(request.get("Marker"))
    with ctx.storage.database.engine.connect() as connection:
        rows = list(
            connection.execute(
                query.order_by(CLUSTERS.c.created_at.desc(), CLUSTERS.c.id)
                .offset(offset)
                .limit(PAGE_SIZE + 1)
            )
        )
    output: dict[str, Any] = {"Clusters": [cluster_summary(ctx, row) for row in rows[:PAGE_SIZE]]}
    if len(rows) > PAGE_SIZE:
        output["Marker"] = str(offset + PAGE_SIZE)
    return output


def _offset(marker: str | None) -> int:
    if marker is None:
        return 0
    if not marker.isdigit():
        raise invalid_request(f"The marker {marker!r} is not valid.")
    return int(marker)


@emr.operation
def terminate_job_flows(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Each cluster's step and processes are stopped at once (SIGTERM, then SIGKILL after 5 s);
    TerminationProtected clusters are refused."""
    supervisor = cluster_supervisor(ctx.storage)
    clusters = []
    for cluster_id in request["JobFlowIds"]:
        cluster = find_cluster(ctx.storage, cluster_id, ctx.caller.account_id)
        if cluster is None or cluster.region != ctx.region:
            raise unknown_job_flow(cluster_id)
        if (
            cluster.request["Instances"].get("TerminationProtected", False)
            and cluster.state in ACTIVE_CLUSTER_STATES
        ):
            raise validation_error(
                "Could not shut down one or more job flows since they are termination protected."
            )
        clusters.append(cluster_id)
    for cluster_id in clusters:
        move_cluster(
            ctx.storage,
            cluster_id,
            tuple(state for state in ACTIVE_CLUSTER_STATES if state != "TERMINATING"),
            state="TERMINATING",
            reason_code="USER_REQUEST",
            reason_message="Terminated by user request",
        )
        supervisor.wake(cluster_id)
    return {}


# At start, clusters a restart interrupted are ended (TERMINATED_WITH_ERRORS) and their processes stopped.
emr.on_startup(cluster_supervisor)
