"""Model versions: CreateProjectVersion trains in the background; DescribeProjectVersions,
StartProjectVersion, StopProjectVersion, DeleteProjectVersion.

Training (one version at a time, in a thread of the server) reads every TRAIN image from Nimbus S3,
learns an image-level classifier on the vision engine's image features and augmented views
(nimbus/engines/vision/custom_labels.py), sets each label's assumed threshold where its F1 score on
the TEST images (or, without a TEST dataset, on one image in five of each label held out of TRAIN)
is highest, scores the model there and writes AWS's evaluation summary JSON to the output bucket.
Statuses: TRAINING_IN_PROGRESS -> TRAINING_COMPLETED or TRAINING_FAILED; then STARTING -> RUNNING ->
STOPPING -> STOPPED. The node training a version holds its lease (nimbus/services/leases.py); when
that node dies, the node that takes the expired lease over fails the training, saying why. A node
that starts finishes the starts and stops left unfinished (they take well under a second, and any node
serves a RUNNING model, loading it from the shared data directory on its first request).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select, update

from nimbus.engines.vision import custom_labels as custom_label_engine
from nimbus.engines.vision.custom_labels import ImageClassifier
from nimbus.engines.vision.image import InvalidImageError, decode_image
from nimbus.services.job_runners import RunnerPerStorage
from nimbus.services.leases import lease_node, resource_name
from nimbus.services.registry import Caller, RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.custom_labels.records import (
    DATASETS,
    VERSIONS,
    entry_labels,
    find_project,
    find_version,
    project_name,
    resource_in_use,
    split_for_testing,
)
from nimbus.services.rekognition.errors import invalid_parameter
from nimbus.services.rekognition.pagination import page_start
from nimbus.services.rekognition.work_queue import WorkQueue
from nimbus.services.sagemaker.s3_locations import JobFailure, split_s3_uri, write_object
from nimbus.storage import Storage
from nimbus.storage.objects import StorageError

log = logging.getLogger("nimbus.rekognition.custom_labels")

DEFAULT_MAX_RESULTS = 100
INTERRUPTED = "The Nimbus node training the model stopped (restarted or died)"
LEASE_KIND = "rekognition/project-version-training"  # leases name a training .../<version ARN>
BUSY = ("TRAINING_IN_PROGRESS", "STARTING", "RUNNING", "STOPPING")  # what DeleteProjectVersion refuses
_loaded: dict[str, ImageClassifier] = {}  # RUNNING versions' models, by ARN
_loaded_lock = threading.Lock()


def model_path(storage: Storage, arn: str) -> Path:
    return (
        storage.data_dir / "rekognition" / "custom_labels" / f"{hashlib.sha256(arn.encode()).hexdigest()}.npz"
    )


@rekognition.operation
def create_project_version(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Image-level classification only (no object boxes: there is no detector here to fine-tune
    honestly). The project's datasets are used; TrainingData/TestingData (the older form) are ignored
    except TestingData.AutoCreate, which holds out one TRAIN image in five. Training time is not
    billed, KmsKeyId and Tags are not kept."""
    trainer = version_trainer(ctx.storage)
    now = datetime.now(UTC)
    with ctx.storage.database.engine.begin() as connection:
        project = find_project(ctx, connection, request["ProjectArn"])
        dataset_status = {
            row.dataset_type: row.status
            for row in connection.execute(select(DATASETS).where(DATASETS.c.project_arn == project.arn))
        }
        if dataset_status.get("TRAIN") not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            raise invalid_parameter("The project needs a TRAIN dataset that was created successfully.")
        arn = (
            f"{project.arn.rsplit('/', 1)[0]}/version/{request['VersionName']}/{int(now.timestamp() * 1000)}"
        )
        taken = connection.execute(
            select(VERSIONS.c.arn).where(
                VERSIONS.c.project_arn == project.arn, VERSIONS.c.version_name == request["VersionName"]
            )
        ).first()
        if taken is not None:
            raise resource_in_use(f"The version {request['VersionName']} already exists.")
        connection.execute(
            insert(VERSIONS).values(
                arn=arn,
                project_arn=project.arn,
                version_name=request["VersionName"],
                # the caller writes the evaluation summary to the output bucket, as it would in AWS
                request={**request, "CallerArn": ctx.caller.arn},
                status="TRAINING_IN_PROGRESS",
                status_message="The model is being trained.",
                f1_score=None,
                evaluation=None,
                min_inference_units=None,
                created_at=now,
                training_ended_at=None,
            )
        )
    trainer.submit(arn)
    return {"ProjectVersionArn": arn}


