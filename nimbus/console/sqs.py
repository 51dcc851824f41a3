"""SQS pages: queues (create, delete), a queue's attributes, send, receive (a real receive: the
messages shown stay invisible to other consumers for the visibility timeout), delete a received
message, purge."""

from __future__ import annotations

from typing import Any

from nimbus.console.web import ConsoleRequest, Done, Page, get, post, url

PAGE_SIZE = 100
RECEIVE_MAX = 10  # SQS's own limit for one ReceiveMessage


def queues(ctx: ConsoleRequest) -> Page:
    found, following = ctx.one_page(
        ctx.client("sqs").list_queues, "QueueUrls", "NextToken", MaxResults=PAGE_SIZE
    )
    return Page("sqs_queues.html", {"queues": found, "next": following}, title="SQS queues")


def create_queue(ctx: ConsoleRequest) -> Done:
    name = ctx.field("name").strip()
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if name.endswith(".fifo") else {}
    queue_url = ctx.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return Done(url("/sqs/queue", url=queue_url), f"Queue {name} created.", {"QueueUrl": queue_url})


def delete_queue(ctx: ConsoleRequest) -> Done:
    queue_url = ctx.field("url")
    ctx.client("sqs").delete_queue(QueueUrl=queue_url)
    return Done(url("/sqs"), f"Queue {queue_url} deleted.")


def queue(ctx: ConsoleRequest, received: list[dict[str, Any]] | None = None) -> Page:
    queue_url = ctx.query("url") or ctx.field("url")
    attributes = ctx.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    data = {
        "queue_url": queue_url,
        "name": queue_url.rsplit("/", 1)[-1],
        "attributes": attributes.get("Attributes", {}),
        "received": received,
    }
    return Page("sqs_queue.html", data, title=data["name"])


def send_message(ctx: ConsoleRequest) -> Done:
    queue_url = ctx.field("url")
    message: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": ctx.field("body")}
    if queue_url.endswith(".fifo"):
        message["MessageGroupId"] = ctx.field("group") or "console"
    sent = ctx.client("sqs").send_message(**message)
    return Done(
        url("/sqs/queue", url=queue_url),
        f"Sent message {sent['MessageId']}.",
        {"MessageId": sent["MessageId"]},
    )


def receive_messages(ctx: ConsoleRequest) -> Page:
    received = ctx.client("sqs").receive_message(
        QueueUrl=ctx.field("url"),
        MaxNumberOfMessages=min(int(ctx.field("count") or RECEIVE_MAX), RECEIVE_MAX),
        WaitTimeSeconds=0,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return queue(ctx, received.get("Messages", []))


def delete_message(ctx: ConsoleRequest) -> Done:
    queue_url = ctx.field("url")
    ctx.client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=ctx.field("receipt"))
    return Done(url("/sqs/queue", url=queue_url), "Message deleted.")


def purge_queue(ctx: ConsoleRequest) -> Done:
    queue_url = ctx.field("url")
    ctx.client("sqs").purge_queue(QueueUrl=queue_url)
    return Done(url("/sqs/queue", url=queue_url), "Queue purged.")


ROUTES = [
    get("/sqs", queues),
    post("/sqs/create", create_queue),
    get("/sqs/queue", queue),
    post("/sqs/queue/delete", delete_queue),
    post("/sqs/queue/send", send_message),
    post("/sqs/queue/receive", receive_messages),
    post("/sqs/queue/delete-message", delete_message),
    post("/sqs/queue/purge", purge_queue),
]
