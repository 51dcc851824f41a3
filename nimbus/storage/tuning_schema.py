"""SageMaker hyperparameter tuning jobs and the training jobs they launch. Declared on the shared
``Base`` so one metadata (and one Alembic history) holds every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class TuningJobRecord(Base):
    """One tuning job: the request as created, and where its search has got to."""

    __tablename__ = "sagemaker_tuning_jobs"
    __table_args__ = (Index("ix_sagemaker_tuning_jobs_status", "status"),)

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    caller_arn: Mapped[str] = mapped_column(String(256))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # the CreateHyperParameterTuningJob input
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(String(1024))
    not_improving: Mapped[int] = mapped_column(Integer)  # trials since the best objective last improved
    created_at: Mapped[datetime]
    last_modified: Mapped[datetime]
    tuning_end: Mapped[datetime | None]


class TuningTrialRecord(Base):
    """One training job a tuning job launched: the values it tried and what its objective came to."""

    __tablename__ = "sagemaker_tuning_trials"
    __table_args__ = (Index("ix_sagemaker_tuning_trials_tuning_job", "account_id", "region", "tuning_job"),)

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    training_job: Mapped[str] = mapped_column(String(63), primary_key=True)
    tuning_job: Mapped[str] = mapped_column(String(32))
    number: Mapped[int] = mapped_column(Integer)
    tuned_hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    objective_status: Mapped[str] = mapped_column(String(16))  # Pending / Succeeded / Failed
    objective_value: Mapped[float | None] = mapped_column(Float)
