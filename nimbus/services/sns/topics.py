"""Topics: create, list, delete; their attributes and tags."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Update, delete, func, insert, select, update
from sqlalchemy.engine import Row

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.resource_tags import add_tags, remove_tags
from nimbus.services.sns import sns
from nimbus.services.sns.policies import checked_policy, default_policy
from nimbus.services.sns.records import (
    SUBSCRIPTIONS,
    TOPICS,
    find_topic,
    invalid_parameter,
    is_fifo,
    topic_arn,
)
from nimbus.services.sns.signing import SIGNATURE_VERSIONS

TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
PAGE_SIZE = 100
MAX_TAGS = 50
SETTABLE = frozenset(
    {
        "DeliveryPolicy",
        "DisplayName",
        "Policy",
        "TracingConfig",
        "KmsMasterKeyId",
        "SignatureVersion",
        "ContentBasedDeduplication",
        "ArchivePolicy",
        "FifoThroughputScope",
        "HTTPSuccessFeedbackRoleArn",
        "HTTPSuccessFeedbackSampleRate",
        "HTTPFailureFeedbackRoleArn",
        "SQSSuccessFeedbackRoleArn",
        "SQSSuccessFeedbackSampleRate",
        "SQSFailureFeedbackRoleArn",
    }
)


def _tags(tags: list[dict[str, str]]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags}


def _checked(attributes: dict[str, str], fifo: bool) -> dict[str, str]:
    for name, value in attributes.items():
        if name == "FifoTopic":
            continue
        if name not in SETTABLE:
            raise invalid_parameter(f"AttributeName: {name} is not a valid topic attribute")
        if name == "ContentBasedDeduplication" and not fifo:
            raise invalid_parameter("ContentBasedDeduplication is only valid for FIFO topics")
        if name == "DeliveryPolicy" and value:
            try:
                json.loads(value)
            except ValueError:
                raise invalid_parameter(f"{name}: not valid JSON") from None
        if name == "Policy" and value:
            checked_policy(value)
        if name == "SignatureVersion" and value not in SIGNATURE_VERSIONS:
            raise invalid_parameter("SignatureVersion: must be 1 (SHA1) or 2 (SHA256)")
    return attributes


@sns.operation
def create_topic(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """DataProtectionPolicy is refused (no message data protection here)."""
    name = request["Name"]
    attributes = dict(request.get("Attributes") or {})
    fifo = attributes.get("FifoTopic", "false").lower() == "true"
    stem = name.removesuffix(".fifo") if fifo else name
    if not TOPIC_NAME.fullmatch(stem) or fifo != name.endswith(".fifo"):
        raise invalid_parameter(
            "Topic Name: names are 1 to 256 letters, digits, hyphens and underscores; FIFO topic names "
            "end with .fifo"
        )
    if request.get("DataProtectionPolicy"):
        raise invalid_parameter("DataProtectionPolicy is not supported by Nimbus")
    attributes = _checked(attributes, fifo)
    if fifo:
        attributes["FifoTopic"] = "true"
        attributes.setdefault("ContentBasedDeduplication", "false")
    arn = topic_arn(ctx.region, ctx.caller.account_id, name)
    tags = _tags(request.get("Tags") or [])
    with ctx.storage.database.engine.begin() as connection:
        existing = connection.execute(select(TOPICS).where(TOPICS.c.arn == arn)).first()
        if existing is not None:
            if any(existing.attributes.get(key) != value for key, value in attributes.items()):
                raise invalid_parameter("Attributes: the topic exists with different attributes")
            return {"TopicArn": arn}
        connection.execute(
            insert(TOPICS).values(
                arn=arn,
                account_id=ctx.caller.account_id,
                region=ctx.region,
                name=name,
                attributes=attributes,
                tags=tags,
                created_at=datetime.now(UTC),
            )
        )
    return {"TopicArn": arn}


@sns.operation
def delete_topic(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Deleting a topic that does not exist succeeds, as in AWS."""
    with ctx.storage.database.engine.begin() as connection:
        try:
            topic = find_topic(ctx, connection, request["TopicArn"])
        except AwsError as error:
            if error.code == "NotFound":
                return {}
            raise
        connection.execute(delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.topic_arn == topic.arn))
        connection.execute(delete(TOPICS).where(TOPICS.c.arn == topic.arn))
    return {}


