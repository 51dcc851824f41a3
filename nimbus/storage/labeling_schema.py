"""SageMaker Ground Truth: private workteams, labelling jobs, their data objects and the workers'
answers. Declared on the shared ``Base`` so one metadata (and one Alembic history) holds every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class WorkteamRecord(Base):
    """A private workteam: its members are the IAM groups its MemberDefinitions name."""

    __tablename__ = "sagemaker_workteams"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # MemberDefinitions, Description, ...
    created_at: Mapped[datetime]
    last_updated: Mapped[datetime]


class LabelingJobRecord(Base):
    """One labelling job: the request as created, its task type and labels, and its status."""

    __tablename__ = "sagemaker_labeling_jobs"
    __table_args__ = (Index("ix_sagemaker_labeling_jobs_workteam", "workteam_arn"),)

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    caller_arn: Mapped[str] = mapped_column(String(256))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # the CreateLabelingJob input
    task_type: Mapped[str] = mapped_column(String(64))
    labels: Mapped[list[str]] = mapped_column(JSON)  # the label category configuration's labels
    workteam_arn: Mapped[str] = mapped_column(String(256))
    reference_code: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime]
    last_modified: Mapped[datetime]
    labeling_end: Mapped[datetime | None]
    # set by the one request that writes the job's output (compare-and-set: labeling/completion.py)
    output_claimed: Mapped[bool] = mapped_column(Boolean, server_default=false())
    final_model_arn: Mapped[str | None] = mapped_column(String(2048))  # automated labelling's last model


class LabelingObjectRecord(Base):
    """One data object of a job: its manifest line and, once enough workers answered, its label."""

    __tablename__ = "sagemaker_labeling_objects"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    job_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # its line in the input manifest
    entry: Mapped[dict[str, Any]] = mapped_column(JSON)
    # the output manifest line (SQL NULL until then, which the queries look for)
    consolidated: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # the batch that sent it to people (1, 2, ...); NULL while automated labelling has not sent it
    human_batch: Mapped[int | None] = mapped_column(Integer)
    machine_labeled: Mapped[bool] = mapped_column(Boolean, server_default=false())


class LabelingAnswerRecord(Base):
    """One worker's answer for one data object (answer empty while the worker holds the task)."""

    __tablename__ = "sagemaker_labeling_answers"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    job_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker_arn: Mapped[str] = mapped_column(String(256), primary_key=True)
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # its answerContent
    taken_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
