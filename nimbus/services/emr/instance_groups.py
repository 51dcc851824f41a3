"""Instance groups and instances: ListInstanceGroups, ListInstances, ModifyInstanceGroups. Each
instance is a process on this machine (the Spark master, or one worker), so a resize starts or stops
workers while the cluster runs. A cluster's instance fleets are kept in the same form as its groups (a
fleet is a group of one instance type that also keeps its request, ``Fleet``), so the status, resize
and market helpers here serve instance_fleets.py too."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Row

from nimbus.errors import AwsError
from nimbus.services.emr import emr
from nimbus.services.emr.errors import invalid_request, unknown_cluster, validation_error, wrong_collection
from nimbus.services.emr.records import CLUSTERS, cluster_instances, find_cluster, runs_on_existing_master
from nimbus.services.emr.runner import LIVE_INSTANCE_STATES, WORKER_ROLES, cluster_supervisor
from nimbus.services.registry import RequestContext

PAGE_SIZE = 50
RESIZABLE_CLUSTER_STATES = ("RUNNING", "WAITING")


def listed_cluster(ctx: RequestContext, cluster_id: str) -> Row[Any]:
    """The cluster a Describe/List operation names (InvalidRequestException if there is none)."""
    cluster_supervisor(ctx.storage)
    cluster = find_cluster(ctx.storage, cluster_id, ctx.caller.account_id)
    if cluster is None or cluster.region != ctx.region:
        raise unknown_cluster(cluster_id)
    return cluster


def page(items: list[dict[str, Any]], marker: str | None, member: str) -> dict[str, Any]:
    offset = int(marker) if marker and marker.isdigit() else 0
    if marker and not marker.isdigit():
        raise invalid_request(f"The marker {marker!r} is not valid.")
    output: dict[str, Any] = {member: items[offset : offset + PAGE_SIZE]}
    if len(items) > offset + PAGE_SIZE:
        output["Marker"] = str(offset + PAGE_SIZE)
    return output


def uses_fleets(cluster: Row[Any]) -> bool:
    return any("Fleet" in group for group in cluster.instance_groups)


def fleet_instances(fleet: dict[str, Any]) -> tuple[int, int]:
    """The On-Demand and the Spot instances of the fleet's instance type that meet its target
    capacities (the last one may exceed them, as on EMR)."""
    weight = fleet["WeightedCapacity"]
    return (
        math.ceil(fleet["Fleet"].get("TargetOnDemandCapacity", 0) / weight),
        math.ceil(fleet["Fleet"].get("TargetSpotCapacity", 0) / weight),
    )


def fleet_markets(fleet: dict[str, Any], instances: list[Row[Any]]) -> dict[str, str]:
    """Each of the fleet's instances' market. Nimbus has no Spot market: the fleet's oldest live
    instances count toward its On-Demand target and the others toward its Spot target; an ended
    instance shows On-Demand unless the fleet has only Spot capacity."""
    on_demand, _ = fleet_instances(fleet)
    ended = "ON_DEMAND" if on_demand else "SPOT"
    markets = {}
    live = 0
    for instance in instances:  # in the order they were created
        if instance.group_id != fleet["Id"]:
            continue
        if instance.state in LIVE_INSTANCE_STATES:
            markets[instance.id] = "ON_DEMAND" if live < on_demand else "SPOT"
            live += 1
        else:
            markets[instance.id] = ended
    return markets


def collection_status(
    cluster: Row[Any], group: dict[str, Any], instances: list[Row[Any]], existing_master: bool
) -> dict[str, Any]:
    """An instance group's or fleet's Status: RESIZING while its running instances differ from the
    count it asks for; one added to a running cluster is PROVISIONING until its first instance runs."""
    own = [i for i in instances if i.group_id == group["Id"]]
    added = group.get("AddedAt")
    ready = (
        min((i.ready_at for i in own if i.ready_at is not None), default=None) if added else cluster.ready_at
    )
    running = sum(1 for i in own if i.state == "RUNNING")
    if cluster.state in ("TERMINATED", "TERMINATED_WITH_ERRORS"):
        state = "TERMINATED"
    elif cluster.state in ("STARTING", "BOOTSTRAPPING", "TERMINATING"):
        state = {"STARTING": "PROVISIONING", "TERMINATING": "TERMINATING"}.get(cluster.state, "BOOTSTRAPPING")
    elif added and ready is None:
        state = "PROVISIONING"
    else:
        state = "RUNNING" if existing_master or running == group["RequestedInstanceCount"] else "RESIZING"
    timeline = {"CreationDateTime": datetime.fromisoformat(added) if added else cluster.created_at}
    if ready is not None:
        timeline["ReadyDateTime"] = ready
    if cluster.ended_at is not None:
        timeline["EndDateTime"] = cluster.ended_at
    return {"State": state, "StateChangeReason": {}, "Timeline": timeline}


def update_collections(
    ctx: RequestContext,
    cluster_id: str,
    what: str,
    change: Callable[[list[dict[str, Any]]], None],
    error: Callable[[str], AwsError],
) -> None:
    """Applies ``change`` to copies of the cluster's instance groups (or fleets) and stores them, in
    one transaction, then wakes the cluster's runner, which starts and stops workers to match."""
    supervisor = cluster_supervisor(ctx.storage)
    with ctx.storage.database.engine.begin() as connection:
        state, stored = connection.execute(
            select(CLUSTERS.c.state, CLUSTERS.c.instance_groups).where(CLUSTERS.c.id == cluster_id)
        ).one()
        if state not in RESIZABLE_CLUSTER_STATES:
            raise error(f"An {what} may only be modified when the cluster is running or waiting.")
        if runs_on_existing_master(ctx.storage, cluster_id):
            raise error(
                "The cluster runs on an existing Spark master (NIMBUS_SPARK_MASTER): Nimbus cannot resize it."
            )
        groups = [dict(group) for group in stored]
        change(groups)
        # a master-only cluster may stay so, but one with workers keeps at least one
        if _workers(stored) and not _workers(groups):
            raise error("Nimbus runs Spark on CORE and TASK instances: the cluster needs at least one.")
        connection.execute(update(CLUSTERS).where(CLUSTERS.c.id == cluster_id).values(instance_groups=groups))
    supervisor.wake(cluster_id)


