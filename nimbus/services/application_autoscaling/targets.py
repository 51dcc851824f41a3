"""RegisterScalableTarget, DescribeScalableTargets and DeregisterScalableTarget."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, insert, select, update

from nimbus.services.application_autoscaling import application_autoscaling
from nimbus.services.application_autoscaling.errors import validation
from nimbus.services.application_autoscaling.policies import delete_policies_of
from nimbus.services.application_autoscaling.records import (
    TARGETS,
    described,
    find_target,
    target_columns,
    target_where,
)
from nimbus.services.application_autoscaling.resources import SERVICE_ROLES, check_resource
from nimbus.services.registry import RequestContext

SUSPENDED = ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended")


@application_autoscaling.operation
def register_scalable_target(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Registers a target or updates the capacities and suspended state of a registered one. Tags are
    not kept. The role is always the service-linked role of the target's service. A current capacity
    outside the new bounds is left as it is until a policy acts."""
    namespace, resource_id, dimension = (
        request["ServiceNamespace"],
        request["ResourceId"],
        request["ScalableDimension"],
    )
    check_resource(ctx, namespace, resource_id, dimension)
    where = target_where(ctx, namespace, resource_id, dimension)
    with ctx.storage.database.engine.begin() as connection:
        row = connection.execute(select(TARGETS).where(where)).first()
        low = request.get("MinCapacity", row.min_capacity if row else None)
        high = request.get("MaxCapacity", row.max_capacity if row else None)
        if low is None or high is None:
            raise validation(
                "MinCapacity and MaxCapacity are required for registering a new scalable target."
            )
        if low > high:
            raise validation(f"Minimum capacity ({low}) cannot be greater than maximum capacity ({high}).")
        if namespace == "sagemaker" and low < 1:
            raise validation("The minimum capacity of a SageMaker variant must be at least 1.")
        suspended = {
            **{name: False for name in SUSPENDED},
            **(row.suspended_state if row else {}),
            **(request.get("SuspendedState") or {}),
        }
        if row is not None:
            connection.execute(
                update(TARGETS)
                .where(where)
                .values(min_capacity=low, max_capacity=high, suspended_state=suspended)
            )
            return {"ScalableTargetARN": row.arn}
        account = ctx.caller.account_id
        arn = f"arn:aws:application-autoscaling:{ctx.region}:{account}:scalable-target/{uuid.uuid4().hex}"
        principal = f"{namespace}.application-autoscaling.amazonaws.com"
        role = f"arn:aws:iam::{account}:role/aws-service-role/{principal}/{SERVICE_ROLES[namespace]}"
        connection.execute(
            insert(TARGETS).values(
                **target_columns(ctx, namespace, resource_id, dimension),
                arn=arn,
                min_capacity=low,
                max_capacity=high,
                role_arn=role,
                suspended_state=suspended,
                created_at=ctx.received_at,
            )
        )
    return {"ScalableTargetARN": arn}


@application_autoscaling.operation
def describe_scalable_targets(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    output = described(ctx, TARGETS, request, "ScalableTargets", TARGETS.c.id)
    return {**output, "ScalableTargets": [_target(row) for row in output["ScalableTargets"]]}


def _target(row: Any) -> dict[str, Any]:
    return {
        "ServiceNamespace": row.service_namespace,
        "ResourceId": row.resource_id,
        "ScalableDimension": row.scalable_dimension,
        "MinCapacity": row.min_capacity,
        "MaxCapacity": row.max_capacity,
        "RoleARN": row.role_arn,
        "CreationTime": row.created_at,
        "SuspendedState": row.suspended_state,
        "ScalableTargetARN": row.arn,
    }


@application_autoscaling.operation
def deregister_scalable_target(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Deletes the target's scaling policies and their alarms too, as on AWS."""
    namespace, resource_id, dimension = (
        request["ServiceNamespace"],
        request["ResourceId"],
        request["ScalableDimension"],
    )
    find_target(ctx, namespace, resource_id, dimension)
    delete_policies_of(ctx, namespace, resource_id, dimension)
    with ctx.storage.database.engine.begin() as connection:
        connection.execute(delete(TARGETS).where(target_where(ctx, namespace, resource_id, dimension)))
    return {}
