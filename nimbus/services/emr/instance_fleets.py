"""Instance fleets: ListInstanceFleets, ModifyInstanceFleet, AddInstanceFleet. A fleet is kept as an
instance group of one instance type that remembers the fleet's request (see clusters.fleet_entry), so
the runner starts and stops its workers as it does a group's."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from nimbus.errors import AwsError
from nimbus.services.emr import emr
from nimbus.services.emr.clusters import cluster_arn, fleet_entry
from nimbus.services.emr.errors import invalid_request, wrong_collection
from nimbus.services.emr.instance_groups import (
    collection_status,
    fleet_instances,
    fleet_markets,
    listed_cluster,
    page,
    update_collections,
    uses_fleets,
)
from nimbus.services.emr.records import cluster_instances, now
from nimbus.services.registry import RequestContext

_SPECIFICATION_MEMBERS = (
    "BidPrice",
    "BidPriceAsPercentageOfOnDemandPrice",
    "Configurations",
    "CustomAmiId",
    "Priority",
)


def _fleet_cluster(ctx: RequestContext, cluster_id: str, operation: str, instead: str) -> Row[Any]:
    cluster = listed_cluster(ctx, cluster_id)
    if not uses_fleets(cluster):
        raise wrong_collection(operation, instead, False, invalid_request)
    return cluster


@emr.operation
def list_instance_fleets(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Each fleet runs one instance type (InstanceTypeSpecifications still lists all it named).
    Provisioned capacities count running instances by their WeightedCapacity; Nimbus has no Spot
    market, so a fleet's oldest instances count toward its On-Demand target and the others toward
    its Spot target. RESIZING while a fleet's running instances differ from what its targets need."""
    cluster = _fleet_cluster(ctx, request["ClusterId"], "ListInstanceFleets", "ListInstanceGroups")
    instances = cluster_instances(ctx.storage, cluster.id)
    existing_master = not instances  # NIMBUS_SPARK_MASTER: no instances of its own
    fleets = [_fleet(cluster, fleet, instances, existing_master) for fleet in cluster.instance_groups]
    return page(fleets, request.get("Marker"), "InstanceFleets")


def _fleet(
    cluster: Row[Any], fleet: dict[str, Any], instances: list[Row[Any]], existing_master: bool
) -> dict[str, Any]:
    config = fleet["Fleet"]
    markets = fleet_markets(fleet, instances)
    running = [markets[i.id] for i in instances if i.group_id == fleet["Id"] and i.state == "RUNNING"]
    output = {
        "Id": fleet["Id"],
        "Name": fleet["Name"],
        "Status": collection_status(cluster, fleet, instances, existing_master),
        "InstanceFleetType": fleet["InstanceGroupType"],
        "TargetOnDemandCapacity": config.get("TargetOnDemandCapacity", 0),
        "TargetSpotCapacity": config.get("TargetSpotCapacity", 0),
        "ProvisionedOnDemandCapacity": running.count("ON_DEMAND") * fleet["WeightedCapacity"],
        "ProvisionedSpotCapacity": running.count("SPOT") * fleet["WeightedCapacity"],
        "InstanceTypeSpecifications": [
            {
                "InstanceType": type_config["InstanceType"],
                "WeightedCapacity": type_config.get("WeightedCapacity", 1),
                **{name: type_config[name] for name in _SPECIFICATION_MEMBERS if name in type_config},
                "EbsBlockDevices": [],
            }
            for type_config in config["InstanceTypeConfigs"]
        ],
    }
    output.update(
        {name: config[name] for name in ("LaunchSpecifications", "ResizeSpecifications") if name in config}
    )
    return output


@emr.operation
def modify_instance_fleet(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Sets a CORE or TASK fleet's target capacities: workers start and join the running cluster, or
    the newest leave at once, without waiting for their tasks (Spark re-runs them elsewhere). A
    fleet's instance types cannot change (InstanceTypeConfigs is refused); ResizeSpecifications are
    kept, not applied."""
    cluster = _fleet_cluster(ctx, request["ClusterId"], "ModifyInstanceFleet", "ModifyInstanceGroups")
    change = request["InstanceFleet"]
    if change.get("InstanceTypeConfigs"):
        raise invalid_request(
            "Nimbus runs a fleet on one instance type: its InstanceTypeConfigs cannot change."
        )

    def resize(fleets: list[dict[str, Any]]) -> None:
        fleet = next((f for f in fleets if f["Id"] == change["InstanceFleetId"]), None)
        if fleet is None:
            raise invalid_request(f"Instance fleet id '{change['InstanceFleetId']}' is not valid.")
        if fleet["InstanceGroupType"] == "MASTER":
            raise invalid_request("The MASTER instance fleet cannot be resized.")
        targets = ("TargetOnDemandCapacity", "TargetSpotCapacity", "ResizeSpecifications")
        fleet["Fleet"] = {**fleet["Fleet"], **{name: change[name] for name in targets if name in change}}
        fleet["RequestedInstanceCount"] = sum(fleet_instances(fleet))

    update_collections(ctx, cluster.id, "instance fleet", resize, invalid_request)
    return {}


@emr.operation
def add_instance_fleet(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A TASK fleet, added to a running or waiting fleet cluster that has none; its workers join the
    running cluster."""
    cluster = _fleet_cluster(ctx, request["ClusterId"], "AddInstanceFleet", "AddInstanceGroups")
    config = request["InstanceFleet"]
    if config["InstanceFleetType"] != "TASK":
        raise invalid_request("Only a TASK instance fleet can be added to a running cluster.")
    try:
        fleet = fleet_entry(config)
    except AwsError as error:  # the same rules as RunJobFlow's, with this operation's error code
        raise invalid_request(error.message) from None
    fleet["AddedAt"] = now().isoformat()

    def add(fleets: list[dict[str, Any]]) -> None:
        if any(f["InstanceGroupType"] == "TASK" for f in fleets):
            raise invalid_request("A cluster has at most one TASK instance fleet.")
        fleets.append(fleet)

    update_collections(ctx, cluster.id, "instance fleet", add, invalid_request)
    return {
        "ClusterId": cluster.id,
        "InstanceFleetId": fleet["Id"],
        "ClusterArn": cluster_arn(cluster.region, cluster.account_id, cluster.id),
    }
