"""Training job rows: finding them, and moving a job along its statuses with AWS's transitions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Row

from nimbus.storage import Storage
from nimbus.storage.training_schema import TrainingJobRecord

JOBS = TrainingJobRecord.__table__
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
INTERRUPTED = "Nimbus restarted while the job was running"
JobKey = tuple[str, str, str]  # account, region, job name

# SecondaryStatus -> its StatusMessage, as AWS words them
MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job exceeded the maximum allowed runtime",
}


def job_arn(key: JobKey) -> str:
    account_id, region, name = key
    return f"arn:aws:sagemaker:{region}:{account_id}:training-job/{name.lower()}"


def _where(key: JobKey) -> tuple[Any, ...]:
    return JOBS.c.account_id == key[0], JOBS.c.region == key[1], JOBS.c.name == key[2]


def find_job(storage: Storage, key: JobKey) -> Row[Any] | None:
    with storage.database.engine.connect() as connection:
        return connection.execute(select(JOBS).where(*_where(key))).first()


def advance(
    storage: Storage, key: JobKey, secondary: str, status: str = "InProgress", **columns: Any
) -> bool:
    """Moves the job to ``secondary`` (closing the open transition) and sets ``columns``. A job being
    stopped only moves to Stopped/MaxRuntimeExceeded, and a finished job not at all: False then."""
    now = datetime.now(UTC)
    with storage.database.engine.begin() as connection:
        row = connection.execute(select(JOBS).where(*_where(key))).first()
        if row is None or row.status not in ("InProgress", "Stopping"):
            return False
        if row.status == "Stopping" and status not in ("Stopping", "Stopped"):
            return False
        transitions = [dict(transition) for transition in row.transitions]
        if transitions and "EndTime" not in transitions[-1]:
            transitions[-1]["EndTime"] = now.isoformat()
        transitions.append(
            {"Status": secondary, "StartTime": now.isoformat(), "StatusMessage": MESSAGES[secondary]}
        )
        if status in ("Completed", "Failed", "Stopped"):
            transitions[-1]["EndTime"] = now.isoformat()
        values = {
            "status": status,
            "secondary_status": secondary,
            "transitions": transitions,
            "last_modified": now,
        }
        connection.execute(update(JOBS).where(*_where(key)).values(**values, **columns))
    return True


def fail_interrupted_jobs(storage: Storage) -> None:
    """Jobs a previous Nimbus process left running (or queued) cannot finish: they fail, saying why."""
    with storage.database.engine.connect() as connection:
        keys = connection.execute(
            select(JOBS.c.account_id, JOBS.c.region, JOBS.c.name, JOBS.c.status).where(
                JOBS.c.status.in_(("InProgress", "Stopping"))
            )
        ).all()
    for account_id, region, name, status in keys:
        final = "Stopped" if status == "Stopping" else "Failed"
        reason = None if status == "Stopping" else INTERRUPTED
        advance(
            storage,
            (account_id, region, name),
            final,
            final,
            failure_reason=reason,
            training_end=datetime.now(UTC),
        )
