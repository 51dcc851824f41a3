"""Two `nimbus serve` nodes sharing one database and one data directory (on SQLite and, in `make test`'s
PostgreSQL run, on PostgreSQL): what one node acknowledges, the other serves at once; a job one node
runs is described, logged and stopped through the other, and taken over by it when its node dies."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, list_keys
from lex_support import TEST_SET_CSV, HookServer, import_test_set, new_bot, order_flowers, wait_built
from test_lex_models import add_order_flowers
from test_rekognition_streams import astronaut_video, connected_home_processor, video_stream, wait_for
from test_sagemaker_training import PARAMS, create_job, wait

from nimbus.producer import put_media


@pytest.fixture(scope="module")
def second_node(nimbus: NimbusServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusServer]:
    shared = {name: value for name, value in nimbus.settings.items() if name == "NIMBUS_DATABASE_URL"}
    node = NimbusServer(nimbus.data_dir, tmp_path_factory.mktemp("second-node"), settings=shared)
    node.start()
    try:
        yield node
    finally:
        node.stop()


def test_objects_written_through_one_node_read_through_the_other(
    nimbus: NimbusServer, second_node: NimbusServer, s3: Any, bucket: str
) -> None:
    other = second_node.client("s3")
    s3.put_object(Bucket=bucket, Key="from-first", Body=b"first node")
    assert other.get_object(Bucket=bucket, Key="from-first")["Body"].read() == b"first node"
    other.put_object(Bucket=bucket, Key="from-first", Body=b"overwritten on the second")
    other.put_object(Bucket=bucket, Key="from-second", Body=b"second node")
    assert s3.get_object(Bucket=bucket, Key="from-first")["Body"].read() == b"overwritten on the second"
    assert list_keys(s3, bucket) == list_keys(other, bucket) == ["from-first", "from-second"]

    other.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first_version = s3.put_object(Bucket=bucket, Key="versioned", Body=b"one")["VersionId"]
    second_version = other.put_object(Bucket=bucket, Key="versioned", Body=b"two")["VersionId"]
    listed = s3.list_object_versions(Bucket=bucket, Prefix="versioned")["Versions"]
    assert [(entry["VersionId"], entry["IsLatest"]) for entry in listed] == [
        (second_version, True),
        (first_version, False),
    ]
    s3.delete_object(Bucket=bucket, Key="from-second")
    with pytest.raises(ClientError) as missing:
        other.head_object(Bucket=bucket, Key="from-second")
    assert error_code(missing) == "404"


def test_a_key_made_on_one_node_signs_on_the_other_until_deleted_there(
    nimbus: NimbusServer, second_node: NimbusServer
) -> None:
    iam = nimbus.client("iam")
    iam.create_user(UserName="two-node-user")
    iam.attach_user_policy(
        UserName="two-node-user", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    )
    key = iam.create_access_key(UserName="two-node-user")["AccessKey"]
    try:
        user_client = second_node.client(
            "s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
        )
        user_client.list_buckets()
        with pytest.raises(ClientError) as denied:
            user_client.create_bucket(Bucket="two-node-user-may-not")
        assert error_code(denied) == "AccessDenied"
        second_node.client("iam").delete_access_key(UserName="two-node-user", AccessKeyId=key["AccessKeyId"])
        with pytest.raises(ClientError) as refused:
            nimbus.client(
                "s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
            ).list_buckets()
        assert error_code(refused) == "InvalidAccessKeyId"
    finally:
        for access_key in iam.list_access_keys(UserName="two-node-user")["AccessKeyMetadata"]:
            iam.delete_access_key(UserName="two-node-user", AccessKeyId=access_key["AccessKeyId"])
        iam.detach_user_policy(
            UserName="two-node-user", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
        )
        iam.delete_user(UserName="two-node-user")


def test_a_bot_locale_built_on_one_node_reads_building_then_built_on_the_other(
    nimbus: NimbusServer, second_node: NimbusServer
) -> None:
    lex, other = nimbus.client("lexv2-models"), second_node.client("lexv2-models")
    bot_id = new_bot(lex, "TwoNodes")
    add_order_flowers(lex, bot_id)
    where = {"botId": bot_id, "botVersion": "DRAFT", "localeId": "en_US"}
    # enough sample utterances that the build runs for seconds, read through node B meanwhile
    pages = [{"utterance": f"show me page {number} of the catalogue"} for number in range(300)]
    lex.create_intent(**where, intentName="Catalogue", sampleUtterances=pages)
    assert lex.build_bot_locale(**where)["botLocaleStatus"] == "Building"
    seen = [other.describe_bot_locale(**where)["botLocaleStatus"]]  # the build holds its lease on node A
    deadline = time.monotonic() + 120
    while seen[-1] == "Building" and time.monotonic() < deadline:
        time.sleep(0.3)
        seen.append(other.describe_bot_locale(**where)["botLocaleStatus"])
    assert (seen[0], seen[-1]) == ("Building", "Built"), seen
    assert set(seen) == {"Building", "Built"}, seen


# ---- background work: leases ----------------------------------------------------------------------

LEASE_SECONDS = 3  # short, so a killed node's jobs are taken over within the test
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
LONG_TRAINING = {**PARAMS, "num_round": "100000000"}  # trains until stopped


@pytest.fixture(scope="module")
def leased_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NimbusServer]]:
    """A node of its own (killed by the last test), with short leases; the test that needs a second
    node starts it once the first runs a job, and it joins this list."""
    data_dir = tmp_path_factory.mktemp("leased-nodes")
    first = NimbusServer(
        data_dir,
        tmp_path_factory.mktemp("leased-first"),
        settings={"NIMBUS_LEASE_SECONDS": str(LEASE_SECONDS)},
    )
    first.start()
    nodes = [first]
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture(scope="module")
def training_bucket(leased_nodes: list[NimbusServer]) -> str:
    s3 = leased_nodes[0].client("s3")
    bucket = f"nodes-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    rows = np.random.default_rng(0).random((200, 3))
    rows[:, 0] = rows[:, 1] > rows[:, 2]  # the label
    buffer = io.StringIO()
    np.savetxt(buffer, rows, delimiter=",", fmt="%.6g")
    s3.put_object(Bucket=bucket, Key="data/train/train.csv", Body=buffer.getvalue().encode())
    return bucket


def _second_node(nodes: list[NimbusServer], tmp_path_factory: pytest.TempPathFactory) -> NimbusServer:
    if len(nodes) == 1:
        shared = {"NIMBUS_LEASE_SECONDS": str(LEASE_SECONDS)} | {
            name: value for name, value in nodes[0].settings.items() if name == "NIMBUS_DATABASE_URL"
        }
        node = NimbusServer(nodes[0].data_dir, tmp_path_factory.mktemp("leased-second"), settings=shared)
        node.start()
        nodes.append(node)
    return nodes[1]


def _training(sagemaker: Any, name: str) -> None:
    deadline = time.monotonic() + 60
    while sagemaker.describe_training_job(TrainingJobName=name)["SecondaryStatus"] != "Training":
        assert time.monotonic() < deadline, f"{name} never reached Training"
        time.sleep(0.2)


def test_a_job_run_by_one_node_is_left_alone_logged_and_stopped_by_another(
    leased_nodes: list[NimbusServer], training_bucket: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    name = create_job(leased_nodes[0].client("sagemaker"), training_bucket, HyperParameters=LONG_TRAINING)
    _training(leased_nodes[0].client("sagemaker"), name)
    # the second node starts (settling the jobs of dead nodes) and lives through two leases of the first
    # node's, sweeping for expired ones at each heartbeat: the first node's job is not among them
    second = _second_node(leased_nodes, tmp_path_factory)
    sagemaker, logs = second.client("sagemaker"), second.client("logs")
    until = time.monotonic() + 2 * LEASE_SECONDS
    while time.monotonic() < until:
        assert sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress"
        time.sleep(0.5)
    # its log, read through the second node
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=name)["logStreams"]
    assert len(streams) == 1
    events = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=streams[0]["logStreamName"])
    assert events["events"]

    sagemaker.stop_training_job(TrainingJobName=name)  # Stopping; the first node's heartbeat reads it
    job = wait(sagemaker, name, timeout=60)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert [entry["Status"] for entry in job["SecondaryStatusTransitions"]][-2:] == ["Stopping", "Stopped"]


def _start_doorbell(node: NimbusServer, bucket: str) -> tuple[str, str, str]:
    """A connected-home stream processor started through ``node`` on an empty video stream, so that it
    waits for video; returns its name, session id and stream name."""
    rekognition = node.client("rekognition")
    stream_name, stream_arn = video_stream(node.client("kinesisvideo"))
    topic = node.client("sns").create_topic(Name=f"doorbell-{uuid.uuid4().hex[:12]}")["TopicArn"]
    name = connected_home_processor(rekognition, stream_arn, bucket, topic)
    session = rekognition.start_stream_processor(Name=name, StopSelector={"MaxDurationInSeconds": 2})
    return name, session["SessionId"], stream_name


@pytest.fixture
def held_hook() -> Iterator[HookServer]:
    """A Lex code hook that answers only at the end of the test: a conversation that reaches it stays in
    its turn."""
    released = threading.Event()

    def answer(event: dict[str, Any]) -> dict[str, Any]:
        released.wait()
        return {
            "sessionState": {"dialogAction": {"type": "Delegate"}, "intent": event["sessionState"]["intent"]}
        }

    server = HookServer(answer)
    try:
        yield server
    finally:
        released.set()
        server.close()


def _build_held_bot(node: NimbusServer) -> str:
    """A bot whose DRAFT locale starts building through ``node``."""
    models = node.client("lexv2-models")
    bot_id = new_bot(models, "Held")
    order_flowers(models, bot_id)
    models.build_bot_locale(botId=bot_id, botVersion="DRAFT", localeId="en_US")
    return bot_id


def _start_test_execution(node: NimbusServer, bucket: str, bot_id: str, hook: HookServer) -> str:
    """A test set run through ``node`` against the bot's DRAFT, whose code hook holds its first turn."""
    models = node.client("lexv2-models")
    wait_built(models, bot_id)
    hooked = {"lambdaCodeHook": {"lambdaARN": hook.url, "codeHookInterfaceVersion": "1.0"}}
    models.update_bot_alias(
        botId=bot_id,
        botAliasId="TSTALIASID",
        botAliasName="TestBotAlias",
        botVersion="DRAFT",
        botAliasLocaleSettings={"en_US": {"enabled": True, "codeHookSpecification": hooked}},
    )
    test_set = import_test_set(models, node.client("s3"), bucket, "held-tests", TEST_SET_CSV)
    target = {"botAliasTarget": {"botId": bot_id, "botAliasId": "TSTALIASID", "localeId": "en_US"}}
    started = models.start_test_execution(
        testSetId=test_set["importedResourceId"], target=target, apiMode="NonStreaming"
    )
    wait_for(lambda: hook.events, "code hook call")
    return started["testExecutionId"]


