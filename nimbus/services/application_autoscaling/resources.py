"""The resources Nimbus scales, read and resized through their services' own operations, as AWS's
service-linked role calls them: a SageMaker endpoint variant's instance count
(``endpoint/<name>/variant/<variant>``) and an EMR instance group's (``instancegroup/<cluster>/<group>``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nimbus.errors import AwsError
from nimbus.services.application_autoscaling.errors import validation
from nimbus.services.emr.instance_groups import list_instance_groups, modify_instance_groups
from nimbus.services.registry import Caller, RequestContext
from nimbus.services.sagemaker.endpoints import describe_endpoint, update_endpoint_weights_and_capacities
from nimbus.storage import Storage

SAGEMAKER_VARIANT = ("sagemaker", "sagemaker:variant:DesiredInstanceCount")
EMR_GROUP = ("elasticmapreduce", "elasticmapreduce:instancegroup:InstanceCount")
SCALED = frozenset({SAGEMAKER_VARIANT, EMR_GROUP})
SERVICE_ROLES = {
    "sagemaker": "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
    "elasticmapreduce": "AWSServiceRoleForApplicationAutoScaling_EMRInstanceGroup",
}


@dataclass(frozen=True)
class Capacity:
    current: int
    settled: bool  # False while a change is still being applied (an endpoint Updating, a group RESIZING)


def service_context(storage: Storage, account_id: str, region: str, namespace: str) -> RequestContext:
    """A request of the service-linked role, in the target's account and region."""
    role = SERVICE_ROLES[namespace]
    caller = Caller("", account_id, "", f"arn:aws:sts::{account_id}:assumed-role/{role}/AutoScaling")
    return RequestContext(str(uuid.uuid4()), region, caller, storage, datetime.now(UTC))


def check_resource(ctx: RequestContext, namespace: str, resource_id: str, dimension: str) -> None:
    """ValidationException unless Nimbus scales this dimension and the resource exists."""
    if (namespace, dimension) not in SCALED:
        served = ", ".join(f"{pair[0]} {pair[1]}" for pair in sorted(SCALED))
        raise validation(
            f"Nimbus scales {served}; not service namespace {namespace} with scalable dimension {dimension}."
        )
    parts = resource_id.split("/")
    shape_ok = (
        len(parts) == 4 and parts[0] == "endpoint" and parts[2] == "variant"
        if namespace == "sagemaker"
        else len(parts) == 3 and parts[0] == "instancegroup"
    )
    if not shape_ok:
        expected = (
            "endpoint/<name>/variant/<variant>"
            if namespace == "sagemaker"
            else "instancegroup/<cluster>/<group>"
        )
        raise validation(f"Unsupported resource ID {resource_id}: a {namespace} resource ID is {expected}.")
    try:
        capacity(ctx, namespace, resource_id)
    except (AwsError, LookupError) as error:
        raise validation(f"The resource {resource_id} could not be found: {error}") from None


def capacity(ctx: RequestContext, namespace: str, resource_id: str) -> Capacity:
    parts = resource_id.split("/")
    if namespace == "sagemaker":
        endpoint = describe_endpoint(ctx, {"EndpointName": parts[1]})
        variant = next(item for item in endpoint["ProductionVariants"] if item["VariantName"] == parts[3])
        return Capacity(int(variant["CurrentInstanceCount"]), endpoint["EndpointStatus"] == "InService")
    groups = list_instance_groups(ctx, {"ClusterId": parts[1]})["InstanceGroups"]
    group = next(item for item in groups if item["Id"] == parts[2])
    return Capacity(int(group["RequestedInstanceCount"]), group["Status"]["State"] == "RUNNING")


def set_capacity(ctx: RequestContext, namespace: str, resource_id: str, count: int) -> None:
    parts = resource_id.split("/")
    request: dict[str, Any]
    if namespace == "sagemaker":
        request = {
            "EndpointName": parts[1],
            "DesiredWeightsAndCapacities": [{"VariantName": parts[3], "DesiredInstanceCount": count}],
        }
        update_endpoint_weights_and_capacities(ctx, request)
    else:
        request = {
            "ClusterId": parts[1],
            "InstanceGroups": [{"InstanceGroupId": parts[2], "InstanceCount": count}],
        }
        modify_instance_groups(ctx, request)
