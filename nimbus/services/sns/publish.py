"""Publish and PublishBatch, and ``publish_to_topic`` for Nimbus's own notifications (Rekognition
jobs and stream processors): fan-out to the topic's confirmed subscriptions that the message passes
the filter policy of, SQS deliveries in the publishing transaction, HTTP(S) ones owed to the
deliverer."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.engine import Row

from nimbus.errors import AwsError
from nimbus.services.arrivals import announce
from nimbus.services.public_url import public_url
from nimbus.services.registry import RequestContext
from nimbus.services.sns import sns
from nimbus.services.sns.delivery import DeliveryEnvelope, deliverer, owe_delivery, sns_timestamp
from nimbus.services.sns.filter_policy import attribute_values, matches
from nimbus.services.sns.records import (
    SUBSCRIPTIONS,
    TOPICS,
    find_topic,
    invalid_parameter,
    is_fifo,
    signature_version,
    unsubscribe_url,
)
from nimbus.services.sns.signing import MessageSigner, signer
from nimbus.services.sqs.message_store import Outgoing, enqueue
from nimbus.services.sqs.policies import allows_service_send
from nimbus.services.sqs.records import queue_by_arn
from nimbus.storage import Storage

MAX_MESSAGE_BYTES = 262_144
MAX_BATCH = 10
SNS_PRINCIPAL = "sns.amazonaws.com"


@dataclass(frozen=True)
class Publication:
    topic_arn: str
    message: str
    subject: str | None = None
    message_structure: str | None = None
    attributes: dict[str, dict[str, Any]] | None = None
    group_id: str | None = None
    deduplication_id: str | None = None


def publish_to_topic(storage: Storage, publication: Publication) -> str | None:
    """Publishes as the topic's owner; None when the topic no longer exists (nothing to notify)."""
    with storage.database.engine.begin() as connection:
        topic = connection.execute(select(TOPICS).where(TOPICS.c.arn == publication.topic_arn)).first()
        if topic is None:
            return None
        message_id, queues = _fan_out(connection, topic, publication, signer(storage), public_url(""))
    _after_commit(storage, queues)
    return message_id


def _after_commit(storage: Storage, queue_ids: set[int]) -> None:
    for queue_id in queue_ids:
        announce(queue_id)
    deliverer(storage).wake()


def _check(publication: Publication, topic: Row[Any]) -> None:
    attributes = publication.attributes or {}
    size = len(publication.message.encode()) + sum(
        len(name) + len(value.get("StringValue", "") or value.get("BinaryValue", b""))
        for name, value in attributes.items()
    )
    if size > MAX_MESSAGE_BYTES:
        raise invalid_parameter("Message too long")
    if not publication.message:
        raise invalid_parameter("Empty message")
    subject = publication.subject
    if subject is not None and (
        not subject or len(subject) >= 100 or not subject.isascii() or "\n" in subject
    ):
        raise invalid_parameter("Subject")
    for name, value in attributes.items():
        if value["DataType"].split(".")[0] not in ("String", "Number", "Binary"):
            raise AwsError(
                "ParameterValueInvalid",
                f"The message attribute '{name}' has an invalid message attribute type, the set of supported "
                "type prefixes is Binary, Number, and String.",
                400,
            )
        field = "BinaryValue" if value["DataType"].startswith("Binary") else "StringValue"
        if not value.get(field):
            raise AwsError(
                "ParameterValueInvalid",
                f"The message attribute '{name}' must contain non-empty message "
                f"attribute value for message attribute type '{value['DataType']}'.",
                400,
            )
    if publication.message_structure == "json":
        try:
            structured = json.loads(publication.message)
        except ValueError:
            structured = None
        if not isinstance(structured, dict) or not isinstance(structured.get("default"), str):
            raise invalid_parameter("Message Structure - No default entry in JSON message body")
    if is_fifo(topic):
        if not publication.group_id:
            raise invalid_parameter("The MessageGroupId parameter is required for FIFO topics")
        if not publication.deduplication_id and topic.attributes.get("ContentBasedDeduplication") != "true":
            raise invalid_parameter(
                "The topic should either have ContentBasedDeduplication enabled or "
                "MessageDeduplicationId provided explicitly"
            )
    elif publication.deduplication_id:
        raise invalid_parameter("MessageDeduplicationId: only FIFO topics take it")


def _fan_out(
    connection: Connection, topic: Row[Any], publication: Publication, signing: MessageSigner, base_url: str
) -> tuple[str, set[int]]:
    """Delivers to every subscription; returns the message id and the queues that got it."""
    envelope = DeliveryEnvelope("Notification", {})
    attributes = publication.attributes or {}
    timestamp = sns_timestamp(datetime.now(UTC))
    queues: set[int] = set()
    subscriptions = connection.execute(
        select(SUBSCRIPTIONS).where(
            SUBSCRIPTIONS.c.topic_arn == topic.arn, SUBSCRIPTIONS.c.confirmation_token.is_(None)
        )
    ).all()
    for subscription in subscriptions:
        message = _message_for(publication, subscription.protocol)
        if not _passes_filter(subscription, message, attributes):
            continue
        raw = subscription.attributes.get("RawMessageDelivery") == "true"
        fields = _notification_fields(topic, publication, message, attributes, timestamp)
        fields["UnsubscribeURL"] = unsubscribe_url(base_url, subscription.arn)
        notification = DeliveryEnvelope("Notification", fields, envelope.message_id)
        body = message if raw else notification.document(signing, signature_version(topic), base_url)
        if subscription.protocol == "sqs":
            queue = queue_by_arn(connection, subscription.endpoint)
            # a deleted queue, or one whose policy does not let the topic send: SNS's delivery
            # fails, the publish does not
            if queue is None or not allows_service_send(queue, SNS_PRINCIPAL, topic.arn, topic.account_id):
                continue
            enqueue(connection, queue, _sqs_message(topic, publication, body, raw), _now())
            queues.add(queue.id)
        else:
            owe_delivery(connection, subscription, "Notification", body, raw)
    return envelope.message_id, queues


