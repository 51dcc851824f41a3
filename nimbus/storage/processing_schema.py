"""SageMaker processing jobs. Declared on the shared ``Base`` so one metadata (and one Alembic
history) holds every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class ProcessingJobRecord(Base):
    """One processing job: the request as created, and where its run has got to."""

    __tablename__ = "sagemaker_processing_jobs"
    __table_args__ = (Index("ix_sagemaker_processing_jobs_status", "status"),)

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    caller_arn: Mapped[str] = mapped_column(String(256))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # the CreateProcessingJob input
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(String(1024))
    exit_message: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime]
    last_modified: Mapped[datetime]
    processing_start: Mapped[datetime | None]
    processing_end: Mapped[datetime | None]
