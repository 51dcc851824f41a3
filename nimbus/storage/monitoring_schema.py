"""CloudWatch metrics and alarms, and Application Auto Scaling's targets, policies and activities.
Declared on the shared ``Base``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class MetricRecord(Base):
    """One metric: a namespace, a name and a set of dimensions (what ListMetrics lists)."""

    __tablename__ = "cw_metrics"
    __table_args__ = (UniqueConstraint("account_id", "region", "namespace", "metric_name", "dimensions_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    namespace: Mapped[str] = mapped_column(String(255))
    metric_name: Mapped[str] = mapped_column(String(255))
    dimensions_key: Mapped[str] = mapped_column(String(2048))  # the dimensions, sorted, as JSON
    dimensions: Mapped[list[Any]]
    last_put_at: Mapped[datetime]


class MetricDataRecord(Base):
    """The statistics of a metric's values in one time bucket (``resolution`` seconds from ``bucket``,
    in epoch seconds); rows of older buckets are rolled up into coarser ones, as CloudWatch keeps them."""

    __tablename__ = "cw_metric_data"
    __table_args__ = (Index("ix_cw_metric_data_metric", "metric_id", "bucket"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    metric_id: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(32))
    resolution: Mapped[int] = mapped_column(Integer)
    bucket: Mapped[int] = mapped_column(BigInteger)
    sample_count: Mapped[float] = mapped_column(Float)
    sum: Mapped[float] = mapped_column(Float)
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)


class MetricAlarmRecord(Base):
    __tablename__ = "cw_alarms"
    __table_args__ = (UniqueConstraint("account_id", "region", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    definition: Mapped[dict[str, Any]]  # PutMetricAlarm's request, as given
    state_value: Mapped[str] = mapped_column(String(32))
    state_reason: Mapped[str] = mapped_column(String(1023))
    state_reason_data: Mapped[str | None] = mapped_column(String(4000))
    state_updated_at: Mapped[datetime]
    configuration_updated_at: Mapped[datetime]
    evaluated_at: Mapped[datetime | None]
    actions_done_at: Mapped[datetime | None]  # when the current state's actions last ran


class ScalableResource:
    """The columns that name an Application Auto Scaling target: whose, where, and which resource."""

    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    service_namespace: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(1600))
    scalable_dimension: Mapped[str] = mapped_column(String(128))


class ScalableTargetRecord(ScalableResource, Base):
    __tablename__ = "aas_scalable_targets"
    __table_args__ = (
        UniqueConstraint("account_id", "region", "service_namespace", "resource_id", "scalable_dimension"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    arn: Mapped[str] = mapped_column(String(1600))
    min_capacity: Mapped[int] = mapped_column(Integer)
    max_capacity: Mapped[int] = mapped_column(Integer)
    role_arn: Mapped[str] = mapped_column(String(1600))
    suspended_state: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class ScalingPolicyRecord(ScalableResource, Base):
    __tablename__ = "aas_scaling_policies"
    __table_args__ = (
        UniqueConstraint(
            "account_id", "region", "service_namespace", "resource_id", "scalable_dimension", "name"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256))
    arn: Mapped[str] = mapped_column(String(1600))
    policy_type: Mapped[str] = mapped_column(String(32))
    configuration: Mapped[dict[str, Any]]  # the policy's *ScalingPolicyConfiguration
    alarms: Mapped[list[Any]]  # [{"AlarmName", "AlarmARN"}]: those it created, or those naming it
    created_at: Mapped[datetime]


class ScalingActivityRecord(ScalableResource, Base):
    __tablename__ = "aas_scaling_activities"
    __table_args__ = (Index("ix_aas_scaling_activities_target", "account_id", "region", "resource_id"),)

    activity_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    description: Mapped[str] = mapped_column(String(1024))
    cause: Mapped[str] = mapped_column(String(1024))
    status_code: Mapped[str] = mapped_column(String(32))
    status_message: Mapped[str | None] = mapped_column(String(1024))
    start_time: Mapped[datetime]
    end_time: Mapped[datetime | None]
