"""The workers' side of labelling jobs, which AWS serves in its worker portal and not in the
SageMaker API: the jobs a worker has tasks in, taking a data object's task, its image, and the
worker's answer. A worker is an IAM user of the job's account in one of the IAM groups its workteam
names; nobody else sees the tasks. A task is held for TaskTimeLimitInSeconds by the worker who took
it; an object gets NumberOfHumanWorkersPerDataObject answers from different workers, then its
annotation is consolidated, and the job completes when every object is labelled (or
MaxHumanLabeledObjectCount / MaxPercentageOfInputDatasetLabeled objects are)."""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update

from nimbus.errors import AwsError
from nimbus.services.sagemaker.errors import resource_not_found, validation_error
from nimbus.services.sagemaker.job_table import JobKey
from nimbus.services.sagemaker.labeling import automation
from nimbus.services.sagemaker.labeling.completion import finish
from nimbus.services.sagemaker.labeling.output import labeled_line
from nimbus.services.sagemaker.labeling.records import (
    ANSWERS,
    LABELING_JOBS,
    OBJECTS,
    label_counters,
    object_where,
    pending_human,
    worker_workteams,
)
from nimbus.services.sagemaker.labeling.role_data import job_access, require_read
from nimbus.services.sagemaker.labeling.task_types import TASK_TYPES
from nimbus.services.sagemaker.s3_locations import JobFailure, split_s3_uri
from nimbus.storage import Storage
from nimbus.storage.objects import MissingFile, StorageError

MAX_TEXT = 100_000  # Ground Truth's text tasks take texts of up to 100 KB


def worker_jobs(storage: Storage, account_id: str, region: str, worker_arn: str) -> list[dict[str, Any]]:
    """The in-progress jobs of the worker's workteams, with how many tasks wait for this worker."""
    teams = worker_workteams(storage, account_id, region, worker_arn)
    table = LABELING_JOBS.table
    query = (
        select(table)
        .where(table.c.account_id == account_id, table.c.region == region, table.c.status == "InProgress")
        .where(table.c.workteam_arn.in_(teams))
        .order_by(table.c.created_at)
    )
    with storage.database.engine.connect() as connection:
        jobs = connection.execute(query).all()
    listed = []
    for job in jobs:
        key = (account_id, region, job.name)
        waiting = _open_positions(storage, key, job, worker_arn)
        listed.append(
            {
                **_task_header(job),
                "TasksWaiting": len(waiting),
                # people label in batches, the machine between them: more tasks may come
                "AutomatedLabeling": automation.is_automated(job),
                "LabelCounters": label_counters(storage, key),
            }
        )
    return listed


def _task_header(job: Any) -> dict[str, Any]:
    config = job.request["HumanTaskConfig"]
    return {
        "LabelingJobName": job.name,
        "TaskType": job.task_type,
        "TaskTitle": config["TaskTitle"],
        "TaskDescription": config["TaskDescription"],
        "TaskTimeLimitInSeconds": config["TaskTimeLimitInSeconds"],
        "Labels": job.labels,
    }


def _worker_job(storage: Storage, key: JobKey, worker_arn: str) -> Any:
    """The job, if the worker is in its workteam; ResourceNotFound otherwise (as for no job)."""
    job = LABELING_JOBS.find(storage, key)
    if job is None or job.workteam_arn not in worker_workteams(storage, key[0], key[1], worker_arn):
        raise resource_not_found(f"You have no tasks in a labeling job {key[2]}.")
    return job


def _open_positions(storage: Storage, key: JobKey, job: Any, worker_arn: str) -> list[int]:
    """The objects this worker may take: not labelled, not answered by them, and held or answered by
    fewer workers than the job asks for (holds past the task time limit count no longer)."""
    needed = job.request["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"]
    expired = datetime.now(UTC) - timedelta(seconds=job.request["HumanTaskConfig"]["TaskTimeLimitInSeconds"])
    answers = ANSWERS.c
    with storage.database.engine.connect() as connection:
        rows = connection.execute(
            select(answers.position, answers.worker_arn, answers.submitted_at, answers.taken_at).where(
                answers.account_id == key[0], answers.region == key[1], answers.job_name == key[2]
            )
        ).all()
    mine = {row.position for row in rows if row.worker_arn == worker_arn and row.submitted_at is not None}
    busy: dict[int, int] = {}
    for row in rows:
        if row.worker_arn != worker_arn and (row.submitted_at is not None or row.taken_at > expired):
            busy[row.position] = busy.get(row.position, 0) + 1
    objects = OBJECTS.c
    unlabeled = (
        select(objects.position)
        .where(*object_where(key), objects.consolidated.is_(None), objects.human_batch.is_not(None))
        .order_by(objects.position)
    )
    with storage.database.engine.connect() as connection:
        positions = connection.scalars(unlabeled).all()
    return [position for position in positions if position not in mine and busy.get(position, 0) < needed]


