"""Alarm evaluation: a background thread looks at each alarm's last EvaluationPeriods periods, sets
its state as CloudWatch does (DatapointsToAlarm of them breaching: ALARM; TreatMissingData for the
periods without data) and runs its actions.

Actions go to the service the ARN names (``arn:aws:autoscaling:...``), which registers a handler in
``ACTION_HANDLERS``. As for Auto Scaling on AWS, an Application Auto Scaling action runs at every
evaluation while the alarm stays in its state (its policy's cooldown paces it), not only on a change.

The ``alarm_time_scale`` setting shortens periods and the evaluation interval by its factor (a
difference from AWS, for tests and demos: 60 makes a one-minute period last one second)."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from nimbus.config import Settings
from nimbus.services.leases import lease_node
from nimbus.services.monitoring.datapoints import FINEST_RESOLUTION, MetricId, Statistics, datapoints, roll_up
from nimbus.storage import Storage
from nimbus.storage.monitoring_schema import MetricAlarmRecord

ALARMS = MetricAlarmRecord.__table__
log = logging.getLogger(__name__)
EVALUATION_INTERVAL_S = 10.0  # the shortest alarm period; divided by the time scale
SHORTEST_TICK_S = 0.25
PUBLISH_LAG_S = 2.0  # published data reaches the database within this (the publisher's flush)
ROLL_UP_INTERVAL = timedelta(hours=1)
EVALUATION_LEASE = "cloudwatch/alarm-evaluation"
STATE_ACTIONS = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}
REPEATED_ACTION_SERVICES = frozenset({"autoscaling"})  # the others run on a change of state
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
_WORDS = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "GreaterThanThreshold": "greater than",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


@dataclass(frozen=True)
class AlarmEvent:
    """What an action handler learns: which alarm, in which state, on which recent values."""

    account_id: str
    region: str
    alarm_name: str
    state: str
    values: list[float]  # the evaluated periods' values, oldest first (periods without data left out)
    threshold: float
    old_state: str
    reason: str
    at: datetime
    definition: dict[str, Any]  # PutMetricAlarm's request


ActionHandler = Callable[[Storage, str, AlarmEvent], None]
ACTION_HANDLERS: dict[str, ActionHandler] = {}  # the ARN's service -> what runs its actions


def alarm_arn(account_id: str, region: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{name}"


def effective_seconds(seconds: float) -> float:
    """How long an AWS duration lasts here, with the ``alarm_time_scale`` setting."""
    return seconds / Settings().alarm_time_scale


def evaluate_alarms(storage: Storage, now: datetime) -> None:
    with storage.database.engine.connect() as connection:
        rows = connection.execute(select(ALARMS)).all()
    for row in rows:
        # whole seconds, the data's finest resolution
        period = max(FINEST_RESOLUTION, round(effective_seconds(row.definition["Period"])))
        if row.evaluated_at is not None and (now - row.evaluated_at).total_seconds() < period:
            continue
        try:
            _evaluate(storage, row, now, period)
        except Exception:  # one alarm's failure must not stop the others
            log.exception("evaluating alarm %s failed", row.name)


def _evaluate(storage: Storage, row: Any, now: datetime, period: int) -> None:
    definition = row.definition
    count = definition["EvaluationPeriods"]
    last = math.floor((now.timestamp() - PUBLISH_LAG_S) / period)  # the first period not yet complete
    start, end = (last - count) * period, last * period
    metric = MetricId.of(
        row.account_id,
        row.region,
        definition["Namespace"],
        definition["MetricName"],
        definition.get("Dimensions") or [],
    )
    found = datapoints(
        storage,
        metric,
        datetime.fromtimestamp(start, UTC),
        datetime.fromtimestamp(end, UTC),
        period,
        definition.get("Unit"),
    )
    merged: dict[int, Statistics] = {}  # by the period's number since the epoch (units merged)
    for point in found:
        merged.setdefault(point.start // period, Statistics()).merge(point.stats)
    statistic = definition["Statistic"]
    values = [
        merged[number].value(statistic) if number in merged else None for number in range(last - count, last)
    ]
    present = [value for value in values if value is not None]
    state, reason = _state(definition, row.state_value, present, values)
    reason_data = json.dumps(
        {
            "version": "1.0",
            "queryDate": now.isoformat(),
            "startDate": datetime.fromtimestamp(start, UTC).isoformat(),
            "statistic": statistic,
            "period": definition["Period"],
            "recentDatapoints": present,
            "threshold": definition["Threshold"],
            "evaluatedDatapoints": len(present),
        }
    )
    changed = state != row.state_value
    values_now: dict[str, Any] = {"evaluated_at": now}
    if changed:
        values_now.update(
            state_value=state, state_reason=reason[:1023], state_reason_data=reason_data, state_updated_at=now
        )
    with storage.database.engine.begin() as connection:
        connection.execute(update(ALARMS).where(ALARMS.c.id == row.id).values(**values_now))
    if definition.get("ActionsEnabled", True):
        event = AlarmEvent(
            row.account_id,
            row.region,
            row.name,
            state,
            present,
            definition["Threshold"],
            row.state_value,
            reason if changed else row.state_reason,
            now,
            definition,
        )
        run_actions(storage, definition.get(STATE_ACTIONS[state]) or [], event, changed)


def _state(
    definition: dict[str, Any], current: str, present: list[float], values: list[float | None]
) -> tuple[str, str]:
    treat = definition.get("TreatMissingData", "missing")
    needed = definition.get("DatapointsToAlarm", definition["EvaluationPeriods"])
    operator, threshold = definition["ComparisonOperator"], definition["Threshold"]
    if not present:
        if treat == "ignore":
            return current, "no datapoints: the state is kept (TreatMissingData ignore)"
        by_treatment = {"breaching": "ALARM", "notBreaching": "OK"}
        state = by_treatment.get(treat, "INSUFFICIENT_DATA")
        return state, f"Insufficient Data: {len(values)} datapoints were unknown."
    breaching = sum(_COMPARISONS[operator](value, threshold) for value in present)
    if treat == "breaching":
        breaching += len(values) - len(present)
    state = "ALARM" if breaching >= needed else "OK"
    shown = ", ".join(f"{value:g}" for value in present)
    return state, (
        f"Threshold Crossed: {breaching} out of the last {len(values)} datapoints [{shown}] were "
        f"{'' if state == 'ALARM' else 'not '}{_WORDS[operator]} the threshold ({threshold:g}) "
        f"(minimum {needed} datapoints for OK -> ALARM transition)."
    )


def run_actions(storage: Storage, arns: list[str], event: AlarmEvent, changed: bool) -> None:
    for arn in arns:
        service = arn.split(":")[2] if arn.count(":") >= 2 else ""
        if not changed and service not in REPEATED_ACTION_SERVICES:
            continue
        handler = ACTION_HANDLERS.get(service)
        if handler is None:
            continue
        try:
            handler(storage, arn, event)
        except Exception:  # an action's failure leaves the alarm and the other actions alone
            log.exception("alarm %s: action %s failed", event.alarm_name, arn)


def _evaluate_forever(storage: Storage) -> None:
    """With several nodes, one evaluates (so an action runs once): the holder of the evaluation's
    lease, which goes to another node's evaluator when that node dies."""
    node = lease_node(storage)
    rolled_up = datetime.now(UTC)
    while True:
        time.sleep(max(SHORTEST_TICK_S, effective_seconds(EVALUATION_INTERVAL_S)))
        now = datetime.now(UTC)
        try:
            if not node.take(EVALUATION_LEASE):
                continue
            evaluate_alarms(storage, now)
            if now - rolled_up >= ROLL_UP_INTERVAL:
                roll_up(storage, now)
                rolled_up = now
        except Exception:  # the next round tries again; a failed one must not end the thread
            log.exception("alarm evaluation failed")


def start_evaluator(storage: Storage) -> None:
    threading.Thread(target=_evaluate_forever, args=(storage,), name="cloudwatch-alarms", daemon=True).start()
