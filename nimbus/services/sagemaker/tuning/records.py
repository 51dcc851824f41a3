"""Tuning job rows and their trials (the training jobs they launched): storing them, and the summaries,
counters and best job that Describe and List answer with."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row

from nimbus.services.sagemaker.job_records import JOBS as TRAINING_JOBS
from nimbus.services.sagemaker.job_records import job_arn as training_job_arn
from nimbus.services.sagemaker.job_table import JobKey, JobTable
from nimbus.storage import Storage
from nimbus.storage.tuning_schema import TuningJobRecord, TuningTrialRecord

TUNING_JOBS = JobTable(TuningJobRecord.__table__, "hyper-parameter-tuning-job", "tuning_end")
TRIALS = TuningTrialRecord.__table__
# a training job's status -> the TrainingJobStatusCounters member that counts it
STATUS_COUNTERS = {
    "Completed": "Completed",
    "InProgress": "InProgress",
    "Stopping": "InProgress",
    "Failed": "NonRetryableError",
    "Stopped": "Stopped",
}


def insert_trial(
    storage: Storage, key: JobKey, training_job: str, number: int, tuned: dict[str, str]
) -> None:
    row = {
        "account_id": key[0],
        "region": key[1],
        "training_job": training_job,
        "tuning_job": key[2],
        "number": number,
        "tuned_hyperparameters": tuned,
        "objective_status": "Pending",
        "objective_value": None,
    }
    with storage.database.engine.begin() as connection:
        connection.execute(insert(TRIALS), row)


def settle_trial(storage: Storage, key: JobKey, training_job: str, value: float | None) -> None:
    """The trial's final objective: Succeeded with its value, or Failed without one."""
    where = TRIALS.c.account_id == key[0], TRIALS.c.region == key[1], TRIALS.c.training_job == training_job
    status = "Failed" if value is None else "Succeeded"
    with storage.database.engine.begin() as connection:
        connection.execute(
            update(TRIALS).where(*where).values(objective_status=status, objective_value=value)
        )


def trials(storage: Storage, key: JobKey) -> list[Row[Any]]:
    """The tuning job's trials in launch order, each with its training job's columns."""
    query = (
        select(
            TRIALS,
            TRAINING_JOBS.c.status,
            TRAINING_JOBS.c.failure_reason,
            TRAINING_JOBS.c.created_at,
            TRAINING_JOBS.c.training_start,
            TRAINING_JOBS.c.training_end,
        )
        .join(
            TRAINING_JOBS,
            (TRAINING_JOBS.c.account_id == TRIALS.c.account_id)
            & (TRAINING_JOBS.c.region == TRIALS.c.region)
            & (TRAINING_JOBS.c.name == TRIALS.c.training_job),
        )
        .where(TRIALS.c.account_id == key[0], TRIALS.c.region == key[1], TRIALS.c.tuning_job == key[2])
        .order_by(TRIALS.c.number)
    )
    with storage.database.engine.connect() as connection:
        return list(connection.execute(query).all())


def objective(request: dict[str, Any]) -> dict[str, str]:
    """The tuning job's objective: {Type, MetricName}, from its config or its one training definition."""
    definition = training_definition(request)
    found = definition.get("TuningObjective") or request["HyperParameterTuningJobConfig"].get(
        "HyperParameterTuningJobObjective"
    )
    assert found is not None  # checked at creation
    return dict(found)


def training_definition(request: dict[str, Any]) -> dict[str, Any]:
    """The definition of the training jobs the tuning job launches (creation allows exactly one)."""
    return request.get("TrainingJobDefinition") or request["TrainingJobDefinitions"][0]


def trial_summary(trial: Row[Any], metric: dict[str, str]) -> dict[str, Any]:
    """A HyperParameterTrainingJobSummary."""
    summary: dict[str, Any] = {
        "TrainingJobName": trial.training_job,
        "TrainingJobArn": training_job_arn((trial.account_id, trial.region, trial.training_job)),
        "TuningJobName": trial.tuning_job,
        "CreationTime": trial.created_at,
        "TrainingJobStatus": trial.status,
        "TunedHyperParameters": trial.tuned_hyperparameters,
        "ObjectiveStatus": trial.objective_status,
    }
    optional = {
        "TrainingStartTime": trial.training_start,
        "TrainingEndTime": trial.training_end,
        "FailureReason": trial.failure_reason,
    }
    summary.update({name: value for name, value in optional.items() if value is not None})
    if trial.objective_value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": metric["Type"],
            "MetricName": metric["MetricName"],
            "Value": trial.objective_value,
        }
    return summary


def counters(rows: list[Row[Any]]) -> dict[str, dict[str, int]]:
    statuses = Counter(STATUS_COUNTERS[row.status] for row in rows)
    objectives = Counter(row.objective_status for row in rows)
    return {
        "TrainingJobStatusCounters": {
            name: statuses[name]
            for name in ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped")
        },
        "ObjectiveStatusCounters": {name: objectives[name] for name in ("Succeeded", "Pending", "Failed")},
    }


def best_trial(rows: list[Row[Any]], metric: dict[str, str]) -> Row[Any] | None:
    """The Completed training job with the best objective value (the first of equals)."""
    scored = [row for row in rows if row.status == "Completed" and row.objective_value is not None]
    if not scored:
        return None
    sign = -1.0 if metric["Type"] == "Maximize" else 1.0
    return min(scored, key=lambda row: (sign * row.objective_value, row.number))


def better(value: float, than: float | None, metric: dict[str, str]) -> bool:
    if than is None:
        return True
    return value > than if metric["Type"] == "Maximize" else value < than


def set_not_improving(storage: Storage, key: JobKey, count: int) -> None:
    with storage.database.engine.begin() as connection:
        connection.execute(
            update(TUNING_JOBS.table).where(*TUNING_JOBS.where(key)).values(not_improving=count)
        )
