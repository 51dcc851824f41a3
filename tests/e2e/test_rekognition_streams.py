"""Rekognition on live video and with notifications, through boto3 against a real server:

- a face search stream processor finds the person indexed in a collection in a video streamed into
  Kinesis Video Streams (with `nimbus.producer`), and writes AWS's face-search records to a Kinesis
  data stream that GetRecords reads; deleting the collection fails the session;
- a connected-home stream processor reports a PERSON: frames in S3, notifications through SNS to SQS;
- a stored-video job notifies its completion through SNS into SQS, in the flow of AWS's own Python
  sample (topic, queue with a policy for the topic, subscription, a role with a policy that may
  publish to the topic, start, wait on the queue, results, teardown).

The video is the astronaut (skimage) panned for 3 seconds at 640x360, written with PyAV."""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from PIL import Image
from skimage import data

from nimbus.producer import put_media

WIDTH, HEIGHT, FPS, SECONDS = 640, 360, 10, 3
ROLE = "arn:aws:iam::123456789012:role/rekognition-streams"
WAIT_S = 120


def astronaut_video(path: Path, container_format: str = "mp4") -> Path:
    canvas = Image.new("RGB", (WIDTH, HEIGHT), (90, 120, 90))
    picture = Image.fromarray(data.astronaut())
    picture.thumbnail((WIDTH, HEIGHT))
    canvas.paste(picture, ((WIDTH - picture.width) // 2, 0))
    pixels = np.asarray(canvas)
    with av.open(str(path), "w", format=container_format) as container:
        key_frames = f"keyint={FPS}:min-keyint={FPS}:scenecut=0"
        stream = container.add_stream("libx264", rate=FPS, options={"x264-params": key_frames})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for shift in range(FPS * SECONDS):
            frame = np.ascontiguousarray(np.roll(pixels, shift, axis=1))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def video_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return astronaut_video(tmp_path_factory.mktemp("video") / "astronaut.mp4")


@pytest.fixture(scope="module")
def clients(nimbus: NimbusServer) -> dict[str, Any]:
    names = ("rekognition", "kinesis", "kinesisvideo", "s3", "sns", "sqs", "iam")
    return {name: nimbus.client(name) for name in names}


@pytest.fixture
def producer_env(nimbus: NimbusServer) -> Iterator[None]:
    """The producer finds its credentials where botocore looks: the environment."""
    saved = dict(os.environ)
    os.environ.update(nimbus.env())
    yield
    os.environ.clear()
    os.environ.update(saved)


def indexed_collection(rekognition: Any) -> str:
    collection = f"c-{uuid.uuid4().hex[:12]}"
    rekognition.create_collection(CollectionId=collection)
    image = io.BytesIO()
    Image.fromarray(data.astronaut()).save(image, "JPEG")
    rekognition.index_faces(
        CollectionId=collection, Image={"Bytes": image.getvalue()}, ExternalImageId="astronaut"
    )
    return collection


def video_stream(kinesisvideo: Any) -> tuple[str, str]:
    name = f"v-{uuid.uuid4().hex[:12]}"
    return name, kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=1)["StreamARN"]


def wait_for(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"no {what} within {WAIT_S} s")


def test_face_search_stream_processor_writes_matches_to_a_data_stream(
    clients: dict[str, Any], video_file: Path, nimbus: NimbusServer, producer_env: None
) -> None:
    rekognition, kinesis = clients["rekognition"], clients["kinesis"]
    collection = indexed_collection(rekognition)
    output = f"out-{uuid.uuid4().hex[:12]}"
    kinesis.create_stream(StreamName=output, ShardCount=1)
    output_arn = kinesis.describe_stream_summary(StreamName=output)["StreamDescriptionSummary"]["StreamARN"]
    stream_name, stream_arn = video_stream(clients["kinesisvideo"])
    name = f"sp-{uuid.uuid4().hex[:12]}"
    rekognition.create_stream_processor(
        Name=name,
        Input={"KinesisVideoStream": {"Arn": stream_arn}},
        Output={"KinesisDataStream": {"Arn": output_arn}},
        RoleArn=ROLE,
        Settings={"FaceSearch": {"CollectionId": collection, "FaceMatchThreshold": 85}},
    )
    with pytest.raises(ClientError) as caught:  # selectors are for label detection only
        rekognition.start_stream_processor(Name=name, StopSelector={"MaxDurationInSeconds": 5})
    assert error_code(caught) == "InvalidParameterException"
    assert rekognition.start_stream_processor(Name=name)["SessionId"]
    assert rekognition.describe_stream_processor(Name=name)["Status"] in ("STARTING", "RUNNING")
    acks = put_media(str(video_file), stream_name, endpoint_url=nimbus.endpoint_url, fragment_seconds=1)
    fragment_numbers = [ack["FragmentNumber"] for ack in acks if ack["EventType"] == "PERSISTED"]
    assert len(fragment_numbers) == SECONDS

    iterator = kinesis.get_shard_iterator(
        StreamName=output, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[dict[str, Any]] = []

    def frame_records() -> bool:
        nonlocal iterator
        page = kinesis.get_records(ShardIterator=iterator)
        iterator = page["NextShardIterator"]
        records.extend(json.loads(record["Data"]) for record in page["Records"])
        return {record["InputInformation"]["KinesisVideo"]["FragmentNumber"] for record in records} == set(
            fragment_numbers
        )

    wait_for(frame_records, "face-search record of every fragment")
    for record in records:
        source = record["InputInformation"]["KinesisVideo"]
        assert source["StreamArn"] == stream_arn and 0 <= source["FrameOffsetInSeconds"] < 1
        assert record["StreamProcessorInformation"] == {"Status": "RUNNING"}
        [face] = record["FaceSearchResponse"]
        assert face["DetectedFace"]["Confidence"] > 90
        [match] = face["MatchedFaces"]
        assert match["Face"]["ExternalImageId"] == "astronaut" and match["Similarity"] >= 85

    rekognition.delete_collection(CollectionId=collection)  # the next fragment fails the session
    put_media(str(video_file), stream_name, endpoint_url=nimbus.endpoint_url, realtime=False)
    failed = wait_for(
        lambda: (found := rekognition.describe_stream_processor(Name=name))["Status"] == "FAILED" and found,
        "FAILED status",
    )
    assert collection in failed["StatusMessage"]
    rekognition.delete_stream_processor(Name=name)
    assert name not in [
        processor["Name"] for processor in rekognition.list_stream_processors()["StreamProcessors"]
    ]


def subscribed_queue(clients: dict[str, Any], topic: str) -> str:
    sqs = clients["sqs"]
    url = sqs.create_queue(
        QueueName=f"q-{uuid.uuid4().hex[:12]}", Attributes={"ReceiveMessageWaitTimeSeconds": "5"}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2008-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "SQS:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    clients["sns"].subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return str(url)


def notifications(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def receive() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(found) >= count

    wait_for(receive, f"{count} notifications")
    return found


def connected_home_processor(rekognition: Any, stream_arn: str, bucket: str, topic: str) -> str:
    """A doorbell: PERSON and PET labels, frames under doorbell/ in ``bucket``; returns its name."""
    name = f"home-{uuid.uuid4().hex[:12]}"
    rekognition.create_stream_processor(
        Name=name,
        Input={"KinesisVideoStream": {"Arn": stream_arn}},
        Output={"S3Destination": {"Bucket": bucket, "KeyPrefix": "doorbell/"}},
        NotificationChannel={"SNSTopicArn": topic},
        RoleArn=ROLE,
        Settings={"ConnectedHome": {"Labels": ["PERSON", "PET"], "MinConfidence": 50}},
    )
    return name


def test_connected_home_stream_processor_reports_a_person(
    clients: dict[str, Any], video_file: Path, nimbus: NimbusServer, producer_env: None, bucket: str
) -> None:
    rekognition = clients["rekognition"]
    topic = clients["sns"].create_topic(Name=f"home-{uuid.uuid4().hex[:12]}")["TopicArn"]
    queue = subscribed_queue(clients, topic)
    stream_name, stream_arn = video_stream(clients["kinesisvideo"])
    name = connected_home_processor(rekognition, stream_arn, bucket, topic)
    acks = put_media(
        str(video_file), stream_name, endpoint_url=nimbus.endpoint_url, realtime=False, fragment_seconds=1
    )
    first = next(ack["FragmentNumber"] for ack in acks if ack["EventType"] == "PERSISTED")
    session = rekognition.start_stream_processor(
        Name=name,
        StartSelector={"KVSStreamStartSelector": {"FragmentNumber": first}},
        StopSelector={"MaxDurationInSeconds": 2},
    )["SessionId"]
    detected, complete = sorted(
        (json.loads(envelope["Message"]) for envelope in notifications(clients["sqs"], queue, 2)),
        key=lambda message: message["eventNamespace"]["type"],
    )
    assert detected["eventNamespace"]["type"] == "LABEL_DETECTED" and detected["sessionId"] == session
    [person] = detected["labels"]
    assert person["name"] == "PERSON"
    assert person["videoMapping"]["kinesisVideoMapping"]["fragmentNumber"] == first
    frame_key = person["frameImageUri"].removeprefix(f"s3://{bucket}/")
    assert frame_key.startswith(f"doorbell/{name}/{session}/")
    frame = Image.open(io.BytesIO(clients["s3"].get_object(Bucket=bucket, Key=frame_key)["Body"].read()))
    assert frame.size == (WIDTH, HEIGHT)
    assert complete["eventNamespace"]["type"] == "STREAM_PROCESSING_COMPLETE"
    assert complete["inputInformation"]["kinesisVideo"]["processedVideoDurationMillis"] == 2000
    wait_for(
        lambda: rekognition.describe_stream_processor(Name=name)["Status"] == "STOPPED", "STOPPED status"
    )
    report = json.loads(
        clients["s3"]
        .get_object(Bucket=bucket, Key=f"doorbell/{name}/{session}/session-summary.json")["Body"]
        .read()
    )
    assert [label["name"] for label in report["Labels"]] == ["PERSON"]


def test_stored_video_job_notifies_through_sns_and_sqs(
    clients: dict[str, Any], tmp_path: Path, bucket: str
) -> None:
    """The flow of AWS's rekognition_video_detection.py sample, step by step."""
    rekognition, sqs = clients["rekognition"], clients["sqs"]
    path = astronaut_video(tmp_path / "short.mp4")
    clients["s3"].upload_file(str(path), bucket, "astronaut.mp4")
    resource = f"doc-example-{uuid.uuid4().hex[:8]}"
    topic = clients["sns"].create_topic(Name=resource)["TopicArn"]
    queue = subscribed_queue(clients, topic)
    role = clients["iam"].create_role(
        RoleName=resource,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "rekognition.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    # the sample lets the role publish to the topic with a policy of its own, and removes it all after
    iam = clients["iam"]
    publish = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "SNS:Publish", "Resource": topic}],
    }
    policy = iam.create_policy(PolicyName=resource, PolicyDocument=json.dumps(publish))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=resource, PolicyArn=policy)
    job = rekognition.start_face_detection(
        Video={"S3Object": {"Bucket": bucket, "Name": "astronaut.mp4"}},
        NotificationChannel={"SNSTopicArn": topic, "RoleArn": role},
        JobTag="sample",
    )["JobId"]
    [envelope] = notifications(sqs, queue, 1)
    message = json.loads(envelope["Message"])
    assert (message["JobId"], message["Status"], message["API"], message["JobTag"]) == (
        job,
        "SUCCEEDED",
        "FACE_DETECTION",
        "sample",
    )
    assert message["Video"] == {"S3ObjectName": "astronaut.mp4", "S3Bucket": bucket}
    faces = rekognition.get_face_detection(JobId=job)
    assert faces["JobStatus"] == "SUCCEEDED" and faces["Faces"]
    with pytest.raises(ClientError) as caught:
        rekognition.start_label_detection(
            Video={"S3Object": {"Bucket": bucket, "Name": "astronaut.mp4"}},
            NotificationChannel={"SNSTopicArn": topic + "-missing", "RoleArn": role},
        )
    assert error_code(caught) == "InvalidParameterException"
    for attached in iam.list_attached_role_policies(RoleName=resource)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=resource, PolicyArn=attached["PolicyArn"])
        iam.delete_policy(PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=resource)
    sqs.delete_queue(QueueUrl=queue)