@rekognition.operation
def describe_project_versions(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        project = find_project(ctx, connection, request["ProjectArn"])
        query = select(VERSIONS).where(VERSIONS.c.project_arn == project.arn)
        if request.get("VersionNames"):
            query = query.where(VERSIONS.c.version_name.in_(request["VersionNames"]))
        versions = connection.execute(query.order_by(VERSIONS.c.created_at.desc())).all()
    start = page_start(request.get("NextToken"), len(versions))
    end = start + request.get("MaxResults", DEFAULT_MAX_RESULTS)
    output: dict[str, Any] = {
        "ProjectVersionDescriptions": [_description(row) for row in versions[start:end]]
    }
    if end < len(versions):
        output["NextToken"] = str(end)
    return output


def _description(version: Any) -> dict[str, Any]:
    description: dict[str, Any] = {
        "ProjectVersionArn": version.arn,
        "CreationTimestamp": version.created_at,
        "Status": version.status,
        "OutputConfig": version.request["OutputConfig"],
        "Feature": "CUSTOM_LABELS",
    }
    if version.status_message:
        description["StatusMessage"] = version.status_message
    if version.min_inference_units:
        description["MinInferenceUnits"] = version.min_inference_units
    if version.training_ended_at:
        description["TrainingEndTimestamp"] = version.training_ended_at
    if version.f1_score is not None:
        description["EvaluationResult"] = {
            "F1Score": version.f1_score,
            "Summary": version.evaluation["Summary"],
        }
    return description


@rekognition.operation
def start_project_version(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """One process serves the model whatever MinInferenceUnits says (it is recorded and reported);
    MaxInferenceUnits is ignored."""
    trainer = version_trainer(ctx.storage)
    arn = request["ProjectVersionArn"]
    with ctx.storage.database.engine.begin() as connection:
        version = find_version(ctx, connection, arn)
        if version.status not in ("TRAINING_COMPLETED", "STOPPED"):
            raise resource_in_use(
                f"The model version is {version.status}; only a trained, stopped one starts."
            )
        connection.execute(
            update(VERSIONS)
            .where(VERSIONS.c.arn == arn)
            .values(
                status="STARTING",
                status_message="The model is starting.",
                min_inference_units=request["MinInferenceUnits"],
            )
        )
    trainer.lifecycle.submit(_start, ctx.storage, arn)
    return {"Status": "STARTING"}


@rekognition.operation
def stop_project_version(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    trainer = version_trainer(ctx.storage)
    arn = request["ProjectVersionArn"]
    with ctx.storage.database.engine.begin() as connection:
        version = find_version(ctx, connection, arn)
        if version.status != "RUNNING":
            raise resource_in_use(f"The model version is {version.status}; only a running one stops.")
        _set(connection, arn, "STOPPING", "The model is stopping.")
    trainer.lifecycle.submit(_stop, ctx.storage, arn)
    return {"Status": "STOPPING"}


@rekognition.operation
def delete_project_version(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The version and its model are gone at once (Status DELETING is the last thing it reports)."""
    arn = request["ProjectVersionArn"]
    with ctx.storage.database.engine.begin() as connection:
        version = find_version(ctx, connection, arn)
        if version.status in BUSY:
            raise resource_in_use(f"The model version is {version.status}: stop it (or let it train) first.")
        connection.execute(delete(VERSIONS).where(VERSIONS.c.arn == arn))
    model_path(ctx.storage, arn).unlink(missing_ok=True)
    return {"Status": "DELETING"}


def running_model(storage: Storage, arn: str) -> ImageClassifier:
    """A RUNNING version's model (loaded from its file after a restart)."""
    with _loaded_lock:
        if arn not in _loaded:
            _loaded[arn] = ImageClassifier.load(model_path(storage, arn))
        return _loaded[arn]


def _set(connection: Any, arn: str, status: str, message: str | None, **columns: Any) -> None:
    connection.execute(
        update(VERSIONS).where(VERSIONS.c.arn == arn).values(status=status, status_message=message, **columns)
    )


def _start(storage: Storage, arn: str) -> None:
    try:
        running_model(storage, arn)
        status, message = "RUNNING", "The model is running."
    except (OSError, ValueError) as error:
        status, message = "FAILED", f"The model could not be loaded: {error}"
    with storage.database.engine.begin() as connection:
        _set(connection, arn, status, message)


def _stop(storage: Storage, arn: str) -> None:
    with _loaded_lock:
        _loaded.pop(arn, None)
    with storage.database.engine.begin() as connection:
        _set(connection, arn, "STOPPED", "The model is stopped.")


class VersionTrainer:
    """Trains one version at a time (feature extraction already uses every core); starts and stops
    go on a queue of their own, so that they never wait for a training."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.queue = WorkQueue("rekognition-custom-labels")
        self.lifecycle = WorkQueue("rekognition-model-lifecycle")
        _finish_starts_and_stops(storage)

    def submit(self, arn: str) -> None:
        # held from the queue on; no API stops a training, so a stop request has nothing to do
        lease_node(self.storage).hold(resource_name(LEASE_KIND, (arn,)), lambda: None)
        self.queue.submit(self._run, arn)

    def _run(self, arn: str) -> None:
        try:
            self._run_held(arn)
        finally:
            lease_node(self.storage).release(resource_name(LEASE_KIND, (arn,)))

    def _run_held(self, arn: str) -> None:
        try:
            evaluation = _train(self.storage, arn)
        except (JobFailure, ValueError) as error:
            reason = str(error)
        except Exception as error:  # a bug in Nimbus must still end the training, never leave it running
            log.exception("training %s failed", arn)
            reason = f"InternalServerError: {error!r}"
        else:
            _end_training(
                self.storage,
                arn,
                "TRAINING_COMPLETED",
                "The model is ready to run.",
                f1_score=evaluation["AggregatedEvaluationResults"]["F1Score"],
                evaluation={"Summary": evaluation.pop("Summary")},
            )
            return
        _end_training(self.storage, arn, "TRAINING_FAILED", reason[:1024])


def _end_training(storage: Storage, arn: str, status: str, message: str, **columns: Any) -> None:
    """Ends a training still in progress: never one that another node already failed (this node's
    lease lapsed and the other took it over)."""
    with storage.database.engine.begin() as connection:
        connection.execute(
            update(VERSIONS)
            .where(VERSIONS.c.arn == arn, VERSIONS.c.status == "TRAINING_IN_PROGRESS")
            .values(status=status, status_message=message, training_ended_at=datetime.now(UTC), **columns)
        )


def _train(storage: Storage, arn: str) -> dict[str, Any]:
    with storage.database.engine.connect() as connection:
        version = connection.execute(select(VERSIONS).where(VERSIONS.c.arn == arn)).one()
        datasets = {
            row.dataset_type: list(row.entries)
            for row in connection.execute(
                select(DATASETS).where(DATASETS.c.project_arn == version.project_arn)
            )
        }
    training, testing = datasets.get("TRAIN", []), datasets.get("TEST", [])
    if not testing or (version.request.get("TestingData") or {}).get("AutoCreate"):
        training, testing = split_for_testing(training)
    train_features, train_labels, train_images = _labelled_features(
        storage, training, np.random.default_rng(0)
    )
    test_features, test_labels, _ = _labelled_features(storage, testing)
    if not test_labels:
        raise ValueError("The TEST dataset has no labelled images.")
    classifier = custom_label_engine.with_assumed_thresholds(
        custom_label_engine.train_classifier(train_features, train_labels), test_features, test_labels
    )
    evaluation = custom_label_engine.evaluate(classifier, test_features, test_labels)
    classifier.save(model_path(storage, arn))
    summary = {
        "Version": 1,
        "EvaluationDetails": {
            "EvaluationEndTimestamp": datetime.now(UTC).isoformat(),
            "Labels": classifier.labels,
            "NumberOfTrainingImages": train_images,
            "NumberOfTestingImages": len(test_labels),
        },
        "AggregatedEvaluationResults": {
            "ConfusionMatrix": [
                {"GroundTruthLabel": actual, "PredictedLabel": predicted, "Value": share}
                for (actual, predicted), share in sorted(evaluation.confusion.items())
            ],
            "F1Score": evaluation.f1_score,
            "Precision": evaluation.precision,
            "Recall": evaluation.recall,
        },
        "LabelEvaluationResults": [  # AWS sorts them by F1 score
            {
                "Label": label,
                "NumberOfTestingImages": result.images,
                "Metrics": {
                    "F1Score": result.f1_score,
                    "Precision": result.precision,
                    "Recall": result.recall,
                    "Threshold": result.threshold,
                },
            }
            for label, result in sorted(evaluation.per_label.items(), key=lambda item: -item[1].f1_score)
        ],
    }
    output = version.request["OutputConfig"]
    project = project_name(arn)
    key = f"{output.get('S3KeyPrefix', '')}EvaluationResultSummary-{project}-{version.version_name}.json"
    account_id = arn.split(":")[4]
    caller = Caller("", account_id, account_id, version.request["CallerArn"])
    region = arn.split(":")[3]
    body = io.BytesIO(json.dumps(summary, indent=2).encode())
    write_object(
        storage, caller, region, f"s3://{output['S3Bucket']}/{key}", body, "application/json", "the summary"
    )
    return {**summary, "Summary": {"S3Object": {"Bucket": output["S3Bucket"], "Name": key}}}


def _labelled_features(
    storage: Storage, entries: list[str], augment: np.random.Generator | None = None
) -> tuple[np.ndarray, list[str], int]:
    """Rows of image features, the first label of every labelled entry for each of its rows (with
    ``augment``, rows for random views of each image too) and how many images there were;
    ValueError names an unreadable image."""
    features: list[np.ndarray] = []
    labels: list[str] = []
    for line in entries:
        entry = json.loads(line)
        found = entry_labels(entry)
        if not found:
            continue
        bucket, key = split_s3_uri(entry["source-ref"])
        try:
            with storage.objects.open_object(bucket, key) as handle:
                image = decode_image(handle.read(), custom_label_engine.LONGEST_SIDE)
        except (StorageError, OSError, InvalidImageError) as error:
            raise ValueError(f"The image {entry['source-ref']} could not be read: {error}") from None
        rows = (
            custom_label_engine.image_features(image)[np.newaxis]
            if augment is None
            else custom_label_engine.training_features(image, augment)
        )
        features.append(rows)
        labels += [found[0]] * len(rows)
    return (
        (np.concatenate(features) if features else np.zeros((0, 0), dtype=np.float32)),
        labels,
        len(features),
    )


def _fail_interrupted_training(storage: Storage) -> None:
    """Trainings whose node stopped fail, saying why; only those whose lease expired: a live node's
    trainings are its own."""
    with storage.database.engine.connect() as connection:
        training = connection.execute(
            select(VERSIONS.c.arn, VERSIONS.c.created_at).where(VERSIONS.c.status == "TRAINING_IN_PROGRESS")
        ).all()
    for (arn,) in lease_node(storage).orphans(LEASE_KIND, [((arn,), created) for arn, created in training]):
        _end_training(storage, arn, "TRAINING_FAILED", INTERRUPTED)


def _finish_starts_and_stops(storage: Storage) -> None:
    moves = {
        "STARTING": ("RUNNING", "The model is running."),
        "STOPPING": ("STOPPED", "The model is stopped."),
    }
    with storage.database.engine.begin() as connection:
        for before, (after, message) in moves.items():
            connection.execute(
                update(VERSIONS)
                .where(VERSIONS.c.status == before)
                .values(status=after, status_message=message)
            )


version_trainer: RunnerPerStorage[VersionTrainer] = RunnerPerStorage(
    VersionTrainer, _fail_interrupted_training, leased=True
)
"""This process's VersionTrainer for a storage, made on first use after _fail_interrupted_training ran."""

rekognition.on_startup(version_trainer)
