"""Transform job rows: finding them and moving a job along InProgress -> Completed / Failed, or
InProgress -> Stopping -> Stopped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Row

from nimbus.services.sagemaker.job_records import INTERRUPTED
from nimbus.storage import Storage
from nimbus.storage.transform_schema import TransformJobRecord

JOBS = TransformJobRecord.__table__
JobKey = tuple[str, str, str]  # account, region, job name
# status -> the statuses a job may move to from it
NEXT = {"InProgress": {"Completed", "Failed", "Stopping"}, "Stopping": {"Stopped"}}


def job_arn(key: JobKey) -> str:
    account_id, region, name = key
    return f"arn:aws:sagemaker:{region}:{account_id}:transform-job/{name.lower()}"


def _where(key: JobKey) -> tuple[Any, ...]:
    return JOBS.c.account_id == key[0], JOBS.c.region == key[1], JOBS.c.name == key[2]


def find_job(storage: Storage, key: JobKey) -> Row[Any] | None:
    with storage.database.engine.connect() as connection:
        return connection.execute(select(JOBS).where(*_where(key))).first()


def move(storage: Storage, key: JobKey, status: str, **columns: Any) -> bool:
    """Moves the job to ``status`` (ending it at a final one) if its status allows; False otherwise (a
    job being stopped ends Stopped, whatever its run did)."""
    now = datetime.now(UTC)
    ending = {"transform_end": now} if status in ("Completed", "Failed", "Stopped") else {}
    with storage.database.engine.begin() as connection:
        current = connection.scalar(select(JOBS.c.status).where(*_where(key)))
        if status not in NEXT.get(current or "", set()):
            return False
        values = {"status": status, "last_modified": now, **ending, **columns}
        connection.execute(update(JOBS).where(*_where(key)).values(**values))
    return True


def fail_interrupted_jobs(storage: Storage) -> None:
    """Jobs a previous Nimbus process left running cannot finish: they fail, saying why; those being
    stopped are Stopped."""
    with storage.database.engine.connect() as connection:
        rows = connection.execute(
            select(JOBS.c.account_id, JOBS.c.region, JOBS.c.name, JOBS.c.status).where(
                JOBS.c.status.in_(tuple(NEXT))
            )
        ).all()
    for account_id, region, name, status in rows:
        key = (account_id, region, name)
        if status == "Stopping":
            move(storage, key, "Stopped")
        else:
            move(storage, key, "Failed", failure_reason=INTERRUPTED)
