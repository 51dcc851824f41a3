"""SNS through boto3 against a real server: topics, SQS subscriptions (the JSON envelope and raw
delivery, filter policies), an HTTP endpoint that confirms through the SubscribeURL it is sent, and
bad input."""

from __future__ import annotations

import http.server
import json
import queue
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status


@pytest.fixture(scope="module")
def sns(nimbus: NimbusServer) -> Any:
    return nimbus.client("sns")


@pytest.fixture(scope="module")
def sqs(nimbus: NimbusServer) -> Any:
    return nimbus.client("sqs")


def subscribed_queue(sns: Any, sqs: Any, topic: str, **attributes: str) -> str:
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
    return str(url)


def bodies(sqs: Any, url: str, wait: int = 2) -> list[str]:
    found: list[str] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get(
        "Messages"
    ):
        found += [message["Body"] for message in messages]
        wait = 0
    return found


def test_publish_reaches_queues_as_envelope_or_raw(sns: Any, sqs: Any) -> None:
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    enveloped = subscribed_queue(sns, sqs, topic)
    raw = subscribed_queue(sns, sqs, topic, RawMessageDelivery="true")
    published = sns.publish(
        TopicArn=topic,
        Message="the message",
        Subject="a subject",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
    )
    [envelope] = [json.loads(body) for body in bodies(sqs, enveloped)]
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == published["MessageId"]
    assert (envelope["TopicArn"], envelope["Subject"], envelope["Message"]) == (
        topic,
        "a subject",
        "the message",
    )
    assert envelope["MessageAttributes"] == {"kind": {"Type": "String", "Value": "test"}}
    delivered = sqs.receive_message(QueueUrl=raw, MessageAttributeNames=["All"], WaitTimeSeconds=2)[
        "Messages"
    ][0]
    assert delivered["Body"] == "the message"
    assert delivered["MessageAttributes"]["kind"]["StringValue"] == "test"
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["SubscriptionsConfirmed"] == "2"
    assert json.loads(attributes["Policy"])["Statement"]


def test_filter_policy(sns: Any, sqs: Any) -> None:
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    large_orders = subscribed_queue(
        sns, sqs, topic, FilterPolicy=json.dumps({"kind": ["order"], "total": [{"numeric": [">=", 100]}]})
    )
    for kind, total in (("order", "250"), ("order", "20"), ("refund", "500")):
        sns.publish(
            TopicArn=topic,
            Message=f"{kind} {total}",
            MessageAttributes={
                "kind": {"DataType": "String", "StringValue": kind},
                "total": {"DataType": "Number", "StringValue": total},
            },
        )
    assert [json.loads(body)["Message"] for body in bodies(sqs, large_orders)] == ["order 250"]
    with pytest.raises(ClientError) as caught:
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint="arn:aws:sqs:us-east-1:1:x",
            Attributes={"FilterPolicy": "{"},
        )
    assert error_code(caught) == "InvalidParameter"


@pytest.fixture
def http_endpoint() -> Iterator[tuple[str, queue.Queue[tuple[dict[str, str], dict[str, Any]]]]]:
    received: queue.Queue[tuple[dict[str, str], dict[str, Any]]] = queue.Queue()

    class Endpoint(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.put(({name.lower(): value for name, value in self.headers.items()}, json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/sns", received
    server.shutdown()


def test_http_endpoint_confirms_and_receives(
    sns: Any, http_endpoint: tuple[str, queue.Queue[tuple[dict[str, str], dict[str, Any]]]]
) -> None:
    url, received = http_endpoint
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    assert (
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=url)["SubscriptionArn"]
        == "PendingConfirmation"
    )
    headers, confirmation = received.get(timeout=30)
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert confirmation["Type"] == "SubscriptionConfirmation" and confirmation["TopicArn"] == topic
    sns.publish(TopicArn=topic, Message="before confirmation")  # not delivered: still pending
    answer = requests.get(confirmation["SubscribeURL"], timeout=30)  # unsigned, as an endpoint follows it
    assert answer.status_code == 200 and "<SubscriptionArn>arn:aws:sns:" in answer.text
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert subscription["SubscriptionArn"].startswith(topic)
    sns.publish(TopicArn=topic, Message="after confirmation")
    headers, notification = received.get(timeout=30)
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-subscription-arn"] == subscription["SubscriptionArn"]
    assert notification["Message"] == "after confirmation"
    assert received.empty()


def test_bad_input(sns: Any) -> None:
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    cases = [
        (lambda: sns.publish(TopicArn=topic + "-missing", Message="x"), "NotFound", 404),
        (lambda: sns.publish(TopicArn=topic, Message="x" * 262_145), "InvalidParameter", 400),
        (lambda: sns.publish(TopicArn=topic, Message="x", MessageStructure="json"), "InvalidParameter", 400),
        (
            lambda: sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="a@example.com"),
            "InvalidParameter",
            400,
        ),
        (lambda: sns.create_topic(Name="bad name!"), "InvalidParameter", 400),
        (lambda: sns.confirm_subscription(TopicArn=topic, Token="no-such-token"), "InvalidParameter", 400),
    ]
    for call, code, status in cases:
        with pytest.raises(ClientError) as caught:
            call()
        assert (error_code(caught), http_status(caught)) == (code, status)
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    sns.delete_topic(TopicArn=topic)
    sns.delete_topic(TopicArn=topic)  # deleting twice is fine, as in AWS
    assert topic not in [entry["TopicArn"] for entry in sns.list_topics()["Topics"]]
