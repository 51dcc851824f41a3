"""Instance groups and instances: ListInstanceGroups, ListInstances, ModifyInstanceGroups. Each
instance is a process on this machine (the Spark master, or one worker), so a resize starts or stops
workers while the cluster runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from nimbus.services.emr import emr
from nimbus.services.emr.errors import invalid_request, unknown_cluster, validation_error
from nimbus.services.emr.records import CLUSTERS, cluster_instances, find_cluster, runs_on_existing_master
from nimbus.services.emr.runner import cluster_supervisor
from nimbus.services.registry import RequestContext

PAGE_SIZE = 50
RESIZABLE_CLUSTER_STATES = ("RUNNING", "WAITING")


def _cluster(ctx: RequestContext, cluster_id: str) -> Any:
    cluster_supervisor(ctx.storage)
    cluster = find_cluster(ctx.storage, cluster_id, ctx.caller.account_id)
    if cluster is None or cluster.region != ctx.region:
        raise unknown_cluster(cluster_id)
    return cluster


def _page(items: list[dict[str, Any]], marker: str | None, member: str) -> dict[str, Any]:
    offset = int(marker) if marker and marker.isdigit() else 0
    if marker and not marker.isdigit():
        raise invalid_request(f"The marker {marker!r} is not valid.")
    output: dict[str, Any] = {member: items[offset : offset + PAGE_SIZE]}
    if len(items) > offset + PAGE_SIZE:
        output["Marker"] = str(offset + PAGE_SIZE)
    return output


def _group_state(cluster: Any, group: dict[str, Any], running: int, existing_master: bool) -> str:
    if cluster.state in ("TERMINATED", "TERMINATED_WITH_ERRORS"):
        return "TERMINATED"
    if cluster.state in ("STARTING", "BOOTSTRAPPING", "TERMINATING"):
        return {"STARTING": "PROVISIONING", "TERMINATING": "TERMINATING"}.get(cluster.state, "BOOTSTRAPPING")
    return "RUNNING" if existing_master or running == group["RequestedInstanceCount"] else "RESIZING"


@emr.operation
def list_instance_groups(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """RESIZING while a group's running workers differ from its requested count. A cluster on an
    existing Spark master (NIMBUS_SPARK_MASTER) has no running instances of its own."""
    cluster = _cluster(ctx, request["ClusterId"])
    instances = cluster_instances(ctx.storage, cluster.id)
    existing_master = not instances  # NIMBUS_SPARK_MASTER: no instances of its own
    groups = []
    for group in cluster.instance_groups:
        running = sum(1 for i in instances if i.group_id == group["Id"] and i.state == "RUNNING")
        timeline = {"CreationDateTime": cluster.created_at}
        if cluster.ready_at is not None:
            timeline["ReadyDateTime"] = cluster.ready_at
        if cluster.ended_at is not None:
            timeline["EndDateTime"] = cluster.ended_at
        groups.append(
            {
                "Id": group["Id"],
                "Name": group["Name"],
                "Market": group["Market"],
                "InstanceGroupType": group["InstanceGroupType"],
                "InstanceType": group["InstanceType"],
                "RequestedInstanceCount": group["RequestedInstanceCount"],
                "RunningInstanceCount": running,
                "Status": {
                    "State": _group_state(cluster, group, running, existing_master),
                    "StateChangeReason": {},
                    "Timeline": timeline,
                },
                "Configurations": [],
                "EbsBlockDevices": [],
            }
        )
    return _page(groups, request.get("Marker"), "InstanceGroups")


@emr.operation
def list_instances(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Every instance is on 127.0.0.1; Ec2InstanceId is an id Nimbus makes, no EC2 instance. A worker
    whose process died shows TERMINATED with INSTANCE_FAILURE (and a replacement starts, as EMR
    replaces failed core nodes; after 3 failures in a cluster, no more). Instance fleets are not supported."""
    cluster = _cluster(ctx, request["ClusterId"])
    roles = {group["Id"]: group for group in cluster.instance_groups}
    wanted_types = set(request.get("InstanceGroupTypes") or ())
    wanted_states = set(request.get("InstanceStates") or ())
    instances = []
    for instance in cluster_instances(ctx.storage, cluster.id):
        group = roles[instance.group_id]
        if request.get("InstanceGroupId") not in (None, instance.group_id):
            continue
        if (wanted_types and group["InstanceGroupType"] not in wanted_types) or (
            wanted_states and instance.state not in wanted_states
        ):
            continue
        reason = {"Code": instance.reason_code, "Message": instance.reason_message}
        timeline = {"CreationDateTime": instance.created_at}
        if instance.ready_at is not None:
            timeline["ReadyDateTime"] = instance.ready_at
        if instance.ended_at is not None:
            timeline["EndDateTime"] = instance.ended_at
        instances.append(
            {
                "Id": instance.id,
                "Ec2InstanceId": instance.ec2_instance_id,
                "PrivateDnsName": "localhost",
                "PrivateIpAddress": "127.0.0.1",
                "Status": {
                    "State": instance.state,
                    "StateChangeReason": {name: value for name, value in reason.items() if value is not None},
                    "Timeline": timeline,
                },
                "InstanceGroupId": instance.group_id,
                "Market": group["Market"],
                "InstanceType": instance.instance_type,
                "EbsVolumes": [],
            }
        )
    return _page(instances, request.get("Marker"), "Instances")


