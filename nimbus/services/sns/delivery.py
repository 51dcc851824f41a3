"""HTTP(S) deliveries: owed in the database by the transaction that publishes (or subscribes), then
POSTed by one background thread per server, retried three times (after 1, 5 and 20 seconds) before
they are dropped, as SNS's default HTTP delivery policy does. A restart resumes what is still owed."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.engine import Row

from nimbus.services.job_runners import RunnerPerStorage
from nimbus.services.sns import sns
from nimbus.services.sns.records import DELIVERIES
from nimbus.services.sns.signing import MessageSigner
from nimbus.storage import Storage

log = logging.getLogger("nimbus.sns.delivery")

RETRY_DELAYS_S = (1.0, 5.0, 20.0)
POST_TIMEOUT_S = 15.0
IDLE_POLL_S = 1.0
BATCH = 20


def sns_timestamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class DeliveryEnvelope:
    """An SNS message as endpoints receive it (its JSON document), before it is sent."""

    message_type: str  # Notification, SubscriptionConfirmation, UnsubscribeConfirmation
    fields: dict[str, Any]
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def document(self, signer: MessageSigner, signature_version: str, base_url: str) -> str:
        stamped = {"Type": self.message_type, "MessageId": self.message_id, **self.fields}
        stamped.setdefault("Timestamp", sns_timestamp(datetime.now(UTC)))
        return json.dumps(signer.signed(stamped, signature_version, base_url))


def owe_delivery(
    connection: Connection, subscription: Row[Any], message_type: str, body: str, raw: bool = False
) -> None:
    """Records an HTTP(S) delivery of ``body``: a message's signed document, or (raw delivery) the
    message alone."""
    connection.execute(
        insert(DELIVERIES).values(
            subscription_arn=subscription.arn,
            endpoint=subscription.endpoint,
            message_type=message_type,
            body=body,
            raw=raw,
            attempts=0,
            due_at=time.time(),
        )
    )


class Deliverer:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._wake = threading.Event()
        threading.Thread(target=self._work, name="sns-delivery", daemon=True).start()

    def wake(self) -> None:
        self._wake.set()

    def _work(self) -> None:
        while True:
            self._wake.wait(IDLE_POLL_S)
            self._wake.clear()
            try:
                while self._deliver_due():
                    pass
            except Exception:  # a database hiccup must not end deliveries for good
                log.exception("SNS delivery pass failed")

    def _deliver_due(self) -> bool:
        """Delivers what is due; True when there may be more."""
        with self.storage.database.engine.connect() as connection:
            due = connection.execute(
                select(DELIVERIES)
                .where(DELIVERIES.c.due_at <= time.time())
                .order_by(DELIVERIES.c.id)
                .limit(BATCH)
            ).all()
        for delivery in due:
            delivered = _post(delivery)
            with self.storage.database.engine.begin() as connection:
                if delivered or delivery.attempts >= len(RETRY_DELAYS_S):
                    if not delivered:
                        log.warning("SNS gave up delivering to %s", delivery.endpoint)
                    connection.execute(delete(DELIVERIES).where(DELIVERIES.c.id == delivery.id))
                else:
                    connection.execute(
                        update(DELIVERIES)
                        .where(DELIVERIES.c.id == delivery.id)
                        .values(
                            attempts=delivery.attempts + 1,
                            due_at=time.time() + RETRY_DELAYS_S[delivery.attempts],
                        )
                    )
        return len(due) == BATCH


def _post(delivery: Row[Any]) -> bool:
    topic_arn = delivery.subscription_arn.rsplit(":", 1)[0]
    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "User-Agent": "Amazon Simple Notification Service Agent",
        "x-amz-sns-message-type": delivery.message_type,
        "x-amz-sns-topic-arn": topic_arn,
    }
    if delivery.message_type != "SubscriptionConfirmation":
        headers["x-amz-sns-subscription-arn"] = delivery.subscription_arn
    if delivery.raw:
        headers["x-amz-sns-rawdelivery"] = "true"
    else:
        headers["x-amz-sns-message-id"] = json.loads(delivery.body)["MessageId"]
    request = urllib.request.Request(delivery.endpoint, delivery.body.encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=POST_TIMEOUT_S) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


deliverer: RunnerPerStorage[Deliverer] = RunnerPerStorage(Deliverer, lambda storage: None)
"""This process's Deliverer for a storage; started with the server, so owed deliveries resume."""

sns.on_startup(deliverer)
