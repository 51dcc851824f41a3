"""Alarm actions that notify an SNS topic: on each change of state, the JSON message CloudWatch
publishes (AlarmName, NewStateValue, NewStateReason, Trigger...), as the topic's owner."""

from __future__ import annotations

import json
from typing import Any

from nimbus.services.monitoring.evaluation import ACTION_HANDLERS, AlarmEvent, alarm_arn
from nimbus.services.sns.publish import Publication, publish_to_topic
from nimbus.storage import Storage


def notify_topic(storage: Storage, arn: str, event: AlarmEvent) -> None:
    definition = event.definition
    message: dict[str, Any] = {
        "AlarmName": event.alarm_name,
        "AlarmDescription": definition.get("AlarmDescription"),
        "AWSAccountId": event.account_id,
        "NewStateValue": event.state,
        "NewStateReason": event.reason,
        "StateChangeTime": event.at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
        "Region": event.region,
        "AlarmArn": alarm_arn(event.account_id, event.region, event.alarm_name),
        "OldStateValue": event.old_state,
        "OKActions": definition.get("OKActions") or [],
        "AlarmActions": definition.get("AlarmActions") or [],
        "InsufficientDataActions": definition.get("InsufficientDataActions") or [],
        "Trigger": {
            "MetricName": definition["MetricName"],
            "Namespace": definition["Namespace"],
            "StatisticType": "Statistic",
            "Statistic": definition["Statistic"].upper(),
            "Unit": definition.get("Unit"),
            "Dimensions": [
                {"value": item["Value"], "name": item["Name"]} for item in definition.get("Dimensions") or []
            ],
            "Period": definition["Period"],
            "EvaluationPeriods": definition["EvaluationPeriods"],
            "DatapointsToAlarm": definition.get("DatapointsToAlarm", definition["EvaluationPeriods"]),
            "ComparisonOperator": definition["ComparisonOperator"],
            "Threshold": definition["Threshold"],
            "TreatMissingData": definition.get("TreatMissingData", "missing"),
        },
    }
    subject = f'{event.state}: "{event.alarm_name}" in {event.region}'
    publish_to_topic(storage, Publication(topic_arn=arn, message=json.dumps(message), subject=subject[:100]))


ACTION_HANDLERS["sns"] = notify_topic
