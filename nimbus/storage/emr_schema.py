"""EMR clusters, their steps and their instances (each a Spark master or worker process)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class ClusterRecord(Base):
    """One cluster: the RunJobFlow request as given, its instance groups and its state."""

    __tablename__ = "emr_clusters"
    __table_args__ = (Index("ix_emr_clusters_account_state", "account_id", "region", "state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    caller_arn: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(256))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # the RunJobFlow input
    # [{Id, Name, InstanceGroupType, InstanceType, RequestedInstanceCount, Market}]
    instance_groups: Mapped[list[Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(32))
    reason_code: Mapped[str | None] = mapped_column(String(32))
    reason_message: Mapped[str | None] = mapped_column(String(1024))
    master_url: Mapped[str | None] = mapped_column(String(256))  # spark://127.0.0.1:<port> once started
    # http://127.0.0.1:<port>/, the Spark master's web UI, once a master Nimbus started is up
    master_ui_url: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]
    ready_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class StepRecord(Base):
    """One step of a cluster, in the order it was added."""

    __tablename__ = "emr_steps"
    __table_args__ = (Index("ix_emr_steps_cluster", "cluster_id", "position"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    cluster_id: Mapped[str] = mapped_column(String(32), ForeignKey("emr_clusters.id"))
    position: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)  # the StepConfig as given
    state: Mapped[str] = mapped_column(String(16))
    failure: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # FailureDetails
    pid: Mapped[int | None] = mapped_column(Integer)  # the spark-submit process while it runs
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class InstanceRecord(Base):
    """One instance of an instance group: the Spark master or one worker, as its own process."""

    __tablename__ = "emr_instances"
    __table_args__ = (Index("ix_emr_instances_cluster", "cluster_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    cluster_id: Mapped[str] = mapped_column(String(32), ForeignKey("emr_clusters.id"))
    group_id: Mapped[str] = mapped_column(String(32))
    ec2_instance_id: Mapped[str] = mapped_column(String(32))
    instance_type: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))
    reason_code: Mapped[str | None] = mapped_column(String(32))
    reason_message: Mapped[str | None] = mapped_column(String(1024))
    pid: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    ready_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
