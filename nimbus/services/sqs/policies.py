"""Queue policies: checked when they are set, edited by label (AddPermission, RemovePermission),
given to the authorization step (other principals' calls on a queue), and asked by SNS before it
delivers: a topic's message reaches a queue only if the queue's policy lets ``sns.amazonaws.com``
(or everyone) send it from that topic, as in AWS."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.engine import Row

from nimbus.errors import AwsError
from nimbus.policy import Policy, PolicyError, PolicySet, Principal, Request, evaluate, parse_policy
from nimbus.policy.principals import SERVICE
from nimbus.services.policy_statements import (
    ACCOUNT_ID,
    LABEL,
    permission,
    with_statement,
    without_statement,
)
from nimbus.services.registry import RequestContext
from nimbus.services.sqs import sqs
from nimbus.services.sqs.errors import invalid_attribute_value, invalid_parameter
from nimbus.services.sqs.records import QUEUES, find_queue
from nimbus.storage import Storage


def checked_policy(name: str, value: str) -> str:
    if value:
        try:
            parse_policy(value, "resource")
        except PolicyError as error:
            raise invalid_attribute_value(name, str(error)) from None
    return value


def allows_service_send(queue: Row[Any], service: str, source_arn: str, source_account: str) -> bool:
    """Whether the queue's policy lets ``service`` send it messages on behalf of ``source_arn``."""
    document = queue.attributes.get("Policy")
    if not document:
        return False
    request = Request(
        "sqs:SendMessage",
        queue.arn,
        Principal(SERVICE, source_account, service),
        {"aws:sourcearn": source_arn, "aws:sourceaccount": source_account},
        queue.account_id,
    )
    return evaluate(request, PolicySet(resource=_parsed(queue.arn, document))).allowed


def queue_resource_policy(storage: Storage, arn: str) -> Policy | None:
    """The policy of ``arn:aws:sqs:<region>:<account>:<queue>``, if it has one."""
    if not arn.startswith("arn:aws:sqs:"):
        return None
    with storage.database.engine.connect() as connection:
        attributes = connection.execute(select(QUEUES.c.attributes).where(QUEUES.c.arn == arn)).scalar()
    document = (attributes or {}).get("Policy")
    return _parsed(arn, document) if document else None


@lru_cache(maxsize=256)
def _parsed(arn: str, document: str) -> Policy:
    return parse_policy(document, "resource", f"queue policy of {arn}")


# the actions AddPermission may grant, as SQS lists them
GRANTABLE = frozenset(
    {
        "*",
        "ChangeMessageVisibility",
        "DeleteMessage",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ListDeadLetterSourceQueues",
        "ListQueueTags",
        "PurgeQueue",
        "ReceiveMessage",
        "SendMessage",
    }
)


def _set_policy(connection: Connection, queue: Row[Any], document: str) -> None:
    attributes = {key: value for key, value in queue.attributes.items() if key != "Policy"}
    if document:
        attributes["Policy"] = document
    connection.execute(
        update(QUEUES)
        .where(QUEUES.c.id == queue.id)
        .values(attributes=attributes, modified_at=datetime.now(UTC))
    )


def _invalid_label(label: str, reason: str) -> AwsError:
    return invalid_parameter(f"Value {label} for parameter Label is invalid. Reason: {reason}.")


@sqs.operation
def add_permission(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    label, accounts, actions = request["Label"], request["AWSAccountIds"], request["Actions"]
    if not LABEL.fullmatch(label):
        raise _invalid_label(label, "up to 80 letters, digits, hyphens and underscores")
    if not accounts or not all(ACCOUNT_ID.fullmatch(account) for account in accounts):
        raise invalid_parameter("AWSAccountIds must be 12-digit account ids.")
    unknown = sorted(set(actions) - GRANTABLE) if actions else ["(none)"]
    if unknown:
        raise invalid_parameter(f"Value {unknown[0]} for parameter ActionName is invalid.")
    with ctx.storage.database.engine.begin() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
        base = queue.attributes.get("Policy") or json.dumps(
            {"Version": "2012-10-17", "Id": f"{queue.arn}/SQSDefaultPolicy", "Statement": []}
        )
        document = with_statement(base, permission(label, accounts, actions, "SQS", queue.arn))
        if document is None:
            raise _invalid_label(label, "Already exists")
        _set_policy(connection, queue, document)
    return {}


@sqs.operation
def remove_permission(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    label = request["Label"]
    with ctx.storage.database.engine.begin() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
        document = without_statement(queue.attributes.get("Policy") or "{}", label)
        if document is None:
            raise _invalid_label(label, "can't find label")
        _set_policy(connection, queue, document)
    return {}


sqs.resource_policies(queue_resource_policy)
