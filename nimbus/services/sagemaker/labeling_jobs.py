"""Ground Truth labelling jobs: create, describe, list, stop, and a workteam's jobs. A job's data
objects wait for its workteam's workers in the console's labelling pages (labeling_tasks.py takes
their answers); it completes when every object has NumberOfHumanWorkersPerDataObject answers,
consolidated, and its output is written. With LabelingJobAlgorithmsConfig (automated data labelling,
labeling/automation.py) people label batches and a model labels the rest."""

from __future__ import annotations

import json
import secrets
from typing import Any

from sqlalchemy import insert, select

from nimbus.services.iam.role_access import RoleAccess
from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.errors import resource_not_found, validation_error
from nimbus.services.sagemaker.job_lists import list_jobs
from nimbus.services.sagemaker.job_table import JobKey
from nimbus.services.sagemaker.labeling import automation
from nimbus.services.sagemaker.labeling.completion import finish, release_claims
from nimbus.services.sagemaker.labeling.output import output_manifest_uri
from nimbus.services.sagemaker.labeling.records import (
    LABELING_JOBS,
    OBJECTS,
    find_workteam,
    label_counters,
    pending_human,
    workteam_arn,
    workteam_name,
)
from nimbus.services.sagemaker.labeling.role_data import job_access, require_read
from nimbus.services.sagemaker.labeling.task_types import TaskType, task_type_of
from nimbus.services.sagemaker.s3_locations import JobFailure, split_s3_uri
from nimbus.storage import Storage
from nimbus.storage.objects import MissingFile, StorageError

# members echoed back by DescribeLabelingJob as they were given
ECHOED = (
    "LabelAttributeName",
    "InputConfig",
    "OutputConfig",
    "RoleArn",
    "LabelCategoryConfigS3Uri",
    "StoppingConditions",
    "HumanTaskConfig",
    "LabelingJobAlgorithmsConfig",
)
MAX_OBJECTS = 100_000


def _key(ctx: RequestContext, name: str) -> JobKey:
    return ctx.caller.account_id, ctx.region, name


def _find(ctx: RequestContext, name: str) -> tuple[JobKey, Any]:
    key = _key(ctx, name)
    job = LABELING_JOBS.find(ctx.storage, key)
    if job is None:
        raise resource_not_found(f"Labeling job {name} does not exist.")
    return key, job


def _is_workteam(ctx: RequestContext, arn: str) -> bool:
    """Whether ``arn`` is a workteam of the caller's account, in this region."""
    name = workteam_name(arn)
    own = arn == workteam_arn(ctx.caller.account_id, ctx.region, name)
    return own and find_workteam(ctx.storage, ctx.caller.account_id, ctx.region, name) is not None


