"""What a labelling job writes under ``<S3OutputPath>/<job>/``, as Ground Truth lays it out: each
object's workers' answers (annotations/worker-response/), the consolidated labels
(annotations/consolidated-annotation/consolidation-response/) and the output manifest
(manifests/output/output.manifest), written through S3's own write path, where the job's role may
write."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from typing import Any

from PIL import Image, UnidentifiedImageError

from nimbus.services.registry import Caller
from nimbus.services.sagemaker.job_table import JobKey
from nimbus.services.sagemaker.labeling.records import job_objects, submitted_answers
from nimbus.services.sagemaker.labeling.role_data import job_access, require_write
from nimbus.services.sagemaker.labeling.task_types import TASK_TYPES, Answer, TaskType
from nimbus.services.sagemaker.s3_locations import JobFailure, split_s3_uri, write_object
from nimbus.storage import Storage
from nimbus.storage.objects import MissingFile

ITERATION = "iteration-1"  # the consolidation's; workers' answers go under their batch's iteration


def job_prefix(job: Any) -> str:
    return f"{job.request['OutputConfig']['S3OutputPath'].rstrip('/')}/{job.name}"


def output_manifest_uri(job: Any) -> str:
    return f"{job_prefix(job)}/manifests/output/output.manifest"


def read_image_size(storage: Storage, uri: str) -> tuple[int, int, int]:
    """(width, height, depth) of the image at ``uri``; JobFailure when it is missing or no image."""
    try:
        with storage.objects.open_object(*split_s3_uri(uri)) as stored, Image.open(stored) as image:
            return image.width, image.height, len(image.getbands())
    except (MissingFile, ValueError):
        raise JobFailure(f"ClientError: {uri} does not exist.") from None
    except (UnidentifiedImageError, OSError):
        raise JobFailure(f"ClientError: {uri} is not an image Nimbus can read.") from None


def labeled_line(storage: Storage, job: Any, entry: dict[str, Any], answers: list[Answer]) -> dict[str, Any]:
    """The output manifest line of one data object: its input line with the consolidated label."""
    task: TaskType = TASK_TYPES[job.task_type]
    size = read_image_size(storage, entry["source-ref"]) if task.name == "BoundingBox" else None
    value, metadata = task.output(answers, job.labels, size)
    return _line(job, entry, value, metadata, human=True)


def machine_line(job: Any, entry: dict[str, Any], label: str, confidence: float) -> dict[str, Any]:
    """The output manifest line of an object automated labelling classified (single label)."""
    metadata = {"class-name": label, "confidence": round(confidence, 2)}
    return _line(job, entry, job.labels.index(label), metadata, human=False)


def _line(
    job: Any, entry: dict[str, Any], value: Any, metadata: dict[str, Any], human: bool
) -> dict[str, Any]:
    attribute = job.request["LabelAttributeName"]
    return {
        **entry,
        attribute: value,
        f"{attribute}-metadata": {
            **metadata,
            "type": TASK_TYPES[job.task_type].manifest_type,
            "job-name": f"labeling-job/{job.name}",
            "human-annotated": "yes" if human else "no",
            "creation-date": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds"),
        },
    }


def write_output(storage: Storage, key: JobKey, job: Any) -> None:
    """Writes the job's annotations and output manifest (the objects labelled so far, in input order)."""
    caller = Caller("", key[0], key[0], job.caller_arn)
    prefix = job_prefix(job)
    objects = job_objects(storage, key)
    labeled = [row for row in objects if row.consolidated is not None]
    batches = {row.position: row.human_batch or 1 for row in objects}  # automated labelling's batches
    stamp = datetime.now(UTC).strftime("%Y-%m-%d_%H:%M:%S.%f")
    by_object: dict[int, list[Any]] = {}
    for answer in submitted_answers(storage, key):
        by_object.setdefault(answer.position, []).append(answer)
    documents: dict[str, Any] = {
        f"worker-response/iteration-{batches[position]}/{position}/{stamp}.json": {
            "answers": [_worker_response(key[1], answer) for answer in answers]
        }
        for position, answers in by_object.items()
    }
    consolidation = f"consolidated-annotation/consolidation-response/{ITERATION}/{stamp}.json"
    documents[consolidation] = [_consolidation_response(job, row) for row in labeled]
    access = job_access(storage, key[2], job.request)  # AWS writes the output as the job's role
    uri = output_manifest_uri(job)
    for written in [f"{prefix}/annotations/{path}" for path in documents] + [uri]:
        require_write(access, written)
    for path, document in documents.items():
        body = io.BytesIO(json.dumps(document).encode())
        write_object(storage, caller, key[1], f"{prefix}/annotations/{path}", body, "application/json", path)
    lines = "".join(json.dumps(row.consolidated) + "\n" for row in labeled).encode()
    write_object(
        storage, caller, key[1], uri, io.BytesIO(lines), "application/jsonlines", "the output manifest"
    )


def _consolidation_response(job: Any, row: Any) -> dict[str, Any]:
    attribute = job.request["LabelAttributeName"]
    source = (
        {"s3Uri": row.entry["source-ref"]} if "source-ref" in row.entry else {"content": row.entry["source"]}
    )
    return {
        "datasetObjectId": str(row.position),
        "dataObject": source,
        "consolidatedAnnotation": {
            "content": {name: row.consolidated[name] for name in (attribute, f"{attribute}-metadata")}
        },
    }


def _worker_response(region: str, answer: Any) -> dict[str, Any]:
    worker = hashlib.sha256(answer.worker_arn.encode()).hexdigest()[:24]
    return {
        "answerContent": answer.answer,
        "acceptanceTime": answer.taken_at.isoformat(),
        "submissionTime": answer.submitted_at.isoformat(),
        "timeSpentInSeconds": round((answer.submitted_at - answer.taken_at).total_seconds(), 3),
        "workerId": f"private.{region}.{worker}",
        "workerMetadata": {"identityData": {"identityProviderType": "NimbusIAM", "sub": answer.worker_arn}},
    }
