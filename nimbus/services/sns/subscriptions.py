"""Subscriptions: SQS queues (confirmed at once, as for a queue of the topic's own account) and
HTTP(S) endpoints (sent a SubscriptionConfirmation; confirmed by ConfirmSubscription, signed or
through the SubscribeURL). Unsubscribing a confirmed HTTP(S) endpoint sends it an
UnsubscribeConfirmation whose SubscribeURL restores the subscription, as SNS does; its token is this
install's signed grant holding the subscription, so nothing of a deleted subscription is kept."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row

from nimbus.errors import AwsError
from nimbus.services.public_url import public_url
from nimbus.services.registry import RequestContext
from nimbus.services.sns import sns
from nimbus.services.sns.delivery import DeliveryEnvelope, deliverer, owe_delivery
from nimbus.services.sns.filter_policy import parse_policy
from nimbus.services.sns.records import (
    SUBSCRIPTIONS,
    TOPICS,
    find_subscription,
    find_topic,
    invalid_parameter,
    is_fifo,
    shown_arn,
    signature_version,
    subscription_not_found,
)
from nimbus.services.sns.signing import signer
from nimbus.services.sqs.records import QUEUES
from nimbus.storage.session_tokens import InvalidToken

DELIVERABLE = ("sqs", "http", "https")
SETTABLE = frozenset(
    {"DeliveryPolicy", "FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy"}
)
PAGE_SIZE = 100
AUTHENTICATED = "ConfirmationWasAuthenticated"  # kept among the attributes once confirmed


def _checked(attributes: dict[str, str]) -> dict[str, str]:
    for name, value in attributes.items():
        if name not in SETTABLE:
            raise invalid_parameter(f"AttributeName: {name} is not a valid subscription attribute")
        if name == "FilterPolicy" and value:
            parse_policy(value)
        if name == "FilterPolicyScope" and value not in ("MessageAttributes", "MessageBody"):
            raise invalid_parameter("FilterPolicyScope: must be MessageAttributes or MessageBody")
        if name == "RawMessageDelivery" and value.lower() not in ("true", "false"):
            raise invalid_parameter("RawMessageDelivery: must be true or false")
    return {
        name: value.lower() if name == "RawMessageDelivery" else value for name, value in attributes.items()
    }


def _check_endpoint(
    ctx: RequestContext, connection: Any, topic: Row[Any], protocol: str, endpoint: str
) -> None:
    if protocol not in DELIVERABLE:
        raise invalid_parameter(
            f"Nimbus delivers to sqs, http and https subscriptions; it cannot deliver to {protocol}"
        )
    if protocol == "sqs":
        queue = connection.execute(select(QUEUES).where(QUEUES.c.arn == endpoint)).first()
        if queue is None or queue.account_id != ctx.caller.account_id:
            raise invalid_parameter("Invalid SQS endpoint ARN")
        if is_fifo(topic) != (queue.attributes.get("FifoQueue") == "true"):
            raise invalid_parameter(
                "FIFO topics deliver to FIFO queues only, and standard topics to standard queues"
            )
    elif urlsplit(endpoint).scheme != protocol or not urlsplit(endpoint).netloc:
        raise invalid_parameter(f"Endpoint must be an {protocol}:// URL")


@sns.operation
def subscribe(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Protocols: sqs (a queue of the caller's account) and http/https; others are refused."""
    protocol = request["Protocol"].lower()
    endpoint = request.get("Endpoint") or ""
    attributes = _checked(dict(request.get("Attributes") or {}))
    with ctx.storage.database.engine.begin() as connection:
        topic = find_topic(ctx, connection, request["TopicArn"])
        _check_endpoint(ctx, connection, topic, protocol, endpoint)
        existing = connection.execute(
            select(SUBSCRIPTIONS).where(
                SUBSCRIPTIONS.c.topic_arn == topic.arn,
                SUBSCRIPTIONS.c.protocol == protocol,
                SUBSCRIPTIONS.c.endpoint == endpoint,
            )
        ).first()
        if existing is not None:
            if any(existing.attributes.get(key) != value for key, value in attributes.items()):
                raise invalid_parameter("Attributes: the subscription exists with different attributes")
            return {"SubscriptionArn": _answered_arn(existing, request)}
        arn = f"{topic.arn}:{uuid.uuid4()}"
        token = None if protocol == "sqs" else secrets.token_hex(64)
        connection.execute(
            insert(SUBSCRIPTIONS).values(
                arn=arn,
                topic_arn=topic.arn,
                account_id=ctx.caller.account_id,
                protocol=protocol,
                endpoint=endpoint,
                attributes=attributes,
                confirmation_token=token,
                created_at=datetime.now(UTC),
            )
        )
        subscription = connection.execute(select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.arn == arn)).one()
        if token is not None:
            base_url = public_url(ctx.host)
            document = _confirmation_request(topic, token, base_url).document(
                signer(ctx.storage), signature_version(topic), base_url
            )
            owe_delivery(connection, subscription, "SubscriptionConfirmation", document)
    deliverer(ctx.storage).wake()
    return {"SubscriptionArn": _answered_arn(subscription, request)}


