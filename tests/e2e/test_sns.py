"""SNS through boto3 against a real server: topics, SQS subscriptions (the JSON envelope and raw
delivery, filter policies), an HTTP endpoint that confirms through the SubscribeURL it is sent, and
bad input."""

from __future__ import annotations

import base64
import json
import os
import queue
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from botocore.exceptions import ClientError
from conftest import REPO_ROOT, NimbusServer, TlsServer, error_code, http_status, tls_server
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from json_endpoint import Call, JsonEndpoint

JS_CLIENTS = REPO_ROOT / "tests" / "e2e" / "js_clients"


@pytest.fixture(scope="module")
def sns(nimbus: NimbusServer) -> Any:
    return nimbus.client("sns")


@pytest.fixture(scope="module")
def sqs(nimbus: NimbusServer) -> Any:
    return nimbus.client("sqs")


def topic_may_send(queue_arn: str, topic: str) -> str:
    """The queue policy of AWS's own samples: the topic may send to the queue."""
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def subscribed_queue(sns: Any, sqs: Any, topic: str, policy: bool = True, **attributes: str) -> str:
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    if policy:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": topic_may_send(arn, topic)})
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
    unpermitted = subscribed_queue(sns, sqs, topic, policy=False)  # no policy lets the topic send
    other_topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    other_topics_queue = subscribed_queue(sns, sqs, other_topic)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=sqs.get_queue_attributes(QueueUrl=other_topics_queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"],
    )
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
    assert bodies(sqs, unpermitted, wait=0) == [] and bodies(sqs, other_topics_queue, wait=0) == []
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["SubscriptionsConfirmed"] == "4"
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

    def answered(call: Call) -> tuple[int, dict[str, Any]]:
        received.put((call.headers, call.body))
        return 200, {}

    endpoint = JsonEndpoint(answered)
    yield f"{endpoint.url}/sns", received
    endpoint.close()


HttpEndpoint = tuple[str, queue.Queue[tuple[dict[str, str], dict[str, Any]]]]


def test_http_endpoint_confirms_and_receives(sns: Any, http_endpoint: HttpEndpoint) -> None:
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
        (
            lambda: sns.set_topic_attributes(
                TopicArn=topic, AttributeName="Policy", AttributeValue='{"Statement": [{"Effect": "Allow"}]}'
            ),
            "InvalidParameter",
            400,
        ),
        (
            lambda: sns.set_topic_attributes(
                TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="3"
            ),
            "InvalidParameter",
            400,
        ),
    ]
    for call, code, status in cases:
        with pytest.raises(ClientError) as caught:
            call()
        assert (error_code(caught), http_status(caught)) == (code, status)
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert "SignatureVersion" not in attributes and "__default_policy_ID" in attributes["Policy"]
    sns.delete_topic(TopicArn=topic)
    sns.delete_topic(TopicArn=topic)  # deleting twice is fine, as in AWS
    assert topic not in [entry["TopicArn"] for entry in sns.list_topics()["Topics"]]