@sns.operation
def list_topics(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    query = select(TOPICS.c.arn).where(
        TOPICS.c.account_id == ctx.caller.account_id, TOPICS.c.region == ctx.region
    )
    if request.get("NextToken"):
        query = query.where(TOPICS.c.arn > request["NextToken"])
    with ctx.storage.database.engine.connect() as connection:
        arns = list(connection.execute(query.order_by(TOPICS.c.arn).limit(PAGE_SIZE + 1)).scalars())
    output: dict[str, Any] = {"Topics": [{"TopicArn": arn} for arn in arns[:PAGE_SIZE]]}
    if len(arns) > PAGE_SIZE:
        output["NextToken"] = arns[PAGE_SIZE - 1]
    return output


def _topic_attributes(connection: Any, topic: Row[Any]) -> dict[str, str]:
    counted = dict(
        connection.execute(
            select(SUBSCRIPTIONS.c.confirmation_token.is_(None), func.count())
            .where(SUBSCRIPTIONS.c.topic_arn == topic.arn)
            .group_by(SUBSCRIPTIONS.c.confirmation_token.is_(None))
        ).all()
    )
    return {
        "Policy": default_policy(topic.arn, topic.account_id),
        "DisplayName": "",
        "EffectiveDeliveryPolicy": json.dumps(
            {
                "http": {
                    "defaultHealthyRetryPolicy": {"numRetries": 3, "minDelayTarget": 1, "maxDelayTarget": 20}
                }
            }
        ),
        **topic.attributes,
        "TopicArn": topic.arn,
        "Owner": topic.account_id,
        "SubscriptionsConfirmed": str(counted.get(True, 0)),
        "SubscriptionsPending": str(counted.get(False, 0)),
        "SubscriptionsDeleted": "0",
    }


@sns.operation
def get_topic_attributes(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        topic = find_topic(ctx, connection, request["TopicArn"])
        return {"Attributes": _topic_attributes(connection, topic)}


@sns.operation
def set_topic_attributes(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Delivery policies are kept; HTTP deliveries retry three times over about 20 seconds whatever
    they say."""
    name = request["AttributeName"]
    with ctx.storage.database.engine.begin() as connection:
        topic = find_topic(ctx, connection, request["TopicArn"])
        if name == "FifoTopic":
            raise invalid_parameter("AttributeName: FifoTopic can only be set when the topic is created")
        _checked({name: request.get("AttributeValue") or ""}, is_fifo(topic))
        attributes = {**topic.attributes, name: request.get("AttributeValue") or ""}
        connection.execute(update(TOPICS).where(TOPICS.c.arn == topic.arn).values(attributes=attributes))
    return {}


def _row(topic: Row[Any]) -> Update:
    return update(TOPICS).where(TOPICS.c.arn == topic.arn)


def _tagged_topic(ctx: RequestContext, connection: Any, arn: str) -> Row[Any]:
    try:
        return find_topic(ctx, connection, arn)
    except AwsError as error:
        if error.code == "NotFound":
            raise AwsError("ResourceNotFound", "Resource does not exist", 404) from None
        raise


@sns.operation
def tag_resource(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        topic = _tagged_topic(ctx, connection, request["ResourceArn"])
        too_many = AwsError(
            "TagLimitExceeded", f"Could not complete request: tag quota of {MAX_TAGS} exceeded", 400
        )
        add_tags(connection, _row(topic), topic.tags, _tags(request["Tags"]), MAX_TAGS, too_many)
    return {}


@sns.operation
def untag_resource(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        topic = _tagged_topic(ctx, connection, request["ResourceArn"])
        remove_tags(connection, _row(topic), topic.tags, request["TagKeys"])
    return {}


@sns.operation
def list_tags_for_resource(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        topic = _tagged_topic(ctx, connection, request["ResourceArn"])
    return {"Tags": [{"Key": key, "Value": value} for key, value in topic.tags.items()]}
