"""PutScalingPolicy, DescribeScalingPolicies and DeleteScalingPolicy.

A target tracking policy creates its own CloudWatch alarms as AWS does: ``TargetTracking-<resource
ID>-AlarmHigh-<uuid>`` (3 of 3 one-minute periods above the target: scale out) and ``-AlarmLow-``
(15 of 15 below 90% of it: scale in; none when DisableScaleIn). A step scaling policy is run by the
alarms the user points at its ARN."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from sqlalchemy import delete, insert, select, update

from nimbus.services.application_autoscaling import application_autoscaling
from nimbus.services.application_autoscaling.errors import not_found, validation
from nimbus.services.application_autoscaling.records import described, find_target, target_columns
from nimbus.services.monitoring.alarms import ALARMS, delete_alarms, put_metric_alarm
from nimbus.services.registry import RequestContext
from nimbus.storage.monitoring_schema import ScalingPolicyRecord

POLICIES = ScalingPolicyRecord.__table__
CONFIGURATIONS = {
    "TargetTrackingScaling": "TargetTrackingScalingPolicyConfiguration",
    "StepScaling": "StepScalingPolicyConfiguration",
}
# predefined metric type -> (namespace, metric name, statistic) and the resource's dimensions
PREDEFINED = {"SageMakerVariantInvocationsPerInstance": ("AWS/SageMaker", "InvocationsPerInstance", "Sum")}
ALARM_PERIOD_S = 60
HIGH_PERIODS, LOW_PERIODS = 3, 15
SCALE_IN_FRACTION = 0.9


def _where(ctx: RequestContext, request: dict[str, Any]) -> Any:
    return (
        (POLICIES.c.account_id == ctx.caller.account_id)
        & (POLICIES.c.region == ctx.region)
        & (POLICIES.c.service_namespace == request["ServiceNamespace"])
        & (POLICIES.c.resource_id == request["ResourceId"])
        & (POLICIES.c.scalable_dimension == request["ScalableDimension"])
    )


@application_autoscaling.operation
def put_scaling_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """TargetTrackingScaling (the predefined SageMakerVariantInvocationsPerInstance, or a customized
    metric without metric math) and StepScaling; PredictiveScaling is refused. Cooldowns count from
    the target's last change (a scale-out waits ScaleOutCooldown, a scale-in ScaleInCooldown) and
    are shortened, like alarm periods, by the setting NIMBUS_ALARM_TIME_SCALE."""
    namespace, resource_id = request["ServiceNamespace"], request["ResourceId"]
    find_target(ctx, namespace, resource_id, request["ScalableDimension"])
    policy_type = request.get("PolicyType", "StepScaling")
    if policy_type not in CONFIGURATIONS:
        raise validation(f"Nimbus runs TargetTrackingScaling and StepScaling policies, not {policy_type}.")
    configuration = request.get(CONFIGURATIONS[policy_type])
    if configuration is None:
        raise validation(f"{CONFIGURATIONS[policy_type]} is required for a {policy_type} policy.")
    if policy_type == "StepScaling":
        _check_steps(configuration)
    else:
        _metric(namespace, resource_id, configuration)  # refuses what cannot be tracked
    where = _where(ctx, request) & (POLICIES.c.name == request["PolicyName"])
    with ctx.storage.database.engine.connect() as connection:
        old = connection.execute(select(POLICIES).where(where)).first()
    arn = old.arn if old is not None else _policy_arn(ctx, request)
    if old is not None and old.policy_type == "TargetTrackingScaling":
        _delete_alarms(ctx, old.alarms)
    alarms = (
        _create_alarms(ctx, request, configuration, arn) if policy_type == "TargetTrackingScaling" else []
    )
    values = {"policy_type": policy_type, "configuration": configuration, "alarms": alarms}
    with ctx.storage.database.engine.begin() as connection:
        if old is not None:
            connection.execute(update(POLICIES).where(where).values(**values))
        else:
            connection.execute(
                insert(POLICIES).values(
                    **target_columns(ctx, namespace, resource_id, request["ScalableDimension"]),
                    name=request["PolicyName"],
                    arn=arn,
                    created_at=ctx.received_at,
                    **values,
                )
            )
    return {"PolicyARN": arn, "Alarms": alarms}


def _policy_arn(ctx: RequestContext, request: dict[str, Any]) -> str:
    return (
        f"arn:aws:autoscaling:{ctx.region}:{ctx.caller.account_id}:scalingPolicy:{uuid.uuid4()}:"
        f"resource/{request['ServiceNamespace']}/{request['ResourceId']}:policyName/{request['PolicyName']}"
    )


def _check_steps(configuration: dict[str, Any]) -> None:
    steps = configuration.get("StepAdjustments") or []
    if not configuration.get("AdjustmentType") or not steps:
        raise validation("A StepScaling policy needs an AdjustmentType and at least one StepAdjustment.")
    bounds = sorted(
        (
            step.get("MetricIntervalLowerBound", float("-inf")),
            step.get("MetricIntervalUpperBound", float("inf")),
        )
        for step in steps
    )
    for lower, upper in bounds:
        if lower >= upper:
            raise validation("A step adjustment's lower bound must be less than its upper bound.")
    for (_, upper), (lower, _) in itertools.pairwise(bounds):
        if upper != lower:
            raise validation("Step adjustments must neither overlap nor leave gaps between their bounds.")


def _metric(namespace: str, resource_id: str, configuration: dict[str, Any]) -> dict[str, Any]:
    """The alarm fields (Namespace, MetricName, Dimensions, Statistic, Unit) of a tracked metric."""
    predefined, customized = (
        configuration.get("PredefinedMetricSpecification"),
        configuration.get("CustomizedMetricSpecification"),
    )
    if bool(predefined) == bool(customized):
        raise validation(
            "Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification is required."
        )
    if predefined:
        kind = predefined["PredefinedMetricType"]
        if kind not in PREDEFINED or namespace != "sagemaker":
            raise validation(
                f"The predefined metric type {kind} is not supported for service namespace {namespace}: "
                "Nimbus tracks SageMakerVariantInvocationsPerInstance (or a customized metric)."
            )
        metric_namespace, name, statistic = PREDEFINED[kind]
        _, endpoint, _, variant = resource_id.split("/")
        dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
        return {
            "Namespace": metric_namespace,
            "MetricName": name,
            "Dimensions": dimensions,
            "Statistic": statistic,
        }
    if customized.get("Metrics") or not customized.get("MetricName") or not customized.get("Namespace"):
        raise validation(
            "Nimbus tracks one metric: a CustomizedMetricSpecification needs MetricName and Namespace."
        )
    fields = {
        "Namespace": customized["Namespace"],
        "MetricName": customized["MetricName"],
        "Dimensions": customized.get("Dimensions") or [],
        "Statistic": customized.get("Statistic", "Average"),
    }
    return fields | ({"Unit": customized["Unit"]} if customized.get("Unit") else {})


def _create_alarms(
    ctx: RequestContext, request: dict[str, Any], configuration: dict[str, Any], arn: str
) -> list[dict[str, str]]:
    metric = _metric(request["ServiceNamespace"], request["ResourceId"], configuration)
    target = configuration["TargetValue"]
    kinds = [("AlarmHigh", "GreaterThanThreshold", target, HIGH_PERIODS)]
    if not configuration.get("DisableScaleIn"):
        kinds.append(("AlarmLow", "LessThanThreshold", target * SCALE_IN_FRACTION, LOW_PERIODS))
    alarms = []
    for kind, operator, threshold, periods in kinds:
        name = f"TargetTracking-{request['ResourceId']}-{kind}-{uuid.uuid4()}"
        put_metric_alarm(
            ctx,
            {
                "AlarmName": name,
                "AlarmDescription": f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {arn}.",
                "AlarmActions": [arn],
                "Period": ALARM_PERIOD_S,
                "EvaluationPeriods": periods,
                "DatapointsToAlarm": periods,
                "Threshold": threshold,
                "ComparisonOperator": operator,
                **metric,
            },
        )
        alarms.append(
            {
                "AlarmName": name,
                "AlarmARN": f"arn:aws:cloudwatch:{ctx.region}:{ctx.caller.account_id}:alarm:{name}",
            }
        )
    return alarms


def _delete_alarms(ctx: RequestContext, alarms: list[dict[str, str]]) -> None:
    names = [alarm["AlarmName"] for alarm in alarms]
    with ctx.storage.database.engine.connect() as connection:
        present = list(
            connection.execute(
                select(ALARMS.c.name).where(
                    ALARMS.c.account_id == ctx.caller.account_id,
                    ALARMS.c.region == ctx.region,
                    ALARMS.c.name.in_(names),
                )
            ).scalars()
        )
    if present:
        delete_alarms(ctx, {"AlarmNames": present})


@application_autoscaling.operation
def describe_scaling_policies(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    output = described(ctx, POLICIES, request, "ScalingPolicies", POLICIES.c.id)
    return {**output, "ScalingPolicies": [_policy(ctx, row) for row in output["ScalingPolicies"]]}


def _policy(ctx: RequestContext, row: Any) -> dict[str, Any]:
    return {
        "PolicyARN": row.arn,
        "PolicyName": row.name,
        "ServiceNamespace": row.service_namespace,
        "ResourceId": row.resource_id,
        "ScalableDimension": row.scalable_dimension,
        "PolicyType": row.policy_type,
        CONFIGURATIONS[row.policy_type]: row.configuration,
        "Alarms": row.alarms if row.policy_type == "TargetTrackingScaling" else _alarms_naming(ctx, row.arn),
        "CreationTime": row.created_at,
    }


def _alarms_naming(ctx: RequestContext, arn: str) -> list[dict[str, str]]:
    """The alarms whose actions run a step scaling policy."""
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(
            select(ALARMS).where(ALARMS.c.account_id == ctx.caller.account_id, ALARMS.c.region == ctx.region)
        ).all()
    return [
        {
            "AlarmName": row.name,
            "AlarmARN": f"arn:aws:cloudwatch:{row.region}:{row.account_id}:alarm:{row.name}",
        }
        for row in rows
        if arn in (row.definition.get("AlarmActions") or []) + (row.definition.get("OKActions") or [])
    ]


@application_autoscaling.operation
def delete_scaling_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A target tracking policy's alarms are deleted with it."""
    where = _where(ctx, request) & (POLICIES.c.name == request["PolicyName"])
    with ctx.storage.database.engine.connect() as connection:
        row = connection.execute(select(POLICIES).where(where)).first()
    if row is None:
        raise not_found(
            f"No scaling policy found for service namespace: {request['ServiceNamespace']}, resource ID: "
            f"{request['ResourceId']}, scalable dimension: {request['ScalableDimension']}, "
            f"policy name: {request['PolicyName']}"
        )
    _remove(ctx, [row])
    return {}


def delete_policies_of(ctx: RequestContext, namespace: str, resource_id: str, dimension: str) -> None:
    request = {"ServiceNamespace": namespace, "ResourceId": resource_id, "ScalableDimension": dimension}
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(select(POLICIES).where(_where(ctx, request))).all()
    _remove(ctx, rows)


def _remove(ctx: RequestContext, rows: list[Any]) -> None:
    for row in rows:
        if row.policy_type == "TargetTrackingScaling":
            _delete_alarms(ctx, row.alarms)
        with ctx.storage.database.engine.begin() as connection:
            connection.execute(delete(POLICIES).where(POLICIES.c.id == row.id))
