"""Messages in queues: putting one in (with FIFO deduplication), and claiming visible ones for a
receive (retention, dead-letter moves, FIFO message groups, visibility timeouts).

Each is one database transaction, so a message is committed before SendMessage (or an SNS Publish)
answers, and a claim is never half made."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, case, delete, func, insert, select, update
from sqlalchemy.engine import Row

from nimbus.services.sqs.attributes import redrive_policy
from nimbus.services.sqs.checksums import md5_of_attributes, md5_of_body
from nimbus.services.sqs.records import DEDUPLICATION, MESSAGES, is_fifo, queue_by_arn

DEDUPLICATION_WINDOW_S = 300
SEQUENCE_BASE = 10**19  # SQS's FIFO sequence numbers are 20-digit decimals
MAX_IN_FLIGHT = {False: 120_000, True: 120_000}  # AWS's in-flight quotas (standard, FIFO)


@dataclass(frozen=True)
class Sent:
    message_id: str
    md5_of_body: str
    md5_of_attributes: str | None
    sequence_number: str | None


@dataclass(frozen=True)
class Outgoing:
    """A message to put in a queue, as SendMessage or an SNS delivery gives it."""

    body: str
    message_attributes: dict[str, dict[str, Any]]
    system_attributes: dict[str, str]  # SenderId, AWSTraceHeader...
    delay_seconds: int | None = None
    group_id: str | None = None
    deduplication_id: str | None = None


def enqueue(connection: Connection, queue: Row[Any], message: Outgoing, now: float) -> Sent:
    fifo = is_fifo(queue)
    attributes_md5 = md5_of_attributes(message.message_attributes)
    scope_key = _deduplication_key(queue, message) if fifo else None
    if scope_key is not None:
        earlier = connection.execute(
            select(DEDUPLICATION).where(
                DEDUPLICATION.c.queue_id == queue.id,
                DEDUPLICATION.c.scope_key == scope_key,
                DEDUPLICATION.c.expires_at > now,
            )
        ).first()
        if earlier is not None:  # a duplicate: accepted, not delivered again
            return Sent(
                earlier.message_id,
                md5_of_body(message.body),
                attributes_md5,
                sequence_number(earlier.sequence),
            )
    message_id = str(uuid.uuid4())
    delay = (
        message.delay_seconds if message.delay_seconds is not None else int(queue.attributes["DelaySeconds"])
    )
    system = {**message.system_attributes, "SentTimestamp": str(int(now * 1000))}
    if fifo:
        system["MessageGroupId"] = message.group_id or ""
        if message.deduplication_id is not None:
            system["MessageDeduplicationId"] = message.deduplication_id
    row_id = connection.execute(
        insert(MESSAGES).values(
            queue_id=queue.id,
            message_id=message_id,
            body=message.body,
            message_attributes=_stored_attributes(message.message_attributes),
            system_attributes=system,
            md5_of_body=md5_of_body(message.body),
            md5_of_attributes=attributes_md5,
            group_id=message.group_id if fifo else None,
            sent_at=now,
            visible_at=now + delay,
            receive_count=0,
            first_received_at=None,
            receipt_token=None,
        )
    ).inserted_primary_key[0]
    if scope_key is not None:
        connection.execute(delete(DEDUPLICATION).where(DEDUPLICATION.c.expires_at <= now))
        connection.execute(
            insert(DEDUPLICATION).values(
                queue_id=queue.id,
                scope_key=scope_key,
                message_id=message_id,
                sequence=row_id,
                expires_at=now + DEDUPLICATION_WINDOW_S,
            )
        )
    return Sent(
        message_id, md5_of_body(message.body), attributes_md5, sequence_number(row_id) if fifo else None
    )


def _deduplication_key(queue: Row[Any], message: Outgoing) -> str | None:
    key = message.deduplication_id
    if key is None and queue.attributes.get("ContentBasedDeduplication") == "true":
        key = hashlib.sha256(message.body.encode()).hexdigest()
    if key is None:
        return None
    if queue.attributes.get("DeduplicationScope") == "messageGroup":
        return f"{message.group_id}\n{key}"
    return key


def sequence_number(row_id: int) -> str:
    return str(SEQUENCE_BASE + row_id)


def _stored_attributes(attributes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """JSON can hold no bytes: binary values are kept as base64."""
    stored = {}
    for name, value in attributes.items():
        copy = dict(value)
        if isinstance(copy.get("BinaryValue"), bytes):
            copy["BinaryValue"] = base64.b64encode(copy["BinaryValue"]).decode()
        stored[name] = copy
    return stored


def loaded_attributes(stored: dict[str, Any]) -> dict[str, dict[str, Any]]:
    loaded = {}
    for name, value in stored.items():
        copy = dict(value)
        if "BinaryValue" in copy:
            copy["BinaryValue"] = base64.b64decode(copy["BinaryValue"])
        loaded[name] = copy
    return loaded


def claim(
    connection: Connection, queue: Row[Any], count: int, visibility_s: int, now: float
) -> list[Row[Any]]:
    """Up to ``count`` visible messages, made invisible for ``visibility_s`` and given a new receipt
    token; expired ones are dropped and ones received too often moved to the dead-letter queue first."""
    retention = int(queue.attributes["MessageRetentionPeriod"])
    connection.execute(
        delete(MESSAGES).where(MESSAGES.c.queue_id == queue.id, MESSAGES.c.sent_at < now - retention)
    )
    redrive = redrive_policy(queue.attributes)
    dead_letter = queue_by_arn(connection, redrive[0]) if redrive else None
    candidates = _visible(connection, queue, now, count if dead_letter is None else count + 100)
    claimed = []
    for message in candidates:
        if len(claimed) == count:
            break
        if dead_letter is not None and redrive is not None and message.receive_count >= redrive[1]:
            _move_to_dead_letter_queue(connection, message, queue, dead_letter, now)
            continue
        token = secrets.token_hex(16)
        changed = connection.execute(
            update(MESSAGES)
            .where(MESSAGES.c.id == message.id, MESSAGES.c.visible_at <= now)
            .values(
                visible_at=now + visibility_s,
                receive_count=MESSAGES.c.receive_count + 1,
                first_received_at=func.coalesce(MESSAGES.c.first_received_at, now),
                receipt_token=token,
            )
        ).rowcount
        if changed:
            claimed.append(connection.execute(select(MESSAGES).where(MESSAGES.c.id == message.id)).one())
    return claimed


def _visible(connection: Connection, queue: Row[Any], now: float, limit: int) -> list[Row[Any]]:
    query = select(MESSAGES).where(MESSAGES.c.queue_id == queue.id, MESSAGES.c.visible_at <= now)
    if is_fifo(queue):  # a group with a message in flight waits for it: order within each group
        in_flight_groups = select(MESSAGES.c.group_id).where(
            MESSAGES.c.queue_id == queue.id, MESSAGES.c.visible_at > now, MESSAGES.c.receive_count > 0
        )
        query = query.where(MESSAGES.c.group_id.not_in(in_flight_groups))
        rows = connection.execute(query.order_by(MESSAGES.c.id).limit(limit)).all()
        return _group_heads_in_order(rows)
    return list(connection.execute(query.order_by(MESSAGES.c.id).limit(limit)).all())


def _group_heads_in_order(rows: list[Row[Any]]) -> list[Row[Any]]:
    """Messages of as few groups as possible, each group's in order (SQS returns one group's
    messages together when it can)."""
    by_group: dict[str, list[Row[Any]]] = {}
    for row in rows:
        by_group.setdefault(row.group_id or "", []).append(row)
    return [row for group in by_group.values() for row in group]


def _move_to_dead_letter_queue(
    connection: Connection, message: Row[Any], source: Row[Any], dead_letter: Row[Any], now: float
) -> None:
    system = {**message.system_attributes, "DeadLetterQueueSourceArn": source.arn}
    connection.execute(
        update(MESSAGES)
        .where(MESSAGES.c.id == message.id)
        .values(queue_id=dead_letter.id, visible_at=now, receipt_token=None, system_attributes=system)
    )


def in_flight(connection: Connection, queue_id: int, now: float) -> int:
    return int(
        connection.execute(
            select(func.count())
            .select_from(MESSAGES)
            .where(MESSAGES.c.queue_id == queue_id, MESSAGES.c.visible_at > now, MESSAGES.c.receive_count > 0)
        ).scalar_one()
    )


def counts(connection: Connection, queue_id: int, now: float) -> dict[str, int]:
    """ApproximateNumberOfMessages, ...NotVisible (in flight) and ...Delayed."""
    visible = MESSAGES.c.visible_at <= now
    received = MESSAGES.c.receive_count > 0
    rows = connection.execute(
        select(
            func.sum(case((visible, 1), else_=0)),
            func.sum(case((and_(~visible, received), 1), else_=0)),
            func.sum(case((and_(~visible, ~received), 1), else_=0)),
        ).where(MESSAGES.c.queue_id == queue_id)
    ).one()
    return {
        "ApproximateNumberOfMessages": int(rows[0] or 0),
        "ApproximateNumberOfMessagesNotVisible": int(rows[1] or 0),
        "ApproximateNumberOfMessagesDelayed": int(rows[2] or 0),
    }


def receipt_handle(message: Row[Any]) -> str:
    return base64.urlsafe_b64encode(f"{message.id}:{message.receipt_token}".encode()).decode()


def read_receipt_handle(handle: str) -> tuple[int, str] | None:
    """(message row id, receipt token), or None for a handle SQS never gave."""
    try:
        row_id, _, token = base64.urlsafe_b64decode(handle.encode()).decode().partition(":")
        return int(row_id), token
    except (ValueError, UnicodeError):
        return None
