"""Rekognition's durable work: stored-video analysis jobs, and Custom Labels projects, their datasets
and the model versions trained from them. Declared on the shared ``Base`` so one metadata (and one
Alembic history) holds every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class VideoJobRecord(Base):
    """One Start* video job: its request, where it has got to, and (once it succeeded) its results."""

    __tablename__ = "rekognition_video_jobs"
    __table_args__ = (
        Index("ix_rekognition_video_jobs_status", "status"),
        Index("ix_rekognition_video_jobs_token", "account_id", "region", "operation", "client_request_token"),
    )

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(32))  # "LabelDetection", "FaceSearch", ...
    client_request_token: Mapped[str | None] = mapped_column(String(64))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # the Start* input
    status: Mapped[str] = mapped_column(String(16))  # IN_PROGRESS, SUCCEEDED, FAILED
    status_message: Mapped[str | None] = mapped_column(String(1024))  # progress, or why it failed
    video_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {"Video": {...}, "Audio": [...]}
    # the Get* result items in time order, by AggregateBy ("TIMESTAMPS", and "SEGMENTS" where AWS has it)
    results: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class ProjectRecord(Base):
    __tablename__ = "rekognition_projects"
    __table_args__ = (Index("ux_rekognition_projects_name", "account_id", "region", "name", unique=True),)

    arn: Mapped[str] = mapped_column(String(2048), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class DatasetRecord(Base):
    """A TRAIN or TEST dataset: its entries are Ground Truth manifest lines (JSON objects)."""

    __tablename__ = "rekognition_datasets"

    arn: Mapped[str] = mapped_column(String(2048), primary_key=True)
    project_arn: Mapped[str] = mapped_column(
        String(2048), ForeignKey("rekognition_projects.arn", ondelete="CASCADE"), index=True
    )
    dataset_type: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(32))
    status_message: Mapped[str | None] = mapped_column(String(1024))
    status_message_code: Mapped[str | None] = mapped_column(String(16))
    entries: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ProjectVersionRecord(Base):
    """A model version: trained in the background, then started and stopped."""

    __tablename__ = "rekognition_project_versions"
    __table_args__ = (Index("ix_rekognition_project_versions_status", "status"),)

    arn: Mapped[str] = mapped_column(String(2048), primary_key=True)
    project_arn: Mapped[str] = mapped_column(
        String(2048), ForeignKey("rekognition_projects.arn", ondelete="CASCADE"), index=True
    )
    version_name: Mapped[str] = mapped_column(String(255))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # the CreateProjectVersion input
    status: Mapped[str] = mapped_column(String(32))
    status_message: Mapped[str | None] = mapped_column(String(1024))
    f1_score: Mapped[float | None] = mapped_column(Float)
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the summary file's content
    min_inference_units: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    training_ended_at: Mapped[datetime | None]
