"""Queue attributes: their defaults, the values SQS accepts, and which can change after creation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from nimbus.services.sqs.errors import invalid_attribute_name, invalid_attribute_value
from nimbus.services.sqs.policies import checked_policy

MAX_MESSAGE_BYTES = 1_048_576  # 1 MiB, AWS's limit and default since 2025

DEFAULTS = {
    "VisibilityTimeout": "30",
    "MaximumMessageSize": str(MAX_MESSAGE_BYTES),
    "MessageRetentionPeriod": "345600",
    "DelaySeconds": "0",
    "ReceiveMessageWaitTimeSeconds": "0",
    "SqsManagedSseEnabled": "true",
}
FIFO_DEFAULTS = {
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}
READ_ONLY = frozenset(
    {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
        "CreatedTimestamp",
        "LastModifiedTimestamp",
        "QueueArn",
    }
)
CREATE_ONLY = frozenset({"FifoQueue"})
FIFO_ONLY = frozenset({"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"})


def _integer(low: int, high: int) -> Callable[[str, str], str]:
    def check(name: str, value: str) -> str:
        if not value.strip().lstrip("-").isdigit() or not low <= int(value) <= high:
            raise invalid_attribute_value(name, f"must be an integer from {low} to {high}.")
        return str(int(value))

    return check


def _boolean(name: str, value: str) -> str:
    if value.lower() not in ("true", "false"):
        raise invalid_attribute_value(name, "must be true or false.")
    return value.lower()


def _one_of(*allowed: str) -> Callable[[str, str], str]:
    def check(name: str, value: str) -> str:
        if value not in allowed:
            raise invalid_attribute_value(name, f"must be one of {', '.join(allowed)}.")
        return value

    return check


def _json_object(name: str, value: str) -> dict[str, Any]:
    """The attribute's JSON object (empty for an empty value, which removes the attribute)."""
    try:
        document = json.loads(value) if value else {}
    except ValueError:
        raise invalid_attribute_value(name, f"{name} is not valid JSON.") from None
    if not isinstance(document, dict):
        raise invalid_attribute_value(name, f"{name} must be a JSON object.")
    return document


def _redrive_policy(name: str, value: str) -> str:
    if not value:
        return value
    policy = _json_object(name, value)
    if not isinstance(policy.get("deadLetterTargetArn"), str):
        raise invalid_attribute_value(name, "RedrivePolicy needs a deadLetterTargetArn.")
    count = policy.get("maxReceiveCount")
    if isinstance(count, str) and count.isdigit():
        count = int(count)
    if not isinstance(count, int) or not 1 <= count <= 1000:
        raise invalid_attribute_value(name, "maxReceiveCount must be an integer from 1 to 1000.")
    return value


def _redrive_allow_policy(name: str, value: str) -> str:
    if _json_object(name, value).get("redrivePermission", "allowAll") not in (
        "allowAll",
        "denyAll",
        "byQueue",
    ):
        raise invalid_attribute_value(name, "redrivePermission must be allowAll, denyAll or byQueue.")
    return value


def _anything(name: str, value: str) -> str:
    return value


CHECKS: dict[str, Callable[[str, str], str]] = {
    "VisibilityTimeout": _integer(0, 43200),
    "MaximumMessageSize": _integer(1024, MAX_MESSAGE_BYTES),
    "MessageRetentionPeriod": _integer(60, 1_209_600),
    "DelaySeconds": _integer(0, 900),
    "ReceiveMessageWaitTimeSeconds": _integer(0, 20),
    "Policy": checked_policy,
    "RedrivePolicy": _redrive_policy,
    "RedriveAllowPolicy": _redrive_allow_policy,
    "FifoQueue": _boolean,
    "ContentBasedDeduplication": _boolean,
    "DeduplicationScope": _one_of("messageGroup", "queue"),
    "FifoThroughputLimit": _one_of("perQueue", "perMessageGroupId"),
    "KmsMasterKeyId": _anything,
    "KmsDataKeyReusePeriodSeconds": _integer(60, 86400),
    "SqsManagedSseEnabled": _boolean,
}


def checked_attributes(given: dict[str, str], fifo: bool, creating: bool) -> dict[str, str]:
    """The attributes a CreateQueue or SetQueueAttributes may set, each checked and normalised."""
    checked = {}
    for name, value in given.items():
        check = CHECKS.get(name)
        if check is None or name in READ_ONLY:
            raise invalid_attribute_name(name)
        if name in CREATE_ONLY and not creating:
            raise invalid_attribute_name(name)
        if name in FIFO_ONLY and not fifo:
            raise invalid_attribute_name(name)
        checked[name] = check(name, value)
    return checked


def with_defaults(attributes: dict[str, str], fifo: bool) -> dict[str, str]:
    return {**DEFAULTS, **(FIFO_DEFAULTS if fifo else {}), **attributes}


def redrive_policy(attributes: dict[str, Any]) -> tuple[str, int] | None:
    """(dead-letter queue ARN, maxReceiveCount) when the queue has a redrive policy."""
    text = attributes.get("RedrivePolicy")
    if not text:
        return None
    policy = json.loads(text)
    return policy["deadLetterTargetArn"], int(policy["maxReceiveCount"])
