"""Finding topics and subscriptions, and SNS's errors."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection, select
from sqlalchemy.engine import Row

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.storage.messaging_schema import DeliveryRecord, SubscriptionRecord, TopicRecord

TOPICS = TopicRecord.__table__
SUBSCRIPTIONS = SubscriptionRecord.__table__
DELIVERIES = DeliveryRecord.__table__
PENDING = "PendingConfirmation"  # what SNS shows for a subscription's ARN until it is confirmed


def invalid_parameter(message: str) -> AwsError:
    return AwsError("InvalidParameter", f"Invalid parameter: {message}", 400)


def topic_not_found() -> AwsError:
    return AwsError("NotFound", "Topic does not exist", 404)


def subscription_not_found() -> AwsError:
    return AwsError("NotFound", "Subscription does not exist", 404)


def topic_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:sns:{region}:{account_id}:{name}"


def is_fifo(topic: Row[Any]) -> bool:
    return topic.attributes.get("FifoTopic") == "true"


def signature_version(topic: Row[Any]) -> str:
    return topic.attributes.get("SignatureVersion") or "1"


def unsubscribe_url(base_url: str, subscription_arn: str) -> str:
    return f"{base_url}/?{urlencode({'Action': 'Unsubscribe', 'SubscriptionArn': subscription_arn})}"


def find_topic(ctx: RequestContext, connection: Connection, arn: str) -> Row[Any]:
    parts = arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sns"]:
        raise invalid_parameter("TopicArn")
    topic = connection.execute(
        select(TOPICS).where(TOPICS.c.arn == arn, TOPICS.c.account_id == ctx.caller.account_id)
    ).first()
    if topic is None:
        raise topic_not_found()
    return topic


def find_subscription(ctx: RequestContext, connection: Connection, arn: str) -> Row[Any]:
    subscription = connection.execute(
        select(SUBSCRIPTIONS).where(
            SUBSCRIPTIONS.c.arn == arn, SUBSCRIPTIONS.c.account_id == ctx.caller.account_id
        )
    ).first()
    if subscription is None:
        raise subscription_not_found()
    return subscription


def shown_arn(subscription: Row[Any]) -> str:
    return PENDING if subscription.confirmation_token else subscription.arn
