"""Amazon SQS: queues whose messages live in the metadata database, committed before SendMessage
answers (at-least-once delivery across restarts), with visibility timeouts, long polling, dead-letter
queues and FIFO queues. Served in both wire protocols: JSON (current SDKs) and query (older SDKs and
tools), the same operations behind each."""

from __future__ import annotations

from nimbus.services.registry import Service
from nimbus.services.resource_tags import tags_by_arn
from nimbus.services.sqs.query_model import sqs_query_model
from nimbus.storage.messaging_schema import QueueRecord

# ReceiveMessage's AttributeNames is modelled with the queue attributes' enum, but SQS takes message
# attribute names there (ApproximateReceiveCount...): the queue operations check names themselves
WIDENED = frozenset({"QueueAttributeName"})
sqs = Service("sqs", validation_error="InvalidParameterValue", unchecked_patterns=WIDENED)
sqs_query = Service(
    "sqs-query",
    validation_error="InvalidParameterValue",
    unchecked_patterns=WIDENED,
    load_model=sqs_query_model,
)
sqs_query.operations = sqs.operations  # one function per operation, whichever protocol called it

sqs.resource_tags(tags_by_arn(QueueRecord.__table__))  # aws:ResourceTag/* for policies

# the operation modules register themselves on import
from nimbus.services.sqs import messages, policies, queues  # noqa: E402, F401
