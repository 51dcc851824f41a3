"""SQS through boto3 (the JSON protocol) and through signed form posts (the query protocol older SDKs
speak), against a real server: messages, visibility, long polling, dead-letter and FIFO queues, bad
input, and messages that survive a restart."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status, signed_request


@pytest.fixture(scope="module")
def sqs(nimbus: NimbusServer) -> Any:
    return nimbus.client("sqs")


def new_queue(sqs: Any, suffix: str = "", **attributes: str) -> str:
    return str(
        sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}{suffix}", Attributes=attributes)["QueueUrl"]
    )


def queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def test_send_receive_delete_with_attributes(sqs: Any) -> None:
    url = new_queue(sqs)
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody="hello ☁",
        MessageAttributes={
            "colour": {"DataType": "String", "StringValue": "blue"},
            "size": {"DataType": "Number", "StringValue": "3"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
        },
    )  # botocore checks both MD5s: they must be SQS's
    received = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"], WaitTimeSeconds=1
    )["Messages"]
    assert [message["MessageId"] for message in received] == [sent["MessageId"]]
    message = received[0]
    assert message["Body"] == "hello ☁"
    assert message["MessageAttributes"]["raw"]["BinaryValue"] == b"\x00\xff"
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert message["Attributes"]["SenderId"]
    # in flight: not received again until its visibility timeout ends
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert attributes["ApproximateNumberOfMessages"] == "0"


def test_visibility_timeout_and_change(sqs: Any) -> None:
    url = new_queue(sqs, VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=url)["Messages"][0]
    again = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3)["Messages"][0]  # visible after 1 s
    assert again["MessageId"] == first["MessageId"]
    assert again["ReceiptHandle"] != first["ReceiptHandle"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=0)
    third = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert third["Attributes"]["ApproximateReceiveCount"] == "3"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])
    with pytest.raises(ClientError) as caught:  # deleted: no longer in flight
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"], VisibilityTimeout=5)
    assert error_code(caught) == "InvalidParameterValue"


def test_long_poll_returns_when_a_message_arrives(sqs: Any) -> None:
    url = new_queue(sqs)
    threading.Timer(1.0, lambda: sqs.send_message(QueueUrl=url, MessageBody="late")).start()
    answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
    assert [message["Body"] for message in answer["Messages"]] == ["late"]


def test_batches_report_each_entry(sqs: Any) -> None:
    url = new_queue(sqs)
    answer = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok", "MessageBody": "one"},
            {"Id": "late", "MessageBody": "two", "DelaySeconds": 901},
            {"Id": "ok2", "MessageBody": "three"},
        ],
    )
    assert {entry["Id"] for entry in answer["Successful"]} == {"ok", "ok2"}
    assert [(entry["Id"], entry["Code"], entry["SenderFault"]) for entry in answer["Failed"]] == [
        ("late", "InvalidParameterValue", True)
    ]
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert sorted(message["Body"] for message in received) == ["one", "three"]
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(received)
        ],
    )
    assert len(deleted["Successful"]) == 2 and not deleted["Failed"]
    for entries, code in (
        ([], "AWS.SimpleQueueService.EmptyBatchRequest"),
        (
            [{"Id": str(i), "MessageBody": "x"} for i in range(11)],
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        ),
        (
            [{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}],
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        ),
    ):
        with pytest.raises(ClientError) as caught:
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert error_code(caught) == code


def test_dead_letter_queue_after_max_receive_count(sqs: Any) -> None:
    dead = new_queue(sqs)
    source = new_queue(
        sqs,
        VisibilityTimeout="0",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": queue_arn(sqs, dead), "maxReceiveCount": 2}),
    )
    sqs.send_message(QueueUrl=source, MessageBody="poison")
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=source)["Messages"][0]["Body"] == "poison"
    assert "Messages" not in sqs.receive_message(QueueUrl=source)  # the third receive moved it
    moved = sqs.receive_message(QueueUrl=dead, MessageSystemAttributeNames=["All"])["Messages"][0]
    assert moved["Body"] == "poison"
    assert moved["Attributes"]["DeadLetterQueueSourceArn"] == queue_arn(sqs, source)
    assert sqs.list_dead_letter_source_queues(QueueUrl=dead)["queueUrls"] == [source]


def test_fifo_queue_orders_groups_and_deduplicates(sqs: Any) -> None:
    url = new_queue(sqs, ".fifo", FifoQueue="true", ContentBasedDeduplication="true")
    first = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a")
    duplicate = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a")
    assert duplicate["MessageId"] == first["MessageId"]
    assert duplicate["SequenceNumber"] == first["SequenceNumber"]
    sqs.send_message(QueueUrl=url, MessageBody="a2", MessageGroupId="a")
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="b")
    head = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert head["Body"] == "a1"
    # group a is blocked while a1 is in flight; b is not
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [message["Body"] for message in rest] == ["b1"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=head["ReceiptHandle"])
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "a2"
    with pytest.raises(ClientError) as caught:
        sqs.send_message(QueueUrl=url, MessageBody="no group")
    assert error_code(caught) == "MissingParameter"


def test_bad_input_changes_nothing(sqs: Any) -> None:
    url = new_queue(sqs, MaximumMessageSize="1024")
    with pytest.raises(ClientError) as caught:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 2000)
    assert (error_code(caught), http_status(caught)) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as caught:
        sqs.send_message(QueueUrl=url, MessageBody="bad \x01 character")
    assert error_code(caught) == "InvalidMessageContents"
    with pytest.raises(ClientError) as caught:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert error_code(caught) == "InvalidParameterValue"
    with pytest.raises(ClientError) as caught:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    assert error_code(caught) == "ReceiptHandleIsInvalid"
    with pytest.raises(ClientError) as caught:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "99999"})
    assert error_code(caught) == "InvalidAttributeValue"
    no_principal = {"Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}
    with pytest.raises(ClientError) as caught:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(no_principal)})
    assert (error_code(caught), http_status(caught)) == ("InvalidAttributeValue", 400)
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="no-such-queue")
    with pytest.raises(ClientError) as caught:
        sqs.create_queue(QueueName=url.rsplit("/", 1)[1], Attributes={"VisibilityTimeout": "7"})
    assert error_code(caught) == "QueueAlreadyExists"
    assert (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0"
    )
    sqs.purge_queue(QueueUrl=url)
    with pytest.raises(ClientError) as caught:
        sqs.purge_queue(QueueUrl=url)
    assert (error_code(caught), http_status(caught)) == ("AWS.SimpleQueueService.PurgeQueueInProgress", 403)


def test_queue_policy_decides_for_other_principals(nimbus: NimbusServer, sqs: Any) -> None:
    user, theirs = nimbus.new_user_client("sqs")
    shared, private = new_queue(sqs), new_queue(sqs)
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": user},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn(sqs, shared),
    }
    sqs.set_queue_attributes(
        QueueUrl=shared,
        Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})},
    )
    theirs.send_message(QueueUrl=shared, MessageBody="the queue policy lets me")
    with pytest.raises(ClientError) as caught:
        theirs.send_message(QueueUrl=private, MessageBody="nothing lets me")
    # SQS's query code, read by botocore from x-amzn-query-error, and its 403
    assert error_code(caught) == "AccessDenied" and http_status(caught) == 403
    assert "sqs:SendMessage" in str(caught.value)
    with pytest.raises(ClientError) as caught:  # the policy allows sending, not receiving
        theirs.receive_message(QueueUrl=shared)
    assert error_code(caught) == "AccessDenied" and "sqs:ReceiveMessage" in str(caught.value)
    [message] = sqs.receive_message(QueueUrl=shared, WaitTimeSeconds=1)["Messages"]
    assert message["Body"] == "the queue policy lets me"

    sqs.add_permission(
        QueueUrl=private, Label="partner", AWSAccountIds=["111122223333"], Actions=["SendMessage"]
    )
    with pytest.raises(ClientError) as caught:
        sqs.add_permission(QueueUrl=private, Label="partner", AWSAccountIds=["111122223333"], Actions=["*"])
    assert error_code(caught) == "InvalidParameterValue"
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=private, AttributeNames=["Policy"])["Attributes"]["Policy"]
    )
    [granted] = policy["Statement"]
    assert (granted["Sid"], granted["Principal"], granted["Action"]) == (
        "partner",
        {"AWS": ["arn:aws:iam::111122223333:root"]},
        ["SQS:SendMessage"],
    )
    sqs.remove_permission(QueueUrl=private, Label="partner")
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=private, AttributeNames=["All"])["Attributes"]
    with pytest.raises(ClientError) as caught:
        sqs.remove_permission(QueueUrl=private, Label="partner")
    assert error_code(caught) == "InvalidParameterValue"


def query(nimbus: NimbusServer, **params: str) -> tuple[int, str]:
    body = urlencode({**params, "Version": "2012-11-05"}).encode()
    answer = signed_request(
        nimbus,
        "POST",
        "/",
        service="sqs",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    return answer.status, answer.text


def test_query_protocol(nimbus: NimbusServer, sqs: Any) -> None:
    name = f"q-{uuid.uuid4().hex[:12]}"
    status, text = query(
        nimbus,
        Action="CreateQueue",
        QueueName=name,
        **{"Attribute.1.Name": "DelaySeconds", "Attribute.1.Value": "0"},
    )
    assert status == 200, text
    url = re.search(r"<QueueUrl>([^<]+)</QueueUrl>", text).group(1)  # type: ignore[union-attr]
    assert "<CreateQueueResponse" in text
    status, text = query(
        nimbus,
        Action="SendMessage",
        QueueUrl=url,
        MessageBody="from the query protocol",
        **{
            "MessageAttribute.1.Name": "k",
            "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "v",
        },
    )
    assert status == 200 and "<MD5OfMessageBody>" in text, text
    # what the query protocol sent, the JSON protocol reads, and back
    message = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"][0]
    assert message["Body"] == "from the query protocol"
    assert message["MessageAttributes"]["k"]["StringValue"] == "v"
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    status, text = query(
        nimbus,
        Action="ReceiveMessage",
        QueueUrl=url,
        **{"AttributeName.1": "All", "MessageAttributeName.1": "All"},
    )
    assert status == 200
    assert "<Message><MessageId>" in text and "<Body>from the query protocol</Body>" in text
    assert "<Attribute><Name>ApproximateReceiveCount</Name><Value>2</Value></Attribute>" in text
    assert "<MessageAttribute><Name>k</Name><Value><StringValue>v</StringValue>" in text
    status, text = query(nimbus, Action="GetQueueUrl", QueueName="no-such-queue")
    assert status == 400
    assert "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>" in text and "<Type>Sender</Type>" in text


def test_messages_survive_a_restart(
    nimbus: NimbusServer, sqs: Any, restart_server: Callable[[], NimbusServer]
) -> None:
    url = new_queue(sqs)
    sent = [sqs.send_message(QueueUrl=url, MessageBody=f"durable {i}")["MessageId"] for i in range(5)]
    in_flight = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"][0]
    restart_server()
    sqs = nimbus.client("sqs")
    received: list[str] = []  # the one in flight becomes visible again a second after its receive
    while answer := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=3).get(
        "Messages"
    ):
        received += [message["MessageId"] for message in answer]
        if len(received) == len(sent):
            break
    assert sorted(received) == sorted(sent)
    assert in_flight["MessageId"] in received
