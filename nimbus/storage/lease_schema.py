"""Leases on background work shared by several Nimbus nodes: which node runs a piece of work (a training
job, a video job, the lifecycle sweep), until when, and whether another node asked it to stop.
Also the nodes' addresses. Declared on the shared ``Base``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class LeaseRecord(Base):
    """One piece of background work and the node that holds it; the lease lapses at ``expires_at``
    unless the owner's heartbeat renews it."""

    __tablename__ = "nimbus_leases"
    __table_args__ = (Index("ix_nimbus_leases_owner", "owner"),)

    # what the work is: "sagemaker/training-job/<account>/<region>/<name>", "s3/lifecycle-sweep"
    resource: Mapped[str] = mapped_column(String(512), primary_key=True)
    owner: Mapped[str] = mapped_column(String(256))  # the node's id: host, pid and a random suffix
    expires_at: Mapped[datetime]
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False)  # read by the owner's heartbeat


class NodeRecord(Base):
    """A live or past Nimbus node and the address other nodes reach it at (to forward it the requests
    only it can answer, such as the invocations of the endpoints it serves)."""

    __tablename__ = "nimbus_nodes"

    id: Mapped[str] = mapped_column(String(256), primary_key=True)  # the id leases name as their owner
    address: Mapped[str] = mapped_column(String(1024))  # its base URL: http(s)://host:port
    started_at: Mapped[datetime]