def take_task(storage: Storage, key: JobKey, worker_arn: str) -> dict[str, Any] | None:
    """The next task for the worker (held for them from now), or None when none is left for them."""
    job = _worker_job(storage, key, worker_arn)
    if job.status != "InProgress":
        return None
    held = _open_hold(storage, key, job, worker_arn)
    if held is not None:  # the task they hold already (a reloaded page), with its own time limit
        return _task(storage, job, held.position, held.taken_at, _entry(storage, key, held.position))
    now = datetime.now(UTC)
    for position in _open_positions(storage, key, job, worker_arn):
        if _hold(storage, key, job, position, worker_arn, now):
            return _task(storage, job, position, now, _entry(storage, key, position))
    return None


def _hold(storage: Storage, key: JobKey, job: Any, position: int, worker_arn: str, now: datetime) -> bool:
    """Holds the object for the worker, unless enough other workers hold or answered it: two workers
    who ask at the same moment do not both take an object that needs one more worker."""
    config = job.request["HumanTaskConfig"]
    expired = now - timedelta(seconds=config["TaskTimeLimitInSeconds"])
    answers = ANSWERS.c
    others = (
        select(func.count())
        .select_from(ANSWERS)
        .where(answers.account_id == key[0], answers.region == key[1], answers.job_name == key[2])
        .where(answers.position == position, answers.worker_arn != worker_arn)
        .where(or_(answers.submitted_at.is_not(None), answers.taken_at > expired))
    )
    with storage.database.engine.begin() as connection:
        # writing the object's row first makes holds of one object take turns (SQLite's write lock,
        # PostgreSQL's row lock), so the count below sees every hold made before this one
        connection.execute(update(OBJECTS).where(*object_where(key, position)).values(position=position))
        if connection.scalar(others) >= config["NumberOfHumanWorkersPerDataObject"]:
            return False
        connection.execute(delete(ANSWERS).where(*_answer_where(key, position, worker_arn)))
        connection.execute(
            insert(ANSWERS),
            {
                "account_id": key[0],
                "region": key[1],
                "job_name": key[2],
                "position": position,
                "worker_arn": worker_arn,
                "answer": None,
                "taken_at": now,
                "submitted_at": None,
            },
        )
    return True


def _task(
    storage: Storage, job: Any, position: int, taken_at: datetime, entry: dict[str, Any]
) -> dict[str, Any]:
    task = TASK_TYPES[job.task_type]
    shown = {"SourceRef": entry["source-ref"]} if task.is_image else {"Source": _text(storage, job, entry)}
    deadline = taken_at + timedelta(seconds=job.request["HumanTaskConfig"]["TaskTimeLimitInSeconds"])
    return {**_task_header(job), "Position": position, "TakenAt": taken_at, "Deadline": deadline, **shown}


def _text(storage: Storage, job: Any, entry: dict[str, Any]) -> str:
    """A text task's text: its ``source``, or the text object its ``source-ref`` names (read as the
    job's role)."""
    if "source" in entry:
        return str(entry["source"])
    _require_read(storage, job, entry["source-ref"])
    try:
        with storage.objects.open_object(*split_s3_uri(entry["source-ref"])) as stored:
            return stored.read(MAX_TEXT).decode("utf-8", errors="replace")
    except (ValueError, MissingFile, StorageError):
        raise resource_not_found(f"The task's text {entry['source-ref']} does not exist.") from None


def _entry(storage: Storage, key: JobKey, position: int) -> dict[str, Any]:
    with storage.database.engine.connect() as connection:
        entry: dict[str, Any] = connection.scalar(select(OBJECTS.c.entry).where(*object_where(key, position)))
    return entry


def _open_hold(storage: Storage, key: JobKey, job: Any, worker_arn: str) -> Any:
    """The unexpired task the worker holds and has not answered, if any."""
    answers = ANSWERS.c
    expired = datetime.now(UTC) - timedelta(seconds=job.request["HumanTaskConfig"]["TaskTimeLimitInSeconds"])
    query = select(ANSWERS).where(
        answers.account_id == key[0],
        answers.region == key[1],
        answers.job_name == key[2],
        answers.worker_arn == worker_arn,
        answers.submitted_at.is_(None),
        answers.taken_at > expired,
    )
    with storage.database.engine.connect() as connection:
        return connection.execute(query).first()


def _answer_where(key: JobKey, position: int, worker_arn: str) -> tuple[Any, ...]:
    columns = ANSWERS.c
    return (
        columns.account_id == key[0],
        columns.region == key[1],
        columns.job_name == key[2],
        columns.position == position,
        columns.worker_arn == worker_arn,
    )


