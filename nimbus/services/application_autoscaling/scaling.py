"""What a scaling policy does when its alarm calls it: the new capacity (target tracking: in
proportion to the metric's distance from the target; step scaling: the step the breach falls in),
within the target's bounds, its suspended state and the policy's cooldowns, applied to the resource
and recorded as a scaling activity that ends when the resource reaches the new capacity."""

from __future__ import annotations

import math
import statistics
import threading
import time
from typing import Any

from sqlalchemy import select

from nimbus.errors import AwsError
from nimbus.services.application_autoscaling.activities import end_activity, last_activity, start_activity
from nimbus.services.application_autoscaling.records import find_target
from nimbus.services.application_autoscaling.resources import capacity, service_context, set_capacity
from nimbus.services.monitoring.evaluation import ACTION_HANDLERS, AlarmEvent, effective_seconds
from nimbus.services.registry import RequestContext
from nimbus.storage import Storage
from nimbus.storage.monitoring_schema import ScalingPolicyRecord

POLICIES = ScalingPolicyRecord.__table__
DEFAULT_COOLDOWN_S = 300
SETTLE_POLL_S = 0.5
SETTLE_TIMEOUT_S = 1800.0
AGGREGATIONS = {"Average": statistics.fmean, "Minimum": min, "Maximum": max}


def run_policy(storage: Storage, arn: str, event: AlarmEvent) -> None:
    """The action handler of ``arn:aws:autoscaling:...:scalingPolicy:...`` ARNs."""
    with storage.database.engine.connect() as connection:
        policy = connection.execute(
            select(POLICIES).where(
                POLICIES.c.arn == arn,
                POLICIES.c.account_id == event.account_id,
                POLICIES.c.region == event.region,
            )
        ).first()
    if policy is None or not event.values:
        return
    ctx = service_context(storage, event.account_id, event.region, policy.service_namespace)
    target = find_target(ctx, policy.service_namespace, policy.resource_id, policy.scalable_dimension)
    now = capacity(ctx, policy.service_namespace, policy.resource_id)
    if not now.settled:  # a change is still being applied
        return
    wanted = (
        _target_tracking(policy, now.current, event)
        if policy.policy_type == "TargetTrackingScaling"
        else (_step(policy.configuration, now.current, event))
    )
    desired = min(max(wanted, target.min_capacity), target.max_capacity)
    if desired == now.current or not _allowed(ctx, policy, target, desired > now.current):
        return
    noun = "desired instance count" if policy.service_namespace == "sagemaker" else "instance count"
    activity = start_activity(
        ctx,
        policy,
        f"Setting {noun} to {desired}.",
        f"monitor alarm {event.alarm_name} in state {event.state} triggered policy {policy.name}",
    )
    try:
        set_capacity(ctx, policy.service_namespace, policy.resource_id, desired)
    except AwsError as error:
        end_activity(ctx, activity, "Failed", f"Failed to set {noun} to {desired}: {error.message}")
        return
    threading.Thread(
        target=_settle, args=(ctx, policy, activity, noun, desired), name=f"scaling-{activity}", daemon=True
    ).start()


def _target_tracking(policy: Any, current: int, event: AlarmEvent) -> int:
    target = policy.configuration["TargetValue"]
    wanted = math.ceil(current * event.values[-1] / target) if target > 0 else current
    high = "-AlarmHigh-" in event.alarm_name
    return max(wanted, current) if high else min(wanted, current)  # each alarm moves one way only


def _step(configuration: dict[str, Any], current: int, event: AlarmEvent) -> int:
    aggregate = AGGREGATIONS[configuration.get("MetricAggregationType", "Average")]
    breach = aggregate(event.values) - event.threshold
    step = next(
        (
            step
            for step in configuration["StepAdjustments"]
            if step.get("MetricIntervalLowerBound", -math.inf)
            <= breach
            < step.get("MetricIntervalUpperBound", math.inf)
        ),
        None,
    )
    if step is None:
        return current
    adjustment = step["ScalingAdjustment"]
    kind = configuration["AdjustmentType"]
    if kind == "ExactCapacity":
        return int(adjustment)
    if kind == "PercentChangeInCapacity":
        change = math.trunc(current * adjustment / 100) or (1 if adjustment > 0 else -1)
        magnitude = configuration.get("MinAdjustmentMagnitude") or 0
        return current + (max(abs(change), magnitude) * (1 if change > 0 else -1))
    return current + int(adjustment)


def _allowed(ctx: RequestContext, policy: Any, target: Any, scale_out: bool) -> bool:
    """Not suspended, and past the cooldown since the target's last change (a scale-out waits
    ScaleOutCooldown, a scale-in ScaleInCooldown, a step policy its Cooldown)."""
    suspended = target.suspended_state
    if suspended.get("DynamicScalingOutSuspended" if scale_out else "DynamicScalingInSuspended"):
        return False
    if not scale_out and policy.configuration.get("DisableScaleIn"):
        return False
    last = last_activity(ctx, policy)
    if last is None:
        return True
    if last.status_code != "Successful":
        return False
    configuration = policy.configuration
    if policy.policy_type == "StepScaling":
        cooldown = configuration.get("Cooldown", DEFAULT_COOLDOWN_S)
    else:
        cooldown = configuration.get(
            "ScaleOutCooldown" if scale_out else "ScaleInCooldown", DEFAULT_COOLDOWN_S
        )
    return (ctx.received_at - last.start_time).total_seconds() >= effective_seconds(cooldown)


def _settle(ctx: RequestContext, policy: Any, activity: str, noun: str, desired: int) -> None:
    """Runs in the background: ends the activity when the resource has applied the change."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        time.sleep(SETTLE_POLL_S)
        try:
            now = capacity(ctx, policy.service_namespace, policy.resource_id)
        except (AwsError, StopIteration) as error:
            end_activity(ctx, activity, "Failed", f"The resource is gone: {error}")
            return
        if now.settled:
            if now.current == desired:
                end_activity(ctx, activity, "Successful", f"Successfully set {noun} to {desired}.")
            else:
                end_activity(ctx, activity, "Failed", f"The resource did not reach {noun} {desired}.")
            return
    end_activity(ctx, activity, "Failed", f"The resource did not reach {noun} {desired} in time.")


ACTION_HANDLERS["autoscaling"] = run_policy