def test_the_work_of_a_killed_node_fails_or_resumes_on_the_node_that_lives(
    leased_nodes: list[NimbusServer],
    training_bucket: str,
    held_hook: HookServer,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = leased_nodes[0], _second_node(leased_nodes, tmp_path_factory)
    bot_id = _build_held_bot(first)  # builds while the training job and the stream processor start
    name = create_job(first.client("sagemaker"), training_bucket, HyperParameters=LONG_TRAINING)
    processor, session, stream_name = _start_doorbell(first, training_bucket)
    execution_id = _start_test_execution(first, training_bucket, bot_id, held_hook)
    lex = second.client("lexv2-models")  # the live first node's test execution runs, whoever reads it
    assert lex.describe_test_execution(testExecutionId=execution_id)["testExecutionStatus"] == "InProgress"
    _training(first.client("sagemaker"), name)
    first.kill()  # SIGKILL: no clean stop hands its leases back
    job = wait(second.client("sagemaker"), name, timeout=60)  # once the first node's lease expired
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Failed", "Failed")
    assert job["FailureReason"] == "The Nimbus node running the job stopped (restarted or died)"
    execution = wait_for(  # read through the second node once the execution's lease expired too
        lambda: next(
            (
                summary
                for summary in lex.list_test_executions()["testExecutions"]
                if summary["testExecutionId"] == execution_id
                and summary["testExecutionStatus"] != "InProgress"
            ),
            None,
        ),
        "settled test execution",
    )
    assert execution["testExecutionStatus"] == "Failed"
    assert lex.describe_test_execution(testExecutionId=execution_id)["failureReasons"] == [
        "The test execution was interrupted because the Nimbus node running it stopped (restarted or died); "
        "start it again."
    ]

    # the stream processor's session resumed on the second node: it analyses the video that arrives now
    for variable, value in second.env().items():
        if variable.startswith("AWS_"):
            monkeypatch.setenv(variable, value)
    video = astronaut_video(tmp_path_factory.mktemp("doorbell") / "astronaut.mp4")
    put_media(str(video), stream_name, endpoint_url=second.endpoint_url, realtime=False, fragment_seconds=1)
    rekognition = second.client("rekognition")
    wait_for(lambda: rekognition.describe_stream_processor(Name=processor)["Status"] == "STOPPED", "STOPPED")
    summary_key = f"doorbell/{processor}/{session}/session-summary.json"
    summary = second.client("s3").get_object(Bucket=training_bucket, Key=summary_key)["Body"].read()
    assert [label["name"] for label in json.loads(summary)["Labels"]] == ["PERSON"]