def test_topic_policy_decides_for_other_principals(nimbus: NimbusServer, sns: Any) -> None:
    user, theirs = nimbus.new_user_client("sns")
    shared, private = (sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"] for _ in range(2))
    statement = {"Effect": "Allow", "Principal": {"AWS": user}, "Action": "sns:Publish", "Resource": shared}
    sns.set_topic_attributes(
        TopicArn=shared,
        AttributeName="Policy",
        AttributeValue=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    assert theirs.publish(TopicArn=shared, Message="the topic policy lets me")["MessageId"]
    with pytest.raises(ClientError) as caught:  # the default policy grants only its owner's account
        theirs.publish(TopicArn=private, Message="nothing lets me")
    assert error_code(caught) == "AuthorizationError" and http_status(caught) == 403
    assert "sns:Publish" in str(caught.value)

    sns.add_permission(
        TopicArn=private, Label="partner", AWSAccountId=["111122223333"], ActionName=["Publish"]
    )
    statements = json.loads(sns.get_topic_attributes(TopicArn=private)["Attributes"]["Policy"])["Statement"]
    assert [statement["Sid"] for statement in statements] == ["__default_statement_ID", "partner"]
    with pytest.raises(ClientError) as caught:
        sns.add_permission(
            TopicArn=private, Label="partner", AWSAccountId=["111122223333"], ActionName=["Publish"]
        )
    assert error_code(caught) == "InvalidParameter"
    sns.remove_permission(TopicArn=private, Label="partner")
    statements = json.loads(sns.get_topic_attributes(TopicArn=private)["Attributes"]["Policy"])["Statement"]
    assert [statement["Sid"] for statement in statements] == ["__default_statement_ID"]


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """A Nimbus on HTTPS: verifiers fetch the SigningCertURL over HTTPS only."""
    with tls_server(tmp_path_factory.mktemp("sns-tls")) as server:
        yield server


def validated(server: TlsServer, message: dict[str, Any]) -> str:
    """What AWS's own validator (the npm package sns-validator) says of a message, trusting a
    certificate served by this Nimbus (its host instead of sns.<region>.amazonaws.com)."""
    answer = subprocess.run(
        ["node", str(JS_CLIENTS / "validate_sns_message.js"), r"^localhost:\d+$"],
        input=json.dumps(message),
        env={**os.environ, "NODE_EXTRA_CA_CERTS": server.ca_bundle},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return answer.stdout.strip()


def signed_as_documented(server: TlsServer, message: dict[str, Any]) -> bool:
    """Checks an UnsubscribeConfirmation against the string to sign AWS documents for it (its Token
    included). sns-validator 0.3.5 cannot: it signs every type but SubscriptionConfirmation as a
    Notification."""
    fields = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
    signed = "".join(f"{name}\n{message[name]}\n" for name in fields).encode()
    pem = requests.get(message["SigningCertURL"], timeout=30, verify=server.ca_bundle).content
    digest = {"1": hashes.SHA1(), "2": hashes.SHA256()}[message["SignatureVersion"]]
    key = x509.load_pem_x509_certificate(pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(base64.b64decode(message["Signature"]), signed, padding.PKCS1v15(), digest)
    except InvalidSignature:
        return False
    return True


def test_deliveries_are_signed_and_carry_working_urls(secure: TlsServer, http_endpoint: HttpEndpoint) -> None:
    sns, sqs = secure.client("sns", verify=secure.ca_bundle), secure.client("sqs", verify=secure.ca_bundle)
    url, received = http_endpoint
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=url)
    _, confirmation = received.get(timeout=30)
    assert confirmation["SignatureVersion"] == "1"
    assert confirmation["SigningCertURL"].startswith(secure.endpoint_url + "/SimpleNotificationService-")
    assert validated(secure, confirmation) == "valid"
    assert validated(secure, {**confirmation, "Token": "0" + confirmation["Token"][1:]}) != "valid"
    assert requests.get(confirmation["SubscribeURL"], timeout=30).status_code == 200
    sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
    queue_url = subscribed_queue(sns, sqs, topic)
    sns.publish(TopicArn=topic, Message="signed with SHA256", Subject="signed")
    _, notification = received.get(timeout=30)
    [enveloped] = [json.loads(body) for body in bodies(sqs, queue_url)]
    for message in (notification, enveloped):
        assert (message["SignatureVersion"], message["Message"]) == ("2", "signed with SHA256")
        assert validated(secure, message) == "valid"
    assert validated(secure, {**notification, "Subject": "forged"}) != "valid"
    answer = requests.get(notification["UnsubscribeURL"], timeout=30)  # unsigned, as a reader follows it
    assert answer.status_code == 200
    headers, farewell = received.get(timeout=30)
    assert farewell["Type"] == headers["x-amz-sns-message-type"] == "UnsubscribeConfirmation"
    assert signed_as_documented(secure, farewell)
    assert [s["Protocol"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == [
        "sqs"
    ]
    assert requests.get(farewell["SubscribeURL"], timeout=30).status_code == 200  # restores it
    restored = headers["x-amz-sns-subscription-arn"]
    assert restored in [
        s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    ]
    sns.unsubscribe(SubscriptionArn=restored)
    assert received.get(timeout=30)[1]["Type"] == "UnsubscribeConfirmation"

    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=url + "?guarded")
    _, confirmation = received.get(timeout=30)
    sns.confirm_subscription(TopicArn=topic, Token=confirmation["Token"], AuthenticateOnUnsubscribe="true")
    sns.publish(TopicArn=topic, Message="to the guarded subscription")
    _, notification = received.get(timeout=30)
    answer = requests.get(notification["UnsubscribeURL"], timeout=30)
    assert answer.status_code == 403 and "AuthorizationError" in answer.text
    sns.unsubscribe(
        SubscriptionArn=parse_qs(urlsplit(notification["UnsubscribeURL"]).query)["SubscriptionArn"][0]
    )
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [subscription["Protocol"] for subscription in listed] == ["sqs"]
