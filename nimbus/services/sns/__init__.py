"""Amazon SNS: topics whose messages are delivered to SQS queues (in the same transaction as the
Publish, so nothing a Publish answered for is lost) and to HTTP(S) endpoints (from a durable outbox,
retried), with subscription confirmation, filter policies and raw delivery."""

from __future__ import annotations

from nimbus.services.registry import Service
from nimbus.services.resource_tags import tags_by_arn
from nimbus.storage.messaging_schema import TopicRecord

sns = Service(
    "sns",
    validation_error="InvalidParameter",
    unsigned_operations=frozenset({"ConfirmSubscription", "Unsubscribe"}),
)

sns.resource_tags(tags_by_arn(TopicRecord.__table__))  # aws:ResourceTag/* for policies

# the operation modules register themselves on import
from nimbus.services.sns import policies, publish, subscriptions, topics  # noqa: E402, F401
