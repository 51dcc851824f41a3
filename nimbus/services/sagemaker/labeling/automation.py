"""Ground Truth's automated data labelling (LabelingJobAlgorithmsConfig), for single-label image
classification, as AWS documents it: a random sample of the objects goes to the workers first (AWS's
validation data; here every human label is validated on, held out by cross-validation); once a batch
of human labels is in, a model learnt from them labels the objects it is confident enough about (the
threshold calibrated on held-out human labels, see nimbus.engines.vision.active_learning), and the
objects it is least sure of go to the workers as the next batch, until every object is labelled. The
latest model becomes a SageMaker model, named by LabelingJobOutput.FinalActiveLearningModelArn.

The rounds run on one background thread, in order, so two workers ending a batch together start one
round: the second finds the next batch already sent. A round is decided from the database alone, so
a restart resumes where it was (the image features and the latest model are kept in memory for the
job's life, and computed again after a restart)."""

from __future__ import annotations

import io
import logging
import math
import secrets
import tarfile
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from nimbus.engines.vision.active_learning import image_features, labelling_round
from nimbus.engines.vision.custom_labels import ImageClassifier
from nimbus.engines.vision.image import InvalidImageError
from nimbus.services.job_runners import RunnerPerStorage
from nimbus.services.registry import Caller
from nimbus.services.rekognition.work_queue import WorkQueue
from nimbus.services.sagemaker.errors import validation_error
from nimbus.services.sagemaker.job_table import JobKey
from nimbus.services.sagemaker.labeling.completion import finish
from nimbus.services.sagemaker.labeling.output import job_prefix, machine_line
from nimbus.services.sagemaker.labeling.records import LABELING_JOBS, OBJECTS, job_objects, object_where
from nimbus.services.sagemaker.labeling.role_data import job_access, require_read, require_write
from nimbus.services.sagemaker.s3_locations import JobFailure, split_s3_uri, write_object
from nimbus.storage import Storage
from nimbus.storage.objects import MissingFile, StorageError
from nimbus.storage.sagemaker_hosting_schema import SageMakerModelRecord

log = logging.getLogger("nimbus.sagemaker.labeling")

ALGORITHM_ACCOUNT = "027400017018"  # the account of AWS's labeling-job-algorithm-specification ARNs
# the algorithm an ARN names -> the built-in task type it labels
ALGORITHMS = {
    "image-classification": "ImageMultiClass",
    "text-classification": "TextMultiClass",
    "object-detection": "BoundingBox",
    "semantic-segmentation": "SemanticSegmentation",
}
SERVED = "image-classification"
MIN_OBJECTS = 1_250  # "The minimum number of objects allowed for automated data labeling is 1,250"
BATCH_SHARE = 0.1  # each batch sent to people: this share of the objects, at most MaxConcurrentTaskCount
DEFAULT_CONCURRENT_TASKS = 1_000  # HumanTaskConfig.MaxConcurrentTaskCount's default
FEATURE_CHUNK = 64  # images read and embedded at a time
# the queue's thread alone reads and writes these: each job's image features and latest model
_features: dict[JobKey, np.ndarray] = {}
_models: dict[JobKey, ImageClassifier] = {}


def is_automated(job: Any) -> bool:
    return bool(job.request.get("LabelingJobAlgorithmsConfig"))


def algorithm_arn(region: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ALGORITHM_ACCOUNT}:labeling-job-algorithm-specification/{SERVED}"


def check_algorithms_config(
    storage: Storage, account_id: str, region: str, config: dict[str, Any], task_type: str
) -> None:
    """ValidationException, saying what to change, unless ``config`` asks for image classification's
    algorithm on a single-label image classification job, with an initial model that exists."""
    arn = config["LabelingJobAlgorithmSpecificationArn"]
    prefix = f"arn:aws:sagemaker:{region}:{ALGORITHM_ACCOUNT}:labeling-job-algorithm-specification/"
    algorithm = arn.removeprefix(prefix)
    if not arn.startswith(prefix) or algorithm not in ALGORITHMS:
        raise validation_error(
            f"LabelingJobAlgorithmSpecificationArn {arn!r} is not one of AWS's labeling job algorithms in "
            f"{region}: use {algorithm_arn(region)} (image classification)."
        )
    if algorithm != SERVED:
        raise validation_error(
            f"Nimbus runs automated data labeling for image classification only, not {algorithm}: "
            f"use {algorithm_arn(region)} with the ImageMultiClass task type, or leave out "
            "LabelingJobAlgorithmsConfig."
        )
    if task_type != ALGORITHMS[SERVED]:
        raise validation_error(
            f"The image-classification algorithm labels single-label image classification jobs "
            f"(PRE-ImageMultiClass / ACS-ImageMultiClass), not {task_type}: leave out "
            "LabelingJobAlgorithmsConfig for this task type."
        )
    initial = config.get("InitialActiveLearningModelArn")
    if initial and not _model_exists(storage, account_id, region, initial):
        raise validation_error(
            f"InitialActiveLearningModelArn {initial!r} names no SageMaker model of this account in "
            f"{region}: give a model's ARN (DescribeModel's ModelArn) or leave it out."
        )