def _answered_arn(subscription: Row[Any], request: dict[str, Any]) -> str:
    return subscription.arn if request.get("ReturnSubscriptionArn") else shown_arn(subscription)


def _confirmation_request(topic: Row[Any], token: str, base_url: str) -> DeliveryEnvelope:
    message = (
        f"You have chosen to subscribe to the topic {topic.arn}.\n"
        "To confirm the subscription, visit the SubscribeURL included in this message."
    )
    return _envelope("SubscriptionConfirmation", topic.arn, token, message, base_url)


def _unsubscribe_confirmation(subscription: Row[Any], token: str, base_url: str) -> DeliveryEnvelope:
    message = (
        f"You have chosen to deactivate subscription {subscription.arn}.\n"
        "To cancel this operation and restore the subscription, "
        "visit the SubscribeURL included in this message."
    )
    return _envelope("UnsubscribeConfirmation", subscription.topic_arn, token, message, base_url)


def _envelope(message_type: str, topic_arn: str, token: str, message: str, base_url: str) -> DeliveryEnvelope:
    query = urlencode({"Action": "ConfirmSubscription", "TopicArn": topic_arn, "Token": token})
    return DeliveryEnvelope(
        message_type,
        {"Token": token, "TopicArn": topic_arn, "Message": message, "SubscribeURL": f"{base_url}/?{query}"},
    )


RESTORE_PURPOSE = "sns-restore-subscription"


def _restore_token(ctx: RequestContext, subscription: Row[Any]) -> str:
    return ctx.storage.sessions.sign(
        {
            "purpose": RESTORE_PURPOSE,
            "arn": subscription.arn,
            "topic_arn": subscription.topic_arn,
            "account_id": subscription.account_id,
            "protocol": subscription.protocol,
            "endpoint": subscription.endpoint,
            "attributes": subscription.attributes,
        }
    )


def _restored(ctx: RequestContext, connection: Any, topic_arn: str, token: str) -> str | None:
    """The ARN of the subscription an UnsubscribeConfirmation's token restores, or None when the
    token is not one."""
    try:
        grant = ctx.storage.sessions.verify(token)
    except InvalidToken:
        return None
    if grant.get("purpose") != RESTORE_PURPOSE or grant["topic_arn"] != topic_arn:
        return None
    present = connection.execute(
        select(SUBSCRIPTIONS.c.arn).where(SUBSCRIPTIONS.c.arn == grant["arn"])
    ).first()
    if present is None:
        connection.execute(
            insert(SUBSCRIPTIONS).values(
                arn=grant["arn"],
                topic_arn=topic_arn,
                account_id=grant["account_id"],
                protocol=grant["protocol"],
                endpoint=grant["endpoint"],
                attributes=grant["attributes"],
                confirmation_token=None,
                created_at=datetime.now(UTC),
            )
        )
    arn: str = grant["arn"]
    return arn


