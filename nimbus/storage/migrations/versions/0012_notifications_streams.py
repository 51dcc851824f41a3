"""SNS topics, subscriptions and deliveries; SQS queues, messages and deduplication ids; Kinesis data
streams and records; Kinesis video streams and fragments; Rekognition stream processors.

Revision ID: 0012_notifications_streams
Revises: 0011_s3_versioning
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_notifications_streams"
down_revision = "0011_s3_versioning"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
ROW_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


def upgrade() -> None:
    _messaging()
    _streams()


def _messaging() -> None:
    op.create_table(
        "sns_topics",
        sa.Column("arn", sa.String(512), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ux_sns_topics_name", "sns_topics", ["account_id", "region", "name"], unique=True)
    op.create_table(
        "sns_subscriptions",
        sa.Column("arn", sa.String(600), primary_key=True),
        sa.Column(
            "topic_arn", sa.String(512), sa.ForeignKey("sns_topics.arn", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.String(2048), nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("confirmation_token", sa.String(256)),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_sns_subscriptions_topic_arn", "sns_subscriptions", ["topic_arn"])
    op.create_index("ix_sns_subscriptions_confirmation_token", "sns_subscriptions", ["confirmation_token"])
    op.create_table(
        "sns_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscription_arn", sa.String(600), nullable=False),
        sa.Column("endpoint", sa.String(2048), nullable=False),
        sa.Column("message_type", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("raw", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("due_at", sa.Float, nullable=False),
    )
    op.create_index("ix_sns_deliveries_subscription_arn", "sns_deliveries", ["subscription_arn"])
    op.create_index("ix_sns_deliveries_due_at", "sns_deliveries", ["due_at"])
    op.create_table(
        "sqs_queues",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("arn", sa.String(512), nullable=False, unique=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("modified_at", WHEN, nullable=False),
        sa.Column("purged_at", sa.Float),
    )
    op.create_index("ux_sqs_queues_name", "sqs_queues", ["account_id", "region", "name"], unique=True)
    op.create_table(
        "sqs_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("queue_id", sa.Integer, sa.ForeignKey("sqs_queues.id", ondelete="CASCADE"), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("message_attributes", sa.JSON, nullable=False),
        sa.Column("system_attributes", sa.JSON, nullable=False),
        sa.Column("md5_of_body", sa.String(32), nullable=False),
        sa.Column("md5_of_attributes", sa.String(32)),
        sa.Column("group_id", sa.String(128)),
        sa.Column("sent_at", sa.Float, nullable=False),
        sa.Column("visible_at", sa.Float, nullable=False),
        sa.Column("receive_count", sa.Integer, nullable=False),
        sa.Column("first_received_at", sa.Float),
        sa.Column("receipt_token", sa.String(64)),
    )
    op.create_index("ix_sqs_messages_visible", "sqs_messages", ["queue_id", "visible_at"])
    op.create_index("ix_sqs_messages_message_id", "sqs_messages", ["message_id"])
    op.create_table(
        "sqs_deduplication",
        sa.Column(
            "queue_id", sa.Integer, sa.ForeignKey("sqs_queues.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("scope_key", sa.String(300), primary_key=True),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )


def _streams() -> None:
    op.create_table(
        "kinesis_streams",
        sa.Column("arn", sa.String(512), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("retention_hours", sa.Integer, nullable=False),
        sa.Column("shards", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index(
        "ux_kinesis_streams_name", "kinesis_streams", ["account_id", "region", "name"], unique=True
    )
    op.create_table(
        "kinesis_records",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "stream_arn",
            sa.String(512),
            sa.ForeignKey("kinesis_streams.arn", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("shard_id", sa.String(32), nullable=False),
        sa.Column("partition_key", sa.String(256), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("arrived_at", sa.Float, nullable=False),
    )
    op.create_index("ix_kinesis_records_shard", "kinesis_records", ["stream_arn", "shard_id", "id"])
    op.create_index("ix_kinesis_records_arrived_at", "kinesis_records", ["arrived_at"])
    op.create_table(
        "kinesisvideo_streams",
        sa.Column("arn", sa.String(1024), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("retention_hours", sa.Integer, nullable=False),
        sa.Column("device_name", sa.String(128)),
        sa.Column("media_type", sa.String(128)),
        sa.Column("kms_key_id", sa.String(2048)),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index(
        "ux_kinesisvideo_streams_name", "kinesisvideo_streams", ["account_id", "region", "name"], unique=True
    )
    op.create_table(
        "kinesisvideo_fragments",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "stream_arn",
            sa.String(1024),
            sa.ForeignKey("kinesisvideo_streams.arn", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("producer_ms", sa.BigInteger, nullable=False),
        sa.Column("server_ms", sa.BigInteger, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("cluster_offset", sa.Integer, nullable=False),
        sa.Column("file_name", sa.String(128), nullable=False),
    )
    op.create_index("ix_kinesisvideo_fragments_stream_arn", "kinesisvideo_fragments", ["stream_arn"])
    op.create_index(
        "ix_kinesisvideo_fragments_producer", "kinesisvideo_fragments", ["stream_arn", "producer_ms"]
    )
    op.create_index("ix_kinesisvideo_fragments_server", "kinesisvideo_fragments", ["stream_arn", "server_ms"])
    op.create_table(
        "rekognition_stream_processors",
        sa.Column("arn", sa.String(2048), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_message", sa.String(1024)),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("session", sa.JSON),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_index(
        "ux_rekognition_stream_processors_name",
        "rekognition_stream_processors",
        ["account_id", "region", "name"],
        unique=True,
    )


def downgrade() -> None:
    for table in (
        "rekognition_stream_processors",
        "kinesisvideo_fragments",
        "kinesisvideo_streams",
        "kinesis_records",
        "kinesis_streams",
        "sqs_deduplication",
        "sqs_messages",
        "sqs_queues",
        "sns_deliveries",
        "sns_subscriptions",
        "sns_topics",
    ):
        op.drop_table(table)
