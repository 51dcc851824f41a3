"""PutMetricAlarm, DescribeAlarms and DeleteAlarms: metric alarms on one metric and a static
threshold, evaluated in the background (see ``evaluation``)."""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import delete, insert, select, update

from nimbus.services.monitoring import cloudwatch
from nimbus.services.monitoring.errors import cloudwatch_error, invalid_combination, validation_error
from nimbus.services.monitoring.evaluation import (
    ACTION_HANDLERS,
    STATE_ACTIONS,
    AlarmEvent,
    alarm_arn,
    run_actions,
)
from nimbus.services.registry import RequestContext
from nimbus.storage.monitoring_schema import MetricAlarmRecord

ALARMS = MetricAlarmRecord.__table__
STATIC_OPERATORS = frozenset(
    {
        "GreaterThanOrEqualToThreshold",
        "GreaterThanThreshold",
        "LessThanThreshold",
        "LessThanOrEqualToThreshold",
    }
)
ONE_DAY, ONE_WEEK = 86_400, 7 * 86_400
DEFAULT_PAGE = 50
INITIAL_REASON = "Unchecked: Initial alarm creation"


@cloudwatch.operation
def put_metric_alarm(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Alarms on one metric's statistic against a static threshold. Metric math alarms (Metrics),
    percentiles (ExtendedStatistic), anomaly detection bands (ThresholdMetricId) and evaluation
    criteria other than a threshold are refused. Actions: Application Auto Scaling policies (run
    while the alarm is in the state, as for Auto Scaling on AWS) and SNS topics (notified of each
    change of state); other ARNs (EC2, Systems Manager, Lambda) are refused.
    Periods last as on AWS unless the setting NIMBUS_ALARM_TIME_SCALE shortens them, for tests and
    demos (60: a 60-second period lasts one second). Alarms are evaluated every 10 s (scaled), from
    data up to 2 s old."""
    _check_alarm(request)
    definition = {name: value for name, value in request.items() if name != "Tags"}
    now = ctx.received_at
    where = _owned(ctx) & (ALARMS.c.name == request["AlarmName"])
    with ctx.storage.database.engine.begin() as connection:
        exists = connection.execute(select(ALARMS.c.id).where(where)).first() is not None
        if exists:  # as on AWS, an update keeps the alarm's state and replaces its configuration
            connection.execute(
                update(ALARMS).where(where).values(definition=definition, configuration_updated_at=now)
            )
        else:
            connection.execute(
                insert(ALARMS).values(
                    account_id=ctx.caller.account_id,
                    region=ctx.region,
                    name=request["AlarmName"],
                    definition=definition,
                    state_value="INSUFFICIENT_DATA",
                    state_reason=INITIAL_REASON,
                    state_updated_at=now,
                    configuration_updated_at=now,
                )
            )
    return {}


def _check_alarm(request: dict[str, Any]) -> None:
    if request.get("Metrics") or request.get("ThresholdMetricId") or request.get("EvaluationCriteria"):
        raise validation_error(
            "Nimbus evaluates alarms on one metric and a static threshold: Metrics, ThresholdMetricId "
            "and EvaluationCriteria are not supported."
        )
    for name in ("MetricName", "Namespace", "Period", "Threshold", "ComparisonOperator", "EvaluationPeriods"):
        if request.get(name) is None:
            raise validation_error(f"The parameter {name} is required for an alarm on a metric.")
    if request.get("ExtendedStatistic"):
        raise validation_error("Nimbus keeps no percentiles: ExtendedStatistic is not supported.")
    if not request.get("Statistic"):
        raise validation_error("The parameter Statistic is required for an alarm on a metric.")
    if request["ComparisonOperator"] not in STATIC_OPERATORS:
        raise validation_error(
            "Nimbus does not detect anomalies: ComparisonOperator "
            f"{request['ComparisonOperator']} is not supported."
        )
    period, periods = request["Period"], request["EvaluationPeriods"]
    if period not in (10, 20, 30) and period % 60:
        raise validation_error("Period must be 10, 20, 30 or a multiple of 60.")
    limit = ONE_WEEK if period >= 3600 else ONE_DAY
    if period * periods > limit:
        raise validation_error(
            f"The evaluation period (Period x EvaluationPeriods = {period * periods} seconds) "
            f"must not exceed {limit} seconds."
        )
    if request.get("DatapointsToAlarm", periods) > periods:
        raise validation_error("DatapointsToAlarm must be less than or equal to EvaluationPeriods.")
    for kind in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        for arn in request.get(kind) or []:
            if arn.split(":")[2:3] not in ([service] for service in ACTION_HANDLERS):
                raise validation_error(
                    f"Invalid {kind} ARN {arn}: Nimbus runs Application Auto Scaling policies "
                    "(arn:aws:autoscaling:...:scalingPolicy:...) and notifies SNS topics (arn:aws:sns:...)."
                )


def _owned(ctx: RequestContext) -> Any:
    return (ALARMS.c.account_id == ctx.caller.account_id) & (ALARMS.c.region == ctx.region)


@cloudwatch.operation
def describe_alarms(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Metric alarms only (there are no composite or log alarms in Nimbus)."""
    if request.get("AlarmNames") and request.get("AlarmNamePrefix"):
        raise invalid_combination("AlarmNames and AlarmNamePrefix are mutually exclusive.")
    if request.get("ChildrenOfAlarmName") or request.get("ParentsOfAlarmName"):
        return {"MetricAlarms": [], "CompositeAlarms": []}
    types = request.get("AlarmTypes") or ["MetricAlarm"]
    if "MetricAlarm" not in types:
        return {"MetricAlarms": [], "CompositeAlarms": []}
    query = select(ALARMS).where(_owned(ctx)).order_by(ALARMS.c.name)
    if request.get("AlarmNames"):
        query = query.where(ALARMS.c.name.in_(request["AlarmNames"]))
    if request.get("AlarmNamePrefix"):
        query = query.where(ALARMS.c.name.startswith(request["AlarmNamePrefix"], autoescape=True))
    if request.get("StateValue"):
        query = query.where(ALARMS.c.state_value == request["StateValue"])
    offset = _offset(request.get("NextToken"))
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(query).all()
    prefix = request.get("ActionPrefix")
    if prefix:
        rows = [row for row in rows if any(arn.startswith(prefix) for arn in _actions(row.definition))]
    limit = request.get("MaxRecords") or DEFAULT_PAGE
    output: dict[str, Any] = {
        "MetricAlarms": [_alarm(row) for row in rows[offset : offset + limit]],
        "CompositeAlarms": [],
    }
    if len(rows) > offset + limit:
        output["NextToken"] = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
    return output


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError:
        raise cloudwatch_error("InvalidNextToken", "The NextToken is not valid.") from None


def _actions(definition: dict[str, Any]) -> list[str]:
    return [
        arn
        for kind in ("AlarmActions", "OKActions", "InsufficientDataActions")
        for arn in definition.get(kind) or []
    ]


def _alarm(row: Any) -> dict[str, Any]:
    definition = row.definition
    return {
        **definition,
        "AlarmArn": alarm_arn(row.account_id, row.region, row.name),
        "ActionsEnabled": definition.get("ActionsEnabled", True),
        "OKActions": definition.get("OKActions", []),
        "AlarmActions": definition.get("AlarmActions", []),
        "InsufficientDataActions": definition.get("InsufficientDataActions", []),
        "Dimensions": definition.get("Dimensions", []),
        "DatapointsToAlarm": definition.get("DatapointsToAlarm", definition["EvaluationPeriods"]),
        "TreatMissingData": definition.get("TreatMissingData", "missing"),
        "AlarmConfigurationUpdatedTimestamp": row.configuration_updated_at,
        "StateValue": row.state_value,
        "StateReason": row.state_reason,
        **({"StateReasonData": row.state_reason_data} if row.state_reason_data else {}),
        "StateUpdatedTimestamp": row.state_updated_at,
        "StateTransitionedTimestamp": row.state_updated_at,
    }


@cloudwatch.operation
def delete_alarms(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """All or nothing: when a named alarm does not exist, none is deleted."""
    names = set(request["AlarmNames"])
    where = _owned(ctx) & ALARMS.c.name.in_(names)
    with ctx.storage.database.engine.begin() as connection:
        found = set(connection.execute(select(ALARMS.c.name).where(where)).scalars())
        missing = sorted(names - found)
        if missing:
            raise cloudwatch_error("ResourceNotFound", f"Could not find alarm(s): {', '.join(missing)}.", 404)
        connection.execute(delete(ALARMS).where(where))
    return {}


@cloudwatch.operation
def set_alarm_state(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The state holds until the next evaluation, as on AWS. A change of state notifies the alarm's
    SNS topics; scaling policies act only on evaluated datapoints, so they do not run here."""
    if request.get("StateReasonData") is not None:
        try:
            json.loads(request["StateReasonData"])
        except ValueError:
            raise cloudwatch_error("InvalidFormat", "StateReasonData is not valid JSON.") from None
    where = _owned(ctx) & (ALARMS.c.name == request["AlarmName"])
    with ctx.storage.database.engine.begin() as connection:
        row = connection.execute(select(ALARMS).where(where)).first()
        if row is None:
            raise cloudwatch_error("ResourceNotFound", f"Could not find alarm {request['AlarmName']}.", 404)
        connection.execute(
            update(ALARMS)
            .where(where)
            .values(
                state_value=request["StateValue"],
                state_reason=request["StateReason"],
                state_reason_data=request.get("StateReasonData"),
                state_updated_at=ctx.received_at,
            )
        )
    definition = row.definition
    if request["StateValue"] != row.state_value and definition.get("ActionsEnabled", True):
        event = AlarmEvent(
            row.account_id,
            row.region,
            row.name,
            request["StateValue"],
            [],
            definition["Threshold"],
            row.state_value,
            request["StateReason"],
            ctx.received_at,
            definition,
        )
        run_actions(ctx.storage, definition.get(STATE_ACTIONS[request["StateValue"]]) or [], event, True)
    return {}
