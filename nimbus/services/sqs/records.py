"""Finding queues: by URL (the caller's), by ARN (SNS and redrive policies), and their URLs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, select
from sqlalchemy.engine import Row

from nimbus.services.registry import RequestContext
from nimbus.services.sqs.errors import queue_does_not_exist
from nimbus.storage.messaging_schema import DeduplicationRecord, MessageRecord, QueueRecord

QUEUES = QueueRecord.__table__
MESSAGES = MessageRecord.__table__
DEDUPLICATION = DeduplicationRecord.__table__


def queue_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account_id}:{name}"


def queue_url(ctx: RequestContext, account_id: str, name: str) -> str:
    return f"http://{ctx.host or 'localhost'}/{account_id}/{name}"


def is_fifo(queue: Row[Any]) -> bool:
    return queue.attributes.get("FifoQueue") == "true"


def find_queue(ctx: RequestContext, connection: Connection, url: str) -> Row[Any]:
    """The caller's queue a QueueUrl names (any host: clients build the URL from their endpoint)."""
    parts = [part for part in urlsplit(url).path.split("/") if part]
    if len(parts) != 2 or parts[0] != ctx.caller.account_id:
        raise queue_does_not_exist()
    queue = connection.execute(
        select(QUEUES).where(
            QUEUES.c.account_id == ctx.caller.account_id,
            QUEUES.c.region == ctx.region,
            QUEUES.c.name == parts[1],
        )
    ).first()
    if queue is None:
        raise queue_does_not_exist()
    return queue


def queue_by_arn(connection: Connection, arn: str) -> Row[Any] | None:
    return connection.execute(select(QUEUES).where(QUEUES.c.arn == arn)).first()