def _now() -> float:
    return datetime.now(UTC).timestamp()


def _message_for(publication: Publication, protocol: str) -> str:
    if publication.message_structure != "json":
        return publication.message
    structured = json.loads(publication.message)
    chosen = structured.get(protocol, structured["default"])
    return chosen if isinstance(chosen, str) else json.dumps(chosen)


def _passes_filter(subscription: Row[Any], message: str, attributes: dict[str, dict[str, Any]]) -> bool:
    text = subscription.attributes.get("FilterPolicy")
    if not text:
        return True
    policy = json.loads(text)
    if subscription.attributes.get("FilterPolicyScope") == "MessageBody":
        try:
            body = json.loads(message)
        except ValueError:
            return False
        return isinstance(body, dict) and matches(policy, body)
    return matches(policy, attribute_values(attributes))


def _notification_fields(
    topic: Row[Any],
    publication: Publication,
    message: str,
    attributes: dict[str, dict[str, Any]],
    timestamp: str,
) -> dict[str, Any]:
    fields: dict[str, Any] = {"TopicArn": topic.arn}
    if publication.subject is not None:
        fields["Subject"] = publication.subject
    fields["Message"] = message
    fields["Timestamp"] = timestamp
    if attributes:
        fields["MessageAttributes"] = {
            name: {
                "Type": value["DataType"],
                "Value": base64.b64encode(value["BinaryValue"]).decode()
                if "BinaryValue" in value
                else value["StringValue"],
            }
            for name, value in attributes.items()
        }
    return fields


def _sqs_message(topic: Row[Any], publication: Publication, body: str, raw: bool) -> Outgoing:
    fifo = is_fifo(topic)
    deduplication = publication.deduplication_id
    if fifo and deduplication is None:  # content-based on the topic: the message decides
        deduplication = hashlib.sha256(publication.message.encode()).hexdigest()
    attributes = {
        name: {key: item for key, item in value.items() if key in ("DataType", "StringValue", "BinaryValue")}
        for name, value in (publication.attributes or {}).items()
    }
    return Outgoing(
        body=body,
        message_attributes=attributes if raw else {},
        system_attributes={"SenderId": topic.account_id},
        group_id=publication.group_id if fifo else None,
        deduplication_id=deduplication if fifo else None,
    )


def _publication(topic_arn: str, entry: dict[str, Any]) -> Publication:
    return Publication(
        topic_arn=topic_arn,
        message=entry["Message"],
        subject=entry.get("Subject"),
        message_structure=entry.get("MessageStructure"),
        attributes=entry.get("MessageAttributes"),
        group_id=entry.get("MessageGroupId"),
        deduplication_id=entry.get("MessageDeduplicationId"),
    )


@sns.operation
def publish(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """To topics only: PhoneNumber (SMS) and platform-endpoint TargetArns are refused. Messages are
    signed with this install's own key (docs/streams.md), not with Amazon's."""
    if request.get("PhoneNumber"):
        raise invalid_parameter("PhoneNumber: Nimbus sends no SMS")
    target = request.get("TopicArn") or request.get("TargetArn")
    if not target:
        raise invalid_parameter("TopicArn or TargetArn Reason: no value for required parameter")
    publication = _publication(target, request)
    with ctx.storage.database.engine.begin() as connection:
        topic = find_topic(ctx, connection, target)
        _check(publication, topic)
        message_id, queues = _fan_out(
            connection, topic, publication, signer(ctx.storage), public_url(ctx.host)
        )
    _after_commit(ctx.storage, queues)
    output = {"MessageId": message_id}
    if is_fifo(topic):
        output["SequenceNumber"] = str(int(_now() * 1e6))
    return output


@sns.operation
def publish_batch(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    entries = request["PublishBatchRequestEntries"]
    if not entries:
        raise AwsError("EmptyBatchRequest", "The batch request doesn't contain any entries.", 400)
    if len(entries) > MAX_BATCH:
        raise AwsError(
            "TooManyEntriesInBatchRequest", "The batch request contains more entries than permissible.", 400
        )
    if len({entry["Id"] for entry in entries}) != len(entries):
        raise AwsError(
            "BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.", 400
        )
    if sum(len(entry["Message"].encode()) for entry in entries) > MAX_MESSAGE_BYTES:
        raise AwsError(
            "BatchRequestTooLong", "The length of all the messages put together is more than the limit.", 400
        )
    successful, failed, queues = [], [], set()
    signing, base_url = signer(ctx.storage), public_url(ctx.host)
    with ctx.storage.database.engine.begin() as connection:
        topic = find_topic(ctx, connection, request["TopicArn"])
        for entry in entries:
            publication = _publication(topic.arn, entry)
            try:
                _check(publication, topic)
            except AwsError as error:
                failed.append(
                    {"Id": entry["Id"], "Code": error.code, "Message": error.message, "SenderFault": True}
                )
                continue
            message_id, reached = _fan_out(connection, topic, publication, signing, base_url)
            queues |= reached
            successful.append({"Id": entry["Id"], "MessageId": message_id})
    _after_commit(ctx.storage, queues)
    return {"Successful": successful, "Failed": failed}
