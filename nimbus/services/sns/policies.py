"""Topic policies: checked when they are set, edited by label (AddPermission, RemovePermission),
and given to the authorization step, which decides other principals' calls on a topic with them
(the evaluator in ``nimbus.policy``)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.engine import Row

from nimbus.policy import Policy, PolicyError, parse_policy
from nimbus.services.policy_statements import (
    ACCOUNT_ID,
    LABEL,
    permission,
    with_statement,
    without_statement,
)
from nimbus.services.registry import RequestContext
from nimbus.services.sns import sns
from nimbus.services.sns.records import TOPICS, find_topic, invalid_parameter
from nimbus.storage import Storage


def default_policy(arn: str, account_id: str) -> str:
    """The policy SNS gives a new topic: its owner may do everything with it."""
    return json.dumps(
        {
            "Version": "2008-10-17",
            "Id": "__default_policy_ID",
            "Statement": [
                {
                    "Sid": "__default_statement_ID",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": [
                        "SNS:GetTopicAttributes",
                        "SNS:SetTopicAttributes",
                        "SNS:AddPermission",
                        "SNS:RemovePermission",
                        "SNS:DeleteTopic",
                        "SNS:Subscribe",
                        "SNS:ListSubscriptionsByTopic",
                        "SNS:Publish",
                    ],
                    "Resource": arn,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": account_id}},
                }
            ],
        },
        separators=(",", ":"),
    )


def checked_policy(document: str) -> None:
    try:
        parse_policy(document, "resource")
    except PolicyError as error:
        raise invalid_parameter(f"Policy Error: {error}") from None


def topic_resource_policy(storage: Storage, arn: str) -> Policy | None:
    """The policy of ``arn:aws:sns:<region>:<account>:<topic>``: the one set, else the default."""
    if not arn.startswith("arn:aws:sns:"):
        return None
    with storage.database.engine.connect() as connection:
        row = connection.execute(
            select(TOPICS.c.attributes, TOPICS.c.account_id).where(TOPICS.c.arn == arn)
        ).first()
    if row is None:
        return None
    return _parsed(arn, row.attributes.get("Policy") or default_policy(arn, row.account_id))


@lru_cache(maxsize=256)
def _parsed(arn: str, document: str) -> Policy:
    return parse_policy(document, "resource", f"topic policy of {arn}")


def _set_policy(connection: Connection, topic: Row[Any], document: str) -> None:
    attributes = {key: value for key, value in topic.attributes.items() if key != "Policy"}
    if document:
        attributes["Policy"] = document
    connection.execute(update(TOPICS).where(TOPICS.c.arn == topic.arn).values(attributes=attributes))


@sns.operation
def add_permission(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    label, accounts, actions = request["Label"], request["AWSAccountId"], request["ActionName"]
    if not LABEL.fullmatch(label):
        raise invalid_parameter("Label: up to 80 letters, digits, hyphens and underscores")
    if not accounts or not all(ACCOUNT_ID.fullmatch(account) for account in accounts):
        raise invalid_parameter("AWSAccountId: 12-digit account ids")
    if not actions or not all(action in sns.model.operation_names for action in actions):
        raise invalid_parameter("ActionName: SNS action names, such as Publish or Subscribe")
    with ctx.storage.database.engine.begin() as connection:
        topic = find_topic(ctx, connection, request["TopicArn"])
        base = topic.attributes.get("Policy") or default_policy(topic.arn, topic.account_id)
        document = with_statement(base, permission(label, accounts, actions, "SNS", topic.arn))
        if document is None:
            raise invalid_parameter("Statement already exists")
        _set_policy(connection, topic, document)
    return {}


@sns.operation
def remove_permission(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        topic = find_topic(ctx, connection, request["TopicArn"])
        base = topic.attributes.get("Policy") or default_policy(topic.arn, topic.account_id)
        document = without_statement(base, request["Label"])
        if document is None:
            raise invalid_parameter(f"Label: the topic policy has no statement {request['Label']}")
        _set_policy(connection, topic, document)
    return {}


sns.resource_policies(topic_resource_policy)
