"""Queues: create, find, list, delete, purge; their attributes and tags."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Update, delete, insert, select, update
from sqlalchemy.engine import Row

from nimbus.services.registry import RequestContext
from nimbus.services.resource_tags import add_tags, remove_tags
from nimbus.services.sqs import sqs
from nimbus.services.sqs.attributes import checked_attributes, redrive_policy, with_defaults
from nimbus.services.sqs.errors import invalid_attribute_name, invalid_parameter, sqs_error
from nimbus.services.sqs.message_store import counts
from nimbus.services.sqs.records import MESSAGES, QUEUES, find_queue, is_fifo, queue_arn, queue_url

QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
PURGE_INTERVAL_S = 60
QUEUE_ATTRIBUTE_NAMES = frozenset(sqs.model.shape_for("QueueAttributeName").enum)
MAX_TAGS = 50


def _check_name(name: str, fifo: bool) -> None:
    stem = name.removesuffix(".fifo") if fifo else name
    if not QUEUE_NAME.fullmatch(stem) or len(name) > 80:
        raise invalid_parameter(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )
    if fifo != name.endswith(".fifo"):
        raise invalid_parameter(
            "The name of a FIFO queue can only include alphanumeric characters, "
            "hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length."
        )


@sqs.operation
def create_queue(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """KmsMasterKeyId is kept but nothing is encrypted at rest beyond the data dir's own protection."""
    name = request["QueueName"]
    given = request.get("Attributes") or {}
    fifo = str(given.get("FifoQueue", "false")).lower() == "true"
    _check_name(name, fifo)
    attributes = with_defaults(checked_attributes(given, fifo, creating=True), fifo)
    now = datetime.now(UTC)
    with ctx.storage.database.engine.begin() as connection:
        existing = connection.execute(
            select(QUEUES).where(
                QUEUES.c.account_id == ctx.caller.account_id,
                QUEUES.c.region == ctx.region,
                QUEUES.c.name == name,
            )
        ).first()
        if existing is not None:
            for key, value in attributes.items():
                if key in given and existing.attributes.get(key) != value:
                    raise sqs_error(
                        "QueueNameExists",
                        "A queue already exists with the same name and a different value for attribute "
                        + key,
                    )
            return {"QueueUrl": queue_url(ctx, ctx.caller.account_id, name)}
        _check_redrive_target(ctx, connection, attributes)
        connection.execute(
            insert(QUEUES).values(
                arn=queue_arn(ctx.region, ctx.caller.account_id, name),
                account_id=ctx.caller.account_id,
                region=ctx.region,
                name=name,
                attributes=attributes,
                tags=request.get("tags") or {},
                created_at=now,
                modified_at=now,
                purged_at=None,
            )
        )
    return {"QueueUrl": queue_url(ctx, ctx.caller.account_id, name)}


def _check_redrive_target(ctx: RequestContext, connection: Connection, attributes: dict[str, str]) -> None:
    redrive = redrive_policy(attributes)
    if redrive is None:
        return
    target = connection.execute(select(QUEUES).where(QUEUES.c.arn == redrive[0])).first()
    if target is None or target.account_id != ctx.caller.account_id:
        raise invalid_parameter(
            f"Value {attributes['RedrivePolicy']} for parameter RedrivePolicy is invalid. "
            "Reason: Dead letter target does not exist."
        )
    if is_fifo(target) != (attributes.get("FifoQueue") == "true"):
        raise invalid_parameter(
            "Value for parameter RedrivePolicy is invalid. Reason: the dead-letter queue of a FIFO queue "
            "must be a FIFO queue, and of a standard queue a standard queue."
        )


