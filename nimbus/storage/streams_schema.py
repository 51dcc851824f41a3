"""Live streams: Kinesis data streams (shards and their records, in order), Kinesis video streams
(fragments kept as files for the retention period), and the Rekognition stream processors that read
video streams."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class DataStreamRecord(Base):
    __tablename__ = "kinesis_streams"
    __table_args__ = (Index("ux_kinesis_streams_name", "account_id", "region", "name", unique=True),)

    arn: Mapped[str] = mapped_column(String(512), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))  # PROVISIONED, ON_DEMAND
    retention_hours: Mapped[int] = mapped_column(Integer)
    shards: Mapped[list[Any]]  # [{"ShardId", "HashKeyRange", "SequenceNumberRange"...}], in order
    tags: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class DataRecord(Base):
    """One record; ``id`` gives its sequence number, so records are ordered per shard (and overall)."""

    __tablename__ = "kinesis_records"
    __table_args__ = (Index("ix_kinesis_records_shard", "stream_arn", "shard_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    stream_arn: Mapped[str] = mapped_column(
        String(512), ForeignKey("kinesis_streams.arn", ondelete="CASCADE")
    )
    shard_id: Mapped[str] = mapped_column(String(32))
    partition_key: Mapped[str] = mapped_column(String(256))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    arrived_at: Mapped[float] = mapped_column(Float, index=True)  # epoch seconds


class VideoStreamRecord(Base):
    __tablename__ = "kinesisvideo_streams"
    __table_args__ = (Index("ux_kinesisvideo_streams_name", "account_id", "region", "name", unique=True),)

    arn: Mapped[str] = mapped_column(String(1024), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(64))
    retention_hours: Mapped[int] = mapped_column(Integer)
    device_name: Mapped[str | None] = mapped_column(String(128))
    media_type: Mapped[str | None] = mapped_column(String(128))
    kms_key_id: Mapped[str | None] = mapped_column(String(2048))
    tags: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class FragmentRecord(Base):
    """A fragment (one MKV cluster and the headers it came with), kept in ``<data>/kinesisvideo`` as a
    standalone MKV file: ``cluster_offset`` is where its cluster starts in that file."""

    __tablename__ = "kinesisvideo_fragments"
    __table_args__ = (
        Index("ix_kinesisvideo_fragments_producer", "stream_arn", "producer_ms"),
        Index("ix_kinesisvideo_fragments_server", "stream_arn", "server_ms"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    stream_arn: Mapped[str] = mapped_column(
        String(1024), ForeignKey("kinesisvideo_streams.arn", ondelete="CASCADE"), index=True
    )
    producer_ms: Mapped[int] = mapped_column(BigInteger)
    server_ms: Mapped[int] = mapped_column(BigInteger)
    duration_ms: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    cluster_offset: Mapped[int] = mapped_column(Integer)
    file_name: Mapped[str] = mapped_column(String(128))


class StreamProcessorRecord(Base):
    __tablename__ = "rekognition_stream_processors"
    __table_args__ = (
        Index("ux_rekognition_stream_processors_name", "account_id", "region", "name", unique=True),
    )

    arn: Mapped[str] = mapped_column(String(2048), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    status_message: Mapped[str | None] = mapped_column(String(1024))
    request: Mapped[dict[str, Any]]  # the CreateStreamProcessor input, with updates applied
    session: Mapped[dict[str, Any] | None]  # the running session: SessionId, selectors, where it has got
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