def task_image(storage: Storage, key: JobKey, worker_arn: str, position: int) -> tuple[bytes, str]:
    """The image of a task the worker holds, and its content type."""
    job = _worker_job(storage, key, worker_arn)
    held = _held(storage, key, position, worker_arn)
    if held is None or not TASK_TYPES[job.task_type].is_image:
        raise resource_not_found(f"You hold no image task {position} in {key[2]}.")
    uri = _entry(storage, key, position)["source-ref"]
    _require_read(storage, job, uri)
    try:
        bucket, object_key = split_s3_uri(uri)
        with storage.objects.open_object(bucket, object_key) as stored:
            return stored.read(), mimetypes.guess_type(object_key)[0] or "application/octet-stream"
    except (ValueError, MissingFile, StorageError):
        raise resource_not_found(f"The task's image {uri} does not exist.") from None


def _require_read(storage: Storage, job: Any, uri: str) -> None:
    """AccessDenied when the job's role may not read the task's data: the worker sees nothing of it."""
    try:
        require_read(job_access(storage, job.name, job.request), uri)
    except JobFailure as error:
        raise AwsError("AccessDenied", str(error).removeprefix("ClientError: "), 403) from None


def _held(storage: Storage, key: JobKey, position: int, worker_arn: str) -> Any:
    with storage.database.engine.connect() as connection:
        return connection.execute(select(ANSWERS).where(*_answer_where(key, position, worker_arn))).first()


def submit_answer(
    storage: Storage, key: JobKey, worker_arn: str, position: int, answer: Any
) -> dict[str, Any]:
    """Stores the worker's answer to a task they hold; consolidates the object once enough workers
    answered, and ends the job when enough objects are labelled."""
    job = _worker_job(storage, key, worker_arn)
    if job.status != "InProgress":
        raise validation_error(f"Labeling job {key[2]} is {job.status}: it takes no more answers.")
    held = _held(storage, key, position, worker_arn)
    if held is None or held.submitted_at is not None:
        raise validation_error(f"You hold no open task {position} in {key[2]}: take the next task first.")
    config = job.request["HumanTaskConfig"]
    now = datetime.now(UTC)
    if now - held.taken_at > timedelta(seconds=config["TaskTimeLimitInSeconds"]):
        with storage.database.engine.begin() as connection:
            connection.execute(delete(ANSWERS).where(*_answer_where(key, position, worker_arn)))
        raise validation_error(
            f"The task's time limit ({config['TaskTimeLimitInSeconds']} s) has passed: "
            "it went back to the queue."
        )
    if not isinstance(answer, dict):
        raise validation_error("The answer must be a JSON object: the task template's answerContent.")
    try:
        checked = TASK_TYPES[job.task_type].check(answer, job.labels)
    except ValueError as error:
        raise validation_error(str(error)) from None
    with storage.database.engine.begin() as connection:
        connection.execute(
            update(ANSWERS)
            .where(*_answer_where(key, position, worker_arn))
            .values(answer=checked, submitted_at=now)
        )
    _consolidate(storage, key, job, position)
    counters = label_counters(storage, key)
    if automation.is_automated(job):
        if not pending_human(storage, key):
            automation.batch_done(storage, key)
    elif _enough(job, counters):
        finish(storage, key, "Completed")
    return {"LabelCounters": counters}


def _consolidate(storage: Storage, key: JobKey, job: Any, position: int) -> None:
    """Once enough workers answered the object, its output manifest line (the earliest answer first)."""
    answers = ANSWERS.c
    objects = OBJECTS.c
    where_object = object_where(key, position)
    submitted = (
        select(answers.answer)
        .where(answers.account_id == key[0], answers.region == key[1], answers.job_name == key[2])
        .where(answers.position == position, answers.submitted_at.is_not(None))
        .order_by(answers.submitted_at)
    )
    with storage.database.engine.begin() as connection:
        given = connection.scalars(submitted).all()
        if len(given) < job.request["HumanTaskConfig"]["NumberOfHumanWorkersPerDataObject"]:
            return
        entry = connection.scalar(select(objects.entry).where(*where_object, objects.consolidated.is_(None)))
        if entry is None:
            return
        try:
            line = labeled_line(storage, job, entry, list(given))
        except JobFailure as error:
            raise AwsError("ValidationException", str(error), 400) from None
        connection.execute(update(OBJECTS).where(*where_object).values(consolidated=line))


def _enough(job: Any, counters: dict[str, int]) -> bool:
    total = counters["TotalLabeled"] + counters["Unlabeled"]
    conditions = job.request.get("StoppingConditions") or {}
    limit = min(
        total,
        conditions.get("MaxHumanLabeledObjectCount", total),
        -(-total * conditions.get("MaxPercentageOfInputDatasetLabeled", 100) // 100),
    )
    return counters["TotalLabeled"] >= limit
