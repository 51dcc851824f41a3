"""SageMaker notebook instances and their lifecycle configurations. Declared on the shared ``Base``
so one metadata (and one Alembic history) holds every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class NotebookInstanceRecord(Base):
    """One notebook instance: its settings, its status, and the secret its presigned URLs are signed with."""

    __tablename__ = "sagemaker_notebook_instances"
    __table_args__ = (Index("ix_sagemaker_notebook_instances_status", "status"),)

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # the CreateNotebookInstance input, as updated
    status: Mapped[str] = mapped_column(String(16))
    failure_reason: Mapped[str | None] = mapped_column(String(1024))
    token_secret: Mapped[str] = mapped_column(String(64))  # deleted with the instance: its URLs die too
    created_at: Mapped[datetime]
    last_modified: Mapped[datetime]
    started_once: Mapped[bool]  # the on-create script has run


class NotebookLifecycleConfigRecord(Base):
    """One lifecycle configuration: its on-create and on-start scripts (base64, as given)."""

    __tablename__ = "sagemaker_notebook_lifecycle_configs"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    on_create: Mapped[list[Any]] = mapped_column(JSON)  # [{"Content": base64}]
    on_start: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    last_modified: Mapped[datetime]
