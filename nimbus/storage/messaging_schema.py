"""SNS topics and subscriptions, SQS queues and their messages: committed before they are
acknowledged, so a message SendMessage or Publish answered for survives a restart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class TopicRecord(Base):
    __tablename__ = "sns_topics"
    __table_args__ = (Index("ux_sns_topics_name", "account_id", "region", "name", unique=True),)

    arn: Mapped[str] = mapped_column(String(512), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(256))
    attributes: Mapped[dict[str, Any]]  # the settable attributes as given (DisplayName, Policy, ...)
    tags: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class SubscriptionRecord(Base):
    """A subscription to a topic; one waiting for its HTTP(S) endpoint to confirm it holds the token
    that ConfirmSubscription must present."""

    __tablename__ = "sns_subscriptions"

    arn: Mapped[str] = mapped_column(String(600), primary_key=True)
    topic_arn: Mapped[str] = mapped_column(
        String(512), ForeignKey("sns_topics.arn", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[str] = mapped_column(String(64))
    protocol: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(String(2048))
    attributes: Mapped[dict[str, Any]]  # RawMessageDelivery, FilterPolicy, RedrivePolicy, ...
    confirmation_token: Mapped[str | None] = mapped_column(String(256), index=True)
    created_at: Mapped[datetime]


class DeliveryRecord(Base):
    """An HTTP(S) delivery still owed: the outbox a Publish writes in its own transaction, so a
    restart resumes deliveries instead of losing them."""

    __tablename__ = "sns_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_arn: Mapped[str] = mapped_column(String(600), index=True)
    endpoint: Mapped[str] = mapped_column(String(2048))
    message_type: Mapped[str] = mapped_column(String(32))  # Notification, SubscriptionConfirmation
    body: Mapped[str] = mapped_column(Text)
    raw: Mapped[bool] = mapped_column(Boolean)
    attempts: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[float] = mapped_column(Float, index=True)  # epoch seconds


class QueueRecord(Base):
    __tablename__ = "sqs_queues"
    __table_args__ = (Index("ux_sqs_queues_name", "account_id", "region", "name", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    arn: Mapped[str] = mapped_column(String(512), unique=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(80))
    attributes: Mapped[dict[str, Any]]  # the settable attributes, as strings, defaults filled in
    tags: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    modified_at: Mapped[datetime]
    purged_at: Mapped[float | None] = mapped_column(Float)  # PurgeQueue: one a minute


class MessageRecord(Base):
    """A message in a queue; ``id`` orders the queue (FIFO order, and the sequence number)."""

    __tablename__ = "sqs_messages"
    __table_args__ = (Index("ix_sqs_messages_visible", "queue_id", "visible_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    queue_id: Mapped[int] = mapped_column(Integer, ForeignKey("sqs_queues.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(36), index=True)
    body: Mapped[str] = mapped_column(Text)
    message_attributes: Mapped[dict[str, Any]]  # as SendMessage gave them (binary values base64)
    system_attributes: Mapped[dict[str, Any]]  # SenderId, SentTimestamp, MessageGroupId, AWSTraceHeader...
    md5_of_body: Mapped[str] = mapped_column(String(32))
    md5_of_attributes: Mapped[str | None] = mapped_column(String(32))
    group_id: Mapped[str | None] = mapped_column(String(128))
    sent_at: Mapped[float] = mapped_column(Float)  # epoch seconds
    visible_at: Mapped[float] = mapped_column(Float)  # epoch seconds: delays and visibility timeouts
    receive_count: Mapped[int] = mapped_column(Integer)
    first_received_at: Mapped[float | None] = mapped_column(Float)
    receipt_token: Mapped[str | None] = mapped_column(String(64))  # of the latest receive


class DeduplicationRecord(Base):
    """FIFO deduplication ids seen in the last five minutes, per queue (and per group when the queue
    deduplicates by message group)."""

    __tablename__ = "sqs_deduplication"

    queue_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("sqs_queues.id", ondelete="CASCADE"), primary_key=True
    )
    scope_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36))
    sequence: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float)