def check_object_count(count: int) -> None:
    if count < MIN_OBJECTS:
        raise validation_error(
            f"Automated data labeling needs at least {MIN_OBJECTS:,} data objects in the input manifest "
            f"(it has {count:,}; AWS suggests 5,000 or more): add objects, or leave out "
            "LabelingJobAlgorithmsConfig to have people label them all."
        )


def _model_exists(storage: Storage, account_id: str, region: str, arn: str) -> bool:
    name = arn.rsplit("/", 1)[-1]
    if arn != _model_arn(account_id, region, name):
        return False
    models = SageMakerModelRecord.__table__
    query = select(models.c.name).where(
        models.c.account_id == account_id, models.c.region == region, models.c.name.ilike(name)
    )
    with storage.database.engine.connect() as connection:
        return connection.scalar(query) is not None


def _model_arn(account_id: str, region: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account_id}:model/{name.lower()}"


def batch_size(request: dict[str, Any], total: int) -> int:
    concurrent = request["HumanTaskConfig"].get("MaxConcurrentTaskCount") or DEFAULT_CONCURRENT_TASKS
    return max(1, min(concurrent, math.ceil(total * BATCH_SHARE)))


def first_batch(request: dict[str, Any], total: int) -> set[int]:
    """The positions of the random sample people label first: the validation data."""
    size = batch_size(request, total)
    return {int(position) for position in np.random.default_rng().permutation(total)[:size]}


_queues = RunnerPerStorage(lambda storage: WorkQueue("labeling-automation"), lambda storage: None)


def start(storage: Storage, key: JobKey) -> None:
    """Begins computing the job's image features while people label the first batch."""
    _queues(storage).submit(_round_safely, storage, key, _prepare)


def batch_done(storage: Storage, key: JobKey) -> None:
    """A batch of human labels is in: the next round, in the background."""
    _queues(storage).submit(_round_safely, storage, key, advance)


def _round_safely(storage: Storage, key: JobKey, step: Callable[[Storage, JobKey, Any], None]) -> None:
    job = LABELING_JOBS.find(storage, key)
    if job is None or job.status != "InProgress" or job.output_claimed:
        _forget(key)
        return
    try:
        step(storage, key, job)
    except JobFailure as error:
        _forget(key)
        LABELING_JOBS.move(storage, key, "Failed", failure_reason=str(error))


def _forget(key: JobKey) -> None:
    _features.pop(key, None)
    _models.pop(key, None)


def _prepare(storage: Storage, key: JobKey, job: Any) -> None:
    _job_features(storage, key, job)


def advance(storage: Storage, key: JobKey, job: Any) -> None:
    """One round, once every object sent to people is labelled: machine labels for the objects the
    model is confident about, then the next batch for people, or the job's end when none is left
    (or people labelled MaxHumanLabeledObjectCount objects)."""
    objects = job_objects(storage, key)
    if any(row.human_batch is not None and row.consolidated is None for row in objects):
        return
    attribute = f"{job.request['LabelAttributeName']}-metadata"
    human = {
        row.position: row.consolidated[attribute]["class-name"]
        for row in objects
        if row.consolidated is not None and not row.machine_labeled
    }
    unlabelled = [row.position for row in objects if row.consolidated is None]
    limit = (job.request.get("StoppingConditions") or {}).get("MaxHumanLabeledObjectCount", len(objects))
    size = min(batch_size(job.request, len(objects)), max(0, limit - len(human)))
    started = time.monotonic()
    features = _job_features(storage, key, job)
    if len(set(human.values())) < 2:  # nothing to learn from yet: another random sample
        chosen = list(np.random.default_rng().permutation(unlabelled)[:size])
        _send_to_people(storage, key, chosen, objects)
        if not chosen:
            _end(storage, key, job, None)
        return
    if not unlabelled and key in _models:  # people labelled the last objects: no model learns anew
        _end(storage, key, job, _models[key])
        return
    round_ = labelling_round(features, human, unlabelled, size)
    _models[key] = round_.classifier
    log.info(
        "labeling job %s: %d human labels, threshold %.3f (held-out accuracy %.3f), %d machine labels, "
        "%d for people next (%.1f s)",
        key[2],
        len(human),
        round_.threshold,
        round_.held_out_accuracy,
        len(round_.machine_labels),
        len(round_.next_for_people),
        time.monotonic() - started,
    )
    _write_machine_labels(storage, key, job, objects, round_.machine_labels)
    if round_.next_for_people:
        _send_to_people(storage, key, round_.next_for_people, objects)
    else:
        _end(storage, key, job, round_.classifier)