@sns.operation
def confirm_subscription(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Served unsigned as well, as AWS serves the SubscribeURL it sends. AuthenticateOnUnsubscribe
    counts on a signed call only: then only a signed Unsubscribe removes the subscription."""
    authenticated = ctx.caller.account_id != "" and request.get("AuthenticateOnUnsubscribe") == "true"
    with ctx.storage.database.engine.begin() as connection:
        subscription = connection.execute(
            select(SUBSCRIPTIONS).where(
                SUBSCRIPTIONS.c.topic_arn == request["TopicArn"],
                SUBSCRIPTIONS.c.confirmation_token == request["Token"],
            )
        ).first()
        if subscription is None:
            topic = connection.execute(select(TOPICS).where(TOPICS.c.arn == request["TopicArn"])).first()
            if topic is None:
                raise AwsError("NotFound", "Topic does not exist", 404)
            restored = _restored(ctx, connection, topic.arn, request["Token"])
            if restored is None:
                raise invalid_parameter("Token")
            return {"SubscriptionArn": restored}
        attributes = {**subscription.attributes, AUTHENTICATED: "true" if authenticated else "false"}
        connection.execute(
            update(SUBSCRIPTIONS)
            .where(SUBSCRIPTIONS.c.arn == subscription.arn)
            .values(confirmation_token=None, attributes=attributes)
        )
    return {"SubscriptionArn": subscription.arn}


@sns.operation
def unsubscribe(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Served unsigned as well (the UnsubscribeURL of each message), as AWS does, unless the
    subscription was confirmed with AuthenticateOnUnsubscribe."""
    arn = request["SubscriptionArn"]
    with ctx.storage.database.engine.begin() as connection:
        if ctx.caller.account_id:
            subscription = find_subscription(ctx, connection, arn)
        else:
            subscription = connection.execute(select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.arn == arn)).first()
            if subscription is None:
                raise subscription_not_found()
            if subscription.attributes.get(AUTHENTICATED) == "true":
                raise AwsError(
                    "AuthorizationError",
                    "This subscription was confirmed with AuthenticateOnUnsubscribe: "
                    "unsubscribe with a signed request.",
                    403,
                )
        connection.execute(delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.arn == arn))
        if subscription.protocol != "sqs" and subscription.confirmation_token is None:
            topic = connection.execute(select(TOPICS).where(TOPICS.c.arn == subscription.topic_arn)).one()
            base_url = public_url(ctx.host)
            document = _unsubscribe_confirmation(
                subscription, _restore_token(ctx, subscription), base_url
            ).document(signer(ctx.storage), signature_version(topic), base_url)
            owe_delivery(connection, subscription, "UnsubscribeConfirmation", document)
    deliverer(ctx.storage).wake()
    return {}


def _shape(subscription: Row[Any]) -> dict[str, Any]:
    return {
        "SubscriptionArn": shown_arn(subscription),
        "Owner": subscription.account_id,
        "Protocol": subscription.protocol,
        "Endpoint": subscription.endpoint,
        "TopicArn": subscription.topic_arn,
    }


def _page(query: Any, ctx: RequestContext, token: str | None) -> dict[str, Any]:
    if token:
        query = query.where(SUBSCRIPTIONS.c.arn > token)
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(query.order_by(SUBSCRIPTIONS.c.arn).limit(PAGE_SIZE + 1)).all()
    output: dict[str, Any] = {"Subscriptions": [_shape(row) for row in rows[:PAGE_SIZE]]}
    if len(rows) > PAGE_SIZE:
        output["NextToken"] = rows[PAGE_SIZE - 1].arn
    return output


@sns.operation
def list_subscriptions(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    query = select(SUBSCRIPTIONS).where(
        SUBSCRIPTIONS.c.account_id == ctx.caller.account_id,
        SUBSCRIPTIONS.c.arn.like(f"arn:aws:sns:{ctx.region}:%"),
    )
    return _page(query, ctx, request.get("NextToken"))


@sns.operation
def list_subscriptions_by_topic(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        topic = find_topic(ctx, connection, request["TopicArn"])
    return _page(
        select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.topic_arn == topic.arn), ctx, request.get("NextToken")
    )


@sns.operation
def get_subscription_attributes(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        subscription = find_subscription(ctx, connection, request["SubscriptionArn"])
    attributes = {
        "RawMessageDelivery": "false",
        AUTHENTICATED: "true" if subscription.protocol == "sqs" else "false",
        **subscription.attributes,
        "SubscriptionArn": subscription.arn,
        "TopicArn": subscription.topic_arn,
        "Owner": subscription.account_id,
        "Protocol": subscription.protocol,
        "Endpoint": subscription.endpoint,
        "PendingConfirmation": "true" if subscription.confirmation_token else "false",
        "SubscriptionPrincipal": ctx.caller.arn,
    }
    if "FilterPolicy" in attributes:
        attributes.setdefault("FilterPolicyScope", "MessageAttributes")
    return {"Attributes": attributes}


@sns.operation
def set_subscription_attributes(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    name = request["AttributeName"]
    value = request.get("AttributeValue") or ""
    with ctx.storage.database.engine.begin() as connection:
        subscription = find_subscription(ctx, connection, request["SubscriptionArn"])
        if value:
            attributes = {**subscription.attributes, **_checked({name: value})}
        elif name in SETTABLE:  # an empty value removes the attribute (a filter policy, say)
            attributes = {key: item for key, item in subscription.attributes.items() if key != name}
        else:
            raise invalid_parameter(f"AttributeName: {name} is not a valid subscription attribute")
        connection.execute(
            update(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.arn == subscription.arn).values(attributes=attributes)
        )
    return {}
