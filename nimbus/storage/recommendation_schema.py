"""SageMaker Inference Recommender jobs. Declared on the shared ``Base`` so one metadata (and one
Alembic history) holds every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class RecommendationJobRecord(Base):
    """One recommendation job: the request as created, its benchmark steps as they run, and the
    report that says how each figure was obtained (measured, projected or not measurable)."""

    __tablename__ = "sagemaker_recommendation_jobs"
    __table_args__ = (
        Index("ix_sagemaker_recommendation_jobs_status", "status"),
        Index("ix_sagemaker_recommendation_jobs_model", "account_id", "region", "model_name"),
    )

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    caller_arn: Mapped[str] = mapped_column(String(256))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # the CreateInferenceRecommendationsJob input
    model_name: Mapped[str | None] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(String(1024))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # ListInferenceRecommendationsJobSteps
    recommendations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # InferenceRecommendations
    report: Mapped[dict[str, Any]] = mapped_column(JSON)  # every figure's provenance
    created_at: Mapped[datetime]
    last_modified: Mapped[datetime]
    completion_time: Mapped[datetime | None]