@sqs.operation
def get_queue_url(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    account = request.get("QueueOwnerAWSAccountId") or ctx.caller.account_id
    with ctx.storage.database.engine.connect() as connection:
        return {
            "QueueUrl": queue_url(
                ctx, account, find_queue(ctx, connection, f"/{account}/{request['QueueName']}").name
            )
        }


@sqs.operation
def delete_queue(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The name can be used again at once (AWS asks for 60 seconds)."""
    with ctx.storage.database.engine.begin() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
        connection.execute(delete(MESSAGES).where(MESSAGES.c.queue_id == queue.id))
        connection.execute(delete(QUEUES).where(QUEUES.c.id == queue.id))
    return {}


@sqs.operation
def list_queues(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    prefix = request.get("QueueNamePrefix") or ""
    limit = request.get("MaxResults")
    if limit is not None and not 1 <= limit <= 1000:
        raise invalid_parameter(
            "Value for parameter MaxResults is invalid. Reason: must be between 1 and 1000."
        )
    query = select(QUEUES.c.name).where(
        QUEUES.c.account_id == ctx.caller.account_id,
        QUEUES.c.region == ctx.region,
        QUEUES.c.name.startswith(prefix),
    )
    if request.get("NextToken"):
        query = query.where(QUEUES.c.name > request["NextToken"])
    with ctx.storage.database.engine.connect() as connection:
        names = list(connection.execute(query.order_by(QUEUES.c.name).limit((limit or 1000) + 1)).scalars())
    output: dict[str, Any] = {}
    if limit is not None and len(names) > limit:
        names = names[:limit]
        output["NextToken"] = names[-1]
    output["QueueUrls"] = [queue_url(ctx, ctx.caller.account_id, name) for name in names[:1000]]
    return output


@sqs.operation
def get_queue_attributes(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    wanted = set(request.get("AttributeNames") or [])
    with ctx.storage.database.engine.connect() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
        every = {
            **queue.attributes,
            **{name: str(value) for name, value in counts(connection, queue.id, time.time()).items()},
            "CreatedTimestamp": str(int(queue.created_at.timestamp())),
            "LastModifiedTimestamp": str(int(queue.modified_at.timestamp())),
            "QueueArn": queue.arn,
        }
    for name in wanted - {"All"} - QUEUE_ATTRIBUTE_NAMES:
        raise invalid_attribute_name(name)
    chosen = every if "All" in wanted else {name: value for name, value in every.items() if name in wanted}
    return {"Attributes": chosen} if chosen else {}


@sqs.operation
def set_queue_attributes(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
        changes = checked_attributes(request.get("Attributes") or {}, is_fifo(queue), creating=False)
        attributes = {**queue.attributes, **changes}
        attributes = {name: value for name, value in attributes.items() if value != "" or name not in changes}
        _check_redrive_target(ctx, connection, attributes)
        connection.execute(
            update(QUEUES)
            .where(QUEUES.c.id == queue.id)
            .values(attributes=attributes, modified_at=datetime.now(UTC))
        )
    return {}


@sqs.operation
def purge_queue(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    now = time.time()
    with ctx.storage.database.engine.begin() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
        if queue.purged_at is not None and now - queue.purged_at < PURGE_INTERVAL_S:
            raise sqs_error(
                "PurgeQueueInProgress",
                f"Only one PurgeQueue operation on {queue.name} is allowed every {PURGE_INTERVAL_S} seconds.",
                403,
            )
        connection.execute(delete(MESSAGES).where(MESSAGES.c.queue_id == queue.id, MESSAGES.c.sent_at <= now))
        connection.execute(update(QUEUES).where(QUEUES.c.id == queue.id).values(purged_at=now))
    return {}


def _row(queue: Row[Any]) -> Update:
    return update(QUEUES).where(QUEUES.c.id == queue.id)


@sqs.operation
def tag_queue(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
        too_many = invalid_parameter(f"Too many tags added for queue {queue.name}: at most {MAX_TAGS}.")
        add_tags(connection, _row(queue), queue.tags, request["Tags"], MAX_TAGS, too_many)
    return {}


@sqs.operation
def untag_queue(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
        remove_tags(connection, _row(queue), queue.tags, request["TagKeys"])
    return {}


@sqs.operation
def list_queue_tags(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
    return {"Tags": queue.tags} if queue.tags else {}


@sqs.operation
def list_dead_letter_source_queues(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        target = find_queue(ctx, connection, request["QueueUrl"])
        queues = connection.execute(
            select(QUEUES).where(QUEUES.c.account_id == ctx.caller.account_id, QUEUES.c.region == ctx.region)
        ).all()
    sources = [q.name for q in queues if (redrive_policy(q.attributes) or ("",))[0] == target.arn]
    return {"queueUrls": [queue_url(ctx, ctx.caller.account_id, name) for name in sorted(sources)]}
