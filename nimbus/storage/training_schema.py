"""SageMaker training jobs and the CloudWatch log events their processes print. Declared on the shared
``Base`` so one metadata (and one Alembic history) holds every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class TrainingJobRecord(Base):
    """One training job: the request as created, and where its run has got to."""

    __tablename__ = "sagemaker_training_jobs"
    __table_args__ = (Index("ix_sagemaker_training_jobs_status", "status"),)

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    caller_arn: Mapped[str] = mapped_column(String(256))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # the CreateTrainingJob input
    status: Mapped[str] = mapped_column(String(16))
    secondary_status: Mapped[str] = mapped_column(String(32))
    transitions: Mapped[list[Any]] = mapped_column(JSON)  # [{Status, StartTime, EndTime?, StatusMessage}]
    failure_reason: Mapped[str | None] = mapped_column(String(1024))
    final_metrics: Mapped[list[Any]] = mapped_column(JSON)  # [{MetricName, Value, Timestamp}]
    model_artifacts: Mapped[str | None] = mapped_column(String(1024))
    log_stream: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime]
    last_modified: Mapped[datetime]
    training_start: Mapped[datetime | None]
    training_end: Mapped[datetime | None]
    billable_seconds: Mapped[int | None] = mapped_column(Integer)
    tuning_job_arn: Mapped[str | None] = mapped_column(String(256))  # set for a tuning job's trials


class LogEventRecord(Base):
    """One line a job printed, in its CloudWatch log group and stream."""

    __tablename__ = "logs_events"
    __table_args__ = (
        Index("ix_logs_events_stream", "account_id", "region", "log_group", "log_stream", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    log_group: Mapped[str] = mapped_column(String(512))
    log_stream: Mapped[str] = mapped_column(String(512))
    timestamp: Mapped[int] = mapped_column(BigInteger)  # milliseconds since the epoch
    ingestion_time: Mapped[int] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(Text)


class LogGroupTagsRecord(Base):
    """The tags of a log group (a group exists once something wrote to it; its tags are kept here)."""

    __tablename__ = "logs_group_tags"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    log_group: Mapped[str] = mapped_column(String(512), primary_key=True)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON)