def _job_features(storage: Storage, key: JobKey, job: Any) -> np.ndarray:
    """A row of image features for each of the job's objects, in manifest order."""
    if key not in _features:
        started = time.monotonic()
        uris = [row.entry["source-ref"] for row in job_objects(storage, key)]
        access = job_access(storage, key[2], job.request)
        for uri in uris:
            require_read(access, uri)
        rows = [
            _image_features(storage, uris[start : start + FEATURE_CHUNK])
            for start in range(0, len(uris), FEATURE_CHUNK)
        ]
        _features[key] = np.concatenate(rows)
        log.info(
            "labeling job %s: features of %d images (%.1f s)", key[2], len(uris), time.monotonic() - started
        )
    return _features[key]


def _image_features(storage: Storage, uris: list[str]) -> np.ndarray:
    images = []
    for uri in uris:
        try:
            with storage.objects.open_object(*split_s3_uri(uri)) as stored:
                images.append(stored.read())
        except (ValueError, MissingFile, StorageError):
            raise JobFailure(f"ClientError: {uri} does not exist.") from None
    try:
        return image_features(images)
    except InvalidImageError as error:
        raise JobFailure(
            f"ClientError: An image from {uris[0]} to {uris[-1]} is not JPEG or PNG: {error}"
        ) from None


def _write_machine_labels(
    storage: Storage, key: JobKey, job: Any, objects: list[Any], labels: list[Any]
) -> None:
    entries = {row.position: row.entry for row in objects}
    with storage.database.engine.begin() as connection:
        for label in labels:
            line = machine_line(job, entries[label.index], label.label, label.confidence)
            connection.execute(
                update(OBJECTS)
                .where(*object_where(key, label.index), OBJECTS.c.consolidated.is_(None))
                .values(consolidated=line, machine_labeled=True)
            )


def _send_to_people(storage: Storage, key: JobKey, positions: list[int], objects: list[Any]) -> None:
    batch = max((row.human_batch or 0) for row in objects) + 1
    with storage.database.engine.begin() as connection:
        for position in positions:
            connection.execute(
                update(OBJECTS).where(*object_where(key, int(position))).values(human_batch=batch)
            )


def _end(storage: Storage, key: JobKey, job: Any, classifier: ImageClassifier | None) -> None:
    """Saves the latest model as a SageMaker model (when one was learnt) and completes the job."""
    _forget(key)
    if classifier is not None:
        arn = _save_final_model(storage, key, job, classifier)
        with storage.database.engine.begin() as connection:
            connection.execute(
                update(LABELING_JOBS.table).where(*LABELING_JOBS.where(key)).values(final_model_arn=arn)
            )
    finish(storage, key, "Completed")


def _save_final_model(storage: Storage, key: JobKey, job: Any, classifier: ImageClassifier) -> str:
    """Writes the classifier (model.npz: Custom Labels' format) as a model.tar.gz in the job's output
    and records a SageMaker model of it; its ARN."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.npz"
        classifier.save(path)
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            tar.add(path, arcname=path.name)
    archive.seek(0)
    uri = f"{job_prefix(job)}/activelearning/final-model/model.tar.gz"
    require_write(job_access(storage, key[2], job.request), uri)
    caller = Caller("", key[0], key[0], job.caller_arn)
    write_object(storage, caller, key[1], uri, archive, "application/x-gzip", "the final model")
    row = {
        "account_id": key[0],
        "region": key[1],
        "primary_container": {"ModelDataUrl": uri},
        "execution_role_arn": job.request["RoleArn"],
        "enable_network_isolation": False,
        "created_at": datetime.now(UTC),
    }
    name = f"{key[2][:51]}-final-model"
    try:
        with storage.database.engine.begin() as connection:
            connection.execute(insert(SageMakerModelRecord.__table__), {**row, "name": name})
    except IntegrityError:  # the user has a model of that name: the job's gets a name of its own
        name = f"{key[2][:46]}-{secrets.token_hex(8)}"
        with storage.database.engine.begin() as connection:
            connection.execute(insert(SageMakerModelRecord.__table__), {**row, "name": name})
    return _model_arn(key[0], key[1], name)


def resume(storage: Storage) -> None:
    """At startup: every in-progress automated job has its next round (which does nothing while
    people still have a batch)."""
    table = LABELING_JOBS.table
    query = select(table.c.name, table.c.account_id, table.c.region, table.c.request).where(
        table.c.status == "InProgress"
    )
    with storage.database.engine.connect() as connection:
        jobs = connection.execute(query).all()
    for name, account_id, region, request in jobs:
        if request.get("LabelingJobAlgorithmsConfig"):
            batch_done(storage, (account_id, region, name))
