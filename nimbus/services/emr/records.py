"""Cluster, step and instance rows: ids as EMR makes them, lookups, and state changes."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Row

from nimbus.storage import Storage
from nimbus.storage.emr_schema import ClusterRecord, InstanceRecord, StepRecord

CLUSTERS = ClusterRecord.__table__
STEPS = StepRecord.__table__
INSTANCES = InstanceRecord.__table__

ACTIVE_CLUSTER_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING")
_ID_ALPHABET = string.ascii_uppercase + string.digits


def new_id(prefix: str) -> str:
    """EMR's ids: ``j-``, ``s-``, ``ig-``, ``ci-`` and 13 upper-case letters and digits."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(13))


def new_ec2_instance_id() -> str:
    return "i-" + secrets.token_hex(9)[:17]


def now() -> datetime:
    return datetime.now(UTC)


def find_cluster(storage: Storage, cluster_id: str, account_id: str | None = None) -> Row[Any] | None:
    query = select(CLUSTERS).where(CLUSTERS.c.id == cluster_id)
    if account_id is not None:
        query = query.where(CLUSTERS.c.account_id == account_id)
    with storage.database.engine.connect() as connection:
        return connection.execute(query).first()


def cluster_instances(storage: Storage, cluster_id: str) -> list[Row[Any]]:
    with storage.database.engine.connect() as connection:
        return list(
            connection.execute(
                select(INSTANCES).where(INSTANCES.c.cluster_id == cluster_id).order_by(INSTANCES.c.created_at)
            )
        )


def runs_on_existing_master(storage: Storage, cluster_id: str) -> bool:
    """A cluster created with NIMBUS_SPARK_MASTER set has no instances of its own."""
    return not cluster_instances(storage, cluster_id)


def set_cluster(storage: Storage, cluster_id: str, **values: Any) -> None:
    with storage.database.engine.begin() as connection:
        connection.execute(update(CLUSTERS).where(CLUSTERS.c.id == cluster_id).values(**values))


def move_cluster(storage: Storage, cluster_id: str, states: tuple[str, ...], **values: Any) -> bool:
    """Sets ``values`` only if the cluster is in one of ``states``; False if it was not."""
    with storage.database.engine.begin() as connection:
        moved = connection.execute(
            update(CLUSTERS).where(CLUSTERS.c.id == cluster_id, CLUSTERS.c.state.in_(states)).values(**values)
        )
    return bool(moved.rowcount)


def move_step(storage: Storage, step_id: str, states: tuple[str, ...], **values: Any) -> bool:
    """Sets ``values`` only if the step is in one of ``states``; False if it was not."""
    with storage.database.engine.begin() as connection:
        moved = connection.execute(
            update(STEPS).where(STEPS.c.id == step_id, STEPS.c.state.in_(states)).values(**values)
        )
    return bool(moved.rowcount)


def set_instance(storage: Storage, instance_id: str, **values: Any) -> None:
    with storage.database.engine.begin() as connection:
        connection.execute(update(INSTANCES).where(INSTANCES.c.id == instance_id).values(**values))


def cancel_pending_steps(storage: Storage, cluster_id: str) -> None:
    with storage.database.engine.begin() as connection:
        connection.execute(
            update(STEPS)
            .where(STEPS.c.cluster_id == cluster_id, STEPS.c.state == "PENDING")
            .values(state="CANCELLED", ended_at=now())
        )