@emr.operation
def modify_instance_groups(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Resizes CORE and TASK groups: new workers start and join the running cluster; removed ones
    (those named in EC2InstanceIdsToTerminate first, then the newest) are stopped at once, without
    waiting for their tasks to finish (Spark re-runs them elsewhere). Configurations and ShrinkPolicy
    are not applied."""
    changes = request.get("InstanceGroups") or []
    cluster_id = request.get("ClusterId") or _cluster_of_group(ctx, changes)
    cluster = find_cluster(ctx.storage, cluster_id, ctx.caller.account_id) if cluster_id else None
    if cluster is None or cluster.region != ctx.region:
        raise validation_error(f"Specified cluster ID does not exist: {cluster_id}")
    supervisor = cluster_supervisor(ctx.storage)
    with ctx.storage.database.engine.begin() as connection:
        state, groups = connection.execute(
            select(CLUSTERS.c.state, CLUSTERS.c.instance_groups).where(CLUSTERS.c.id == cluster.id)
        ).one()
        if state not in RESIZABLE_CLUSTER_STATES:
            raise validation_error(
                "An instance group may only be modified when the cluster is running or waiting."
            )
        if runs_on_existing_master(ctx.storage, cluster.id):
            raise validation_error(
                "The cluster runs on an existing Spark master (NIMBUS_SPARK_MASTER): Nimbus cannot resize it."
            )
        groups = [dict(group) for group in groups]
        by_id = {group["Id"]: group for group in groups}
        for change in changes:
            group = by_id.get(change["InstanceGroupId"])
            if group is None:
                raise validation_error(f"Instance group id '{change['InstanceGroupId']}' is not valid.")
            if "InstanceCount" not in change:
                continue
            if group["InstanceGroupType"] == "MASTER":
                raise validation_error("The MASTER instance group cannot be resized.")
            if change["InstanceCount"] < 0:
                raise validation_error("An instance group's InstanceCount must not be negative.")
            group["RequestedInstanceCount"] = change["InstanceCount"]
            group["InstanceIdsToTerminate"] = change.get("EC2InstanceIdsToTerminate") or []
        workers = sum(g["RequestedInstanceCount"] for g in groups if g["InstanceGroupType"] != "MASTER")
        if workers == 0:
            raise validation_error(
                "Nimbus runs Spark on CORE and TASK instances: the cluster needs at least one."
            )
        connection.execute(update(CLUSTERS).where(CLUSTERS.c.id == cluster.id).values(instance_groups=groups))
    supervisor.wake(cluster.id)
    return {}


def _cluster_of_group(ctx: RequestContext, changes: list[dict[str, Any]]) -> str | None:
    """ClusterId is optional: the cluster whose groups the first change names."""
    if not changes:
        return None
    with ctx.storage.database.engine.connect() as connection:
        for cluster_id, groups in connection.execute(
            select(CLUSTERS.c.id, CLUSTERS.c.instance_groups).where(
                CLUSTERS.c.account_id == ctx.caller.account_id, CLUSTERS.c.state.in_(RESIZABLE_CLUSTER_STATES)
            )
        ):
            if any(group["Id"] == changes[0]["InstanceGroupId"] for group in groups):
                return str(cluster_id)
    return None