def _workers(groups: list[dict[str, Any]]) -> int:
    return sum(g["RequestedInstanceCount"] for g in groups if g["InstanceGroupType"] in WORKER_ROLES)


@emr.operation
def list_instance_groups(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """RESIZING while a group's running workers differ from its requested count. A cluster on an
    existing Spark master (NIMBUS_SPARK_MASTER) has no running instances of its own."""
    cluster = listed_cluster(ctx, request["ClusterId"])
    if uses_fleets(cluster):
        raise wrong_collection("ListInstanceGroups", "ListInstanceFleets", True, invalid_request)
    instances = cluster_instances(ctx.storage, cluster.id)
    existing_master = not instances  # NIMBUS_SPARK_MASTER: no instances of its own
    groups = [
        {
            "Id": group["Id"],
            "Name": group["Name"],
            "Market": group["Market"],
            "InstanceGroupType": group["InstanceGroupType"],
            "InstanceType": group["InstanceType"],
            "RequestedInstanceCount": group["RequestedInstanceCount"],
            "RunningInstanceCount": sum(
                1 for i in instances if i.group_id == group["Id"] and i.state == "RUNNING"
            ),
            "Status": collection_status(cluster, group, instances, existing_master),
            "Configurations": [],
            "EbsBlockDevices": [],
        }
        for group in cluster.instance_groups
    ]
    return page(groups, request.get("Marker"), "InstanceGroups")


@emr.operation
def list_instances(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Every instance is on 127.0.0.1; Ec2InstanceId is an id Nimbus makes, no EC2 instance. A worker
    whose process died shows TERMINATED with INSTANCE_FAILURE (and a replacement starts, as EMR
    replaces failed core nodes; after 3 failures in a cluster, no more). On a fleet cluster, instances
    name their InstanceFleetId, and the oldest live ones of a fleet are its On-Demand ones."""
    cluster = listed_cluster(ctx, request["ClusterId"])
    fleets = uses_fleets(cluster)
    collections = {group["Id"]: group for group in cluster.instance_groups}
    all_instances = cluster_instances(ctx.storage, cluster.id)
    markets: dict[str, str] = {}
    if fleets:
        for fleet in cluster.instance_groups:
            markets.update(fleet_markets(fleet, all_instances))
    instances = []
    for instance in all_instances:
        collection = collections[instance.group_id]
        if not _listed(request, instance, collection["InstanceGroupType"]):
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
                "InstanceFleetId" if fleets else "InstanceGroupId": instance.group_id,
                "Market": markets[instance.id] if fleets else collection["Market"],
                "InstanceType": instance.instance_type,
                "EbsVolumes": [],
            }
        )
    return page(instances, request.get("Marker"), "Instances")


def _listed(request: dict[str, Any], instance: Row[Any], node_type: str) -> bool:
    """Whether the instance passes ListInstances' filters."""
    return (
        request.get("InstanceGroupId", instance.group_id) == instance.group_id
        and request.get("InstanceFleetId", instance.group_id) == instance.group_id
        and node_type in (request.get("InstanceGroupTypes") or [node_type])
        and request.get("InstanceFleetType", node_type) == node_type
        and instance.state in (request.get("InstanceStates") or [instance.state])
    )


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
    if uses_fleets(cluster):
        raise wrong_collection("ModifyInstanceGroups", "ModifyInstanceFleet", True, validation_error)

    def resize(groups: list[dict[str, Any]]) -> None:
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

    update_collections(ctx, cluster.id, "instance group", resize, validation_error)
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
