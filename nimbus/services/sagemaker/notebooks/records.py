"""Notebook instance and lifecycle configuration rows: finding them and moving an instance along
Pending -> InService -> Stopping -> Stopped (or Failed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Row

from nimbus.storage import Storage
from nimbus.storage.notebook_schema import NotebookInstanceRecord, NotebookLifecycleConfigRecord

INSTANCES = NotebookInstanceRecord.__table__
LIFECYCLE_CONFIGS = NotebookLifecycleConfigRecord.__table__
InstanceKey = tuple[str, str, str]  # account, region, notebook instance name
LOG_GROUP = "/aws/sagemaker/NotebookInstances"


def instance_arn(key: InstanceKey) -> str:
    return f"arn:aws:sagemaker:{key[1]}:{key[0]}:notebook-instance/{key[2].lower()}"


def lifecycle_config_arn(key: InstanceKey) -> str:
    return f"arn:aws:sagemaker:{key[1]}:{key[0]}:notebook-instance-lifecycle-config/{key[2].lower()}"


def where(table: Any, key: InstanceKey) -> tuple[Any, ...]:
    return table.c.account_id == key[0], table.c.region == key[1], table.c.name == key[2]


def find_instance(storage: Storage, key: InstanceKey) -> Row[Any] | None:
    with storage.database.engine.connect() as connection:
        return connection.execute(select(INSTANCES).where(*where(INSTANCES, key))).first()


def find_lifecycle_config(storage: Storage, key: InstanceKey) -> Row[Any] | None:
    with storage.database.engine.connect() as connection:
        return connection.execute(select(LIFECYCLE_CONFIGS).where(*where(LIFECYCLE_CONFIGS, key))).first()


def move(storage: Storage, key: InstanceKey, status: str, allowed: tuple[str, ...], **columns: Any) -> bool:
    """Moves the instance to ``status`` when it is in one of ``allowed``; False otherwise."""
    with storage.database.engine.begin() as connection:
        current = connection.scalar(select(INSTANCES.c.status).where(*where(INSTANCES, key)))
        if current not in allowed:
            return False
        values = {"status": status, "last_modified": datetime.now(UTC), **columns}
        connection.execute(update(INSTANCES).where(*where(INSTANCES, key)).values(**values))
    return True
