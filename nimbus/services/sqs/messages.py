"""Messages: send (one or a batch), receive with long polling, delete, change visibility."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Row

from nimbus.errors import AwsError
from nimbus.services.arrivals import announce, arrivals, wait_for_arrival
from nimbus.services.registry import RequestContext
from nimbus.services.sqs import sqs
from nimbus.services.sqs.errors import invalid_parameter, receipt_handle_invalid, sqs_error
from nimbus.services.sqs.message_store import (
    MAX_IN_FLIGHT,
    Outgoing,
    Sent,
    claim,
    enqueue,
    in_flight,
    loaded_attributes,
    read_receipt_handle,
    receipt_handle,
    sequence_number,
)
from nimbus.services.sqs.records import MESSAGES, find_queue, is_fifo

MAX_BATCH = 10
MAX_ATTRIBUTES = 10
BATCH_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
# the characters XML 1.0 allows, which SQS accepts in a body
VALID_BODY = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _check_attributes(attributes: dict[str, dict[str, Any]]) -> int:
    """Checks SendMessage's MessageAttributes; returns their size as SQS counts it."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise invalid_parameter(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum [10]."
        )
    size = 0
    for name, value in attributes.items():
        if not ATTRIBUTE_NAME.fullmatch(name) or name.lower().startswith(("aws.", "amazon.")) or ".." in name:
            raise invalid_parameter(f"Message attribute name '{name}' is invalid.")
        kind = value.get("DataType", "")
        base = kind.split(".", 1)[0]
        if base not in ("String", "Number", "Binary"):
            raise invalid_parameter(
                f"The type of message attribute '{name}' is invalid. You must use only the "
                "following supported type prefixes: Binary, Number, String."
            )
        field = "BinaryValue" if base == "Binary" else "StringValue"
        if not value.get(field):
            raise invalid_parameter(
                f"The message attribute '{name}' must contain non-empty message attribute "
                f"value for message attribute type '{base}'."
            )
        if base == "Number" and not NUMBER.fullmatch(value[field]):
            raise invalid_parameter(f"Can't cast the value of message (user) attribute '{name}' to a number.")
        data = value[field]
        size += (
            len(name.encode()) + len(kind.encode()) + len(data if isinstance(data, bytes) else data.encode())
        )
    return size


def _outgoing(ctx: RequestContext, queue: Row[Any], entry: dict[str, Any]) -> Outgoing:
    body = entry["MessageBody"]
    if not body:
        raise sqs_error("MissingParameter", "The request must contain the parameter MessageBody.")
    if not VALID_BODY.fullmatch(body):
        raise sqs_error(
            "InvalidMessageContents",
            "Invalid characters found. Valid unicode characters are "
            "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
        )
    attributes = entry.get("MessageAttributes") or {}
    limit = int(queue.attributes["MaximumMessageSize"])
    if len(body.encode()) + _check_attributes(attributes) > limit:
        raise invalid_parameter(
            f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."
        )
    system = {"SenderId": ctx.caller.access_key_id}
    trace = (entry.get("MessageSystemAttributes") or {}).get("AWSTraceHeader")
    if trace:
        system["AWSTraceHeader"] = trace.get("StringValue", "")
    if is_fifo(queue):
        _check_fifo(queue, entry)
    elif entry.get("MessageDeduplicationId"):
        raise invalid_parameter(
            "The request includes a parameter that is not valid for this queue type: MessageDeduplicationId."
        )
    return Outgoing(
        body=body,
        message_attributes=attributes,
        system_attributes=system,
        delay_seconds=entry.get("DelaySeconds"),
        group_id=entry.get("MessageGroupId"),
        deduplication_id=entry.get("MessageDeduplicationId"),
    )


def _check_fifo(queue: Row[Any], entry: dict[str, Any]) -> None:
    if not entry.get("MessageGroupId"):
        raise sqs_error("MissingParameter", "The request must contain the parameter MessageGroupId.")
    if entry.get("DelaySeconds"):
        raise invalid_parameter(
            f"Value {entry['DelaySeconds']} for parameter DelaySeconds is invalid. Reason: "
            "The request include parameter that is not valid for this queue type."
        )
    if (
        not entry.get("MessageDeduplicationId")
        and queue.attributes.get("ContentBasedDeduplication") != "true"
    ):
        raise invalid_parameter(
            "The queue should either have ContentBasedDeduplication enabled or "
            "MessageDeduplicationId provided explicitly"
        )


def _delay_in_range(entry: dict[str, Any]) -> None:
    delay = entry.get("DelaySeconds")
    if delay is not None and not 0 <= delay <= 900:
        raise invalid_parameter(
            f"Value {delay} for parameter DelaySeconds is invalid. "
            "Reason: DelaySeconds must be >= 0 and <= 900."
        )