@sagemaker.operation
def create_labeling_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The built-in task types image classification (single and multi-label), bounding boxes, text
    classification (single label) and named entity recognition, named by AWS's own PRE-/ACS- Lambda
    ARNs, for a private workteam; the manifest and label categories are read when the job is created
    (a job whose S3 input is unreadable is Failed, saying why). The workers' UI is Nimbus's own for
    each task type: UiConfig is kept, its template not rendered. Automated data labelling
    (LabelingJobAlgorithmsConfig) for single-label image classification, on 1,250 objects or more.
    Not served: streaming jobs (SnsDataSource), custom Lambdas, public and vendor workforces,
    TaskAvailabilityLifetimeInSeconds (tasks wait until the job ends)."""
    config = request["HumanTaskConfig"]
    task = _task_type(ctx, config)
    if not _is_workteam(ctx, config["WorkteamArn"]):
        raise validation_error(f"Workteam {config['WorkteamArn']} does not exist in this account and region.")
    algorithms = request.get("LabelingJobAlgorithmsConfig")
    if algorithms:
        automation.check_algorithms_config(
            ctx.storage, ctx.caller.account_id, ctx.region, algorithms, task.name
        )
    source = request["InputConfig"]["DataSource"].get("S3DataSource")
    if source is None:
        raise validation_error(
            "Nimbus reads the input manifest from S3DataSource (no streaming SnsDataSource)."
        )
    if not request.get("LabelCategoryConfigS3Uri"):
        raise validation_error("LabelCategoryConfigS3Uri is required for the built-in task types.")
    for uri in (
        source["ManifestS3Uri"],
        request["LabelCategoryConfigS3Uri"],
        request["OutputConfig"]["S3OutputPath"],
    ):
        if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
            raise validation_error(f"{uri!r} is not an S3 URI (s3://bucket/key).")
    key = _key(ctx, request["LabelingJobName"])
    try:
        access = job_access(ctx.storage, key[2], request)  # AWS reads them as the job's role
        labels = _read_labels(ctx.storage, access, request["LabelCategoryConfigS3Uri"])
        entries = _read_manifest(ctx.storage, access, source["ManifestS3Uri"], task)
        failure = None
    except JobFailure as error:
        labels, entries, failure = [], [], str(error)
    if algorithms and failure is None:
        automation.check_object_count(len(entries))
    # automated labelling sends people a random sample first; otherwise people label every object
    to_people = automation.first_batch(request, len(entries)) if algorithms else range(len(entries))
    LABELING_JOBS.insert(
        ctx.storage,
        key,
        ctx.caller.arn,
        request,
        task_type=task.name,
        labels=labels,
        workteam_arn=config["WorkteamArn"],
        reference_code=secrets.token_hex(16),
    )
    if failure is not None:
        LABELING_JOBS.move(ctx.storage, key, "Failed", failure_reason=failure)
    elif entries:
        rows = [
            {
                "account_id": key[0],
                "region": key[1],
                "job_name": key[2],
                "position": position,
                "entry": entry,
                "consolidated": None,
                "human_batch": 1 if position in to_people else None,
                "machine_labeled": False,
            }
            for position, entry in enumerate(entries)
        ]
        with ctx.storage.database.engine.begin() as connection:
            connection.execute(insert(OBJECTS), rows)
        if algorithms:
            automation.start(ctx.storage, key)
    return {"LabelingJobArn": LABELING_JOBS.arn(key)}


def _task_type(ctx: RequestContext, config: dict[str, Any]) -> TaskType:
    consolidation = (config.get("AnnotationConsolidationConfig") or {}).get(
        "AnnotationConsolidationLambdaArn"
    )
    if not config.get("PreHumanTaskLambdaArn") or not consolidation:
        raise validation_error(
            "HumanTaskConfig needs PreHumanTaskLambdaArn and AnnotationConsolidationConfig for the "
            "built-in task types."
        )
    try:
        return task_type_of(ctx.region, config["PreHumanTaskLambdaArn"], consolidation)
    except ValueError as error:
        raise validation_error(str(error)) from None


def _read_text(storage: Storage, access: RoleAccess, uri: str, what: str) -> str:
    require_read(access, uri)
    try:
        with storage.objects.open_object(*split_s3_uri(uri)) as stored:
            return stored.read().decode("utf-8")
    except (MissingFile, StorageError):
        raise JobFailure(f"ClientError: Cannot read the {what} {uri}: it does not exist.") from None
    except UnicodeDecodeError:
        raise JobFailure(f"ClientError: The {what} {uri} is not UTF-8 text.") from None


def _read_labels(storage: Storage, access: RoleAccess, uri: str) -> list[str]:
    """The labels of a label category configuration file ({"labels": [{"label": ...}, ...]})."""
    try:
        labels = [
            str(item["label"])
            for item in json.loads(_read_text(storage, access, uri, "label category file"))["labels"]
        ]
    except (ValueError, LookupError, TypeError):
        raise JobFailure(
            f'ClientError: The label category file {uri} is not {{"document-version": "2018-11-28", '
            '"labels": [{"label": "..."}, ...]}.'
        ) from None
    if not labels or len(set(labels)) != len(labels):
        raise JobFailure(
            f"ClientError: The label category file {uri} must list distinct labels, at least one."
        )
    return labels


def _read_manifest(storage: Storage, access: RoleAccess, uri: str, task: TaskType) -> list[dict[str, Any]]:
    """The manifest's data objects: JSON lines, each with ``source-ref`` (an S3 URI: images) or
    ``source`` (the text itself: text tasks)."""
    entries = []
    for number, line in enumerate(_read_text(storage, access, uri, "input manifest").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict) or not _names_data_object(entry, task):
            kind = (
                '"source-ref" (an S3 URI of an image)'
                if task.is_image
                else '"source" (the text) or "source-ref"'
            )
            raise JobFailure(
                f"ClientError: Line {number} of the input manifest {uri} is not a JSON object with {kind}."
            )
        entries.append(entry)
    if not entries or len(entries) > MAX_OBJECTS:
        raise JobFailure(f"ClientError: The input manifest {uri} must hold 1 to {MAX_OBJECTS} data objects.")
    return entries


def _names_data_object(entry: dict[str, Any], task: TaskType) -> bool:
    """Image tasks' lines name an image by ``source-ref``; text tasks' hold the text in ``source`` or
    name a text object by ``source-ref``."""
    if not task.is_image and isinstance(entry.get("source"), str):
        return True
    reference = entry.get("source-ref")
    return isinstance(reference, str) and reference.startswith("s3://")


def job_output(job: Any) -> dict[str, Any]:
    """LabelingJobOutput, once the job has ended with an output manifest."""
    if job.status not in ("Completed", "Stopped"):
        return {}
    output = {"OutputDatasetS3Uri": output_manifest_uri(job)}
    if job.final_model_arn:
        output["FinalActiveLearningModelArn"] = job.final_model_arn
    return {"LabelingJobOutput": output}


@sagemaker.operation
def describe_labeling_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    key, job = _find(ctx, request["LabelingJobName"])
    output: dict[str, Any] = {name: job.request[name] for name in ECHOED if name in job.request}
    output.update(
        {
            "LabelingJobName": job.name,
            "LabelingJobArn": LABELING_JOBS.arn(key),
            "LabelingJobStatus": job.status,
            "LabelCounters": label_counters(ctx.storage, key),
            "JobReferenceCode": job.reference_code,
            "CreationTime": job.created_at,
            "LastModifiedTime": job.last_modified,
            **job_output(job),
        }
    )
    if job.failure_reason:
        output["FailureReason"] = job.failure_reason
    return output


def _summary(ctx: RequestContext, job: Any) -> dict[str, Any]:
    config = job.request["HumanTaskConfig"]
    output = {
        "LabelingJobName": job.name,
        "LabelingJobArn": LABELING_JOBS.arn(_key(ctx, job.name)),
        "CreationTime": job.created_at,
        "LastModifiedTime": job.last_modified,
        "LabelingJobStatus": job.status,
        "LabelCounters": label_counters(ctx.storage, _key(ctx, job.name)),
        "WorkteamArn": job.workteam_arn,
        "PreHumanTaskLambdaArn": config["PreHumanTaskLambdaArn"],
        "AnnotationConsolidationLambdaArn": config["AnnotationConsolidationConfig"][
            "AnnotationConsolidationLambdaArn"
        ],
        "InputConfig": job.request["InputConfig"],
        **job_output(job),
    }
    if job.failure_reason:
        output["FailureReason"] = job.failure_reason
    return output


@sagemaker.operation
def list_labeling_jobs(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return list_jobs(
        ctx, LABELING_JOBS.table, request, lambda job: _summary(ctx, job), "LabelingJobSummaryList"
    )


@sagemaker.operation
def list_labeling_jobs_for_workteam(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The jobs of the caller's account only (a private workteam serves one account)."""
    if not _is_workteam(ctx, request["WorkteamArn"]):
        raise resource_not_found(f"Workteam {request['WorkteamArn']} does not exist.")
    columns = LABELING_JOBS.table.c

    def summary(job: Any) -> dict[str, Any]:
        counters = label_counters(ctx.storage, _key(ctx, job.name))
        return {
            "LabelingJobName": job.name,
            "JobReferenceCode": job.reference_code,
            "WorkRequesterAccountId": job.account_id,
            "CreationTime": job.created_at,
            "LabelCounters": {
                "HumanLabeled": counters["HumanLabeled"],
                "PendingHuman": pending_human(ctx.storage, _key(ctx, job.name)),
                "Total": counters["TotalLabeled"] + counters["Unlabeled"],
            },
            "NumberOfHumanWorkersPerDataObject": job.request["HumanTaskConfig"][
                "NumberOfHumanWorkersPerDataObject"
            ],
        }

    filters = {
        "WorkteamArn": lambda value: columns.workteam_arn == value,
        "JobReferenceCodeContains": lambda value: columns.reference_code.contains(value, autoescape=True),
    }
    ascending = {"SortOrder": "Ascending", **request}  # this operation's default order
    return list_jobs(ctx, LABELING_JOBS.table, ascending, summary, "LabelingJobSummaryList", filters)


@sagemaker.operation
def stop_labeling_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Stops at once: the objects labelled so far are written to the output manifest."""
    key, job = _find(ctx, request["LabelingJobName"])
    if not LABELING_JOBS.move(ctx.storage, key, "Stopping"):
        raise validation_error(
            f"The labeling job {job.name} is in status {job.status}; only InProgress jobs can be stopped."
        )
    finish(ctx.storage, key, "Stopped")
    return {}


def finish_interrupted_stops(storage: Storage) -> None:
    """A job waits for people, not for a process: an in-progress job stays so across a restart (an
    automated one resumes its rounds), and one that a restart caught ending finishes."""
    release_claims(storage)
    table = LABELING_JOBS.table
    with storage.database.engine.connect() as connection:
        stopping = connection.execute(
            select(table.c.account_id, table.c.region, table.c.name).where(table.c.status == "Stopping")
        ).all()
    for account_id, region, name in stopping:
        finish(storage, (account_id, region, name), "Stopped")
    automation.resume(storage)


sagemaker.on_startup(finish_interrupted_stops)
