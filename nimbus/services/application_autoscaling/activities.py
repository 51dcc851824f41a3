"""Scaling activities: recorded as a policy changes a target's capacity, and DescribeScalingActivities."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from nimbus.services.application_autoscaling import application_autoscaling
from nimbus.services.application_autoscaling.records import described, target_columns
from nimbus.services.registry import RequestContext
from nimbus.storage.monitoring_schema import ScalingActivityRecord

ACTIVITIES = ScalingActivityRecord.__table__
UNDERWAY = ("Pending", "InProgress")


def start_activity(ctx: RequestContext, policy: Any, description: str, cause: str) -> str:
    activity_id = str(uuid.uuid4())
    with ctx.storage.database.engine.begin() as connection:
        connection.execute(
            insert(ACTIVITIES).values(
                activity_id=activity_id,
                **target_columns(
                    ctx, policy.service_namespace, policy.resource_id, policy.scalable_dimension
                ),
                description=description,
                cause=cause,
                status_code="InProgress",
                start_time=datetime.now(UTC),
            )
        )
    return activity_id


def end_activity(ctx: RequestContext, activity_id: str, status: str, message: str) -> None:
    with ctx.storage.database.engine.begin() as connection:
        connection.execute(
            update(ACTIVITIES)
            .where(ACTIVITIES.c.activity_id == activity_id)
            .values(status_code=status, status_message=message[:1024], end_time=datetime.now(UTC))
        )


def last_activity(ctx: RequestContext, policy: Any) -> Any:
    """The target's latest activity that changed (or is changing) its capacity, if any."""
    with ctx.storage.database.engine.connect() as connection:
        return connection.execute(
            select(ACTIVITIES)
            .where(
                ACTIVITIES.c.account_id == ctx.caller.account_id,
                ACTIVITIES.c.region == ctx.region,
                ACTIVITIES.c.resource_id == policy.resource_id,
                ACTIVITIES.c.scalable_dimension == policy.scalable_dimension,
                ACTIVITIES.c.status_code.in_((*UNDERWAY, "Successful")),
            )
            .order_by(ACTIVITIES.c.start_time.desc())
            .limit(1)
        ).first()


@application_autoscaling.operation
def describe_scaling_activities(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Newest first. Nimbus records the activities that changed capacity (or tried to): not-scaled
    activities are not kept, so IncludeNotScaledActivities adds nothing."""
    order = (ACTIVITIES.c.start_time.desc(), ACTIVITIES.c.activity_id)
    output = described(ctx, ACTIVITIES, request, "ScalingActivities", *order)
    return {**output, "ScalingActivities": [_activity(row) for row in output["ScalingActivities"]]}


def _activity(row: Any) -> dict[str, Any]:
    output = {
        "ActivityId": row.activity_id,
        "ServiceNamespace": row.service_namespace,
        "ResourceId": row.resource_id,
        "ScalableDimension": row.scalable_dimension,
        "Description": row.description,
        "Cause": row.cause,
        "StartTime": row.start_time,
        "StatusCode": row.status_code,
    }
    if row.end_time is not None:
        output["EndTime"] = row.end_time
    if row.status_message:
        output["StatusMessage"] = row.status_message
    return output
