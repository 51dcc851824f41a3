"""Training job rows: finding them, and moving a job along its statuses with AWS's transitions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row

from nimbus.services.leases import lease_node
from nimbus.storage import Storage
from nimbus.storage.training_schema import TrainingJobRecord

JOBS = TrainingJobRecord.__table__
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
INTERRUPTED = "The Nimbus node running the job stopped (restarted or died)"
LEASE_KIND = "sagemaker/training-job"  # leases name a job sagemaker/training-job/<account>/<region>/<name>
JobKey = tuple[str, str, str]  # account, region, job name
DEFAULT_MAX_RUNTIME_S = 86400

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


def insert_job(
    storage: Storage, key: JobKey, caller_arn: str, request: dict[str, Any], tuning_job_arn: str | None = None
) -> None:
    """Stores a new job, Starting, with the defaults AWS reports filled in (MaxRuntimeInSeconds, an
    empty KmsKeyId); IntegrityError when the name is taken."""
    now = datetime.now(UTC)
    request = {
        **request,
        "OutputDataConfig": {"KmsKeyId": "", **request["OutputDataConfig"]},
        "StoppingCondition": {
            "MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME_S,
            **(request.get("StoppingCondition") or {}),
        },
    }
    output_path = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    row = {
        "account_id": key[0],
        "region": key[1],
        "name": key[2],
        "caller_arn": caller_arn,
        "request": request,
        "status": "InProgress",
        "secondary_status": "Starting",
        "transitions": [
            {"Status": "Starting", "StartTime": now.isoformat(), "StatusMessage": MESSAGES["Starting"]}
        ],
        "failure_reason": None,
        "final_metrics": [],
        "model_artifacts": f"{output_path}/{key[2]}/output/model.tar.gz",
        "log_stream": f"{key[2]}/algo-1-{int(now.timestamp())}",
        "created_at": now,
        "last_modified": now,
        "training_start": None,
        "training_end": None,
        "billable_seconds": None,
        "tuning_job_arn": tuning_job_arn,
    }
    with storage.database.engine.begin() as connection:
        connection.execute(insert(JOBS), row)


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
    """Jobs whose node stopped while they ran (or queued) cannot finish: they fail, saying why (those
    being stopped are Stopped). Only jobs whose lease expired: a live node's jobs are its own."""
    with storage.database.engine.connect() as connection:
        running = connection.execute(
            select(JOBS.c.account_id, JOBS.c.region, JOBS.c.name, JOBS.c.created_at).where(
                JOBS.c.status.in_(("InProgress", "Stopping"))
            )
        ).all()
    jobs: list[tuple[JobKey, datetime]] = [
        ((account, region, name), created) for account, region, name, created in running
    ]
    for key in lease_node(storage).orphans(LEASE_KIND, jobs):
        job = find_job(storage, key)
        stopping = job is not None and job.status == "Stopping"
        final = "Stopped" if stopping else "Failed"
        advance(
            storage,
            key,
            final,
            final,
            failure_reason=None if stopping else INTERRUPTED,
            training_end=datetime.now(UTC),
        )
