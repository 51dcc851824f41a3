"""SageMaker hosting records: models, endpoint configurations and endpoints. Declared on the shared
``Base`` so one metadata holds every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, String, false
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class SageMakerModelRecord(Base):
    """A model: the container (image, ModelDataUrl, Environment) that endpoints run."""

    __tablename__ = "sagemaker_models"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    primary_container: Mapped[dict[str, Any]] = mapped_column()
    execution_role_arn: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime]
    # a container image runs with no network at all (a built-in runtime needs none either way)
    enable_network_isolation: Mapped[bool] = mapped_column(Boolean, server_default=false())
    tags: Mapped[list[Any] | None] = mapped_column(JSON)  # [{"Key", "Value"}], as SageMaker lists them


class SageMakerEndpointConfigRecord(Base):
    """An endpoint configuration: its production variants as CreateEndpointConfig received them."""

    __tablename__ = "sagemaker_endpoint_configs"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    production_variants: Mapped[list[Any]] = mapped_column()
    created_at: Mapped[datetime]
    tags: Mapped[list[Any] | None] = mapped_column(JSON)


class SageMakerEndpointRecord(Base):
    """An endpoint: its configuration, status, and the variants now serving (name, weight, count)."""

    __tablename__ = "sagemaker_endpoints"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    config_name: Mapped[str] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(String(1024))
    variants: Mapped[list[Any]] = mapped_column()
    created_at: Mapped[datetime]
    last_modified: Mapped[datetime]
    tags: Mapped[list[Any] | None] = mapped_column(JSON)
