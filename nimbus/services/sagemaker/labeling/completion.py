"""Ending a labelling job: exactly one request writes its output. Two workers who submit a job's last
answers at the same moment both see it done; the one whose compare-and-set claims the job's output
(a single UPDATE ... WHERE nobody claimed it, atomic in SQLite and PostgreSQL alike) writes it and
moves the job on, the other leaves it alone."""

from __future__ import annotations

from sqlalchemy import update

from nimbus.services.sagemaker.job_table import JobKey
from nimbus.services.sagemaker.labeling.output import write_output
from nimbus.services.sagemaker.labeling.records import LABELING_JOBS
from nimbus.services.sagemaker.s3_locations import JobFailure
from nimbus.storage import Storage


def claim_output(storage: Storage, key: JobKey) -> bool:
    """True for the one caller that claims the job's output while it is InProgress or Stopping."""
    table = LABELING_JOBS.table
    claim = (
        update(table)
        .where(*LABELING_JOBS.where(key), table.c.status.in_(("InProgress", "Stopping")))
        .where(table.c.output_claimed.is_(False))
        .values(output_claimed=True)
    )
    with storage.database.engine.begin() as connection:
        return connection.execute(claim).rowcount == 1


def release_claims(storage: Storage) -> None:
    """At startup: a claim whose process died before the job ended is nobody's any more."""
    table = LABELING_JOBS.table
    with storage.database.engine.begin() as connection:
        connection.execute(
            update(table)
            .where(table.c.status.in_(("InProgress", "Stopping")), table.c.output_claimed.is_(True))
            .values(output_claimed=False)
        )


def finish(storage: Storage, key: JobKey, status: str) -> bool:
    """Writes the job's output and ends it at ``status`` (Stopped if a stop came first; Failed, saying
    why, if S3 refuses the output), when this call claims it; False when another call did."""
    if not claim_output(storage, key):
        return False
    job = LABELING_JOBS.find(storage, key)
    reason = {}
    try:
        write_output(storage, key, job)
    except JobFailure as error:
        status, reason = "Failed", {"failure_reason": str(error)}
    ended = "Stopped" if job.status == "Stopping" else status
    # a stop that came after this call read the job leaves it Stopping: it ends Stopped
    LABELING_JOBS.move(storage, key, ended, **reason) or LABELING_JOBS.move(storage, key, "Stopped", **reason)
    return True