def _sent_shape(sent: Sent) -> dict[str, Any]:
    shape: dict[str, Any] = {"MessageId": sent.message_id, "MD5OfMessageBody": sent.md5_of_body}
    if sent.md5_of_attributes:
        shape["MD5OfMessageAttributes"] = sent.md5_of_attributes
    if sent.sequence_number:
        shape["SequenceNumber"] = sent.sequence_number
    return shape


@sqs.operation
def send_message(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    _delay_in_range(request)
    with ctx.storage.database.engine.begin() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
        sent = enqueue(connection, queue, _outgoing(ctx, queue, request), time.time())
    announce(queue.id)
    return _sent_shape(sent)


def _check_batch(entries: list[dict[str, Any]]) -> None:
    if not entries:
        raise sqs_error("EmptyBatchRequest", "There should be at least one entry in the request.")
    if len(entries) > MAX_BATCH:
        raise sqs_error(
            "TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are {MAX_BATCH}. You have sent {len(entries)}.",
        )
    ids = [entry["Id"] for entry in entries]
    for entry_id in ids:
        if not BATCH_ENTRY_ID.fullmatch(entry_id):
            raise sqs_error(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, "
                "hyphens and underscores. It can be at most 80 letters long.",
            )
    if len(set(ids)) != len(ids):
        raise sqs_error(
            "BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id."
        )


def _batch(
    entries: list[dict[str, Any]], each: Callable[[dict[str, Any]], dict[str, Any] | None]
) -> dict[str, Any]:
    """Successful and Failed entries: each entry's own error fails that entry only, as SQS does."""
    successful, failed = [], []
    for entry in entries:
        try:
            result = each(entry)
        except AwsError as error:
            failed.append(
                {
                    "Id": entry["Id"],
                    "SenderFault": error.sender_fault,
                    "Code": error.code,
                    "Message": error.message,
                }
            )
        else:
            successful.append({"Id": entry["Id"], **(result or {})})
    return {"Successful": successful, "Failed": failed}


@sqs.operation
def send_message_batch(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    entries = request["Entries"]
    _check_batch(entries)
    with ctx.storage.database.engine.begin() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
        limit = int(queue.attributes["MaximumMessageSize"])
        total = sum(len(entry["MessageBody"].encode()) for entry in entries)
        if total > limit:
            raise sqs_error(
                "BatchRequestTooLong",
                f"Batch requests cannot be longer than {limit} bytes. You have sent {total} bytes.",
            )
        now = time.time()

        def send(entry: dict[str, Any]) -> dict[str, Any]:
            _delay_in_range(entry)
            return _sent_shape(enqueue(connection, queue, _outgoing(ctx, queue, entry), now))

        answer = _batch(entries, send)
    announce(queue.id)
    return answer


@sqs.operation
def receive_message(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A long poll holds one of the server's worker threads while it waits."""
    count = request.get("MaxNumberOfMessages", 1)
    if not 1 <= count <= MAX_BATCH:
        raise invalid_parameter(
            f"Value {count} for parameter MaxNumberOfMessages is invalid. "
            "Reason: Must be between 1 and 10, if provided."
        )
    with ctx.storage.database.engine.connect() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
    wait_s = request.get("WaitTimeSeconds", int(queue.attributes["ReceiveMessageWaitTimeSeconds"]))
    if not 0 <= wait_s <= 20:
        raise invalid_parameter(
            f"Value {wait_s} for parameter WaitTimeSeconds is invalid. "
            "Reason: Must be >= 0 and <= 20, if provided."
        )
    visibility_s = request.get("VisibilityTimeout", int(queue.attributes["VisibilityTimeout"]))
    if not 0 <= visibility_s <= 43200:
        raise invalid_parameter(
            f"Value {visibility_s} for parameter VisibilityTimeout is invalid. "
            "Reason: Must be >= 0 and <= 43200, if provided."
        )
    deadline = time.monotonic() + wait_s
    while True:
        seen = arrivals(queue.id)
        now = time.time()
        with ctx.storage.database.engine.begin() as connection:
            if in_flight(connection, queue.id, now) >= MAX_IN_FLIGHT[is_fifo(queue)]:
                raise sqs_error(
                    "OverLimit",
                    "Too many messages in flight: delete or let some become visible "
                    f"(at most {MAX_IN_FLIGHT[is_fifo(queue)]}).",
                    403,
                )
            claimed = claim(connection, queue, count, visibility_s, now)
            next_visible = _next_visible(connection, queue.id, now)
        if claimed or time.monotonic() >= deadline:
            break
        wake = deadline if next_visible is None else min(deadline, time.monotonic() + next_visible - now)
        wait_for_arrival(queue.id, seen, wake)
    messages = [_received(message, request) for message in claimed]
    return {"Messages": messages} if messages else {}


def _next_visible(connection: Any, queue_id: int, now: float) -> float | None:
    """When the next invisible message (delayed or in flight) becomes visible, if any."""
    found = connection.execute(
        select(MESSAGES.c.visible_at)
        .where(MESSAGES.c.queue_id == queue_id, MESSAGES.c.visible_at > now)
        .order_by(MESSAGES.c.visible_at)
        .limit(1)
    ).scalar()
    return None if found is None else float(found)


def _received(message: Row[Any], request: dict[str, Any]) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "MessageId": message.message_id,
        "ReceiptHandle": receipt_handle(message),
        "MD5OfBody": message.md5_of_body,
        "Body": message.body,
    }
    system = {
        **message.system_attributes,
        "ApproximateReceiveCount": str(message.receive_count),
        "ApproximateFirstReceiveTimestamp": str(int(message.first_received_at * 1000)),
    }
    if message.group_id is not None:
        system["SequenceNumber"] = sequence_number(message.id)
    names = set(request.get("AttributeNames") or []) | set(request.get("MessageSystemAttributeNames") or [])
    chosen = system if "All" in names else {name: value for name, value in system.items() if name in names}
    if chosen:
        shape["Attributes"] = chosen
    wanted = request.get("MessageAttributeNames") or []
    attributes = {
        name: value
        for name, value in loaded_attributes(message.message_attributes).items()
        if _wanted(name, wanted)
    }
    if attributes:
        shape["MessageAttributes"] = attributes
    if message.md5_of_attributes:
        shape["MD5OfMessageAttributes"] = message.md5_of_attributes
    return shape


def _wanted(name: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if pattern in ("All", ".*") or pattern == name:
            return True
        if pattern.endswith(".*") and name.startswith(pattern[:-1]):
            return True
    return False


def _message_for(connection: Any, queue: Row[Any], handle: str) -> Row[Any] | None:
    """The message a receipt handle names in this queue (None when it was deleted already)."""
    read = read_receipt_handle(handle)
    if read is None:
        raise receipt_handle_invalid(handle)
    row_id, token = read
    message = connection.execute(select(MESSAGES).where(MESSAGES.c.id == row_id)).first()
    if message is None or message.queue_id != queue.id:
        return None
    return message if message.receipt_token == token else None


@sqs.operation
def delete_message(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A handle from an earlier receive of a message received again since deletes nothing (AWS may
    or may not delete it)."""
    with ctx.storage.database.engine.begin() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
        _delete(connection, queue, request["ReceiptHandle"])
    return {}


def _delete(connection: Any, queue: Row[Any], handle: str) -> None:
    message = _message_for(connection, queue, handle)
    if message is not None:
        connection.execute(delete(MESSAGES).where(MESSAGES.c.id == message.id))


@sqs.operation
def delete_message_batch(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    entries = request["Entries"]
    _check_batch(entries)
    with ctx.storage.database.engine.begin() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
        return _batch(entries, lambda entry: _delete(connection, queue, entry["ReceiptHandle"]))


def _change_visibility(connection: Any, queue: Row[Any], handle: str, timeout: int) -> None:
    if not 0 <= timeout <= 43200:
        raise invalid_parameter(
            f"Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200."
        )
    message = _message_for(connection, queue, handle)
    now = time.time()
    if message is None:
        raise invalid_parameter(
            f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not "
            "exist or is not available for visibility timeout change."
        )
    if message.visible_at <= now:
        raise sqs_error("MessageNotInflight", "The message referred to isn't in flight.")
    connection.execute(update(MESSAGES).where(MESSAGES.c.id == message.id).values(visible_at=now + timeout))


@sqs.operation
def change_message_visibility(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
        _change_visibility(connection, queue, request["ReceiptHandle"], request["VisibilityTimeout"])
    if request["VisibilityTimeout"] == 0:
        announce(queue.id)
    return {}


@sqs.operation
def change_message_visibility_batch(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    entries = request["Entries"]
    _check_batch(entries)
    with ctx.storage.database.engine.begin() as connection:
        queue = find_queue(ctx, connection, request["QueueUrl"])
        answer = _batch(
            entries,
            lambda entry: _change_visibility(
                connection, queue, entry["ReceiptHandle"], entry.get("VisibilityTimeout", 0)
            ),
        )
    announce(queue.id)
    return answer
