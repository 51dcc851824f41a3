"""Kinesis Data Streams through boto3 against a real server: records read back in order per shard,
every shard iterator type, and bad input."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code


@pytest.fixture(scope="module")
def kinesis(nimbus: NimbusServer) -> Any:
    return nimbus.client("kinesis")


def new_stream(kinesis: Any, shards: int) -> str:
    name = f"s-{uuid.uuid4().hex[:12]}"
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1})
    return name


def read_shard(kinesis: Any, name: str, shard: str, **position: Any) -> list[dict[str, Any]]:
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, **position)["ShardIterator"]
    records: list[dict[str, Any]] = []
    while True:
        page = kinesis.get_records(ShardIterator=iterator, Limit=3)
        records += page["Records"]
        if not page["Records"]:
            return records
        iterator = page["NextShardIterator"]


def test_records_are_ordered_per_shard(kinesis: Any) -> None:
    name = new_stream(kinesis, 2)
    sent = [
        kinesis.put_record(StreamName=name, Data=f"{key}-{i}".encode(), PartitionKey=key)
        for i in range(4)
        for key in ("alpha", "beta", "gamma")
    ]
    batch = kinesis.put_records(
        StreamName=name, Records=[{"Data": f"batch-{i}".encode(), "PartitionKey": "alpha"} for i in range(3)]
    )
    assert batch["FailedRecordCount"] == 0
    shards = [shard["ShardId"] for shard in kinesis.list_shards(StreamName=name)["Shards"]]
    assert len(shards) == 2
    expected = {key: [f"{key}-{i}" for i in range(4)] for key in ("alpha", "beta", "gamma")}
    expected["alpha"] += [f"batch-{i}" for i in range(3)]
    seen = 0
    for shard in shards:
        records = read_shard(kinesis, name, shard, ShardIteratorType="TRIM_HORIZON")
        sequence = [int(record["SequenceNumber"]) for record in records]
        assert sequence == sorted(sequence)
        for key in {record["PartitionKey"] for record in records}:  # a key lands in one shard, in order
            assert [
                record["Data"].decode() for record in records if record["PartitionKey"] == key
            ] == expected[key]
        seen += len(records)
    assert seen == len(sent) + 3
    first = sent[0]
    after = read_shard(
        kinesis,
        name,
        first["ShardId"],
        ShardIteratorType="AFTER_SEQUENCE_NUMBER",
        StartingSequenceNumber=first["SequenceNumber"],
    )
    at = read_shard(
        kinesis,
        name,
        first["ShardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=first["SequenceNumber"],
    )
    assert at[1:] == after and at[0]["Data"] == b"alpha-0"
    assert read_shard(kinesis, name, first["ShardId"], ShardIteratorType="LATEST") == []
    assert (
        read_shard(
            kinesis, name, first["ShardId"], ShardIteratorType="AT_TIMESTAMP", Timestamp=datetime.now(UTC)
        )
        == []
    )
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert (summary["StreamStatus"], summary["OpenShardCount"], summary["RetentionPeriodHours"]) == (
        "ACTIVE",
        2,
        24,
    )
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    assert kinesis.describe_stream(StreamName=name)["StreamDescription"]["RetentionPeriodHours"] == 48


def test_bad_input(kinesis: Any) -> None:
    name = new_stream(kinesis, 1)
    cases = [
        (lambda: kinesis.create_stream(StreamName=name, ShardCount=1), "ResourceInUseException"),
        (
            lambda: kinesis.put_record(StreamName="missing-stream", Data=b"x", PartitionKey="k"),
            "ResourceNotFoundException",
        ),
        (
            lambda: kinesis.put_record(StreamName=name, Data=b"x" * (1024 * 1024 + 1), PartitionKey="k"),
            "InvalidArgumentException",
        ),
        (lambda: kinesis.get_records(ShardIterator="bm90IGFuIGl0ZXJhdG9y"), "InvalidArgumentException"),
        (
            lambda: kinesis.get_shard_iterator(
                StreamName=name, ShardId="shardId-000000000009", ShardIteratorType="LATEST"
            ),
            "ResourceNotFoundException",
        ),
        (
            lambda: kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=48),
            "InvalidArgumentException",
        ),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as caught:
            call()
        assert error_code(caught) == code
    assert read_shard(kinesis, name, "shardId-000000000000", ShardIteratorType="TRIM_HORIZON") == []
    kinesis.delete_stream(StreamName=name)
    assert name not in kinesis.list_streams()["StreamNames"]
