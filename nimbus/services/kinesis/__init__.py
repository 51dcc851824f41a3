"""Amazon Kinesis Data Streams: streams of shards whose records live in the metadata database,
committed before PutRecord(s) answers, ordered per shard by their sequence numbers, and kept for the
stream's retention period."""

from __future__ import annotations

from nimbus.services.registry import Service
from nimbus.services.resource_tags import tags_by_arn
from nimbus.storage.streams_schema import DataStreamRecord

kinesis = Service("kinesis", validation_error="ValidationException")
kinesis.resource_tags(tags_by_arn(DataStreamRecord.__table__))  # aws:ResourceTag/* for policies

# the operation modules register themselves on import
from nimbus.services.kinesis import data, streams  # noqa: E402, F401
